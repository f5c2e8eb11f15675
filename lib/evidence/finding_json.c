/* kcsi — findings and IOCs as JSON: the analyze report's layout (written
 * with kcsi_jsonw), the detonation report's layout (jansson), and reading the
 * detonation layout back for the merge (see evidence/finding.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/finding.h"

/* ---- the analyze report ---- */

static void kaddr(kcsi_jsonw *w, const char *key, uint64_t addr)
{
	char a[32];
	snprintf(a, sizeof(a), "0x%" PRIx64, addr);
	kcsi_jw_kstr(w, key, a);
}

/* a connection's members, named as `kcsi net --json` names them */
static void conn_members(kcsi_jsonw *w, const kcsi_conn *c)
{
	kcsi_jw_kstr(w, "proto", c->proto);
	kcsi_jw_kstr(w, "src", c->src);
	kcsi_jw_kuint(w, "sport", c->sport);
	kcsi_jw_kstr(w, "dst", c->dst);
	kcsi_jw_kuint(w, "dport", c->dport);
	if (c->state)
		kcsi_jw_kstr(w, "state", c->state);
}

/* where something was seen, as evidence and provenance both say it */
struct where {
	int64_t pid, fd;
	bool has_address, has_offset;
	uint64_t address, offset;
	const char *area, *path;
};

static void where_members(kcsi_jsonw *w, const struct where *x)
{
	if (x->pid >= 0)
		kcsi_jw_kint(w, "pid", x->pid);
	if (x->fd >= 0)
		kcsi_jw_kint(w, "fd", x->fd);
	if (x->has_address)
		kaddr(w, "address", x->address);
	if (x->area)
		kcsi_jw_kstr(w, "area", x->area);
	if (x->path)
		kcsi_jw_kstr(w, "path", x->path);
	if (x->has_offset)
		kcsi_jw_kuint(w, "offset", x->offset);
}

static void write_evidence(kcsi_jsonw *w, const kcsi_evidence *e)
{
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "kind", e->kind);
	where_members(w, &(struct where){e->pid, e->fd, e->has_address, e->has_offset, e->address, e->offset, e->area,
					 e->path});
	if (e->has_conn)
		conn_members(w, &e->conn);
	if (e->connection)
		kcsi_jw_kstr(w, "connection", e->connection);
	if (e->excerpt) {
		char *x = kcsi_evidence_shown_excerpt(e);
		kcsi_jw_kstr(w, "excerpt", x ? x : "");
		free(x);
	}
	if (e->command)
		kcsi_jw_kstr(w, "command", e->command);
	kcsi_jw_obj_end(w);
}

void kcsi_finding_write_json_members(kcsi_jsonw *w, const kcsi_finding *f)
{
	kcsi_jw_kstr(w, "id", f->id);
	kcsi_jw_kstr(w, "severity", kcsi_severity_name(f->severity));
	kcsi_jw_kstr(w, "title", f->title);
	kcsi_jw_kstr(w, "explanation", f->explanation);
	kcsi_jw_key(w, "mitre");
	kcsi_jw_arr(w);
	for (size_t k = 0; k < f->nmitre; k++)
		kcsi_jw_str(w, f->mitre[k]);
	kcsi_jw_arr_end(w);
	kcsi_jw_key(w, "evidence");
	kcsi_jw_arr(w);
	for (size_t k = 0; k < f->nev; k++)
		if (!kcsi_evidence_is_empty(&f->ev[k]))
			write_evidence(w, &f->ev[k]);
	kcsi_jw_arr_end(w);
}

void kcsi_finding_write_json(kcsi_jsonw *w, const kcsi_finding *f)
{
	kcsi_jw_obj(w);
	kcsi_finding_write_json_members(w, f);
	kcsi_jw_obj_end(w);
}

static void prov_members(kcsi_jsonw *w, const kcsi_ioc_prov *p)
{
	kcsi_jw_kstr(w, "kind", p->kind);
	if (p->origin)
		kcsi_jw_kstr(w, "origin", p->origin);
	where_members(w, &(struct where){p->pid, p->fd, p->has_address, p->has_offset, p->address, p->offset, p->area,
					 p->path});
	if (p->detail)
		kcsi_jw_kstr(w, "detail", p->detail);
}

