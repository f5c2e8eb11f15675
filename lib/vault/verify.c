/* kcsi vault — the ledger read back: list, log, and verify (every line,
 * signature and chain, every object's content, what no entry records). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kcsi/jsonw.h"
#include "vault/vault_int.h"

/* ---- list, log ---- */

kcsi_code kcsi_vault_list(kcsi_vault *v, const char *case_id, json_t **out, kcsi_error *err)
{
	json_t *by = json_object(), *order = json_array(), *e;
	kcsi_code rc = kv_ensure_loaded(v, err);
	size_t i;

	if (rc != KCSI_OK) {
		json_decref(by);
		json_decref(order);
		return rc;
	}
	json_array_foreach(v->entries, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *a = json_string_value(json_object_get(e, "action"));
		json_t *o;
		if (!id || !a)
			continue;
		o = json_object_get(by, id);
		if (!o) {
			if (strcmp(a, "ingested") != 0)
				continue;
			/* a signed entry need not name its actor or time */
			o = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:s, s:O?, s:O?, s:i}", "id", id, "sha256",
				      json_object_get(e, "sha256"), "size", json_object_get(e, "size"), "name",
				      json_object_get(e, "name"), "case", json_object_get(e, "case"), "state", "held",
				      "ingested", json_object_get(e, "time"), "ingested_by", json_object_get(e, "actor"),
				      "accesses", 0);
			if (!o) {
				json_decref(by);
				json_decref(order);
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			}
			json_object_set(o, "note", json_object_get(e, "note") ? json_object_get(e, "note") : json_null());
			json_object_set_new(by, id, o);
			json_array_append(order, o);
		}
		if (!strcmp(a, "purged"))
			json_object_set_new(o, "state", json_string("purged"));
		else if (!strcmp(a, "ingested") && !strcmp(json_string_value(json_object_get(o, "state")), "purged")) {
			json_object_set_new(o, "state", json_string("held"));
			json_object_set(o, "ingested", json_object_get(e, "time"));
		} else if (!strcmp(a, "accessed"))
			json_object_set_new(o, "accesses",
					    json_integer(json_integer_value(json_object_get(o, "accesses")) + 1));
		if (!json_object_get(o, "case") && json_object_get(e, "case"))
			json_object_set(o, "case", json_object_get(e, "case"));
		json_object_set_new(o, "last_action", json_string(a));
		json_object_set(o, "last_time", json_object_get(e, "time"));
	}
	json_decref(by);
	if (case_id) {
		json_t *f = json_array();
		json_array_foreach(order, i, e) {
			const char *c = json_string_value(json_object_get(e, "case"));
			if (c && !strcmp(c, case_id))
				json_array_append(f, e);
		}
		json_decref(order);
		order = f;
	}
	*out = order;
	return KCSI_OK;
}

kcsi_code kcsi_vault_log(kcsi_vault *v, const char *id, json_t **out, kcsi_error *err)
{
	kcsi_code rc = kv_ensure_loaded(v, err);
	size_t i;
	json_t *e;
	if (rc != KCSI_OK)
		return rc;
	*out = json_array();
	json_array_foreach(v->entries, i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));
		if (!id || (eid && !strcmp(eid, id)))
			json_array_append(*out, e);
	}
	return KCSI_OK;
}

/* ---- verify ---- */

static int collect_name(void *ctx, const char *name, int64_t mtime)
{
	return json_object_set_new_nocheck(ctx, name, json_integer(mtime));
}

/* Without a lock (S3) a put stores its object before it wins the race for
 * its ledger entry: an object younger than this with no entry is taken to
 * be one being recorded */
#define UNRECORDED_GRACE 600

/* What is stored must be what the ledger recorded: an object under
 * objects/XX/ID for evidence ingested, a report under reports/ID/SHA for an
 * analysed entry.  names: {name: mtime}.  Problems go to probs. */
