/* kcsi CLI — command and option tables, parsing, help, man pages, output.
 *
 * Each command is one `struct cmd` in its own cmd_*.c file (subcommands in
 * their command's file): its option table feeds the parser, `--help`, the
 * man page and the shell completions, so they cannot drift apart.  Which
 * commands exist is said once, in src/commands.txt: Meson makes the command
 * table (commands.inc), the list of sources and the man pages from it.
 *
 *   args.c   the command table, option parsing and checking, typo suggestions
 *   doc.c    help, man pages, the exit status table
 *   cli.c    output: errors, tables, escaping, colour; opening checkpoints */
#ifndef KCSI_CLI_H
#define KCSI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"
#include "kcsi/jsonw.h"
#include "kcsi/text.h"

/* exit status of a run cut short by SIGINT (as shells report it) */
#define KCSI_EXIT_INTERRUPTED 130

#define MAX_OPTS 24
#define MAX_REPEAT 32 /* values kept for a repeatable option */

/* What an option takes.  The parser checks every value once, as it reads
 * it (a number's syntax and range, a choice's words), so a command reads
 * values that are known good; --help and the man page show the same. */
enum opt_kind {
	OPT_FLAG,   /* no value (arg is NULL) */
	OPT_TEXT,   /* a string, taken as it is */
	OPT_NUM,    /* an unsigned number, decimal or 0x hex, in [min, max] */
	OPT_SIZE,   /* bytes: a number with an optional K, M, G or T (powers of 1024), in [min, max] */
	OPT_PID,    /* a process id (1 to 4294967295) that must be in the checkpoint: open_view checks it */
	OPT_CHOICE, /* one of the words of choices, e.g. "text|json" */
};

#define OPT_REQUIRED 1u /* the command does not run without it */
#define OPT_REPEAT 2u   /* may be given up to MAX_REPEAT times; opt_all has every value */

struct opt {
	const char *name;  /* long name without dashes */
	char short_name;   /* 0 for none */
	const char *arg;   /* the value's name in help, in capitals; NULL for a flag */
	const char *help;
	enum opt_kind kind;
	const char *choices; /* OPT_CHOICE: the words, "text|json|html" */
	uint64_t min, max; /* OPT_NUM, OPT_SIZE: the accepted range (max 0: no bound) */
	unsigned flags;    /* OPT_REQUIRED, OPT_REPEAT */
};

/* the options most views share */
#define OPTS_JSON                                                                                                \
	{"json", 'j', NULL, "print JSON", .kind = OPT_FLAG}, {"pretty", 0, NULL, "indent the JSON", .kind = OPT_FLAG},   \
		{"ndjson", 0, NULL, "print JSON, a line per element (NDJSON, for jq -c and log pipelines)", .kind = OPT_FLAG}
/* --pid: one meaning for every command (a process of the checkpoint) */
#define OPT_PID_FILTER {"pid", 'p', "N", "only this process (default: every process)", .kind = OPT_PID}
#define OPT_PID_REQUIRED {"pid", 'p', "N", "the process", .kind = OPT_PID, .flags = OPT_REQUIRED}

struct cmd;

struct args {
	const struct cmd *cmd;
	const char *val[MAX_OPTS]; /* last value given for options with an argument */
	uint64_t num[MAX_OPTS];    /* that value as a number (OPT_NUM, OPT_SIZE, OPT_PID) */
	int count[MAX_OPTS];       /* how often each option was given */
	const char *all[MAX_OPTS][MAX_REPEAT]; /* every value given, for OPT_REPEAT options */
	char **pos;                /* positional arguments */
	int npos;
};

/* A command.  Its name and place (top level, or below a command such as
 * vault) are in the command table, made from src/commands.txt. */