void kcsi_ioc_write_json_members(kcsi_jsonw *w, const kcsi_ioc *io, bool defang)
{
	char *v = defang ? kcsi_defang(io->type, io->value) : NULL;
	kcsi_jw_kstr(w, "type", io->type);
	kcsi_jw_kstr(w, "value", v ? v : io->value);
	if (io->klass)
		kcsi_jw_kstr(w, "class", io->klass);
	kcsi_jw_kbool(w, "to_ids", io->ids);
	kcsi_jw_kstr(w, "source", io->source);
	if (io->prov.kind) {
		kcsi_jw_key(w, "provenance");
		kcsi_jw_obj(w);
		prov_members(w, &io->prov);
		kcsi_jw_obj_end(w);
	}
	kcsi_jw_kuint(w, "count", io->count);
	if (io->distinct)
		kcsi_jw_kuint(w, "distinct", io->distinct);
	free(v);
}

void kcsi_ioc_write_json(kcsi_jsonw *w, const kcsi_ioc *io, bool defang)
{
	kcsi_jw_obj(w);
	kcsi_ioc_write_json_members(w, io, defang);
	kcsi_jw_obj_end(w);
}

/* ---- the detonation report ---- */

/* An excerpt as the detonation report shows it: printable ASCII ('.' for
 * any other byte), at most 200 characters (197 and "..." when cut). */
static json_t *detonation_excerpt(const kcsi_evidence *e)
{
	char ex[204];
	size_t n = e->excerpt_len, keep = n > 200 ? 197 : n;
	memcpy(ex, e->excerpt, keep);
	snprintf(ex + keep, sizeof(ex) - keep, "%s", n > 200 ? "..." : "");
	for (size_t i = 0; i < keep; i++)
		if ((unsigned char)ex[i] < 0x20 || (unsigned char)ex[i] >= 0x7f)
			ex[i] = '.';
	return json_string(ex);
}

static json_t *hex_address(uint64_t addr)
{
	char a[32];
	snprintf(a, sizeof(a), "0x%" PRIx64, addr);
	return json_string(a);
}

/* the members of where after pid and fd (the caller's choice) */
static void where_to_json(json_t *o, const struct where *x)
{
	if (x->has_address)
		json_object_set_new(o, "address", hex_address(x->address));
	if (x->area)
		json_object_set_new(o, "area", json_string(x->area));
	if (x->path)
		json_object_set_new(o, "path", json_string(x->path));
	if (x->has_offset)
		json_object_set_new(o, "offset", json_integer((json_int_t)x->offset));
}

static json_t *evidence_to_json(const kcsi_evidence *e)
{
	json_t *o = json_pack("{s:s, s:I, s:I}", "kind", e->kind, "pid", (json_int_t)e->pid, "fd", (json_int_t)e->fd);
	if (!o)
		return NULL;
	where_to_json(o, &(struct where){e->pid, e->fd, e->has_address, e->has_offset, e->address, e->offset, e->area,
					 e->path});
	if (e->has_conn) {
		json_object_set_new(o, "proto", json_string(e->conn.proto));
		json_object_set_new(o, "src", json_string(e->conn.src));
		json_object_set_new(o, "sport", json_integer(e->conn.sport));
		json_object_set_new(o, "dst", json_string(e->conn.dst));
		json_object_set_new(o, "dport", json_integer(e->conn.dport));
		if (e->conn.state)
			json_object_set_new(o, "state", json_string(e->conn.state));
	}
	if (e->connection)
		json_object_set_new(o, "connection", json_string(e->connection));
	if (e->excerpt)
		json_object_set_new(o, "excerpt", detonation_excerpt(e));
	if (e->command)
		json_object_set_new(o, "command", json_string(e->command));
	return o;
}

json_t *kcsi_findings_to_json(const kcsi_findings *fs)
{
	json_t *out = json_array();
	for (size_t i = 0; i < fs->n; i++) {
		const kcsi_finding *f = fs->v[i];
		json_t *m = json_array(), *ev = json_array(), *o;
		for (size_t k = 0; k < f->nmitre; k++)
			json_array_append_new(m, json_string(f->mitre[k]));
		for (size_t k = 0; k < f->nev; k++)
			if (!kcsi_evidence_is_empty(&f->ev[k]))
				json_array_append_new(ev, evidence_to_json(&f->ev[k]));
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", f->id, "severity", kcsi_severity_name(f->severity),
			      "title", f->title, "explanation", f->explanation, "mitre", m, "evidence", ev);
		json_array_append_new(out, o);
	}
	return out;
}

