/* kcsi CLI — the command table and the command line: finding a command
 * (and its subcommand), parsing its options against its table, checking
 * every value once (numbers, sizes, pids, choices, required options), and
 * suggesting the word meant when a command or an option is mistyped. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_prog = "kcsi";

const struct cmd_entry *cmd_entry_of(const struct cmd *c)
{
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
		if (e->cmd == c)
			return e;
	return NULL;
}

const char *cmd_path(const struct cmd *c)
{
	const struct cmd_entry *e = c ? cmd_entry_of(c) : NULL;
	return e ? e->path : "";
}

const struct cmd *cmd_find(const struct cmd *parent, const char *name)
{
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
		if (e->parent == parent && strcmp(e->name, name) == 0)
			return e->cmd;
	return NULL;
}

bool cmd_has_subs(const struct cmd *c)
{
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
		if (e->parent == c)
			return true;
	return false;
}

int opt_index_safe(const struct cmd *c, const char *name)
{
	for (int i = 0; c->opts && c->opts[i].name; i++)
		if (strcmp(c->opts[i].name, name) == 0)
			return i;
	return -1;
}

int opt_index(const struct cmd *c, const char *name)
{
	int i = opt_index_safe(c, name);
	if (i < 0) {
		fprintf(stderr, "kcsi: internal error: command %s has no option --%s\n", cmd_path(c), name);
		abort();
	}
	return i;
}

bool opt_set(const struct args *a, const char *name)
{
	return a->count[opt_index(a->cmd, name)] > 0;
}

const char *const *opt_all(const struct args *a, const char *name, int *n)
{
	int i = opt_index(a->cmd, name);
	*n = a->count[i] < MAX_REPEAT ? a->count[i] : MAX_REPEAT;
	return a->all[i];
}

const char *opt_val(const struct args *a, const char *name)
{
	return a->val[opt_index(a->cmd, name)];
}

uint64_t opt_num(const struct args *a, const char *name, uint64_t dflt)
{
	int i = opt_index(a->cmd, name);
	return a->count[i] ? a->num[i] : dflt;
}

uint32_t opt_pid(const struct args *a)
{
	int i = opt_index_safe(a->cmd, "pid");
	return i >= 0 && a->count[i] ? (uint32_t)a->num[i] : 0;
}

/* ---- typo suggestions ---- */

/* Edits (insert, delete, substitute, swap two neighbours) from a to b;
 * words longer than 63 bytes count as far from everything. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[64][64];
	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

const char *closest_word(const char *word, const char *const *candidates, size_t n)
{
	size_t len = strlen(word), allowed = len / 3 > 1 ? len / 3 : 1, best = SIZE_MAX;
	const char *pick = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (len >= 2 && strncmp(candidates[i], word, len) == 0)
			d = 1; /* the start of a name */
		if (d <= allowed && d < best) {
			best = d;
			pick = candidates[i];
		}
	}
	return pick;
}

/* " (did you mean WORD?)" or "" */
static const char *did_you_mean(const char *word, const char *const *candidates, size_t n, char *buf, size_t cap)
{
	const char *w = closest_word(word, candidates, n);
	if (!w)
		return "";
	snprintf(buf, cap, " (did you mean %s?)", w);
	return buf;
}

int unknown_command(const struct cmd *parent, const char *name)
{
	const char *names[64];
	size_t n = 0;
	char hint[128];
	for (const struct cmd_entry *e = cmd_table; e->cmd && n < 64; e++)
		if (e->parent == parent)
			names[n++] = e->name;
	did_you_mean(name, names, n, hint, sizeof(hint));
	fprintf(stderr, "kcsi: '");
	print_escaped_str(stderr, name);
	if (parent)
		fprintf(stderr, "' is not a %s %s command%s; see '%s %s --help'\n", cli_prog, cmd_path(parent), hint,
			cli_prog, cmd_path(parent));
	else
		fprintf(stderr, "' is not a %s command%s; see '%s --help'\n", cli_prog, hint, cli_prog);
	return KCSI_ERR_USAGE;
}

