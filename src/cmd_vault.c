/* kcsi vault — the evidence vault: init, put, get, ls, log, verify, export,
 * verify-bundle, purge, report.  One option table for all subcommands (it
 * feeds --help and the man page); each subcommand says which it takes. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/vault.h"

static const struct opt opts[] = {
	{"store", 's', "DIR|s3://BUCKET/PREFIX", "the vault (default: $KCSI_VAULT, then the config file)"},
	{"keys", 'k', "DIR", "private keys directory (default: STORE/keys; $KCSI_VAULT_KEYS)"},
	{"key-file", 0, "FILE", "init: encrypt with this key (32 bytes raw or 64 hex digits)"},
	{"key-env", 0, "NAME", "init: encrypt with the key in this environment variable (hex)"},
	{"retain-days", 0, "N", "init: S3 object-lock retention in days, where the server supports it"},
	{"case", 'c', "ID", "put: the case the evidence belongs to; ls: only this case"},
	{"note", 'n', "TEXT", "put, report: a note recorded in the ledger"},
	{"out", 'o', "FILE", "get: where to write the archive; export: the bundle"},
	{"reason", 'r', "TEXT", "get, export: why (recorded); purge: required"},
	{"actor", 0, "NAME", "who is acting (default: $KCSI_ACTOR, else USER@HOST)"},
	{"no-record", 0, NULL, "verify: do not append \"verified\" entries"},
	{"ledger-only", 0, NULL, "verify: check the ledger and that content exists, without decrypting"},
	{"pubkey", 0, "HEX", "verify-bundle: the public key the bundle must be signed with"},
	{"json", 'j', NULL, "print JSON (put, ls, log, verify, verify-bundle)"},
	{"pretty", 0, NULL, "indent the JSON"},
	{0},
};

struct sub {
	const char *name, *args, *summary;
	const char *const *takes; /* option names besides store, keys, actor, json, pretty */
	int min_pos, max_pos;
	int (*run)(kcsi_vault *v, struct args *a, struct out *o);
};

/* The error, with the option that gives what it is about (the library names
 * no option: kcsi_error.param says which input it means). */
static int vault_fail(kcsi_error *e)
{
	static const char *const hints[][2] = {{"store", "--store DIR|s3://BUCKET/PREFIX"}, {"keys", "--keys DIR"},
					       {"reason", "--reason TEXT"}, {"case", "--case ID"}, {"note", "--note TEXT"}};
	size_t l = strlen(e->msg);
	for (size_t i = 0; e->param && i < sizeof(hints) / sizeof(hints[0]); i++)
		if (!strcmp(e->param, hints[i][0]))
			snprintf(e->msg + l, sizeof(e->msg) - l, " (%s)", hints[i][1]);
	return fail(e);
}

static int resolve(kcsi_vault *v, const char *prefix, char id[KCSI_VAULT_ID_LEN + 1])
{
	kcsi_error err;
	kcsi_error_clear(&err);
	if (kcsi_vault_resolve(v, prefix, id, &err) != KCSI_OK)
		return vault_fail(&err);
	return 0;
}

/* a member of a ledger entry for a table cell (the table escapes the
 * store's text), or NULL */
static char *field(json_t *e, const char *key)
{
	json_t *s = json_object_get(e, key);
	return json_is_string(s) ? strndup(json_string_value(s), json_string_length(s)) : NULL;
}

static const char *short_id(const char *id, char *buf)
{
	snprintf(buf, 17, "%s", id ? id : "-");
	return buf;
}

