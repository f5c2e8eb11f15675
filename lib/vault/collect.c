/* kcsi vault — the node agent (kcsi collect): finished checkpoints moved
 * from the kubelet's directory into the vault, verified there, optionally
 * analysed, a receipt written, the node copy deleted.  Every event is a log
 * record.
 *
 * The receipt is how the responder (kcsi respond, which asked the kubelet
 * for the checkpoint and knows only the archive's path on the node) learns
 * where the archive went: a small JSON object in the vault's store at
 * receipts/SHA256(ARCHIVE NAME).json naming the archive, the node, the
 * evidence id (its sha256), its size and the ledger entry.  It is written
 * after the vault's copy verified and before the node copy is deleted; one
 * that cannot be written keeps the node copy (tried again a minute later),
 * so that no archive leaves its node without a receipt.  Reading one needs
 * read access to the store, not the vault's keys. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kcsi/text.h"
#include "vault/vault_int.h"
#include "base/hash.h"
#include "base/spawn.h"
#include "base/time.h"

#define REPORT_MAX ((size_t)1 << 30)
#define ANALYZE_STDERR_MAX 2048
#define RECEIPT_MAX ((size_t)64 << 10)
/* how long a node copy whose receipt could not be written waits to be tried again */
#define RECEIPT_RETRY_S 60

struct cand {
	char *name;
	double last;     /* last change seen */
	off_t size;
	struct timespec mtime;
	bool reported;   /* "waiting" said once */
	bool stored;     /* in the vault and verified (only the receipt and the deletion are left) */
	bool report;     /* a report was attached */
	kcsi_vault_put_info info;
};

struct collector {
	kcsi_vault *v;
	const kcsi_collect_opts *o;
	struct cand *cs;
	size_t n;
};

static double now_s(void)
{
	return (double)kcsi_mono_ns() / 1e9;
}

/* A file name (or any text of the node) for a record: as it is when it is
 * UTF-8, else in its shown form (kcsi/text.h). */
static json_t *jtext(const char *s)
{
	json_t *j = json_string(s);
	char *shown;
	if (j)
		return j;
	shown = kcsi_escape_text(s, strlen(s), 0);
	j = json_string(shown ? shown : "?");
	free(shown);
	return j;
}

static void say(struct collector *c, kcsi_log_level level, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	kcsi_log_vwrite(c->o->log, level, "collect", msg, ap);
	va_end(ap);
}

/* The analyze command's stdout, attached to the evidence: true when it was. */
static bool analyze(struct collector *c, const char *id, const char *path)
{
	const kcsi_collect_opts *o = c->o;
	const char *argv[34];
	size_t n = 0;
	kcsi_buf out, errs;
	kcsi_spawn_result res;
	kcsi_error err;
	bool ok = false;

	if (o->analyze_missing) {
		say(c, KCSI_LOG_WARNING, "no report: no command to analyse with", "id", json_string(id), NULL);
		return false;
	}
	while (o->analyze_argv[n] && n < sizeof(argv) / sizeof(argv[0]) - 2) {
		argv[n] = o->analyze_argv[n];
		n++;
	}
	argv[n++] = path;
	argv[n] = NULL;
	kcsi_buf_init(&out, REPORT_MAX);
	kcsi_buf_init(&errs, ANALYZE_STDERR_MAX);
	kcsi_spawn_opts so = {.argv = argv, .file = o->analyze_file, .timeout_s = o->analyze_timeout_s,
			      .own_group = true, .out = &out, .err_out = &errs};
	kcsi_error_clear(&err);
	if (kcsi_spawn(&so, &res, &err) != KCSI_OK)
		say(c, KCSI_LOG_WARNING, "analyze failed; no report", "file", jtext(path), "error", jtext(err.msg), NULL);
	else if (!kcsi_spawn_ok(&res) || out.len >= REPORT_MAX)
		say(c, KCSI_LOG_WARNING, "analyze failed; no report", "file", jtext(path), "exit",
		    res.exited ? json_integer(res.status) : json_null(), "timed_out", json_boolean(res.timed_out),
		    "stderr", jtext(kcsi_buf_str(&errs)), NULL);
	else if (kcsi_vault_report(c->v, id, kcsi_buf_str(&out), out.len, o->analyze_note, &err) != KCSI_OK)
		say(c, KCSI_LOG_ERROR, "the report could not be attached", "file", jtext(path), "error", jtext(err.msg),
		    NULL);
	else
		ok = true;
	if (ok)
		say(c, KCSI_LOG_INFO, "report attached", "id", json_string(id), "bytes", json_integer((json_int_t)out.len),
		    NULL);
	kcsi_buf_free(&out);
	kcsi_buf_free(&errs);
	return ok;
}

static void receipt_key(const char *name, char key[96])
{
	char h[65];
	kcsi_sha256_hex(name, strlen(name), h);
	snprintf(key, 96, "receipts/%s.json", h);
}