/* ---- values ---- */

/* "16M" for 16 MiB: the largest unit that divides v */
static void size_text(uint64_t v, char *buf, size_t cap)
{
	static const char *const units[] = {"", "K", "M", "G", "T"};
	size_t u = 0;
	while (u < 4 && v && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%llu%s", (unsigned long long)v, units[u]);
}

/* decimal, or hex after 0x; false on anything else or on overflow */
static bool parse_number(const char *s, const char **end, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	const char *p = s;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		unsigned dg;
		if (*p >= '0' && *p <= '9')
			dg = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			dg = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			dg = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - dg) / base)
			return false;
		v = v * base + dg;
	}
	if (p == s || (base == 16 && p == s + 2))
		return false;
	*end = p;
	*out = v;
	return true;
}

static size_t choice_words(const struct opt *o, char *buf, size_t cap, const char **words, size_t max);
static void choice_list(const struct opt *o, char *list, size_t cap);

static void range_text(const struct opt *o, char *buf, size_t cap)
{
	char lo[32], hi[32];
	if (o->kind == OPT_SIZE) {
		size_text(o->min, lo, sizeof(lo));
		size_text(o->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)o->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)o->max);
	}
	if (o->max)
		snprintf(buf, cap, "%s to %s", lo, hi);
	else
		snprintf(buf, cap, "at least %s", lo);
}

void opt_range_text(const struct opt *o, char *buf, size_t cap)
{
	buf[0] = '\0';
	if ((o->kind == OPT_NUM || o->kind == OPT_SIZE) && (o->min || o->max))
		range_text(o, buf, cap);
	else if (o->kind == OPT_NUM)
		snprintf(buf, cap, "a number");
	else if (o->kind == OPT_SIZE)
		snprintf(buf, cap, "a size in bytes, or with K, M, G or T");
	if (o->kind == OPT_CHOICE)
		choice_list(o, buf, cap);
}