static int run_put(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	kcsi_vault_put_info info;
	kcsi_error_clear(&err);
	if (kcsi_vault_put(v, a->pos[0], opt_val(a, "case"), opt_val(a, "note"), &info, &err) != KCSI_OK)
		return vault_fail(&err);
	if (o->json) {
		kcsi_jw_obj(&o->w);
		kcsi_jw_kstr(&o->w, "id", info.id);
		kcsi_jw_kuint(&o->w, "size", info.size);
		kcsi_jw_kuint(&o->w, "seq", info.seq);
		kcsi_jw_kbool(&o->w, "duplicate", info.duplicate);
		kcsi_jw_obj_end(&o->w);
		kcsi_jw_end(&o->w);
	} else {
		fprintf(o->f, "%s\n", info.id);
		if (info.duplicate)
			fprintf(stderr, "kcsi: %s: the same content was already held; the new submission is recorded\n",
				a->pos[0]);
	}
	return 0;
}

static int run_get(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1];
	int r;
	if (!opt_val(a, "out"))
		return usage_error(a->cmd, "vault get needs --out FILE");
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (kcsi_vault_get(v, id, opt_val(a, "out"), opt_val(a, "reason"), &err) != KCSI_OK)
		return vault_fail(&err);
	fprintf(o->f, "%s: evidence %s, SHA-256 verified\n", opt_val(a, "out"), id);
	return 0;
}

static int run_purge(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1];
	int r;
	if (!opt_val(a, "reason"))
		return usage_error(a->cmd, "vault purge needs --reason TEXT");
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (kcsi_vault_purge(v, id, opt_val(a, "reason"), &err) != KCSI_OK)
		return vault_fail(&err);
	fprintf(o->f, "purged %s (the tombstone stays in the ledger)\n", id);
	return 0;
}