static void check_unrecorded(kcsi_vault *v, json_t *names, json_t *probs)
{
	json_t *ids = json_object(), *reports = json_object(), *e, *mt;
	const char *name;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	json_array_foreach(v->entries, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *rs = json_string_value(json_object_get(e, "report_sha256"));
		const char *a = json_string_value(json_object_get(e, "action"));
		char k[160];
		if (!id)
			continue;
		if (!strcmp(a, "ingested"))
			json_object_set_new(ids, id, json_true());
		if (rs && !strcmp(a, "analysed")) {
			snprintf(k, sizeof(k), "%s/%s", id, rs);
			json_object_set_new(reports, k, json_true());
		}
	}
	json_object_foreach(names, name, mt) {
		const char *why = NULL;
		char id[KCSI_VAULT_ID_LEN + 1] = "", rs[KCSI_VAULT_ID_LEN + 1] = "";
		int used = 0;
		json_int_t when = json_integer_value(mt);
		if (sscanf(name, "objects/%*2[0-9a-f]/%64[0-9a-f]%n", id, &used) == 1 && name[used] == '\0' &&
		    kv_is_id(id) && !strncmp(name + 8, id, 2)) {
			if (!json_object_get(ids, id))
				why = "no ledger entry records this object (it was added to the store, or a put died "
				      "before recording it)";
		} else if (sscanf(name, "reports/%64[0-9a-f]/%64[0-9a-f]%n", id, rs, &used) == 2 && name[used] == '\0' &&
			   kv_is_id(id) && kv_is_id(rs)) {
			char k[160];
			snprintf(k, sizeof(k), "%s/%s", id, rs);
			if (!json_object_get(reports, k))
				why = "no analysed entry in the ledger records this report (it was added to the store)";
		} else {
			why = "not a vault object (it was added to the store)";
		}
		if (why && !v->s->has_lock && when >= 0 && now - when < UNRECORDED_GRACE)
			why = NULL;
		if (why)
			kv_problem(probs, name, NULL, "%s", why);
	}
	json_decref(ids);
	json_decref(reports);
}

struct verified_rec {
	const char *id;
	char detail[700];
};

static kcsi_code decide_verified(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	struct verified_rec *r = ctx;
	(void)err;
	if (kv_state(v, r->id, NULL) == 1) /* not purged meanwhile */
		*in = (kv_entry_in){.action = "verified", .id = r->id, .sha256 = r->id, .detail = r->detail};
	return KCSI_OK;
}

