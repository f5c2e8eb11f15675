/* kcsi CLI — command and option tables, parsing, help, man pages, output.
 *
 * Each subcommand is one `struct cmd` in its own cmd_*.c file: its options
 * table feeds the parser, `--help` and the generated man page, so the three
 * cannot drift apart. */
#ifndef KCSI_CLI_H
#define KCSI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"
#include "kcsi/jsonw.h"
#include "kcsi/text.h"

#define MAX_OPTS 24

struct opt {
	const char *name;  /* long name without dashes */
	char short_name;   /* 0 for none */
	const char *arg;   /* argument name, NULL for a flag */
	const char *help;
};

struct cmd;

struct args {
	const struct cmd *cmd;
	const char *val[MAX_OPTS]; /* last value given for options with an argument */
	int count[MAX_OPTS];       /* how often each option was given */
	const char *all[MAX_OPTS][32]; /* every value given, for repeatable options */
	char **pos;                /* positional arguments */
	int npos;
};

struct cmd {
	const char *name;
	const char *synopsis;     /* after "kcsi NAME " */
	const char *summary;      /* one line */
	const char *description;  /* paragraphs, plain text */
	const char *json_doc;     /* what --json prints */
	const char *example;      /* a command line with output, plain text */
	const struct opt *opts;   /* terminated by {0} */
	int min_pos, max_pos;     /* positional argument count; max -1 = any */
	int (*run)(struct args *a);
};

extern const struct cmd *const commands[];

int opt_index_safe(const struct cmd *c, const char *name); /* -1 if absent */
/* index of the named option in the command's table (abort on a typo) */
int opt_index(const struct cmd *c, const char *name);
bool opt_set(const struct args *a, const char *name);
/* Every value given for a repeatable option (at most 32). */
const char *const *opt_all(const struct args *a, const char *name, int *n);
const char *opt_val(const struct args *a, const char *name);
/* Parse an option as an unsigned number; exits with usage error if bad. */
bool opt_uint(const struct args *a, const char *name, uint64_t *out);

void print_help(FILE *f, const struct cmd *c);
void print_man(FILE *f, const struct cmd *c);
/* plain text for a roff page (backslashes, dashes, leading dots escaped) */
void man_text(FILE *f, const char *s);

/* Report an error as `kcsi: MESSAGE` and return its exit code. */
int fail(const kcsi_error *err);
int usage_error(const struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Output is collected in memory and written only when the command succeeds,
 * so a failure never leaves half a document on stdout. */
struct out {
	FILE *f;
	char *buf;
	size_t len;
	bool json;
	bool color;
	kcsi_jsonw w;
};
void out_open(struct out *o, const struct args *a);
int out_close(struct out *o, int rc);

/* colour helpers (empty strings when colour is off) */
const char *c_bold(const struct out *o);
const char *c_red(const struct out *o);
const char *c_yellow(const struct out *o);
const char *c_dim(const struct out *o);
const char *c_off(const struct out *o);

/* Text from outside kcsi (every string of an archive, a file name, a
 * message that quotes one) as the terminal gets it: the one rule of
 * kcsi/text.h (controls, invalid UTF-8, C1 and bidi controls escaped as
 * \xNN or \uXXXX; never a raw newline).  Use these for every such string in
 * text output. */
void print_escaped(FILE *f, const char *s, size_t n);
void print_escaped_str(FILE *f, const char *s); /* a C string; NULL prints "-" */
/* (kcsi_escape_write of kcsi/text.h takes the variants' flags) */
char *escaped(const char *s, size_t n); /* malloc'd */

/* A text table: add cells row by row, then print aligned.  Cells are kept in
 * their escaped form (the rule above) and the columns are as wide as that
 * form shows, so a hostile cell can neither reach the terminal raw nor break
 * the alignment or the one-row-per-line layout. */
struct table {
	char **cells;
	size_t ncols, nrows, cap;
	/* bit c set: the cells of column c come in the escaped form already
	 * (made with print_escaped/escaped, e.g. bytes with NULs, or text around
	 * escaped parts): their backslashes are kept, anything unsafe is still
	 * escaped */
	uint64_t shown;
};
void table_init(struct table *t, size_t ncols);
void table_add(struct table *t, ...); /* ncols C strings of any origin (NULL prints "-") */
void table_print(struct table *t, struct out *o);
void table_free(struct table *t);

/* A jansson value through the writer (object keys in file order); NULL -> null. */
void jw_json(kcsi_jsonw *w, const json_t *j);

/* Human size, e.g. "3.3 MiB". */
void human_size(uint64_t v, char *buf, size_t cap);

/* A library call on an open checkpoint failed: report the error (prefixed
 * with the archive path), close the checkpoint, return the exit code. */
int ckpt_fail(kcsi_ckpt *c, const char *path, kcsi_error *err);

/* Open one checkpoint for a view; prints the error and returns its code. */
int open_ckpt(const char *path, unsigned flags, kcsi_ckpt **c);

#endif