static int run_report(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1], *data = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int r;
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	f = strcmp(a->pos[1], "-") ? fopen(a->pos[1], "rb") : stdin;
	if (!f) {
		fprintf(stderr, "kcsi: %s: %s\n", a->pos[1], strerror(errno));
		return KCSI_ERR_IO;
	}
	for (;;) {
		size_t n;
		if (len == cap) {
			char *p;
			cap = cap ? cap * 2 : 65536;
			if (cap > (size_t)1 << 30 || !(p = realloc(data, cap))) {
				free(data);
				fprintf(stderr, "kcsi: %s: too large for a report\n", a->pos[1]);
				return KCSI_ERR_LIMIT;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (f != stdin)
		fclose(f);
	kcsi_error_clear(&err);
	r = kcsi_vault_report(v, id, data, len, opt_val(a, "note"), &err) != KCSI_OK ? vault_fail(&err) : 0;
	free(data);
	if (!r)
		fprintf(o->f, "report of %zu bytes recorded for %s\n", len, id);
	return r;
}

static int run_ls(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	json_t *l, *e;
	size_t i;
	struct table t;
	kcsi_error_clear(&err);
	if (kcsi_vault_list(v, opt_val(a, "case"), &l, &err) != KCSI_OK)
		return vault_fail(&err);
	if (o->json) {
		jw_json(&o->w, l);
		kcsi_jw_end(&o->w);
		json_decref(l);
		return 0;
	}
	table_init(&t, 7);
	table_add(&t, "ID", "STATE", "SIZE", "CASE", "INGESTED", "ACCESSES", "NAME");
	json_array_foreach(l, i, e) {
		char sid[17], size[32], acc[16];
		human_size((uint64_t)json_integer_value(json_object_get(e, "size")), size, sizeof(size));
		snprintf(acc, sizeof(acc), "%lld", (long long)json_integer_value(json_object_get(e, "accesses")));
		char *state = field(e, "state"), *cas = field(e, "case"), *when = field(e, "ingested"),
		     *name = field(e, "name");
		table_add(&t, short_id(json_string_value(json_object_get(e, "id")), sid), state, size, cas, when, acc, name);
		free(state);
		free(cas);
		free(when);
		free(name);
	}
	table_print(&t, o);
	table_free(&t);
	json_decref(l);
	return 0;
}

static int run_log(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1];
	json_t *l, *e;
	size_t i;
	struct table t;
	int r;
	if (a->npos && (r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (kcsi_vault_log(v, a->npos ? id : NULL, &l, &err) != KCSI_OK)
		return vault_fail(&err);
	if (o->json) {
		jw_json(&o->w, l);
		kcsi_jw_end(&o->w);
		json_decref(l);
		return 0;
	}
	table_init(&t, 6);
	table_add(&t, "SEQ", "TIME", "ACTOR", "ACTION", "ID", "DETAIL");
	json_array_foreach(l, i, e) {
		char seq[24], sid[17], detail[1024] = "", *d, *when, *actor, *action;
		static const char *const keys[] = {"name", "case", "reason", "note", "detail", "report_sha256"};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			const char *s = json_string_value(json_object_get(e, keys[k]));
			size_t dl = strlen(detail);
			if (s)
				snprintf(detail + dl, sizeof(detail) - dl, "%s%s=%s", dl ? " " : "", keys[k], s);
		}
		snprintf(seq, sizeof(seq), "%lld", (long long)json_integer_value(json_object_get(e, "seq")));
		d = detail[0] ? strdup(detail) : NULL;
		when = field(e, "time");
		actor = field(e, "actor");
		action = field(e, "action");
		table_add(&t, seq, when, actor, action,
			  json_object_get(e, "id") ? short_id(json_string_value(json_object_get(e, "id")), sid) : NULL, d);
		free(d);
		free(when);
		free(actor);
		free(action);
	}
	table_print(&t, o);
	table_free(&t);
	json_decref(l);
	return 0;
}

/* print a verify result; returns the exit code */
static int print_verify(const json_t *res, struct out *o, const char *what)
{
	json_t *probs = json_object_get(res, "problems"), *p;
	size_t i;
	bool ok = json_is_true(json_object_get(res, "ok"));
	if (o->json) {
		jw_json(&o->w, res);
		kcsi_jw_end(&o->w);
	} else {
		/* names and messages come from the store or the bundle: escaped */
		json_array_foreach(probs, i, p) {
			static const char *const keys[] = {"where", "id", "problem"};
			fprintf(o->f, "%sFAIL%s ", c_red(o), c_off(o));
			for (size_t k = 0; k < 3; k++) {
				json_t *t = json_object_get(p, keys[k]);
				if (!json_is_string(t))
					continue;
				print_escaped(o->f, json_string_value(t), json_string_length(t));
				fputs(k < 2 ? ": " : "\n", o->f);
			}
		}
		if (ok)
			fprintf(o->f, "%sok%s %s\n", c_bold(o), c_off(o), what);
		else
			fprintf(o->f, "%s%zu problem%s%s found\n", c_red(o), json_array_size(probs),
				json_array_size(probs) == 1 ? "" : "s", c_off(o));
	}
	return ok ? 0 : KCSI_ERR_FORMAT;
}

static int run_verify(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1], what[512];
	json_t *res;
	unsigned flags = 0;
	int r;
	if (a->npos && (r = resolve(v, a->pos[0], id)))
		return r;
	if (opt_set(a, "no-record"))
		flags |= KCSI_VAULT_VERIFY_NORECORD;
	if (opt_set(a, "ledger-only"))
		flags |= KCSI_VAULT_VERIFY_LEDGER_ONLY;
	kcsi_error_clear(&err);
	if (kcsi_vault_verify(v, a->npos ? id : NULL, flags, &res, &err) != KCSI_OK)
		return vault_fail(&err);
	snprintf(what, sizeof(what), "%lld ledger entries, %lld evidence checked; head %lld %s; public key %s",
		 (long long)json_integer_value(json_object_get(res, "entries")),
		 (long long)json_integer_value(json_object_get(res, "evidence_checked")),
		 (long long)json_integer_value(json_object_get(json_object_get(res, "head"), "seq")),
		 json_string_value(json_object_get(json_object_get(res, "head"), "hash")),
		 json_string_value(json_object_get(res, "public_key")));
	r = print_verify(res, o, what);
	json_decref(res);
	return r;
}

static int run_export(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1];
	int r;
	if (!opt_val(a, "out"))
		return usage_error(a->cmd, "vault export needs --out BUNDLE");
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (kcsi_vault_export(v, id, opt_val(a, "out"), opt_val(a, "reason"), &err) != KCSI_OK)
		return vault_fail(&err);
	fprintf(o->f, "%s: bundle of evidence %s\n", opt_val(a, "out"), id);
	return 0;
}

