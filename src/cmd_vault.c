/* kcsi vault — the evidence vault: init, put, get, ls, log, verify, export,
 * verify-bundle, purge, report.  Each is a subcommand in the command table
 * (src/commands.txt) with its own option table; the options every one that
 * opens a vault takes are VAULT_OPTS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/vault.h"

#define VAULT_OPTS                                                                                                 \
	{"store", 's', "DIR|s3://BUCKET/PREFIX", "the vault (default: $KCSI_VAULT, then the config file)",           \
	 .kind = OPT_TEXT},                                                                                       \
	{"keys", 'k', "DIR", "private keys directory (default: STORE/keys; $KCSI_VAULT_KEYS)", .kind = OPT_TEXT},   \
	{"actor", 0, "NAME", "who is acting (default: $KCSI_ACTOR, else USER@HOST)", .kind = OPT_TEXT}
/* the subcommands whose output is a line of text accept --json as before */
#define VAULT_TEXT_OPTS                                                                                            \
	{"json", 'j', NULL, "accepted; the output is a line of text", .kind = OPT_FLAG},                           \
	{"pretty", 0, NULL, "accepted; the output is a line of text", .kind = OPT_FLAG}

static int resolve(kcsi_vault *v, const char *prefix, char id[KCSI_VAULT_ID_LEN + 1])
{
	kcsi_error err;
	kcsi_error_clear(&err);
	if (kcsi_vault_resolve(v, prefix, id, &err) != KCSI_OK)
		return fail(&err);
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
		return fail(&err);
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

/* vault get --force: the evidence is written to a new name beside FILE (in
 * a directory of its own, 0700) and replaces FILE only once it is verified
 * and its access recorded; a failed get leaves FILE as it was. */
static kcsi_code get_replacing(kcsi_vault *v, const char *id, const char *out, const char *reason, kcsi_error *err)
{
	const char *slash = strrchr(out, '/');
	int dirlen = slash ? (int)(slash - out + 1) : 0;
	char *dir = NULL, *tmp = NULL;
	kcsi_code rc;
	if (asprintf(&dir, "%.*s.kcsi-get-XXXXXX", dirlen, out) < 0) {
		dir = NULL;
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	if (!mkdtemp(dir)) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot make a directory beside it: %s", out, strerror(errno));
		free(dir);
		return rc;
	}
	if (asprintf(&tmp, "%s/evidence", dir) < 0) {
		tmp = NULL;
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	} else if ((rc = kcsi_vault_get(v, id, tmp, reason, err)) == KCSI_OK && rename(tmp, out) != 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", out, strerror(errno));
	}
	if (tmp)
		unlink(tmp);
	rmdir(dir);
	free(tmp);
	free(dir);
	return rc;
}

static int run_get(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1];
	const char *out = opt_val(a, "out");
	struct stat st;
	kcsi_code rc;
	int r;
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (lstat(out, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			kcsi_error_set(&err, KCSI_ERR_USAGE, "%s is a directory: give the file to write", out);
		else if (!opt_set(a, "force")) {
			kcsi_error_set(&err, KCSI_ERR_USAGE, "%s exists already (replaced only when forced)", out);
			kcsi_error_param(&err, "force");
		}
		if (err.code)
			return fail(&err);
		rc = get_replacing(v, id, out, opt_val(a, "reason"), &err);
	} else {
		rc = kcsi_vault_get(v, id, out, opt_val(a, "reason"), &err);
	}
	if (rc != KCSI_OK)
		return fail(&err);
	fprintf(o->f, "%s: evidence %s, SHA-256 verified\n", out, id);
	return 0;
}

static int run_purge(kcsi_vault *v, struct args *a, struct out *o)
{
	kcsi_error err;
	char id[KCSI_VAULT_ID_LEN + 1];
	int r;
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (kcsi_vault_purge(v, id, opt_val(a, "reason"), &err) != KCSI_OK)
		return fail(&err);
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
	r = kcsi_vault_report(v, id, data, len, opt_val(a, "note"), &err) != KCSI_OK ? fail(&err) : 0;
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
		return fail(&err);
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
		return fail(&err);
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
		return fail(&err);
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
	if ((r = resolve(v, a->pos[0], id)))
		return r;
	kcsi_error_clear(&err);
	if (kcsi_vault_export(v, id, opt_val(a, "out"), opt_val(a, "reason"), &err) != KCSI_OK)
		return fail(&err);
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
		return fail(&err);
	snprintf(what, sizeof(what), "bundle of evidence %s (%lld bytes, %lld ledger entries), signed by %s%s",
		 json_string_value(json_object_get(res, "id")), (long long)json_integer_value(json_object_get(res, "size")),
		 (long long)json_integer_value(json_object_get(res, "entries")),
		 json_string_value(json_object_get(res, "public_key")),
		 opt_val(a, "pubkey") ? "" : " (pin it with --pubkey)");
	r = print_verify(res, o, what);
	json_decref(res);
	return r;
}

/* Open the vault of --store and --keys, run fn with it and print what it
 * wrote: when it succeeds, and also when verify found problems (exit 4). */
static int with_vault(struct args *a, int (*fn)(kcsi_vault *v, struct args *a, struct out *o))
{
	struct out o;
	kcsi_vault *v = NULL;
	kcsi_error err;
	char *store = NULL, *keys = NULL;
	int r;

	kcsi_error_clear(&err);
	out_open(&o, a);
	if (kcsi_vault_config(opt_val(a, "store"), opt_val(a, "keys"), &store, &keys, &err) != KCSI_OK)
		return out_close(&o, fail(&err));
	if (kcsi_vault_open(store, keys, &v, &err) != KCSI_OK) {
		r = fail(&err);
	} else {
		if (opt_val(a, "actor"))
			kcsi_vault_set_actor(v, opt_val(a, "actor"));
		r = fn(v, a, &o);
	}
	kcsi_vault_close(v);
	free(store);
	free(keys);
	if (r == KCSI_ERR_FORMAT && fn == run_verify)
		return out_close(&o, 0) ? KCSI_ERR_IO : r;
	return out_close(&o, r);
}

static int run_init(struct args *a)
{
	struct out o;
	kcsi_vault *v = NULL;
	kcsi_error err;
	char *store = NULL, *keys = NULL;
	kcsi_vault_init_opts io = {NULL, opt_val(a, "key-file"), opt_val(a, "key-env"),
				   (unsigned)opt_num(a, "retain-days", 0), opt_val(a, "actor")};
	int r = 0;

	if (io.key_file && io.key_env)
		return usage_error(a->cmd, "give --key-file or --key-env, not both");
	kcsi_error_clear(&err);
	out_open(&o, a);
	if (kcsi_vault_config(opt_val(a, "store"), opt_val(a, "keys"), &store, &keys, &err) != KCSI_OK)
		return out_close(&o, fail(&err));
	io.keys_dir = keys;
	if (kcsi_vault_init(store, &io, &err) != KCSI_OK || kcsi_vault_open(store, keys, &v, &err) != KCSI_OK)
		r = fail(&err);
	else
		fprintf(o.f, "%s: vault created; public key %s\n", store, kcsi_vault_public_key(v));
	kcsi_vault_close(v);
	free(store);
	free(keys);
	return out_close(&o, r);
}

static int run_put_cmd(struct args *a) { return with_vault(a, run_put); }
static int run_get_cmd(struct args *a) { return with_vault(a, run_get); }
static int run_ls_cmd(struct args *a) { return with_vault(a, run_ls); }
static int run_log_cmd(struct args *a) { return with_vault(a, run_log); }
static int run_verify_cmd(struct args *a) { return with_vault(a, run_verify); }
static int run_export_cmd(struct args *a) { return with_vault(a, run_export); }
static int run_purge_cmd(struct args *a) { return with_vault(a, run_purge); }
static int run_report_cmd(struct args *a) { return with_vault(a, run_report); }

static int run_verify_bundle_cmd(struct args *a)
{
	struct out o;
	int r;
	out_open(&o, a);
	r = run_verify_bundle(a, &o);
	/* the report of what was found is printed with exit code 4 too */
	return r == KCSI_ERR_FORMAT ? (out_close(&o, 0) ? KCSI_ERR_IO : r) : out_close(&o, r);
}

static const struct opt no_opts[] = {
	{0},
};

const struct cmd cmd_vault = {
	.synopsis = "COMMAND [OPTIONS] [ARGS]",
	.summary = "keep checkpoints as evidence: encrypted, verifiable, accounted for",
	.description =
		"A vault holds checkpoint archives encrypted (XChaCha20-Poly1305 secretstream in\n"
		"1 MiB chunks), named by the SHA-256 of the original (the evidence id; any unique\n"
		"prefix of 8 or more hex digits will do), immutable (files 0400 in 0700\n"
		"directories), in a directory or an S3 bucket.  Every action is a line in an\n"
		"append-only ledger, chained to the previous line by its SHA-256 and signed with\n"
		"the vault's Ed25519 key.  Store layout and ledger format: docs/vault.md.\n"
		"\n"
		"S3 stores take the endpoint from KCSI_S3_ENDPOINT (or AWS_ENDPOINT_URL), the\n"
		"region from AWS_REGION (default us-east-1) and credentials from AWS_ACCESS_KEY_ID\n"
		"and AWS_SECRET_ACCESS_KEY; requests are signed with AWS SigV4.  Their keys\n"
		"directory is local (--keys or KCSI_VAULT_KEYS).",
	.example =
		"$ kcsi vault init --store evidence\n"
		"...\n"
		"$ kcsi vault put --store evidence --case INC-42 checkpoint-perlbot.tar\n"
		"a92d0742d6692740fabadb933c650c50f2b1bcdf46ba6006cd7f05403c152c24\n"
		"$ kcsi vault get --store evidence a92d0742 --out copy.tar --reason 'triage'\n"
		"copy.tar: evidence a92d0742d6692740fabadb933c650c50f2b1bcdf46ba6006cd7f05403c152c24, SHA-256 verified\n"
		"$ kcsi vault ls --store evidence\n"
		"ID                STATE  SIZE     CASE    INGESTED                     ACCESSES  NAME\n"
		"...",
	.opts = no_opts,
	.min_pos = 0,
	.max_pos = 0,
	.run = NULL,
};

static const struct opt init_opts[] = {
	VAULT_OPTS,
	{"key-file", 0, "FILE", "encrypt with this key (32 bytes raw or 64 hex digits)", .kind = OPT_TEXT},
	{"key-env", 0, "NAME", "encrypt with the key in this environment variable (hex)", .kind = OPT_TEXT},
	{"retain-days", 0, "N", "S3 object-lock retention in days, where the server supports it (0: none)",
	 .kind = OPT_NUM, .max = 36500},
	VAULT_TEXT_OPTS,
	{0},
};

const struct cmd cmd_vault_init = {
	.synopsis = "[--store STORE] [--keys DIR] [--key-file FILE | --key-env NAME] [--retain-days N]",
	.summary = "make a vault: signing key pair, encryption key, ledger",
	.description = "Makes the store (a directory, or a prefix of an S3 bucket), the keys directory with\n"
		       "the Ed25519 signing key pair and the encryption key (made here, or given by\n"
		       "--key-file or --key-env), and the ledger's first line.",
	.example =
		"$ kcsi vault init --store evidence\n"
		"...\n"
		"$ ls evidence\n"
		"keys\n"
		"ledger.head\n"
		"ledger.jsonl\n"
		"objects\n"
		"reports\n"
		"tmp\n"
		"vault.json",
	.opts = init_opts,
	.min_pos = 0,
	.max_pos = 0,
	.run = run_init,
};

static const struct opt put_opts[] = {
	VAULT_OPTS,
	{"case", 'c', "ID", "the case the evidence belongs to", .kind = OPT_TEXT},
	{"note", 'n', "TEXT", "a note recorded in the ledger", .kind = OPT_TEXT},
	OPTS_JSON,
	{0},
};

const struct cmd cmd_vault_put = {
	.synopsis = "[--store STORE] [--case ID] [--note TEXT] ARCHIVE",
	.summary = "encrypt and store an archive; print its evidence id",
	.description = "Reads the archive once: hashes, encrypts and stores it, and records \"ingested\".\n"
		       "The same content put again is recorded as a new submission of the same id.",
	.json_doc = "{id, size, seq, duplicate}",
	.example =
		"$ kcsi vault init --store evidence\n"
		"...\n"
		"$ kcsi vault put --store evidence --case INC-42 checkpoint-perlbot.tar\n"
		"a92d0742d6692740fabadb933c650c50f2b1bcdf46ba6006cd7f05403c152c24",
	.opts = put_opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run_put_cmd,
};

static const struct opt get_opts[] = {
	VAULT_OPTS,
	{"out", 'o', "FILE", "where to write the archive", .kind = OPT_TEXT, .flags = OPT_REQUIRED},
	{"force", 'f', NULL, "replace FILE when it exists (once the evidence is verified)", .kind = OPT_FLAG},
	{"reason", 'r', "TEXT", "why (recorded)", .kind = OPT_TEXT},
	VAULT_TEXT_OPTS,
	{0},
};

const struct cmd cmd_vault_get = {
	.synopsis = "[--store STORE] --out FILE [--force] [--reason TEXT] ID",
	.summary = "decrypt, verify and write an archive (recorded as accessed)",
	.description = "Decrypts the evidence, checks its SHA-256 and only then writes FILE (0600).  An\n"
		       "existing FILE is kept unless --force: then it is replaced once the evidence is\n"
		       "verified and the access recorded (a failed get leaves it as it was).",
	.example =
		"$ kcsi vault init --store evidence\n"
		"...\n"
		"$ kcsi vault put --store evidence checkpoint-perlbot.tar\n"
		"...\n"
		"$ kcsi vault get --store evidence a92d0742 --out copy.tar --reason triage\n"
		"copy.tar: evidence a92d0742d6692740fabadb933c650c50f2b1bcdf46ba6006cd7f05403c152c24, SHA-256 verified",
	.opts = get_opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run_get_cmd,
};

static const struct opt ls_opts[] = {
	VAULT_OPTS,
	{"case", 'c', "ID", "only the evidence of this case", .kind = OPT_TEXT},
	OPTS_JSON,
	{0},
};

const struct cmd cmd_vault_ls = {
	.synopsis = "[--store STORE] [--case ID] [--json]",
	.summary = "the evidence held and purged",
	.json_doc = "An array of {id, sha256, size, name, case, note, state (held|purged), ingested,\n"
		    "ingested_by, accesses, last_action, last_time}.",
	.opts = ls_opts,
	.min_pos = 0,
	.max_pos = 0,
	.run = run_ls_cmd,
};

static const struct opt log_opts[] = {
	VAULT_OPTS,
	OPTS_JSON,
	{0},
};

const struct cmd cmd_vault_log = {
	.synopsis = "[--store STORE] [--json] [ID]",
	.summary = "the ledger: chain of custody of all or one evidence",
	.json_doc = "An array of ledger entries {seq, time, actor, action, id, sha256, size, name, case,\n"
		    "note, reason, detail, prev, sig, ...} (absent members are omitted).",
	.opts = log_opts,
	.min_pos = 0,
	.max_pos = 1,
	.run = run_log_cmd,
};

static const struct opt verify_opts[] = {
	VAULT_OPTS,
	{"no-record", 0, NULL, "do not append \"verified\" entries", .kind = OPT_FLAG},
	{"ledger-only", 0, NULL, "check the ledger and that content exists, without decrypting", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

const struct cmd cmd_vault_verify = {
	.synopsis = "[--store STORE] [--no-record] [--ledger-only] [--json] [ID]",
	.summary = "check the ledger and recompute the content hashes",
	.description = "Checks every ledger line (JSON, signature, sequence, chain) and recomputes the\n"
		       "content hashes; each problem is reported with its ledger line or object.",
	.json_doc = "{ok, entries, evidence_checked, head {seq, hash}, public_key, problems [{where, id, problem}]}",
	.exit_doc = "4  a problem was found (the report is printed)",
	.opts = verify_opts,
	.min_pos = 0,
	.max_pos = 1,
	.run = run_verify_cmd,
};

static const struct opt export_opts[] = {
	VAULT_OPTS,
	{"out", 'o', "BUNDLE", "the bundle to write", .kind = OPT_TEXT, .flags = OPT_REQUIRED},
	{"reason", 'r', "TEXT", "why (recorded)", .kind = OPT_TEXT},
	VAULT_TEXT_OPTS,
	{0},
};

const struct cmd cmd_vault_export = {
	.synopsis = "[--store STORE] --out BUNDLE [--reason TEXT] ID",
	.summary = "write a case bundle for offline verification",
	.description = "A tar with the archive, its ledger entries, reports, the public key and a signed\n"
		       "manifest; kcsi vault verify-bundle checks it without the vault.",
	.opts = export_opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run_export_cmd,
};

static const struct opt verify_bundle_opts[] = {
	{"pubkey", 0, "HEX", "the public key the bundle must be signed with", .kind = OPT_TEXT},
	OPTS_JSON,
	{0},
};

const struct cmd cmd_vault_verify_bundle = {
	.synopsis = "[--pubkey HEX] [--json] BUNDLE",
	.summary = "verify a case bundle offline (no vault needed)",
	.json_doc = "{ok, id, sha256, size, public_key, entries, problems [{where, id, problem}]}",
	.exit_doc = "4  a problem was found (the report is printed)",
	.opts = verify_bundle_opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run_verify_bundle_cmd,
};

static const struct opt purge_opts[] = {
	VAULT_OPTS,
	{"reason", 'r', "TEXT", "why (recorded)", .kind = OPT_TEXT, .flags = OPT_REQUIRED},
	VAULT_TEXT_OPTS,
	{0},
};

const struct cmd cmd_vault_purge = {
	.synopsis = "[--store STORE] --reason TEXT ID",
	.summary = "delete the content, keep a signed tombstone",
	.opts = purge_opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run_purge_cmd,
};

static const struct opt report_opts[] = {
	VAULT_OPTS,
	{"note", 'n', "TEXT", "a note recorded in the ledger", .kind = OPT_TEXT},
	VAULT_TEXT_OPTS,
	{0},
};

const struct cmd cmd_vault_report = {
	.synopsis = "[--store STORE] [--note TEXT] ID FILE",
	.summary = "attach an analysis report (recorded as analysed)",
	.description = "FILE ('-' for stdin, at most 1 GiB) is stored with the evidence and its SHA-256\n"
		       "recorded in the ledger.",
	.opts = report_opts,
	.min_pos = 2,
	.max_pos = 2,
	.run = run_report_cmd,
};