/* the words of a choice option, NUL-separated in buf; their count */
static size_t choice_words(const struct opt *o, char *buf, size_t cap, const char **words, size_t max)
{
	size_t n = 0;
	snprintf(buf, cap, "%s", o->choices);
	for (char *p = buf; *p && n < max;) {
		words[n++] = p;
		p += strcspn(p, "|");
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* "text, json or html" */
static void choice_list(const struct opt *o, char *list, size_t cap)
{
	char buf[256];
	const char *words[16];
	size_t nw = choice_words(o, buf, sizeof(buf), words, 16);
	list[0] = '\0';
	for (size_t k = 0; k < nw; k++) {
		size_t l = strlen(list);
		snprintf(list + l, cap - l, "%s%s", k == 0 ? "" : k + 1 == nw ? " or " : ", ", words[k]);
	}
}

/* Check the value of option i; a usage error (printed) or 0. */
static int take_value(struct args *a, int i, const char *v)
{
	const struct opt *o = &a->cmd->opts[i];
	const char *end = v;
	uint64_t n = 0;
	int shift = 0;
	char range[80];

	switch (o->kind) {
	case OPT_FLAG:
	case OPT_TEXT:
		return 0;
	case OPT_CHOICE: {
		char buf[256], hint[128], list[300];
		const char *words[16];
		size_t nw = choice_words(o, buf, sizeof(buf), words, 16);
		for (size_t k = 0; k < nw; k++)
			if (!strcmp(words[k], v))
				return 0;
		choice_list(o, list, sizeof(list));
		did_you_mean(v, words, nw, hint, sizeof(hint));
		return usage_error(a->cmd, "--%s is %s, not '%s'%s", o->name, list, v, hint);
	}
	case OPT_PID:
		if (!parse_number(v, &end, &n) || *end)
			return usage_error(a->cmd, "--%s takes a process id, not '%s'", o->name, v);
		if (n < 1 || n > UINT32_MAX)
			return usage_error(a->cmd, "--%s is a process id from 1 to %u, not '%s'", o->name, UINT32_MAX, v);
		break;
	case OPT_SIZE:
		if (parse_number(v, &end, &n) && *end) {
			const char *u = strchr("KkMmGgTt", *end);
			shift = u && *u ? (int)((u - "KkMmGgTt") / 2 + 1) * 10 : -1;
			end++;
		}
		if (end == v || *end || shift < 0)
			return usage_error(a->cmd, "--%s takes a size (a number of bytes, or with K, M, G or T), not '%s'",
					   o->name, v);
		if (shift && n > (UINT64_MAX >> shift)) {
			range_text(o, range, sizeof(range));
			return usage_error(a->cmd, "--%s is %s, not '%s'", o->name, range, v);
		}
		n <<= shift;
		break;
	case OPT_NUM:
		if (!parse_number(v, &end, &n) || *end) {
			/* a number too large for 64 bits is out of range, not malformed */
			bool digits = *v && strspn(v, "0123456789") == strlen(v);
			if (!digits)
				return usage_error(a->cmd, "--%s takes a number, not '%s'", o->name, v);
			if (!o->max)
				return usage_error(a->cmd, "--%s is too large: '%s'", o->name, v);
			n = UINT64_MAX;
		}
		break;
	}
	if (o->kind != OPT_PID && (n < o->min || (o->max && n > o->max))) {
		range_text(o, range, sizeof(range));
		return usage_error(a->cmd, "--%s is %s, not '%s'", o->name, range, v);
	}
	a->num[i] = n;
	return 0;
}

/* ---- the parser ---- */

static int unknown_option(const struct cmd *c, const char *given)
{
	const char *names[MAX_OPTS + 1];
	size_t n = 0, matches = 0;
	char word[128], hint[160], list[256] = "";
	size_t wl;
	snprintf(word, sizeof(word), "%s", given + 2);
	wl = strcspn(word, "=");
	word[wl] = '\0';
	for (int i = 0; c->opts && c->opts[i].name; i++) {
		names[n++] = c->opts[i].name;
		if (wl && strncmp(c->opts[i].name, word, wl) == 0) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof(list) - l, "%s--%s", matches++ ? ", " : "", c->opts[i].name);
		}
	}
	names[n++] = "help";
	if (matches > 1)
		return usage_error(c, "option '--%s' is ambiguous (%s)", word, list);
	if (closest_word(word, names, n))
		snprintf(hint, sizeof(hint), " (did you mean --%s?)", closest_word(word, names, n));
	else
		hint[0] = '\0';
	return usage_error(c, "unknown option '%s'%s", given, hint);
}

static void internal_error(const struct cmd *c, const struct opt *o, const char *what)
{
	fprintf(stderr, "kcsi: internal error: %s --%s: %s\n", cmd_path(c), o->name, what);
	abort();
}

static int run_subcommand(const struct cmd *c, int argc, char **argv)
{
	const struct cmd *sub;
	if (argc < 2) {
		char names[512] = "";
		for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
			if (e->parent == c) {
				size_t l = strlen(names);
				snprintf(names + l, sizeof(names) - l, "%s%s", l ? ", " : "", e->name);
			}
		return usage_error(c, "missing command (%s)", names);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_help(stdout, c);
		return 0;
	}
	if (argv[1][0] == '-')
		return usage_error(c, "give the command first: %s %s COMMAND [OPTIONS] (the options are the command's)",
				   cli_prog, cmd_path(c));
	sub = cmd_find(c, argv[1]);
	if (!sub)
		return unknown_command(c, argv[1]);
	return run_command(sub, argc - 1, argv + 1);
}