static int run_verify_bundle(struct args *a, struct out *o)
{
	kcsi_error err;
	json_t *res;
	char what[512];
	int r;
	kcsi_error_clear(&err);
	if (kcsi_vault_verify_bundle(a->pos[0], opt_val(a, "pubkey"), &res, &err) != KCSI_OK)
		return vault_fail(&err);
	snprintf(what, sizeof(what), "bundle of evidence %s (%lld bytes, %lld ledger entries), signed by %s%s",
		 json_string_value(json_object_get(res, "id")), (long long)json_integer_value(json_object_get(res, "size")),
		 (long long)json_integer_value(json_object_get(res, "entries")),
		 json_string_value(json_object_get(res, "public_key")),
		 opt_val(a, "pubkey") ? "" : " (pin it with --pubkey)");
	r = print_verify(res, o, what);
	json_decref(res);
	return r;
}

static const char *const t_none[] = {NULL};
static const char *const t_init[] = {"key-file", "key-env", "retain-days", NULL};
static const char *const t_put[] = {"case", "note", NULL};
static const char *const t_get[] = {"out", "reason", NULL};
static const char *const t_ls[] = {"case", NULL};
static const char *const t_verify[] = {"no-record", "ledger-only", NULL};
static const char *const t_export[] = {"out", "reason", NULL};
static const char *const t_purge[] = {"reason", NULL};
static const char *const t_report[] = {"note", NULL};
static const char *const t_vb[] = {"pubkey", NULL};

static const struct sub subs[] = {
	{"init", "", "make a vault: signing key pair, encryption key, ledger", t_init, 0, 0, NULL},
	{"put", "ARCHIVE", "encrypt and store an archive; print its evidence id", t_put, 1, 1, run_put},
	{"get", "ID --out FILE", "decrypt, verify and write an archive (recorded as accessed)", t_get, 1, 1, run_get},
	{"ls", "", "the evidence held and purged", t_ls, 0, 0, run_ls},
	{"log", "[ID]", "the ledger: chain of custody of all or one evidence", t_none, 0, 1, run_log},
	{"verify", "[ID]", "check the ledger and recompute the content hashes", t_verify, 0, 1, run_verify},
	{"export", "ID --out BUNDLE", "write a case bundle for offline verification", t_export, 1, 1, run_export},
	{"verify-bundle", "BUNDLE", "verify a case bundle offline (no vault needed)", t_vb, 1, 1, NULL},
	{"purge", "ID --reason TEXT", "delete the content, keep a signed tombstone", t_purge, 1, 1, run_purge},
	{"report", "ID FILE", "attach an analysis report (recorded as analysed)", t_report, 2, 2, run_report},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static bool takes(const struct sub *s, const char *opt)
{
	static const char *const common[] = {"store", "keys", "actor", "json", "pretty"};
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (!strcmp(common[i], opt))
			return strcmp(s->name, "verify-bundle") != 0 || !strcmp(opt, "json") || !strcmp(opt, "pretty");
	for (size_t i = 0; s->takes[i]; i++)
		if (!strcmp(s->takes[i], opt))
			return true;
	return false;
}

/* Parse the options that follow the subcommand into a (which already holds
 * those given before it). */
static int parse_sub(struct args *a)
{
	const struct cmd *c = a->cmd;
	struct option lo[MAX_OPTS + 2];
	char shorts[3 * MAX_OPTS + 4] = "h";
	int n = 0, ch, argc = a->npos;
	char **argv = a->pos;

	for (; c->opts[n].name; n++) {
		lo[n] = (struct option){c->opts[n].name, c->opts[n].arg ? required_argument : no_argument, NULL, 256 + n};
		if (c->opts[n].short_name) {
			size_t l = strlen(shorts);
			shorts[l] = c->opts[n].short_name;
			shorts[l + 1] = c->opts[n].arg ? ':' : '\0';
			shorts[l + 2] = '\0';
		}
	}
	lo[n] = (struct option){"help", no_argument, NULL, 'h'};
	lo[n + 1] = (struct option){0, 0, 0, 0};
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		int idx = -1;
		if (ch == 'h')
			return -1;
		if (ch >= 256)
			idx = ch - 256;
		else
			for (int i = 0; i < n; i++)
				if (c->opts[i].short_name == ch)
					idx = i;
		if (idx < 0)
			return usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
		a->count[idx]++;
		a->val[idx] = optarg;
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	return 0;
}

static void sub_help(const struct sub *s)
{
	printf("usage: kcsi vault %s%s%s [--store STORE]", s->name, s->args[0] ? " " : "", s->args);
	printf("\n\n%s\n\noptions:\n", s->summary);
	for (int i = 0; opts[i].name; i++)
		if (takes(s, opts[i].name)) {
			char left[64];
			snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
				 opts[i].arg ? opts[i].arg : "");
			printf("  %-32s %s\n", left, opts[i].help);
		}
	printf("\nSee kcsi-vault(1) and docs/vault.md.\n");
}

