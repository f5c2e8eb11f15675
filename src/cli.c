/* kcsi CLI — shared machinery.  See cli.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int opt_index_safe(const struct cmd *c, const char *name)
{
	for (int i = 0; c->opts && c->opts[i].name; i++)
		if (strcmp(c->opts[i].name, name) == 0)
			return i;
	return -1;
}

int opt_index(const struct cmd *c, const char *name)
{
	for (int i = 0; c->opts && c->opts[i].name; i++)
		if (strcmp(c->opts[i].name, name) == 0)
			return i;
	fprintf(stderr, "kcsi: internal error: command %s has no option --%s\n", c->name, name);
	abort();
}

bool opt_set(const struct args *a, const char *name)
{
	return a->count[opt_index(a->cmd, name)] > 0;
}

const char *const *opt_all(const struct args *a, const char *name, int *n)
{
	int i = opt_index(a->cmd, name);
	*n = a->count[i] < 32 ? a->count[i] : 32;
	return a->all[i];
}

const char *opt_val(const struct args *a, const char *name)
{
	return a->val[opt_index(a->cmd, name)];
}

bool opt_uint(const struct args *a, const char *name, uint64_t *out)
{
	const char *v = opt_val(a, name);
	char *end;
	if (!v)
		return false;
	errno = 0;
	*out = strtoull(v, &end, 0);
	if (errno || end == v || *end || *v == '-') {
		usage_error(a->cmd, "--%s takes a number, not '%s'", name, v);
		exit(KCSI_ERR_USAGE);
	}
	return true;
}

static void wrap(FILE *f, const char *text, int indent)
{
	/* print paragraphs; lines starting with two spaces are kept verbatim */
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "%*s%.*s\n", len ? indent : 0, "", (int)len, p);
		p += len + (nl ? 1 : 0);
	}
}