int run_command(const struct cmd *c, int argc, char **argv)
{
	struct option lo[MAX_OPTS + 2];
	char shorts[3 * MAX_OPTS + 4] = ":h";
	struct args *a;
	int n = 0, ch, rc;

	if (!c->run)
		return run_subcommand(c, argc, argv);
	for (; c->opts && c->opts[n].name; n++) {
		const struct opt *o = &c->opts[n];
		if (n >= MAX_OPTS)
			internal_error(c, o, "more than MAX_OPTS options");
		if ((o->kind == OPT_FLAG) != (o->arg == NULL) || (o->kind == OPT_CHOICE) != (o->choices != NULL))
			internal_error(c, o, "a flag has no value name, an option with a value has one; "
					     "a choice has its words");
		lo[n] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, 256 + n};
		if (o->short_name) {
			size_t l = strlen(shorts);
			shorts[l] = o->short_name;
			shorts[l + 1] = o->arg ? ':' : '\0';
			shorts[l + 2] = '\0';
		}
	}
	lo[n] = (struct option){"help", no_argument, NULL, 'h'};
	lo[n + 1] = (struct option){0, 0, 0, 0};
	a = calloc(1, sizeof(*a)); /* about 7 KiB: not on the stack */
	if (!a) {
		fputs("kcsi: out of memory\n", stderr);
		return KCSI_ERR_NOMEM;
	}
	a->cmd = c;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		int idx = -1;
		if (ch == 'h') {
			print_help(stdout, c);
			free(a);
			return 0;
		}
		if (ch == ':' || ch == '?') {
			const char *given = argv[optind - 1];
			int k = optopt >= 256 ? optopt - 256 : -1;
			for (int i = 0; k < 0 && optopt && i < n; i++)
				if (c->opts[i].short_name == optopt)
					k = i;
			if (ch == ':' && k >= 0)
				rc = usage_error(c, "--%s needs a value (%s)", c->opts[k].name, c->opts[k].arg);
			else if (given && given[0] == '-' && given[1] == '-')
				rc = unknown_option(c, given);
			else
				rc = usage_error(c, "unknown option '-%c'", optopt > 0 && optopt < 128 ? optopt : '?');
			free(a);
			return rc;
		}
		idx = ch >= 256 ? ch - 256 : -1;
		for (int i = 0; idx < 0 && i < n; i++)
			if (c->opts[i].short_name == ch)
				idx = i;
		if (idx < 0)
			continue;
		if (c->opts[idx].flags & OPT_REPEAT) {
			if (a->count[idx] >= MAX_REPEAT) {
				rc = usage_error(c, "--%s is given more than %d times", c->opts[idx].name, MAX_REPEAT);
				free(a);
				return rc;
			}
			a->all[idx][a->count[idx]] = optarg;
		}
		if (optarg && (rc = take_value(a, idx, optarg)) != 0) {
			free(a);
			return rc;
		}
		a->count[idx]++;
		a->val[idx] = optarg;
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	rc = 0;
	for (int i = 0; i < n && !rc; i++)
		if ((c->opts[i].flags & OPT_REQUIRED) && !a->count[i])
			rc = usage_error(c, "--%s %s is required", c->opts[i].name, c->opts[i].arg ? c->opts[i].arg : "");
	if (!rc && a->npos < c->min_pos)
		rc = usage_error(c, "missing argument (usage: %s %s %s)", cli_prog, cmd_path(c), c->synopsis);
	if (!rc && c->max_pos >= 0 && a->npos > c->max_pos)
		rc = usage_error(c, "too many arguments (usage: %s %s %s)", cli_prog, cmd_path(c), c->synopsis);
	if (!rc) {
		cli_running = c;
		rc = c->run(a);
	}
	free(a);
	return rc;
}

/* the top level: kcsi COMMAND ... */
int run_main(int argc, char **argv)
{
	const struct cmd *c = cmd_find(NULL, argv[1]);
	if (!c)
		return unknown_command(NULL, argv[1]);
	return run_command(c, argc - 1, argv + 1);
}