kcsi_code kcsi_vault_verify(kcsi_vault *v, const char *id, unsigned flags, json_t **out, kcsi_error *err)
{
	json_t *probs = json_array(), *ids = json_array(), *names = json_object(), *res = NULL, *e;
	kcsi_code rc;
	size_t i, ledger_probs, checked = 0;
	bool record = !(flags & KCSI_VAULT_VERIFY_NORECORD);

	if (!probs || !ids || !names) {
		rc = kv_nomem(err);
		goto fail;
	}
	if (record && (rc = kv_need_secret(v, err)) != KCSI_OK)
		goto fail;
	/* what is stored, then the ledger, as one snapshot: objects are linked
	 * and recorded under the writers' lock */
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_SHARED, err)) != KCSI_OK)
		goto fail;
	if (!id && ((rc = v->s->ops->list(v->s, "objects/", collect_name, names, err)) != KCSI_OK ||
		    (rc = v->s->ops->list(v->s, "reports/", collect_name, names, err)) != KCSI_OK)) {
		v->s->ops->unlock(v->s);
		goto fail;
	}
	rc = kv_ledger_load(v, probs, err);
	v->s->ops->unlock(v->s);
	if (rc != KCSI_OK)
		goto fail;
	ledger_probs = json_array_size(probs);
	if (!id)
		check_unrecorded(v, names, probs);
	if (!(flags & KCSI_VAULT_VERIFY_LEDGER_ONLY)) {
		kcsi_error e2;
		kcsi_error_clear(&e2);
		/* a vault.json that was changed may name a key that is not there:
		 * report that beside what was found, and check what can be */
		if ((rc = kv_need_key(v, &e2)) != KCSI_OK && ledger_probs == 0) {
			if (err)
				*err = e2;
			goto fail;
		}
		if (rc != KCSI_OK) {
			kv_problem(probs, "vault.json", NULL, "the content cannot be checked: %s", e2.msg);
			flags |= KCSI_VAULT_VERIFY_LEDGER_ONLY;
		}
	}
	/* the evidence to check */
	json_array_foreach(v->entries, i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));
		const char *a = json_string_value(json_object_get(e, "action"));
		bool seen = false;
		size_t k;
		json_t *x;
		if (!eid || strcmp(a, "ingested") != 0 || (id && strcmp(id, eid) != 0))
			continue;
		json_array_foreach(ids, k, x) if (!strcmp(json_string_value(x), eid)) seen = true;
		if (!seen)
			json_array_append_new(ids, json_string(eid));
	}
	json_array_foreach(ids, i, e) {
		const char *eid = json_string_value(e);
		char key[160], where[200];
		uint64_t size = 0;
		int st = kv_state(v, eid, NULL);
		json_t *ing = NULL;
		kcsi_error e2;
		kcsi_error_clear(&e2);
		kv_obj_key(eid, key, sizeof(key));
		snprintf(where, sizeof(where), "%s", key);
		if (st == 2) {
			if (v->s->ops->obj_stat(v->s, key, &size, NULL) == KCSI_OK)
				kv_problem(probs, where, eid, "purged in the ledger, but the content is still stored");
			continue;
		}
		kv_state(v, eid, &ing);
		checked++;
		if (flags & KCSI_VAULT_VERIFY_LEDGER_ONLY) {
			if (v->s->ops->obj_stat(v->s, key, &size, &e2) != KCSI_OK)
				kv_problem(probs, where, eid, "%s", e2.msg);
			continue;
		}
		if (kv_decrypt_obj(v, key, eid, NULL, NULL, &size, &e2) != KCSI_OK) {
			/* purged since the ledger was read (a purge overwrites, then
			 * deletes, under the writers' lock, after its tombstone)? */
			if (kv_ledger_snapshot(v, NULL, NULL) == KCSI_OK && kv_state(v, eid, NULL) == 2) {
				checked--;
				continue;
			}
			kv_problem(probs, where, eid, "%s", e2.code == KCSI_ERR_NOTFOUND ? "content missing" : e2.msg);
			if (e2.code == KCSI_ERR_GENERIC && !v->have_key) {
				rc = e2.code;
				if (err)
					*err = e2;
				goto fail;
			}
		} else if (ing && json_integer_value(json_object_get(ing, "size")) != (json_int_t)size) {
			kv_problem(probs, where, eid, "size differs from the ingested entry's");
		}
	}
	res = json_pack("{s:b, s:I, s:I, s:{s:I, s:s}, s:s, s:O}", "ok", json_array_size(probs) == 0, "entries",
			(json_int_t)json_array_size(v->entries), "evidence_checked", (json_int_t)checked, "head", "seq",
			(json_int_t)v->last_seq, "hash", v->last_hash, "public_key", v->pk_hex, "problems", probs);
	/* record the check on a sound ledger */
	if (record && ledger_probs == 0) {
		if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
			goto fail;
		json_array_foreach(ids, i, e) {
			struct verified_rec r = {json_string_value(e), "ok"};
			size_t k;
			json_t *p;
			json_array_foreach(probs, k, p) {
				const char *pid = json_string_value(json_object_get(p, "id"));
				if (pid && !strcmp(pid, r.id))
					snprintf(r.detail, sizeof(r.detail), "FAILED: %s",
						 json_string_value(json_object_get(p, "problem")));
			}
			if ((rc = kv_ledger_record(v, decide_verified, &r, NULL, err)) != KCSI_OK)
				break;
		}
		v->s->ops->unlock(v->s);
		if (rc != KCSI_OK)
			goto fail;
		json_object_set_new(json_object_get(res, "head"), "seq", json_integer((json_int_t)v->last_seq));
		json_object_set_new(json_object_get(res, "head"), "hash", json_string(v->last_hash));
	}
	json_decref(probs);
	json_decref(ids);
	json_decref(names);
	*out = res;
	return KCSI_OK;
fail:
	json_decref(res);
	json_decref(probs);
	json_decref(ids);
	json_decref(names);
	return rc;
}