static json_t *prov_to_json(const kcsi_ioc_prov *p)
{
	json_t *o = json_pack("{s:s}", "kind", p->kind);
	if (!o)
		return NULL;
	if (p->origin)
		json_object_set_new(o, "origin", json_string(p->origin));
	if (p->pid >= 0)
		json_object_set_new(o, "pid", json_integer(p->pid));
	if (p->fd >= 0)
		json_object_set_new(o, "fd", json_integer(p->fd));
	where_to_json(o, &(struct where){p->pid, p->fd, p->has_address, p->has_offset, p->address, p->offset, p->area,
					 p->path});
	if (p->detail)
		json_object_set_new(o, "detail", json_string(p->detail));
	return o;
}

json_t *kcsi_iocs_to_json(const kcsi_iocs *s)
{
	json_t *out = json_array();
	for (size_t i = 0; i < s->n; i++) {
		const kcsi_ioc *io = &s->v[i];
		json_t *o = json_pack("{s:s, s:s, s:s?, s:I}", "type", io->type, "value", io->value, "source", io->source,
				      "count", (json_int_t)io->count);
		if (o && io->prov.kind)
			json_object_set_new(o, "provenance", prov_to_json(&io->prov));
		if (o && io->klass)
			json_object_set_new(o, "class", json_string(io->klass));
		json_array_append_new(out, o);
	}
	return out;
}

/* ---- reading the detonation layout back ---- */

/* s as one of the static names, or NULL */
static const char *static_name(const char *s, const char *const *names)
{
	for (size_t i = 0; s && names[i]; i++)
		if (!strcmp(s, names[i]))
			return names[i];
	return NULL;
}

static const char *const ioc_types[] = {"ipv4", "ipv6", "domain", "url", "email", "sha256", "wallet", "user-agent",
					"irc-channel", "irc-nick", "irc-user", NULL};
static const char *const kinds[] = {"process", "fd", "socket", "memory", "file", "env", "rootfs", "yara", "tcp-queue",
				    "config", NULL};

/* a copy of a non-empty string member, else NULL */
static char *member_dup(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? strdup(s) : NULL;
}

/* a member that is a JSON integer, within [lo, hi], or dflt */
static int64_t member_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t dflt)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;
	if (!json_is_integer(v))
		return dflt;
	i = json_integer_value(v);
	return i < lo || i > hi ? dflt : (int64_t)i;
}

/* a member "0x..." as an address; false when absent or not one */
static bool member_address(const json_t *o, const char *key, uint64_t *out)
{
	const char *s = json_string_value(json_object_get(o, key));
	char *end;
	if (!s || strncmp(s, "0x", 2) || !s[2])
		return false;
	errno = 0;
	*out = strtoull(s + 2, &end, 16);
	return !*end && errno == 0;
}

static void evidence_from_json(kcsi_finding *f, const json_t *e, const char *command)
{
	const char *kind = static_name(json_string_value(json_object_get(e, "kind")), kinds);
	const char *ex = json_string_value(json_object_get(e, "excerpt")), *cmd;
	const char *proto = json_string_value(json_object_get(e, "proto"));
	const char *src = json_string_value(json_object_get(e, "src")), *dst = json_string_value(json_object_get(e, "dst"));
	int64_t off;
	kcsi_evidence *x = kcsi_finding_evidence(f, kind ? kind : "socket", member_int(e, "pid", -1, INT64_MAX, -1),
						 member_int(e, "fd", -1, INT32_MAX, -1));
	if (!x)
		return;
	x->has_address = member_address(e, "address", &x->address);
	x->area = member_dup(e, "area");
	x->path = member_dup(e, "path");
	if ((off = member_int(e, "offset", 0, INT64_MAX, -1)) >= 0)
		kcsi_evidence_set_offset(x, (uint64_t)off);
	if (proto && src && dst) /* schema 2: the connection's parts */
		kcsi_evidence_set_conn(x, proto, src, (uint32_t)member_int(e, "sport", 0, 65535, 0), dst,
				       (uint32_t)member_int(e, "dport", 0, 65535, 0),
				       json_string_value(json_object_get(e, "state")));
	if (json_string_value(json_object_get(e, "connection"))) { /* the text as written (schema 1: all there is) */
		free(x->connection);
		x->connection = member_dup(e, "connection");
	}
	if (ex && *ex)
		kcsi_evidence_excerpt(x, ex, strlen(ex), SIZE_MAX);
	cmd = json_string_value(json_object_get(e, "command"));
	if (!cmd) /* an empty command stays empty */
		cmd = command;
	x->command = cmd && *cmd ? strdup(cmd) : NULL;
}

