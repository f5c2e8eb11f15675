/* kcsi respond — the durable queue (SQLite, WAL, synchronous=FULL): alerts
 * accepted into it by the writer's group commits, the jobs' ends written
 * back, and what a restart finds there; the archives waiting for the node
 * agent's vault receipt, and their follow-up incident lines. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/responder.h"
#include "base/hash.h"
#include "base/time.h"

/* ---- the database ---- */

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS events("
	" id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, received_ns INTEGER NOT NULL,"
	" input TEXT, body TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, decision TEXT, job INTEGER);"
	"CREATE INDEX IF NOT EXISTS events_state ON events(state) WHERE state = 0;"
	"CREATE TABLE IF NOT EXISTS jobs("
	" id INTEGER PRIMARY KEY, target TEXT NOT NULL, ns TEXT, pod TEXT, container TEXT,"
	" container_id TEXT, node TEXT, event INTEGER NOT NULL, rule TEXT, priority TEXT, policy_rule TEXT,"
	" actions INTEGER NOT NULL, received_ns INTEGER, created_ns INTEGER NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, incident TEXT,"
	" archive TEXT, sha256 TEXT, error TEXT, requested_ns INTEGER, done_ns INTEGER, record TEXT);"
	"CREATE INDEX IF NOT EXISTS jobs_target ON jobs(target, created_ns);"
	"CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state) WHERE state = 0;"
	"CREATE TABLE IF NOT EXISTS requests("
	" id INTEGER PRIMARY KEY, job INTEGER NOT NULL UNIQUE, node TEXT, url TEXT, at_ns INTEGER);"
	"CREATE TABLE IF NOT EXISTS receipts("
	" job INTEGER PRIMARY KEY, incident TEXT NOT NULL, ns TEXT, pod TEXT, node TEXT, archive TEXT NOT NULL,"
	" labelled INTEGER NOT NULL DEFAULT 0, since_ns INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
	" vault_id TEXT, done_ns INTEGER);"
	"CREATE INDEX IF NOT EXISTS receipts_waiting ON receipts(state) WHERE state = 0;";

enum { RECEIPT_WAITING = 0, RECEIPT_STORED = 1, RECEIPT_EXPIRED = 2 };

kcsi_code rsp_db_open(kcsi_responder *r, kcsi_error *err)
{
	char *msg = NULL;
	if (mkdir(r->state_dir, 0700) && errno != EEXIST)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot create: %m", r->state_dir);
	snprintf(r->db_path, sizeof(r->db_path), "%s/queue.db", r->state_dir);
	if (sqlite3_open_v2(r->db_path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", r->db_path, msg ? msg : "schema");
		sqlite3_free(msg);
		return KCSI_ERR_IO;
	}
	return KCSI_OK;
}

bool rsp_db_exec(kcsi_responder *r, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		rsp_log(r, KCSI_LOG_ERROR, "database", "sql", json_string(sql), "error", json_string(msg ? msg : "?"), NULL);
		sqlite3_free(msg);
		return false;
	}
	return true;
}

/* ---- accept: submissions to the writer ---- */

static void event_key(const kcsi_falco_event *ev, const char *body, size_t len, char key[80])
{
	if (ev->uuid && *ev->uuid && strlen(ev->uuid) < 64) {
		snprintf(key, 80, "uuid:%s", ev->uuid);
		return;
	}
	memcpy(key, "sha256:", 7);
	kcsi_sha256_hex(body, len, key + 7);
}

int rsp_accept(kcsi_responder *r, const char *input, const char *body, size_t len, uint64_t t0,
			char **reply)
{
	struct sub s;
	kcsi_error err;
	kcsi_code rc;

	atomic_fetch_add(&r->m.received, 1);
	memset(&s, 0, sizeof(s));
	kcsi_error_clear(&err);
	rc = kcsi_falco_parse(body, len, &s.ev, &err);
	if (rc) {
		if (rc == KCSI_ERR_UNSAFE)
			atomic_fetch_add(&r->m.rejected_unsafe, 1);
		else
			atomic_fetch_add(&r->m.rejected_bad, 1);
		rsp_log(r, KCSI_LOG_WARNING, "alert refused", "input", json_string(input), "reason", json_string(err.msg),
			"body", rsp_jshown(body, len < 160 ? len : 160), NULL);
		*reply = rsp_jmsg("error", err.msg);
		return rc == KCSI_ERR_UNSAFE ? 422 : 400;
	}
	if (atomic_load(&r->stopping)) {
		kcsi_falco_free(&s.ev);
		*reply = strdup("{\"accepted\": false, \"error\": \"shutting down\"}");
		return 503;
	}
	event_key(&s.ev, body, len, s.key);
	s.input = input;
	s.body = body;
	s.len = len;
	s.received_ns = kcsi_wall_ns();
	s.t0 = t0;
	pthread_cond_init(&s.cond, NULL);
	pthread_mutex_lock(&r->q_lock);
	if (r->writer_done) {
		pthread_mutex_unlock(&r->q_lock);
		kcsi_falco_free(&s.ev);
		*reply = strdup("{\"accepted\": false, \"error\": \"shutting down\"}");
		return 503;
	}
	if (r->subs_tail)
		r->subs_tail->next = &s;
	else
		r->subs = &s;
	r->subs_tail = &s;
	pthread_cond_broadcast(&r->q_cond);
	while (!s.done)
		pthread_cond_wait(&s.cond, &r->q_lock);
	pthread_mutex_unlock(&r->q_lock);
	pthread_cond_destroy(&s.cond);
	if (!s.ok) {
		kcsi_falco_free(&s.ev);
		*reply = strdup("{\"accepted\": false, \"error\": \"the event queue cannot be written\"}");
		return 503;
	}
	if (s.dup) {
		atomic_fetch_add(&r->m.duplicate, 1);
		kcsi_falco_free(&s.ev);
	} else {
		atomic_fetch_add(&r->m.accepted, 1);
	}
	rsp_hist_add(&r->m.accept, kcsi_mono_ns() - t0);
	if (asprintf(reply, "{\"accepted\": true, \"id\": %" PRId64 ", \"duplicate\": %s}", s.id,
		     s.dup ? "true" : "false") < 0)
		*reply = NULL;
	return 200;
}

void rsp_push_dev(kcsi_responder *r, struct dev *d)
{
	if (r->devs_tail)
		r->devs_tail->next = d;
	else
		r->devs = d;
	r->devs_tail = d;
}

void *rsp_writer_main(void *arg)
{
	kcsi_responder *r = arg;
	sqlite3_stmt *ins = NULL, *sel = NULL;

	sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO events(key, received_ns, input, body) VALUES(?,?,?,?)", -1,
			   &ins, NULL);
	sqlite3_prepare_v2(r->db, "SELECT id FROM events WHERE key = ?", -1, &sel, NULL);
	pthread_mutex_lock(&r->q_lock);
	for (;;) {
		while (!r->subs && !(atomic_load(&r->stopping) && r->inputs_running == 0))
			pthread_cond_wait(&r->q_cond, &r->q_lock);
		if (!r->subs)
			break;
		struct sub *batch = r->subs;
		r->subs = r->subs_tail = NULL;
		pthread_mutex_unlock(&r->q_lock);

		bool ok;
		pthread_mutex_lock(&r->db_lock);
		ok = rsp_db_exec(r, "BEGIN IMMEDIATE");
		for (struct sub *s = batch; ok && s; s = s->next) {
			sqlite3_reset(ins);
			sqlite3_bind_text(ins, 1, s->key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)s->received_ns);
			sqlite3_bind_text(ins, 3, s->input, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, s->body, (int)s->len, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				ok = false;
				break;
			}
			if (sqlite3_changes(r->db) == 1) {
				s->id = sqlite3_last_insert_rowid(r->db);
			} else {
				s->dup = true;
				sqlite3_reset(sel);
				sqlite3_bind_text(sel, 1, s->key, -1, SQLITE_STATIC);
				if (sqlite3_step(sel) == SQLITE_ROW)
					s->id = sqlite3_column_int64(sel, 0);
			}
		}
		if (ok)
			ok = rsp_db_exec(r, "COMMIT");
		else {
			rsp_log(r, KCSI_LOG_ERROR, "event queue insert failed", "error", json_string(sqlite3_errmsg(r->db)), NULL);
			rsp_db_exec(r, "ROLLBACK");
		}
		pthread_mutex_unlock(&r->db_lock);

		pthread_mutex_lock(&r->q_lock);
		for (struct sub *s = batch, *next; s; s = next) {
			next = s->next;
			s->ok = ok;
			if (ok && !s->dup) {
				struct dev *d = calloc(1, sizeof(*d));
				if (d) {
					d->id = s->id;
					d->received_ns = s->received_ns;
					d->t0 = s->t0;
					d->ev = s->ev; /* moved */
					memset(&s->ev, 0, sizeof(s->ev));
					rsp_push_dev(r, d);
				}
				/* without memory the event stays undecided in the queue: next start */
			}
			s->done = true;
			pthread_cond_signal(&s->cond);
		}
		pthread_cond_broadcast(&r->q_cond);
	}
	r->writer_done = true;
	pthread_cond_broadcast(&r->q_cond);
	pthread_mutex_unlock(&r->q_lock);
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	return NULL;
}