/* The receipt of an archive verified in the vault (see the head of the file). */
static kcsi_code write_receipt(struct collector *c, const struct cand *k, kcsi_error *err)
{
	char key[96], now[KCSI_TIME_MAX], *text;
	json_t *o;
	kv_upload *u = NULL;
	bool existed = false;
	kcsi_code rc;

	kcsi_rfc3339_now(now, sizeof(now), 6);
	o = json_pack("{s:s,s:i,s:o,s:o,s:s,s:s,s:I,s:s,s:I,s:o,s:s,s:o,s:b,s:s}", "format", "kcsi-collect-receipt",
		      "version", 1, "name", jtext(k->name), "node", c->o->node ? jtext(c->o->node) : json_null(), "id",
		      k->info.id, "sha256", k->info.id, "size", (json_int_t)k->info.size, "store",
		      kcsi_vault_store(c->v), "ledger_seq", (json_int_t)k->info.seq, "actor",
		      c->v->actor ? jtext(c->v->actor) : json_null(), "time", now, "case",
		      c->o->case_id ? jtext(c->o->case_id) : json_null(), "report", k->report, "node_copy",
		      c->o->keep ? "kept" : "deleted after this receipt");
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!text)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	receipt_key(k->name, key);
	if (!(rc = c->v->s->ops->obj_begin(c->v->s, &u, err)) &&
	    !(rc = c->v->s->ops->obj_write(u, text, strlen(text), err)))
		rc = c->v->s->ops->obj_commit(u, key, &existed, err);
	else if (u)
		c->v->s->ops->obj_abort(u);
	free(text);
	return rc;
}

kcsi_code kcsi_collect_receipt(kcsi_vault *v, const char *archive_name, json_t **out, kcsi_error *err)
{
	char key[96];
	kcsi_buf b;
	kcsi_code rc;
	json_t *j;
	const char *name, *id;

	*out = NULL;
	receipt_key(archive_name, key);
	kcsi_buf_init(&b, RECEIPT_MAX);
	rc = v->s->ops->read_file(v->s, key, &b, err);
	if (rc) {
		kcsi_buf_free(&b);
		return rc;
	}
	j = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, NULL);
	kcsi_buf_free(&b);
	name = json_string_value(json_object_get(j, "name"));
	id = json_string_value(json_object_get(j, "id"));
	if (!json_is_object(j) || strcmp(json_string_value(json_object_get(j, "format")) ?: "", "kcsi-collect-receipt") ||
	    !name || strcmp(name, archive_name) || !kv_is_id(id)) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s/%s: not a receipt for %s", v->store, key, archive_name);
	}
	*out = j;
	return KCSI_OK;
}

/* Verify the vault's copy; then analyse, write the receipt, delete the
 * node copy.  Returns false when the file is to be taken again later. */
static bool after_put(struct collector *c, struct cand *k, const char *path)
{
	json_t *res = NULL;
	kcsi_error err;
	bool ow = false;

	kcsi_error_clear(&err);
	if (!k->stored) {
		if (kcsi_vault_verify(c->v, k->info.id, 0, &res, &err) != KCSI_OK ||
		    !json_is_true(json_object_get(res, "ok"))) {
			json_t *p = json_array_get(json_object_get(res, "problems"), 0);
			const char *why = p ? json_string_value(json_object_get(p, "problem")) : err.msg;
			say(c, KCSI_LOG_ERROR, "NOT deleting the node copy: the vault copy did not verify", "file",
			    jtext(k->name), "problem", jtext(why ? why : "?"), NULL);
			json_decref(res);
			return true;
		}
		json_decref(res);
		say(c, KCSI_LOG_INFO, "verified in the vault", "id", json_string(k->info.id), NULL);
		k->stored = true;
		if (c->o->analyze_argv || c->o->analyze_missing)
			k->report = analyze(c, k->info.id, path);
	}
	if (write_receipt(c, k, &err) != KCSI_OK) {
		say(c, KCSI_LOG_ERROR, "NOT deleting the node copy yet: the receipt could not be written", "file",
		    jtext(k->name), "error", jtext(err.msg), "retry_seconds", json_integer(RECEIPT_RETRY_S), NULL);
		k->last = now_s() + RECEIPT_RETRY_S;
		return false;
	}
	say(c, KCSI_LOG_INFO, "receipt written", "file", jtext(k->name), "id", json_string(k->info.id), NULL);
	if (c->o->keep)
		return true;
	if (kcsi_secure_delete(path, &ow, &err) != KCSI_OK)
		say(c, KCSI_LOG_ERROR, "the node copy could not be deleted", "file", jtext(path), "error", jtext(err.msg),
		    NULL);
	else
		say(c, KCSI_LOG_INFO, "deleted the node copy", "file", jtext(k->name), "overwritten", json_boolean(ow),
		    NULL);
	return true;
}

