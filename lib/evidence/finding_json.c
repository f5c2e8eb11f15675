/* kcsi — findings and IOCs as JSON: the analyze report's layout (written
 * with kcsi_jsonw), the detonation report's layout (jansson), and reading the
 * detonation layout back for the merge (see evidence/finding.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/finding.h"

/* ---- the analyze report ---- */

static void write_evidence(kcsi_jsonw *w, const kcsi_evidence *e)
{
	char a[32];
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "kind", e->kind);
	if (e->pid >= 0)
		kcsi_jw_kint(w, "pid", e->pid);
	if (e->fd >= 0)
		kcsi_jw_kint(w, "fd", e->fd);
	if (e->has_address) {
		snprintf(a, sizeof(a), "0x%" PRIx64, e->address);
		kcsi_jw_kstr(w, "address", a);
	}
	if (e->area)
		kcsi_jw_kstr(w, "area", e->area);
	if (e->path)
		kcsi_jw_kstr(w, "path", e->path);
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

void kcsi_finding_write_json(kcsi_jsonw *w, const kcsi_finding *f)
{
	kcsi_jw_obj(w);
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
		write_evidence(w, &f->ev[k]);
	kcsi_jw_arr_end(w);
	kcsi_jw_obj_end(w);
}

void kcsi_ioc_write_json(kcsi_jsonw *w, const kcsi_ioc *io, bool defang)
{
	char *v = defang ? kcsi_defang(io->type, io->value) : NULL;
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "type", io->type);
	kcsi_jw_kstr(w, "value", v ? v : io->value);
	if (io->klass)
		kcsi_jw_kstr(w, "class", io->klass);
	kcsi_jw_kstr(w, "source", io->source);
	kcsi_jw_kuint(w, "count", io->count);
	kcsi_jw_obj_end(w);
	free(v);
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

static json_t *evidence_to_json(const kcsi_evidence *e)
{
	json_t *o = json_pack("{s:s, s:I, s:I}", "kind", e->kind, "pid", (json_int_t)e->pid, "fd", (json_int_t)e->fd);
	if (!o)
		return NULL;
	if (e->path)
		json_object_set_new(o, "path", json_string(e->path));
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
			json_array_append_new(ev, evidence_to_json(&f->ev[k]));
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", f->id, "severity", kcsi_severity_name(f->severity),
			      "title", f->title, "explanation", f->explanation, "mitre", m, "evidence", ev);
		json_array_append_new(out, o);
	}
	return out;
}

json_t *kcsi_iocs_to_json(const kcsi_iocs *s)
{
	json_t *out = json_array();
	for (size_t i = 0; i < s->n; i++) {
		const kcsi_ioc *io = &s->v[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "type", io->type, "value", io->value, "source", io->source,
				      "count", (json_int_t)io->count);
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

static void evidence_from_json(kcsi_finding *f, const json_t *e, const char *command)
{
	const char *kind = static_name(json_string_value(json_object_get(e, "kind")), kinds);
	json_t *fd = json_object_get(e, "fd");
	const char *ex = json_string_value(json_object_get(e, "excerpt")), *cmd;
	kcsi_evidence *x = kcsi_finding_evidence(f, kind ? kind : "socket",
						 json_integer_value(json_object_get(e, "pid")),
						 fd ? json_integer_value(fd) : -1);
	if (!x)
		return;
	x->path = member_dup(e, "path");
	x->connection = member_dup(e, "connection");
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

kcsi_code kcsi_iocs_from_json(kcsi_iocs *s, const json_t *iocs, kcsi_error *err)
{
	size_t i;
	json_t *o;
	(void)err;
	json_array_foreach(iocs, i, o) {
		const char *type = static_name(json_string_value(json_object_get(o, "type")), ioc_types);
		const char *val = json_string_value(json_object_get(o, "value"));
		uint64_t cnt = (uint64_t)json_integer_value(json_object_get(o, "count"));
		kcsi_ioc *it;
		char *src;
		if (!type || !val)
			continue;
		if ((it = kcsi_iocs_find(s, type, val))) {
			it->count += cnt;
			continue;
		}
		src = member_dup(o, "source");
		it = kcsi_iocs_add(s, type, val, 0, src);
		free(src);
		if (it)
			it->count = cnt ? cnt : 1;
	}
	return KCSI_OK;
}