kcsi_code kcsi_findings_from_json(kcsi_findings *fs, const json_t *findings, const char *command, kcsi_error *err)
{
	size_t i, k;
	json_t *o, *e;
	json_array_foreach(findings, i, o) {
		const char *sev = json_string_value(json_object_get(o, "severity"));
		kcsi_finding *f = kcsi_finding_add(fs, NULL, kcsi_severity_parse(sev, KCSI_SEV_INFO),
						   member_dup(o, "title"), member_dup(o, "explanation"), NULL);
		if (!f)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		f->id = member_dup(o, "id");
		json_array_foreach(json_object_get(o, "mitre"), k, e) {
			const char *t = json_string_value(e);
			kcsi_finding_add_mitre_id(f, t ? t : "");
		}
		json_array_foreach(json_object_get(o, "evidence"), k, e)
			evidence_from_json(f, e, command);
	}
	return KCSI_OK;
}

static const char *const prov_kinds[] = {"connection", "memory", "file", "queue", "env", "yara", "detonation", NULL};
static const char *const prov_origins[] = {"rootfs-diff", "ghost-file", "memfd", "devshm", NULL};

/* The provenance of an IOC of a detonation report: schema 2's object, or
 * schema 1's text (kind detonation, the text as its detail).  The strings
 * are borrowed from the JSON. */
static kcsi_ioc_prov prov_from_json(const json_t *o)
{
	const json_t *p = json_object_get(o, "provenance");
	kcsi_ioc_prov v = KCSI_IOC_PROV_NONE;
	const char *s;
	v.kind = "detonation";
	if (!json_is_object(p)) {
		v.detail = json_string_value(json_object_get(o, "source"));
		return v;
	}
	if ((s = static_name(json_string_value(json_object_get(p, "kind")), prov_kinds)))
		v.kind = s;
	v.origin = static_name(json_string_value(json_object_get(p, "origin")), prov_origins);
	v.pid = member_int(p, "pid", -1, INT64_MAX, -1);
	v.fd = member_int(p, "fd", -1, INT32_MAX, -1);
	v.has_address = member_address(p, "address", &v.address);
	if (member_int(p, "offset", 0, INT64_MAX, -1) >= 0) {
		v.offset = (uint64_t)member_int(p, "offset", 0, INT64_MAX, 0);
		v.has_offset = true;
	}
	v.area = json_string_value(json_object_get(p, "area"));
	v.path = json_string_value(json_object_get(p, "path"));
	v.detail = json_string_value(json_object_get(p, "detail"));
	return v;
}

kcsi_code kcsi_iocs_from_json(kcsi_iocs *s, const json_t *iocs, kcsi_error *err)
{
	size_t i;
	json_t *o;
	(void)err;
	json_array_foreach(iocs, i, o) {
		const char *type = static_name(json_string_value(json_object_get(o, "type")), ioc_types);
		const char *val = json_string_value(json_object_get(o, "value"));
		uint64_t cnt = (uint64_t)member_int(o, "count", 0, INT64_MAX, 0);
		kcsi_ioc_prov prov;
		kcsi_ioc *it;
		if (!type || !val || !*val)
			continue;
		if ((it = kcsi_iocs_find(s, type, val))) {
			it->count += cnt;
			continue;
		}
		prov = prov_from_json(o);
		it = kcsi_iocs_add_prov(s, type, val, 0, &prov);
		if (it)
			it->count = cnt ? cnt : 1;
	}
	return KCSI_OK;
}
