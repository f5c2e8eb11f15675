/* kcsi respond — the decider: each stored alert against the policy and
 * the exclusions, then the cooldown per target; a job for what is left,
 * stored in the same transaction that marks the alert decided. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/responder.h"
#include "base/time.h"

static struct cool *cool_find(kcsi_responder *r, const char *target)
{
	for (struct cool *c = r->cools; c; c = c->next)
		if (!strcmp(c->target, target))
			return c;
	return NULL;
}

/* Forget cooldown entries that expired (called now and then). */
static void cool_prune(kcsi_responder *r, uint64_t now)
{
	uint64_t win = (uint64_t)(r->cooldown_s * 1e9);
	for (struct cool **pp = &r->cools; *pp;) {
		if (now - (*pp)->at > win) {
			struct cool *c = *pp;
			*pp = c->next;
			free(c->target);
			free(c);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* A target's cooldown starts (again) at `at`. */
void rsp_cool_add(kcsi_responder *r, const char *target, uint64_t at)
{
	struct cool *c = cool_find(r, target);
	if (!c && (c = calloc(1, sizeof(*c)))) {
		if (!(c->target = strdup(target))) {
			free(c);
			return;
		}
		c->next = r->cools;
		r->cools = c;
	}
	if (c)
		c->at = at;
}

void rsp_push_job(kcsi_responder *r, struct job *j)
{
	if (r->unresolved_tail)
		r->unresolved_tail->next = j;
	else
		r->unresolved = j;
	r->unresolved_tail = j;
	atomic_fetch_add(&r->m.jobs_pending, 1);
}

/* Decide one event; may fill *jp with a new job (not yet stored). */
static json_t *decide(kcsi_responder *r, struct dev *d, struct job **jp)
{
	kcsi_falco_event *ev = &d->ev;
	kcsi_decision dec;
	json_t *o = json_object();
	char target[400];
	uint64_t now = kcsi_wall_ns();

	*jp = NULL;
	kcsi_policy_decide(r->policy, ev, &dec);
	json_object_set_new(o, "rule", json_string(ev->rule));
	if (dec.excluded) {
		atomic_fetch_add(&r->m.excluded, 1);
		json_object_set_new(o, "result", json_string("excluded"));
		json_object_set_new(o, "by", json_string(dec.excluded));
		return o;
	}
	if (!dec.actions) {
		atomic_fetch_add(&r->m.unmatched, 1);
		json_object_set_new(o, "result", json_string("no rule matched"));
		return o;
	}
	atomic_fetch_add(&r->m.matched, 1);
	json_object_set_new(o, "policy_rule", json_string(dec.policy_rule));
	if (!ev->has_pod && (dec.actions & (KCSI_ACT_CHECKPOINT | KCSI_ACT_LABEL)) &&
	    !(r->mode == MODE_PODMAN && (ev->container_id[0] || kcsi_falco_field(ev, "container.name", target, 8)))) {
		atomic_fetch_add(&r->m.no_target, 1);
		json_object_set_new(o, "result", json_string("no target"));
		json_object_set_new(o, "reason", rsp_jstr(ev->reason));
		if (!(dec.actions & KCSI_ACT_NOTIFY))
			return o;
		/* the job notifies; its incident says why the rest was skipped */
	}
	if (ev->has_container)
		snprintf(target, sizeof(target), "%s/%s/%s", ev->ns, ev->pod, ev->container);
	else if (ev->has_pod && ev->container_id[0])
		snprintf(target, sizeof(target), "%s/%s/id:%s", ev->ns, ev->pod, ev->container_id);
	else if (ev->has_pod)
		snprintf(target, sizeof(target), "%s/%s/-", ev->ns, ev->pod);
	else if (r->mode == MODE_PODMAN && ev->container_id[0])
		snprintf(target, sizeof(target), "podman/id:%s", ev->container_id);
	else if (r->mode == MODE_PODMAN) {
		char buf[8];
		snprintf(target, sizeof(target), "podman/%s", kcsi_falco_field(ev, "container.name", buf, sizeof(buf)));
	} else
		snprintf(target, sizeof(target), "host:%s:%s", ev->hostname ? ev->hostname : "-", ev->rule);
	rsp_utf8_cut(target);
	json_object_set_new(o, "target", json_string(target));
	struct cool *c = cool_find(r, target);
	if (c && now - c->at < (uint64_t)(r->cooldown_s * 1e9)) {
		atomic_fetch_add(&r->m.deduplicated, 1);
		json_object_set_new(o, "result", json_string("deduplicated"));
		return o;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		json_object_set_new(o, "result", json_string("out of memory"));
		return o;
	}
	snprintf(j->target, sizeof(j->target), "%s", target);
	snprintf(j->ns, sizeof(j->ns), "%s", ev->ns);
	snprintf(j->pod, sizeof(j->pod), "%s", ev->pod);
	snprintf(j->container, sizeof(j->container), "%s", ev->container);
	snprintf(j->container_id, sizeof(j->container_id), "%s", ev->container_id);
	if (r->mode == MODE_PODMAN && !ev->has_container && !ev->container_id[0]) {
		char buf[8];
		const char *cn = kcsi_falco_field(ev, "container.name", buf, sizeof(buf));
		snprintf(j->container, sizeof(j->container), "%.63s", cn ? cn : "");
		rsp_utf8_cut(j->container);
	}
	snprintf(j->rule, sizeof(j->rule), "%s", ev->rule);
	snprintf(j->priority, sizeof(j->priority), "%s", kcsi_priority_name(ev->priority));
	snprintf(j->policy_rule, sizeof(j->policy_rule), "%s", dec.policy_rule);
	snprintf(j->hostname, sizeof(j->hostname), "%s", ev->hostname ? ev->hostname : "");
	rsp_utf8_cut(j->rule);
	rsp_utf8_cut(j->policy_rule);
	rsp_utf8_cut(j->hostname);
	j->actions = dec.actions;
	j->event = d->id;
	j->received_ns = d->received_ns;
	j->t0 = d->t0;
	json_object_set_new(o, "result", json_string("job"));
	*jp = j;
	return o;
}

void *rsp_decider_main(void *arg)
{
	kcsi_responder *r = arg;
	sqlite3_stmt *upd = NULL, *ins = NULL;
	uint64_t last_prune = 0;

	sqlite3_prepare_v2(r->db, "UPDATE events SET state = 1, decision = ?, job = ? WHERE id = ?", -1, &upd, NULL);
	sqlite3_prepare_v2(r->db,
			   "INSERT INTO jobs(target, ns, pod, container, container_id, event, rule, priority, "
			   "policy_rule, actions, received_ns, created_ns) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
			   -1, &ins, NULL);
	pthread_mutex_lock(&r->q_lock);
	for (;;) {
		while (!r->devs && !r->writer_done)
			pthread_cond_wait(&r->q_cond, &r->q_lock);
		if (!r->devs && r->writer_done)
			break;
		struct dev *batch = r->devs;
		r->devs = r->devs_tail = NULL;
		pthread_mutex_unlock(&r->q_lock);

		struct job *jobs = NULL, **jtail = &jobs;
		uint64_t now = kcsi_wall_ns();
		if (now - last_prune > 10000000000ull) {
			cool_prune(r, now);
			last_prune = now;
		}
		pthread_mutex_lock(&r->db_lock);
		bool ok = rsp_db_exec(r, "BEGIN IMMEDIATE");
		for (struct dev *d = batch; ok && d; d = d->next) {
			struct job *j;
			json_t *dec = decide(r, d, &j);
			if (j) {
				sqlite3_reset(ins);
				sqlite3_bind_text(ins, 1, j->target, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 2, j->ns, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 3, j->pod, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 4, j->container, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 5, j->container_id, -1, SQLITE_STATIC);
				sqlite3_bind_int64(ins, 6, j->event);
				sqlite3_bind_text(ins, 7, j->rule, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 8, j->priority, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 9, j->policy_rule, -1, SQLITE_STATIC);
				sqlite3_bind_int(ins, 10, (int)j->actions);
				sqlite3_bind_int64(ins, 11, (sqlite3_int64)j->received_ns);
				sqlite3_bind_int64(ins, 12, (sqlite3_int64)now);
				if (sqlite3_step(ins) != SQLITE_DONE) {
					ok = false;
					free(j);
					json_decref(dec);
					break;
				}
				j->id = sqlite3_last_insert_rowid(r->db);
				rsp_cool_add(r, j->target, now);
				*jtail = j;
				jtail = &j->next;
			}
			char *ds = json_dumps(dec, JSON_COMPACT | JSON_PRESERVE_ORDER);
			rsp_log(r, KCSI_LOG_DEBUG, "event decided", "event", json_integer(d->id), "decision", dec, NULL);
			sqlite3_reset(upd);
			sqlite3_bind_text(upd, 1, ds, -1, SQLITE_TRANSIENT);
			if (j)
				sqlite3_bind_int64(upd, 2, j->id);
			else
				sqlite3_bind_null(upd, 2);
			sqlite3_bind_int64(upd, 3, d->id);
			free(ds);
			if (sqlite3_step(upd) != SQLITE_DONE)
				ok = false;
		}
		if (ok)
			ok = rsp_db_exec(r, "COMMIT");
		if (!ok) {
			rsp_log(r, KCSI_LOG_ERROR, "decisions could not be stored; the events stay queued for the next start",
				"error", json_string(sqlite3_errmsg(r->db)), NULL);
			rsp_db_exec(r, "ROLLBACK");
			/* the in-memory cooldown may now hold targets of jobs never stored:
			 * harmless (those events are decided again at the next start) */
			for (struct job *j = jobs, *n; j; j = n) {
				n = j->next;
				free(j);
			}
			jobs = NULL;
		}
		pthread_mutex_unlock(&r->db_lock);
		for (struct dev *d = batch, *n; d; d = n) {
			n = d->next;
			kcsi_falco_free(&d->ev);
			free(d);
		}
		pthread_mutex_lock(&r->q_lock);
		for (struct job *j = jobs, *n; j; j = n) {
			n = j->next;
			j->next = NULL;
			rsp_push_job(r, j);
		}
		pthread_cond_broadcast(&r->w_cond);
	}
	r->decider_done = true;
	pthread_cond_broadcast(&r->w_cond);
	pthread_mutex_unlock(&r->q_lock);
	sqlite3_finalize(upd);
	sqlite3_finalize(ins);
	return NULL;
}
