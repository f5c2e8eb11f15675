/* kcsi CLI — output (errors, buffered documents, tables, escaping, colour)
 * and opening checkpoints for the views.  See cli.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

const struct cmd *cli_running;

/* The library names no option: kcsi_error.param says which input an error
 * is about.  These are the options that can give each, in the order tried;
 * the hint names the first one the running command has. */
static const char *const param_options[][3] = {
	{"store", "store", "vault"}, {"keys", "keys", NULL},       {"reason", "reason", NULL},
	{"case", "case", NULL},      {"note", "note", NULL},       {"image", "image", NULL},
	{"cert", "cert", "token-file"}, {"context", "context", NULL}, {"force", "force", NULL},
	{"encoding", "encoding", NULL},
};
static const struct opt *running_opt(const char *name)
{
	for (const struct opt *o = cli_running ? cli_running->opts : NULL; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

/* " (--store DIR|s3://BUCKET/PREFIX)" for an error about the store, or "" */
static void param_hint(const kcsi_error *err, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t i = 0; err->param && i < sizeof(param_options) / sizeof(param_options[0]); i++) {
		if (strcmp(err->param, param_options[i][0]))
			continue;
		for (int k = 1; k < 3 && param_options[i][k]; k++) {
			const struct opt *o = running_opt(param_options[i][k]);
			if (o) {
				snprintf(buf, cap, " (--%s%s%s)", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
				return;
			}
		}
	}
}

int fail(const kcsi_error *err)
{
	const char *m = err->msg[0] ? err->msg : kcsi_strerror(err->code);
	char hint[128];
	/* names from hostile archives reach this line: no raw control bytes */
	fputs("kcsi: ", stderr);
	print_escaped(stderr, m, strlen(m));
	param_hint(err, hint, sizeof(hint));
	fputs(hint, stderr);
	fputc('\n', stderr);
	return err->code ? (int)err->code : 1;
}

int usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kcsi%s%s: ", c ? " " : "", cmd_path(c));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", cli_prog, c ? " " : "", cmd_path(c));
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
	bool lines = a && a->cmd->opts && opt_index_safe(a->cmd, "ndjson") >= 0 && opt_set(a, "ndjson");
	o->json = lines || (a && a->cmd->opts && opt_index_safe(a->cmd, "json") >= 0 && opt_set(a, "json"));
	o->color = !o->json && want_color();
	if (!o->json && isatty(STDOUT_FILENO) == 1) {
		struct winsize ws;
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
			o->columns = ws.ws_col;
	}
	kcsi_jw_init(&o->w, o->f, !lines && a && opt_index_safe(a->cmd, "pretty") >= 0 && opt_set(a, "pretty") ? 2 : 0);
	o->w.lines = lines;
}

static int out_write(struct out *o, int rc, bool keep)
{
	fclose(o->f);
	if ((rc == 0 || keep) && o->len)
		if (fwrite(o->buf, 1, o->len, stdout) != o->len || fflush(stdout) != 0) {
			fprintf(stderr, "kcsi: writing the output: %s\n", strerror(errno));
			rc = KCSI_ERR_IO;
		}
	free(o->buf);
	return rc;
}

int out_close(struct out *o, int rc)
{
	return out_write(o, rc, false);
}

int out_close_partial(struct out *o, int rc)
{
	return out_write(o, rc, true);
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

/* Cut a cell (escaped text) to at most max columns, the last one "…" when
 * anything is cut. */
static void cut_to_width(char **cell, size_t max)
{
	const char *s = *cell;
	size_t n = strlen(s), w = 0, keep = 0;
	char *cut;
	if (max == 0 || width(s) <= max)
		return;
	while (keep < n) {
		size_t l = kcsi_utf8_seq((const unsigned char *)s + keep, n - keep);
		char one[8] = "";
		memcpy(one, s + keep, l ? l : 1);
		if (w + width(one) > max - 1)
			break;
		w += width(one);
		keep += l ? l : 1;
	}
	cut = or_exit(malloc(keep + sizeof("\u2026")));
	memcpy(cut, s, keep);
	memcpy(cut + keep, "\u2026", sizeof("\u2026"));
	free(*cell);
	*cell = cut;
}

/* On a terminal, the columns left for the last one once the others are laid out. */
static size_t last_column_room(const struct table *t, const struct out *o, const size_t *w)
{
	size_t used = 0;
	for (size_t c = 0; c + 1 < t->ncols; c++)
		used += w[c] + 2;
	return o->columns > used + 8 ? o->columns - used : 8;
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
	if (t->fit_terminal && o->columns && t->ncols)
		for (size_t r = 0; r < t->nrows; r++)
			cut_to_width(&t->cells[r * t->ncols + t->ncols - 1], last_column_room(t, o, w));
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

int open_view(const struct args *a, unsigned flags, kcsi_ckpt **c)
{
	uint32_t pid = opt_pid(a);
	int rc = open_ckpt(a->pos[0], flags, c);
	if (rc || !pid || kcsi_ckpt_proc_by_pid(*c, pid))
		return rc;
	fprintf(stderr, "kcsi: no process %u in ", pid);
	print_escaped_str(stderr, a->pos[0]);
	fputc('\n', stderr);
	kcsi_ckpt_close(*c);
	*c = NULL;
	return KCSI_ERR_NOTFOUND;
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