void print_help(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: kcsi %s %s\n\n%s\n", c->name, c->synopsis, c->summary);
	if (c->description) {
		fputc('\n', f);
		wrap(f, c->description, 0);
	}
	fprintf(f, "\noptions:\n");
	for (int i = 0; c->opts && c->opts[i].name; i++) {
		const struct opt *o = &c->opts[i];
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help and exit");
	if (c->example) {
		fprintf(f, "\nexample:\n");
		wrap(f, c->example, 2);
	}
	fprintf(f, "\nSee kcsi-%s(1) for the JSON keys and exit codes.\n", c->name);
}

void man_text(FILE *f, const char *s)
{
	/* escape roff specials at line starts and backslashes */
	bool bol = true;
	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

void print_man(FILE *f, const struct cmd *c)
{
	char up[64];
	size_t i;
	for (i = 0; c->name[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)c->name[i]);
	up[i] = '\0';
	fprintf(f, ".TH KCSI\\-%s 1 \"\" \"kcsi\" \"kcsi manual\"\n", up);
	fprintf(f, ".SH NAME\nkcsi\\-%s \\- ", c->name);
	man_text(f, c->summary);
	fprintf(f, "\n.SH SYNOPSIS\n.B kcsi %s\n", c->name);
	man_text(f, c->synopsis);
	fputc('\n', f);
	if (c->description) {
		fprintf(f, ".SH DESCRIPTION\n.nf\n");
		man_text(f, c->description);
		fprintf(f, "\n.fi\n");
	}
	fprintf(f, ".SH OPTIONS\n");
	for (int k = 0; c->opts && c->opts[k].name; k++) {
		const struct opt *o = &c->opts[k];
		fprintf(f, ".TP\n");
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fprintf(f, "\\fB\\-\\-%s\\fR", o->name);
		if (o->arg)
			fprintf(f, " \\fI%s\\fR", o->arg);
		fputc('\n', f);
		man_text(f, o->help);
		fputc('\n', f);
	}
	fprintf(f, ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nshow the help and exit\n");
	if (c->json_doc) {
		fprintf(f, ".SH JSON OUTPUT\n.nf\n");
		man_text(f, c->json_doc);
		fprintf(f, "\n.fi\n");
	}
	if (c->example) {
		fprintf(f, ".SH EXAMPLE\n.nf\n");
		man_text(f, c->example);
		fprintf(f, "\n.fi\n");
	}
	fprintf(f, ".SH EXIT STATUS\n.nf\n"
		   "0  success\n1  operation failed\n2  usage error\n3  input/output error\n"
		   "4  malformed input (archive, image or metadata)\n5  unsupported input\n"
		   "6  a size or count limit was exceeded\n7  out of memory\n"
		   "8  not found (pid, image or member)\n9  unsafe archive member refused\n"
		   "130  interrupted (kcsi detonate: the partial report is written)\n.fi\n");
	fprintf(f, ".SH ENVIRONMENT\n.TP\nNO_COLOR\nno colour even on a terminal\n"
		   ".TP\nKCSI_MAX_UNPACKED\nbound on decompressed bytes (default 256G)\n"
		   ".TP\nTMPDIR\nwhere compressed archives are decompressed (an unlinked file)\n");
	fprintf(f, ".SH SEE ALSO\n\\fBkcsi\\fR(1)\n");
}

int fail(const kcsi_error *err)
{
	const char *m = err->msg[0] ? err->msg : kcsi_strerror(err->code);
	/* names from hostile archives reach this line: no raw control bytes */
	fputs("kcsi: ", stderr);
	print_escaped(stderr, m, strlen(m));
	fputc('\n', stderr);
	return err->code ? (int)err->code : 1;
}

int usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kcsi %s: ", c ? c->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kcsi %s --help'.\n", c ? c->name : "");
	return KCSI_ERR_USAGE;
}

static bool want_color(void)
{
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return false;
	return isatty(STDOUT_FILENO) == 1;
}

void out_open(struct out *o, const struct args *a)
{
	memset(o, 0, sizeof(*o));
	o->f = open_memstream(&o->buf, &o->len);
	if (!o->f) {
		perror("kcsi: open_memstream");
		exit(KCSI_ERR_NOMEM);
	}
	o->json = a && a->cmd->opts && opt_index_safe(a->cmd, "json") >= 0 && opt_set(a, "json");
	o->color = !o->json && want_color();
	kcsi_jw_init(&o->w, o->f, a && opt_index_safe(a->cmd, "pretty") >= 0 && opt_set(a, "pretty") ? 2 : 0);
}

int out_close(struct out *o, int rc)
{
	fclose(o->f);
	if (rc == 0 && o->len)
		if (fwrite(o->buf, 1, o->len, stdout) != o->len || fflush(stdout) != 0) {
			fprintf(stderr, "kcsi: writing the output: %s\n", strerror(errno));
			rc = KCSI_ERR_IO;
		}
	free(o->buf);
	return rc;
}

const char *c_bold(const struct out *o) { return o->color ? "\033[1m" : ""; }
const char *c_red(const struct out *o) { return o->color ? "\033[31m" : ""; }
const char *c_yellow(const struct out *o) { return o->color ? "\033[33m" : ""; }
const char *c_dim(const struct out *o) { return o->color ? "\033[2m" : ""; }
const char *c_off(const struct out *o) { return o->color ? "\033[0m" : ""; }

void table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

static void *or_exit(void *p)
{
	if (!p) {
		perror("kcsi");
		exit(KCSI_ERR_NOMEM);
	}
	return p;
}

void table_add(struct table *t, ...)
{
	va_list ap;
	if ((t->nrows + 1) * t->ncols > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : t->ncols * 32;
		t->cells = or_exit(realloc(t->cells, ncap * sizeof(*t->cells)));
		t->cap = ncap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		unsigned flags = i < 64 && (t->shown >> i & 1) ? KCSI_ESC_ESCAPED : 0;
		if (!s)
			s = "-";
		t->cells[t->nrows * t->ncols + i] = or_exit(kcsi_escape_text(s, strlen(s), flags));
	}
	va_end(ap);
	t->nrows++;
}

/* Columns a terminal gives the code point: 2 for East Asian wide and
 * fullwidth forms and emoji, 0 for combining marks and zero-width joiners. */
static size_t columns(uint32_t cp)
{
	static const uint32_t zero[][2] = {{0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a},
					   {0x064b, 0x065f}, {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x200b, 0x200d},
					   {0x20d0, 0x20ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}};
	static const uint32_t wide[][2] = {{0x1100, 0x115f}, {0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf},
					   {0x4e00, 0x9fff}, {0xa000, 0xa4cf}, {0xac00, 0xd7a3}, {0xf900, 0xfaff},
					   {0xfe30, 0xfe4f}, {0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x1f300, 0x1f64f},
					   {0x1f900, 0x1f9ff}, {0x20000, 0x2fffd}, {0x30000, 0x3fffd}};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (cp >= zero[i][0] && cp <= zero[i][1])
			return 0;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (cp >= wide[i][0] && cp <= wide[i][1])
			return 2;
	return 1;
}

/* display width of a cell (escaped, so valid UTF-8 without controls) */
static size_t width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t l = kcsi_utf8_seq(p + i, n - i);
		uint32_t cp = p[i];
		if (l > 1) {
			cp = l == 2 ? p[i] & 0x1fu : l == 3 ? p[i] & 0x0fu : p[i] & 0x07u;
			for (size_t k = 1; k < l; k++)
				cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		w += columns(cp);
		i += l ? l : 1;
	}
	return w;
}