static int run(struct args *a)
{
	const struct sub *s = NULL;
	struct out o;
	kcsi_vault *v = NULL;
	kcsi_error err;
	char *store = NULL, *keys = NULL;
	int r;

	for (int i = 0; subs[i].name; i++)
		if (!strcmp(subs[i].name, a->pos[0]))
			s = &subs[i];
	if (!s)
		return usage_error(a->cmd, "no vault command '%s'", a->pos[0]);
	r = parse_sub(a);
	if (r < 0) {
		sub_help(s);
		return 0;
	}
	if (r)
		return r;
	for (int i = 0; opts[i].name; i++)
		if (a->count[i] && !takes(s, opts[i].name))
			return usage_error(a->cmd, "vault %s does not take --%s", s->name, opts[i].name);
	if (a->npos < s->min_pos || a->npos > s->max_pos)
		return usage_error(a->cmd, "usage: kcsi vault %s %s", s->name, s->args);
	kcsi_error_clear(&err);
	out_open(&o, a);
	if (!strcmp(s->name, "verify-bundle")) {
		r = run_verify_bundle(a, &o);
		/* the report of what was found is printed with exit code 4 too */
		return r == KCSI_ERR_FORMAT ? (out_close(&o, 0) ? KCSI_ERR_IO : r) : out_close(&o, r);
	}
	if (kcsi_vault_config(opt_val(a, "store"), opt_val(a, "keys"), &store, &keys, &err) != KCSI_OK)
		return out_close(&o, vault_fail(&err));
	if (!strcmp(s->name, "init")) {
		kcsi_vault_init_opts io = {keys, opt_val(a, "key-file"), opt_val(a, "key-env"), 0, opt_val(a, "actor")};
		uint64_t days = 0;
		if (opt_uint(a, "retain-days", &days))
			io.retain_days = (unsigned)days;
		if (io.key_file && io.key_env)
			r = usage_error(a->cmd, "give --key-file or --key-env, not both");
		else if (kcsi_vault_init(store, &io, &err) != KCSI_OK)
			r = vault_fail(&err);
		else if (kcsi_vault_open(store, keys, &v, &err) != KCSI_OK)
			r = vault_fail(&err);
		else
			fprintf(o.f, "%s: vault created; public key %s\n", store, kcsi_vault_public_key(v));
	} else if (kcsi_vault_open(store, keys, &v, &err) != KCSI_OK) {
		r = vault_fail(&err);
	} else {
		if (opt_val(a, "actor"))
			kcsi_vault_set_actor(v, opt_val(a, "actor"));
		r = s->run(v, a, &o);
	}
	kcsi_vault_close(v);
	free(store);
	free(keys);
	if (r == KCSI_ERR_FORMAT && !strcmp(s->name, "verify"))
		return out_close(&o, 0) ? KCSI_ERR_IO : r;
	return out_close(&o, r);
}