struct cmd {
	const char *synopsis;     /* after "kcsi NAME " */
	const char *summary;      /* one line */
	const char *description;  /* paragraphs, plain text */
	const char *json_doc;     /* what --json prints */
	const char *example;      /* a command line with output, plain text */
	const char *exit_doc;     /* exit statuses of this command beyond the table's, "N  meaning" lines */
	const struct opt *opts;   /* terminated by {0} */
	const char *pos_words;    /* the words positional arguments are taken from, for completion */
	int min_pos, max_pos;     /* positional argument count; max -1 = any */
	int (*run)(struct args *a); /* NULL for a command made of subcommands (vault) */
};

/* The command table (src/commands.txt, the commands of this build): */
struct cmd_entry {
	const char *name;          /* "put" */
	const char *path;          /* "vault put" */
	const struct cmd *cmd;
	const struct cmd *parent;  /* NULL at the top level */
};
extern const struct cmd_entry cmd_table[]; /* terminated by {0} */
/* The command running now (fail() names its option an error is about). */
extern const struct cmd *cli_running;

const struct cmd_entry *cmd_entry_of(const struct cmd *c);
const char *cmd_path(const struct cmd *c); /* "ps", "vault put" */
/* the command NAME below parent (NULL: the top level), or NULL */
const struct cmd *cmd_find(const struct cmd *parent, const char *name);
bool cmd_has_subs(const struct cmd *c);

/* How kcsi was called, for usage lines: "kcsi", or "kubectl kcsi" when run
 * as the kubectl plugin kubectl-kcsi. */
extern const char *cli_prog;

/* kcsi COMMAND ARGS...: argv[1] names the command (a typo gets a suggestion). */
int run_main(int argc, char **argv);
/* "'NAME' is not a kcsi [PARENT] command (did you mean ...?)"; returns 2 */
int unknown_command(const struct cmd *parent, const char *name);
/* Parse argv (argv[0] is the command's name) and run the command, or its
 * subcommand; prints usage errors, --help. */
int run_command(const struct cmd *c, int argc, char **argv);

int opt_index_safe(const struct cmd *c, const char *name); /* -1 if absent */
/* index of the named option in the command's table (abort on a typo) */
int opt_index(const struct cmd *c, const char *name);
bool opt_set(const struct args *a, const char *name);
/* Every value given for a repeatable option. */
const char *const *opt_all(const struct args *a, const char *name, int *n);
const char *opt_val(const struct args *a, const char *name);
/* The value of an OPT_NUM or OPT_SIZE option, dflt when not given. */
uint64_t opt_num(const struct args *a, const char *name, uint64_t dflt);
/* --pid, 0 when not given (0 is never accepted from the command line). */
uint32_t opt_pid(const struct args *a);

/* "1 to 3600", "16M to 1T" for an option with a range, else "" */
void opt_range_text(const struct opt *o, char *buf, size_t cap);

/* The word of candidates[0..n) closest to word (a likely typo), or NULL. */
const char *closest_word(const char *word, const char *const *candidates, size_t n);

/* The exit statuses every command shares. */
struct exit_status {
	int code;
	const char *meaning;
};
extern const struct exit_status exit_statuses[]; /* terminated by meaning NULL */

void print_usage(FILE *f);      /* kcsi --help */
void print_main_man(FILE *f);   /* kcsi(1) */
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
	unsigned columns; /* the terminal's width when text goes to one, else 0 */
	kcsi_jsonw w;
};
void out_open(struct out *o, const struct args *a);
int out_close(struct out *o, int rc);
/* The same, but what was written is kept when rc is an error too: for a
 * view of several archives, the good ones are shown and the bad reported. */
int out_close_partial(struct out *o, int rc);

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
	/* cut the last column's cells where a terminal's line ends (out.columns),
	 * with "…" (never in a pipe or a file) */
	bool fit_terminal;
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
/* Open the view's ARCHIVE (the first positional argument) and, when --pid
 * is given, check that the process is in it ("no process N in ARCHIVE",
 * exit 8).  Prints the error and returns its code. */
int open_view(const struct args *a, unsigned flags, kcsi_ckpt **c);

/* The progress bar (progress.c): takes --quiet/-q out of argv, and draws on
 * a terminal's stderr while the library reports long work. */
void progress_start(int *argc, char **argv);

#endif