/* Take one file: returns true when it is done with (taken, or gone). */
static bool take(struct collector *c, struct cand *k, bool once)
{
	char path[8192];
	struct stat st;
	kcsi_error err;

	snprintf(path, sizeof(path), "%s/%s", c->o->watch, k->name);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return true;
	if (!once && (st.st_size != k->size || st.st_mtim.tv_sec != k->mtime.tv_sec ||
		      st.st_mtim.tv_nsec != k->mtime.tv_nsec)) {
		k->size = st.st_size;
		k->mtime = st.st_mtim;
		k->last = now_s();
		k->stored = false; /* (changed since it was stored: taken again) */
		return false;
	}
	if (kcsi_file_busy(path) == 1) {
		k->last = now_s();
		return false;
	}
	kcsi_error_clear(&err);
	if (k->stored)
		return after_put(c, k, path) || once;
	if (kcsi_archive_complete(path, &err) != KCSI_OK) {
		if (!k->reported)
			say(c, KCSI_LOG_INFO, "waiting: not a complete archive yet", "file", jtext(k->name), "reason",
			    jtext(err.msg), NULL);
		k->reported = true;
		k->last = now_s();
		return once;
	}
	if (kcsi_vault_put(c->v, path, c->o->case_id, "kcsi collect", &k->info, &err) != KCSI_OK) {
		say(c, KCSI_LOG_ERROR, "NOT taken: the node copy is kept", "file", jtext(k->name), "error", jtext(err.msg),
		    NULL);
		k->last = now_s();
		return once;
	}
	say(c, KCSI_LOG_INFO, "stored", "file", jtext(k->name), "id", json_string(k->info.id), "bytes",
	    json_integer((json_int_t)k->info.size), NULL);
	return after_put(c, k, path) || once;
}

/* A candidate for name (added when new); NULL when memory is short. */
static struct cand *cand_get(struct collector *c, const char *name, double last)
{
	struct cand *p;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->cs[i].name, name))
			return &c->cs[i];
	if (!(p = realloc(c->cs, (c->n + 1) * sizeof(*c->cs))))
		return NULL;
	c->cs = p;
	p = &c->cs[c->n];
	*p = (struct cand){.name = strdup(name), .last = last, .size = -1};
	if (!p->name)
		return NULL;
	c->n++;
	return p;
}

/* What is in the directory already. */
static kcsi_code scan(struct collector *c, kcsi_error *err)
{
	DIR *dh = opendir(c->o->watch);
	struct dirent *de;
	if (!dh)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", c->o->watch, strerror(errno));
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.' && !cand_get(c, de->d_name, now_s()))
			break;
	closedir(dh);
	return KCSI_OK;
}

/* The names inotify reports changed: seen changing now. */
static void note_events(struct collector *c, int ifd)
{
	char ev[16384] __attribute__((aligned(8)));
	ssize_t n;
	while ((n = read(ifd, ev, sizeof(ev))) > 0) {
		for (char *p = ev; p < ev + n;) {
			struct inotify_event *ie = (struct inotify_event *)p;
			struct cand *k;
			p += sizeof(*ie) + ie->len;
			if (!ie->len || ie->name[0] == '.' || !(k = cand_get(c, ie->name, 0)))
				continue;
			k->last = now_s();
			k->reported = false;
		}
	}
}

/* Until *stop: take each file once it has settled. */
static void watch(struct collector *c, int ifd)
{
	const kcsi_collect_opts *o = c->o;
	while (!(o->stop && *o->stop)) {
		struct pollfd pf = {ifd, POLLIN, 0};
		double t;
		if (poll(&pf, 1, 250) < 0 && errno != EINTR)
			break;
		note_events(c, ifd);
		t = now_s();
		for (size_t i = 0; i < c->n;) {
			if (t - c->cs[i].last >= (double)o->settle_s && take(c, &c->cs[i], false)) {
				free(c->cs[i].name);
				c->cs[i] = c->cs[--c->n];
				continue;
			}
			i++;
		}
	}
	if (o->stop && *o->stop)
		say(c, KCSI_LOG_INFO, "stopping", "signal", json_integer(*o->stop), NULL);
}

kcsi_code kcsi_collect(kcsi_vault *v, const kcsi_collect_opts *o, kcsi_error *err)
{
	struct collector c = {v, o, NULL, 0};
	int ifd = -1;
	kcsi_code rc = KCSI_OK;

	if (!o->once) {
		ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (ifd < 0 || inotify_add_watch(ifd, o->watch, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY |
									 IN_ATTRIB) < 0) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "watching %s: %s", o->watch, strerror(errno));
			goto out;
		}
		say(&c, KCSI_LOG_INFO, "watching for checkpoints", "dir", jtext(o->watch), "vault",
		    jtext(kcsi_vault_store(v)), NULL);
	}
	if ((rc = scan(&c, err)))
		goto out;
	if (o->once) {
		for (size_t i = 0; i < c.n; i++)
			take(&c, &c.cs[i], true);
	} else {
		watch(&c, ifd);
	}
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.cs[i].name);
	free(c.cs);
	if (ifd >= 0)
		close(ifd);
	return rc;
}