/* ---- the end of a job ---- */

static void incident_line(kcsi_responder *r, const char *line)
{
	if (!r->incidents || !line)
		return;
	pthread_mutex_lock(&r->incident_lock);
	fprintf(r->incidents, "%s\n", line);
	fflush(r->incidents);
	pthread_mutex_unlock(&r->incident_lock);
}

json_t *rsp_event_key(kcsi_responder *r, int64_t event)
{
	sqlite3_stmt *st = NULL;
	json_t *k = NULL;
	pthread_mutex_lock(&r->db_lock);
	if (r->db && sqlite3_prepare_v2(r->db, "SELECT key FROM events WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, event);
		if (sqlite3_step(st) == SQLITE_ROW)
			k = rsp_jstr((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->db_lock);
	return k ? k : json_null();
}

/* The archive the kubelet wrote waits for its receipt (db_lock held, in
 * the job's transaction). */
static void wait_for_receipt(kcsi_responder *r, const struct job *j, json_t *inc, const char *archive)
{
	sqlite3_stmt *st = NULL;
	const char *label = json_string_value(json_object_get(json_object_get(inc, "results"), "label"));
	sqlite3_prepare_v2(r->db,
			   "INSERT OR IGNORE INTO receipts(job, incident, ns, pod, node, archive, labelled, since_ns) "
			   "VALUES(?,?,?,?,?,?,?,?)", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_text(st, 2, json_string_value(json_object_get(inc, "incident")), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, j->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, j->pod, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, j->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, archive, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, label && !strcmp(label, "ok"));
	sqlite3_bind_int64(st, 8, (sqlite3_int64)kcsi_wall_ns());
	if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(r->db) == 1)
		atomic_fetch_add(&r->m.receipts_waiting, 1);
	sqlite3_finalize(st);
}

void rsp_finish_job(kcsi_responder *r, struct job *j, int state, json_t *inc, const char *archive,
			   const char *sha, const char *error, uint64_t requested_ns, const char *record_url)
{
	sqlite3_stmt *st = NULL;
	char *incs = json_dumps(inc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	pthread_mutex_lock(&r->db_lock);
	rsp_db_exec(r, "BEGIN IMMEDIATE");
	if (record_url) {
		sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO requests(job, node, url, at_ns) VALUES(?,?,?,?)", -1,
				   &st, NULL);
		sqlite3_bind_int64(st, 1, j->id);
		sqlite3_bind_text(st, 2, j->node, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, record_url, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)requested_ns);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_prepare_v2(r->db,
			   "UPDATE jobs SET state = ?, node = ?, container = ?, attempts = ?, incident = ?, archive = ?, "
			   "sha256 = ?, error = ?, requested_ns = ?, done_ns = ?, record = ? WHERE id = ?",
			   -1, &st, NULL);
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_text(st, 2, j->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->container, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, j->attempts);
	sqlite3_bind_text(st, 5, json_string_value(json_object_get(inc, "incident")), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, archive, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, error, -1, SQLITE_STATIC);
	if (requested_ns)
		sqlite3_bind_int64(st, 9, (sqlite3_int64)requested_ns);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)kcsi_wall_ns());
	sqlite3_bind_text(st, 11, incs, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, j->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rsp_log(r, KCSI_LOG_ERROR, "job state not stored", "job", json_integer(j->id), "error",
			json_string(sqlite3_errmsg(r->db)), NULL);
	sqlite3_finalize(st);
	if (archive && r->want_receipts && r->mode == MODE_KUBELET)
		wait_for_receipt(r, j, inc, archive);
	rsp_db_exec(r, "COMMIT");
	pthread_mutex_unlock(&r->db_lock);
	incident_line(r, incs);
	free(incs);
}

/* ---- recovery ---- */

kcsi_code rsp_recover(kcsi_responder *r, kcsi_error *err)
{
	sqlite3_stmt *st = NULL;
	uint64_t now = kcsi_wall_ns(), since = now - (uint64_t)(r->cooldown_s * 1e9);
	size_t nev = 0, njobs = 0;

	/* the cooldown */
	sqlite3_prepare_v2(r->db, "SELECT target, MAX(created_ns) FROM jobs WHERE created_ns > ? GROUP BY target", -1,
			   &st, NULL);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	while (sqlite3_step(st) == SQLITE_ROW)
		rsp_cool_add(r, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	/* jobs not finished */
	sqlite3_prepare_v2(r->db,
			   "SELECT id, target, ns, pod, container, container_id, event, rule, priority, policy_rule, "
			   "actions, received_ns, attempts FROM jobs WHERE state = 0 ORDER BY id",
			   -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct job *j = calloc(1, sizeof(*j));
		if (!j)
			break;
#define COL(i) ((const char *)sqlite3_column_text(st, i) ?: "")
		j->id = sqlite3_column_int64(st, 0);
		snprintf(j->target, sizeof(j->target), "%s", COL(1));
		snprintf(j->ns, sizeof(j->ns), "%s", COL(2));
		snprintf(j->pod, sizeof(j->pod), "%s", COL(3));
		snprintf(j->container, sizeof(j->container), "%s", COL(4));
		snprintf(j->container_id, sizeof(j->container_id), "%s", COL(5));
		j->event = sqlite3_column_int64(st, 6);
		snprintf(j->rule, sizeof(j->rule), "%s", COL(7));
		snprintf(j->priority, sizeof(j->priority), "%s", COL(8));
		snprintf(j->policy_rule, sizeof(j->policy_rule), "%s", COL(9));
		j->actions = (unsigned)sqlite3_column_int(st, 10);
		j->received_ns = (uint64_t)sqlite3_column_int64(st, 11);
		j->attempts = sqlite3_column_int(st, 12);
#undef COL
		rsp_push_job(r, j);
		njobs++;
	}
	sqlite3_finalize(st);
	/* archives waiting for their vault receipt */
	sqlite3_prepare_v2(r->db, "SELECT COUNT(*) FROM receipts WHERE state = 0", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		atomic_store(&r->m.receipts_waiting, (uint_fast64_t)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	/* events not decided */
	sqlite3_prepare_v2(r->db, "SELECT id, received_ns, body FROM events WHERE state = 0 ORDER BY id", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct dev *d = calloc(1, sizeof(*d));
		kcsi_error e;
		if (!d)
			break;
		d->id = sqlite3_column_int64(st, 0);
		d->received_ns = (uint64_t)sqlite3_column_int64(st, 1);
		if (kcsi_falco_parse(sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2), &d->ev, &e)) {
			/* stored events were parsed before; a failure here means the
			 * parser changed: mark it so that it is not retried forever */
			char sql[128];
			snprintf(sql, sizeof(sql), "UPDATE events SET state = 2 WHERE id = %" PRId64, d->id);
			rsp_db_exec(r, sql);
			free(d);
			continue;
		}
		rsp_push_dev(r, d);
		nev++;
	}
	sqlite3_finalize(st);
	if (nev || njobs)
		rsp_log(r, KCSI_LOG_INFO, "recovered from the queue", "events", json_integer((json_int_t)nev), "jobs",
			json_integer((json_int_t)njobs), NULL);
	(void)err;
	return KCSI_OK;
}

/* ---- the vault receipts ---- */

struct waiting {
	int64_t job;
	char incident[96], ns[64], pod[254], node[254], archive[4096];
	bool labelled;
	uint64_t since_ns;
};

/* Is the receipt about this archive, and whole?  NULL when it is, else why not. */
static const char *receipt_problem(json_t *rc, const struct waiting *w, const char *name)
{
	const char *id = json_string_value(json_object_get(rc, "id"));
	const char *sha = json_string_value(json_object_get(rc, "sha256"));
	const char *rname = json_string_value(json_object_get(rc, "name"));
	const char *node = json_string_value(json_object_get(rc, "node"));
	size_t n = id ? strlen(id) : 0;
	if (n != 64 || strspn(id, "0123456789abcdef") != 64)
		return "its id is not a SHA-256 (64 lowercase hex digits)";
	if (!sha || strcmp(sha, id))
		return "its sha256 is not its id";
	if (!rname || strcmp(rname, name))
		return "it names another archive";
	if (node && w->node[0] && strcmp(node, w->node))
		return "it comes from another node";
	return NULL;
}

/* A member of the receipt as it may go into the incident: a string, a
 * number or a boolean (a node wrote it: nothing nested), else null. */
static json_t *receipt_scalar(json_t *rc, const char *key)
{
	json_t *v = json_object_get(rc, key);
	if (json_is_string(v) || json_is_integer(v) || json_is_boolean(v))
		return json_incref(v);
	return json_null();
}

/* A follow-up line for the incident; the pod's annotations when it was labelled. */
static void receipt_found(kcsi_responder *r, const struct waiting *w, json_t *rc)
{
	char t[KCSI_TIME_MAX], *line;
	const char *id = json_string_value(json_object_get(rc, "id"));
	json_t *f = json_object();
	kcsi_rfc3339_now(t, sizeof(t), 6);
	json_object_set_new(f, "incident", json_string(w->incident));
	json_object_set_new(f, "time", json_string(t));
	json_object_set_new(f, "follow_up", json_string("vault"));
	json_object_set_new(f, "archive", rsp_jstr(w->archive));
	json_object_set_new(f, "node", rsp_jstr(w->node));
	json_object_set_new(f, "vault", receipt_scalar(rc, "store"));
	json_object_set_new(f, "vault_id", json_string(id));
	json_object_set_new(f, "sha256", json_string(id));
	json_object_set_new(f, "size", receipt_scalar(rc, "size"));
	json_object_set_new(f, "stored_by", receipt_scalar(rc, "actor"));
	json_object_set_new(f, "stored_at", receipt_scalar(rc, "time"));
	json_object_set_new(f, "report", receipt_scalar(rc, "report"));
	json_object_set_new(f, "node_copy", receipt_scalar(rc, "node_copy"));
	if (w->labelled) {
		json_t *patch = json_pack("{s:{s:{s:s,s:s}}}", "metadata", "annotations", "kcsi.io/vault-id", id,
					  "kcsi.io/sha256", id);
		char *ps = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
		kcsi_error e;
		kcsi_error_clear(&e);
		bool ok = ps && rsp_patch_pod(r, w->ns, w->pod, ps, &e) == KCSI_OK;
		json_object_set_new(f, "annotated", ok ? json_true() : rsp_jstr(ps ? e.msg : "out of memory"));
		free(ps);
		json_decref(patch);
	}
	line = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	incident_line(r, line);
	free(line);
	rsp_log(r, KCSI_LOG_INFO, "archive stored in the vault", "follow_up", f, NULL);
	atomic_fetch_add(&r->m.receipts_found, 1);
}

static void receipt_expired(kcsi_responder *r, const struct waiting *w, const char *last_error)
{
	char t[KCSI_TIME_MAX], why[1800], *line;
	json_t *f;
	kcsi_rfc3339_now(t, sizeof(t), 6);
	snprintf(why, sizeof(why), "no receipt from the node agent (kcsi collect on %s) within %.0f s%s%s", w->node,
		 r->receipt_wait_s, last_error ? ": " : "", last_error ? last_error : "");
	f = json_pack("{s:s,s:s,s:s,s:o,s:o,s:n,s:s}", "incident", w->incident, "time", t, "follow_up", "vault",
		      "archive", rsp_jstr(w->archive), "node", rsp_jstr(w->node), "vault_id", "error", why);
	line = f ? json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	incident_line(r, line);
	free(line);
	rsp_log(r, KCSI_LOG_WARNING, "no vault receipt", "follow_up", f, NULL);
	atomic_fetch_add(&r->m.receipts_expired, 1);
}

static void receipt_done(kcsi_responder *r, int64_t job, int state, const char *id)
{
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&r->db_lock);
	sqlite3_prepare_v2(r->db, "UPDATE receipts SET state = ?, vault_id = ?, done_ns = ? WHERE job = ? AND state = 0",
			   -1, &st, NULL);
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)kcsi_wall_ns());
	sqlite3_bind_int64(st, 4, job);
	if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(r->db) == 1)
		atomic_fetch_sub(&r->m.receipts_waiting, 1);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->db_lock);
}