const struct cmd cmd_vault = {
	.name = "vault",
	.synopsis = "COMMAND [--store DIR|s3://BUCKET/PREFIX] [OPTIONS] [ARGS]",
	.summary = "keep checkpoints as evidence: encrypted, verifiable, accounted for",
	.description =
		"A vault holds checkpoint archives encrypted (XChaCha20-Poly1305 secretstream in\n"
		"1 MiB chunks), named by the SHA-256 of the original (the evidence id; any unique\n"
		"prefix of 8 or more hex digits will do), immutable (files 0400 in 0700\n"
		"directories), in a directory or an S3 bucket.  Every action is a line in an\n"
		"append-only ledger, chained to the previous line by its SHA-256 and signed with\n"
		"the vault's Ed25519 key.  Store layout and ledger format: docs/vault.md.\n"
		"\n"
		"commands:\n"
		"  init                      make a vault: signing key pair, encryption key, ledger\n"
		"  put ARCHIVE               encrypt and store an archive (read once); print its id\n"
		"  get ID --out FILE         decrypt, verify, then write (recorded as accessed)\n"
		"  ls [--case ID]            the evidence held and purged\n"
		"  log [ID]                  the chain of custody of all or one evidence\n"
		"  verify [ID]               check every ledger line and recompute content hashes;\n"
		"                            each problem is reported with its ledger line or object\n"
		"  export ID --out BUNDLE    a tar with the archive, its ledger entries, reports,\n"
		"                            the public key and a signed manifest\n"
		"  verify-bundle BUNDLE      verify a bundle offline, without the vault\n"
		"  purge ID --reason TEXT    delete the content, keep a signed tombstone\n"
		"  report ID FILE            attach an analysis report (recorded as analysed)\n"
		"\n"
		"S3 stores take the endpoint from KCSI_S3_ENDPOINT (or AWS_ENDPOINT_URL), the\n"
		"region from AWS_REGION (default us-east-1) and credentials from AWS_ACCESS_KEY_ID\n"
		"and AWS_SECRET_ACCESS_KEY; requests are signed with AWS SigV4.  Their keys\n"
		"directory is local (--keys or KCSI_VAULT_KEYS).\n"
		"\n"
		"Exit status 4 from verify and verify-bundle means a problem was found.",
	.json_doc =
		"put: {id, size, seq, duplicate}\n"
		"ls: an array of {id, sha256, size, name, case, note, state (held|purged), ingested,\n"
		"  ingested_by, accesses, last_action, last_time}\n"
		"log: an array of ledger entries {seq, time, actor, action, id, sha256, size, name,\n"
		"  case, note, reason, detail, prev, sig, ...} (absent members are omitted)\n"
		"verify: {ok, entries, evidence_checked, head {seq, hash}, public_key,\n"
		"  problems [{where, id, problem}]}\n"
		"verify-bundle: {ok, id, sha256, size, public_key, entries, problems [{where, id, problem}]}",
	.example =
		"$ kcsi vault init --store /srv/evidence\n"
		"$ kcsi vault put --store /srv/evidence --case INC-42 checkpoint-perlbot.tar\n"
		"3f1c...e9\n"
		"$ kcsi vault get --store /srv/evidence 3f1c0a2b --out /tmp/a.tar --reason 'triage'",
	.opts = opts,
	.min_pos = 1,
	.max_pos = -1,
	.run = run,
};