void table_print(struct table *t, struct out *o)
{
	size_t *w = calloc(t->ncols, sizeof(size_t));
	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = width(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		if (r == 0)
			fputs(c_bold(o), o->f);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fputs(s, o->f);
			else
				fprintf(o->f, "%s%*s  ", s, (int)(w[c] - width(s)), "");
		}
		if (r == 0)
			fputs(c_off(o), o->f);
		fputc('\n', o->f);
	}
	free(w);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

char *escaped(const char *s, size_t n)
{
	return or_exit(kcsi_escape_text(s, n, 0));
}

void print_escaped(FILE *f, const char *s, size_t n)
{
	kcsi_escape_write(f, s, n, 0);
}

void print_escaped_str(FILE *f, const char *s)
{
	print_escaped(f, s ? s : "-", strlen(s ? s : "-"));
}

void human_size(uint64_t v, char *buf, size_t cap)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	int i = 0;
	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, cap, "%.1f %s", d, u[i]);
}

int open_ckpt(const char *path, unsigned flags, kcsi_ckpt **c)
{
	kcsi_error err;
	kcsi_error_clear(&err);
	if (kcsi_ckpt_open(path, flags, c, &err) != KCSI_OK)
		return fail(&err);
	return 0;
}

void jw_json(kcsi_jsonw *w, const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!j) {
		kcsi_jw_null(w);
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		kcsi_jw_obj(w);
		json_object_foreach((json_t *)j, k, v) {
			kcsi_jw_key(w, k);
			jw_json(w, v);
		}
		kcsi_jw_obj_end(w);
		break;
	case JSON_ARRAY:
		kcsi_jw_arr(w);
		json_array_foreach(j, i, v)
			jw_json(w, v);
		kcsi_jw_arr_end(w);
		break;
	case JSON_STRING:
		kcsi_jw_strn(w, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		kcsi_jw_int(w, json_integer_value(j));
		break;
	case JSON_REAL:
		{
			char buf[64];
			snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
			kcsi_jw_raw(w, buf);
		}
		break;
	case JSON_TRUE:
		kcsi_jw_bool(w, true);
		break;
	case JSON_FALSE:
		kcsi_jw_bool(w, false);
		break;
	case JSON_NULL:
		kcsi_jw_null(w);
		break;
	}
}

int ckpt_fail(kcsi_ckpt *c, const char *path, kcsi_error *err)
{
	int rc;
	kcsi_error_prefix(err, "%s", path);
	rc = fail(err);
	kcsi_ckpt_close(c);
	return rc;
}