/* The archives waiting (at most cap), oldest first. */
static size_t waiting_list(kcsi_responder *r, struct waiting *ws, size_t cap)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	pthread_mutex_lock(&r->db_lock);
	sqlite3_prepare_v2(r->db,
			   "SELECT job, incident, ns, pod, node, archive, labelled, since_ns FROM receipts WHERE state = 0 "
			   "ORDER BY job LIMIT ?", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cap);
	while (n < cap && sqlite3_step(st) == SQLITE_ROW) {
		struct waiting *w = &ws[n++];
#define COL(i) ((const char *)sqlite3_column_text(st, i) ?: "")
		w->job = sqlite3_column_int64(st, 0);
		snprintf(w->incident, sizeof(w->incident), "%s", COL(1));
		snprintf(w->ns, sizeof(w->ns), "%s", COL(2));
		snprintf(w->pod, sizeof(w->pod), "%s", COL(3));
		snprintf(w->node, sizeof(w->node), "%s", COL(4));
		snprintf(w->archive, sizeof(w->archive), "%s", COL(5));
#undef COL
		w->labelled = sqlite3_column_int(st, 6) != 0;
		w->since_ns = (uint64_t)sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&r->db_lock);
	return n;
}

/* One look at every archive waiting. */
static void receipts_poll(kcsi_responder *r)
{
	enum { BATCH = 64 };
	struct waiting *ws = calloc(BATCH, sizeof(*ws));
	size_t n = ws ? waiting_list(r, ws, BATCH) : 0;
	for (size_t i = 0; i < n && !atomic_load(&r->stopping); i++) {
		struct waiting *w = &ws[i];
		const char *slash = strrchr(w->archive, '/'), *name = slash ? slash + 1 : w->archive, *why = NULL;
		json_t *rc = NULL;
		kcsi_error e;
		kcsi_error_clear(&e);
		kcsi_code code = r->receipt_fn(r->receipt_ctx, name, &rc, &e);
		if (code == KCSI_OK && !(why = receipt_problem(rc, w, name))) {
			receipt_found(r, w, rc);
			receipt_done(r, w->job, RECEIPT_STORED, json_string_value(json_object_get(rc, "id")));
		} else {
			if (why || code != KCSI_ERR_NOTFOUND)
				rsp_log(r, KCSI_LOG_WARNING, "vault receipt not usable yet", "incident", json_string(w->incident),
					"archive", rsp_jstr(name), "error", rsp_jstr(why ? why : e.msg), NULL);
			if (kcsi_wall_ns() - w->since_ns >= (uint64_t)(r->receipt_wait_s * 1e9)) {
				receipt_expired(r, w, why ? why : code != KCSI_ERR_NOTFOUND ? e.msg : NULL);
				receipt_done(r, w->job, RECEIPT_EXPIRED, NULL);
			}
		}
		json_decref(rc);
	}
	free(ws);
}

void *rsp_receipts_main(void *arg)
{
	kcsi_responder *r = arg;
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(r->receipt_poll_s * 1e9);
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		pthread_mutex_lock(&r->q_lock);
		if (!atomic_load(&r->stopping))
			pthread_cond_timedwait(&r->receipts_cond, &r->q_lock, &ts);
		bool stop = atomic_load(&r->stopping);
		pthread_mutex_unlock(&r->q_lock);
		if (stop)
			break;
		if (atomic_load(&r->m.receipts_waiting))
			receipts_poll(r);
	}
	return NULL;
}
