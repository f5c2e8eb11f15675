/* kcsi — Falco alerts: parse one alert and name the container it is about.
 *
 * Shapes taken: Falco's json_output (what http_output POSTs and what
 * file/stdout outputs write one per line) and Falcosidekick's webhook body
 * (the same keys in struct order, plus uuid).  Older Falco has no hostname,
 * source or tags; Falco Talon's examples write "Rule".  Integers above
 * INT64_MAX (Falco prints unsigned 64-bit durations) are kept as strings.
 *
 * The container: k8s.ns.name + k8s.pod.name + container.name for syscall
 * alerts; a dockershim container.name "k8s_<ctr>_<pod>_<ns>_<uid>_<n>" gives
 * the spec name; k8s_audit alerts name a pod in ka.target.* and never a
 * container.  Every name is checked as a DNS-1123 name before it is kept,
 * since it goes into a kubelet URL. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kcsi/respond.h"
#include "base/util.h"

bool kcsi_dns1123_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

bool kcsi_dns1123_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (alnum)
			continue;
		if ((c != '-' && c != '.') || i == 0 || i == n - 1)
			return false;
		/* a '.' must sit between alphanumerics; '-' must not touch a '.' */
		char p = s[i - 1], q = s[i + 1];
		bool pa = (p >= 'a' && p <= 'z') || (p >= '0' && p <= '9');
		bool qa = (q >= 'a' && q <= 'z') || (q >= '0' && q <= '9');
		if (c == '.' && (!pa || !qa))
			return false;
		if (c == '-' && (p == '.' || q == '.'))
			return false;
	}
	return true;
}

static const char *const prio_names[] = {"Emergency", "Alert",	"Critical",	 "Error",
					 "Warning",   "Notice", "Informational", "Debug"};

kcsi_priority kcsi_priority_parse(const char *s)
{
	if (!s)
		return KCSI_PRIO_UNKNOWN;
	for (int i = 0; i < 8; i++)
		if (!strcasecmp(s, prio_names[i]))
			return (kcsi_priority)i;
	if (!strcasecmp(s, "info"))
		return KCSI_PRIO_INFORMATIONAL;
	if (!strcasecmp(s, "warn"))
		return KCSI_PRIO_WARNING;
	if (!strcasecmp(s, "err"))
		return KCSI_PRIO_ERROR;
	if (!strcasecmp(s, "crit"))
		return KCSI_PRIO_CRITICAL;
	if (!strcasecmp(s, "emerg"))
		return KCSI_PRIO_EMERGENCY;
	return KCSI_PRIO_UNKNOWN;
}

const char *kcsi_priority_name(kcsi_priority p)
{
	return p >= 0 && p < 8 ? prio_names[p] : "unknown";
}

/* Does the decimal integer token [p, p+n) (optional '-') fit in int64? */
static bool int_fits(const char *p, size_t n)
{
	bool neg = n && p[0] == '-';
	const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
	if (neg) {
		p++;
		n--;
	}
	while (n > 1 && p[0] == '0') {
		p++;
		n--;
	}
	if (n != 19)
		return n < 19;
	return memcmp(p, lim, 19) <= 0;
}

/* Copy a JSON text with every integer literal that does not fit in int64
 * turned into a string ("18446744073670260079"), so jansson can read it.
 * Returns the copy (malloc'd) and counts the changes. */
static char *quote_big_ints(const char *s, size_t n, size_t *outlen, uint32_t *count)
{
	kcsi_buf b;
	bool instr = false;
	kcsi_buf_init(&b, n * 2 + 16);
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (instr) {
			if (c == '\\' && i + 1 < n) {
				if (kcsi_buf_add(&b, s + i, 2))
					goto fail;
				i += 2;
				continue;
			}
			if (c == '"')
				instr = false;
		} else if (c == '"') {
			instr = true;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i + 1;
			bool integer = true;
			while (j < n && (isdigit((unsigned char)s[j]) || strchr(".eE+-", s[j]))) {
				if (!isdigit((unsigned char)s[j]))
					integer = false;
				j++;
			}
			if (integer && !int_fits(s + i, j - i)) {
				(*count)++;
				if (kcsi_buf_addc(&b, '"') || kcsi_buf_add(&b, s + i, j - i) || kcsi_buf_addc(&b, '"'))
					goto fail;
			} else if (kcsi_buf_add(&b, s + i, j - i)) {
				goto fail;
			}
			i = j;
			continue;
		}
		if (kcsi_buf_addc(&b, c))
			goto fail;
		i++;
	}
	*outlen = b.len;
	if (!b.data)
		return strdup("");
	return b.data;
fail:
	kcsi_buf_free(&b);
	return NULL;
}

/* A string member, or NULL when absent or null; -1 when of another type. */
static int get_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

const char *kcsi_falco_field(const kcsi_falco_event *ev, const char *key, char *buf, size_t cap)
{
	json_t *v = ev->fields ? json_object_get(ev->fields, key) : NULL;
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, cap, "%.17g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v)) {
		snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
		return buf;
	}
	return NULL;
}

/* A printable, bounded copy of a hostile value for messages. */
static void shown(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; s[i] && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		if (i >= 60) {
			snprintf(out + o, cap - o, "...");
			return;
		}
	}
	out[o] = '\0';
}

static kcsi_code bad_name(kcsi_error *err, const char *field, const char *v, const char *kind)
{
	char s[300];
	shown(v, s, sizeof(s));
	return kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s \"%s\" is not a DNS-1123 %s: refused", field, s,
			      kind);
}

/* A name field: absent/null/"<NA>" -> NULL; a string that is a valid name
 * -> copied; anything else -> refused. */
static kcsi_code name_field(kcsi_falco_event *ev, const char *key, bool subdomain, char *dst,
			    size_t cap, bool *have, kcsi_error *err)
{
	json_t *v = json_object_get(ev->fields, key);
	const char *s;
	*have = false;
	if (!v || json_is_null(v))
		return KCSI_OK;
	if (!json_is_string(v))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "output_fields.%s: a string expected", key);
	s = json_string_value(v);
	if (!strcmp(s, "<NA>") || !*s)
		return KCSI_OK;
	if (!(subdomain ? kcsi_dns1123_subdomain(s) : kcsi_dns1123_label(s)) || strlen(s) >= cap)
		return bad_name(err, key, s, subdomain ? "subdomain" : "label");
	snprintf(dst, cap, "%s", s);
	*have = true;
	return KCSI_OK;
}

/* dockershim: k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>; pod and namespace must
 * agree with the k8s fields when both are there. */
static kcsi_code dockershim(kcsi_falco_event *ev, const char *name, kcsi_error *err)
{
	char tmp[512], *part[7];
	int n = 0;
	if (strlen(name) >= sizeof(tmp))
		return bad_name(err, "container.name", name, "label");
	snprintf(tmp, sizeof(tmp), "%s", name);
	for (char *p = tmp, *save = NULL; n < 7 && (p = strtok_r(n ? NULL : p, "_", &save)); n++)
		part[n] = p;
	if (n != 6 || strcmp(part[0], "k8s"))
		return bad_name(err, "container.name", name, "label");
	if (!kcsi_dns1123_label(part[1]) || !kcsi_dns1123_subdomain(part[2]) ||
	    !kcsi_dns1123_label(part[3]))
		return bad_name(err, "container.name", name, "label (dockershim k8s_CTR_POD_NS_UID_N)");
	if (ev->has_pod && (strcmp(part[2], ev->pod) || strcmp(part[3], ev->ns)))
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "dockershim container.name names pod %s/%s, but k8s.* name %s/%s",
				      part[3], part[2], ev->ns, ev->pod);
	snprintf(ev->ns, sizeof(ev->ns), "%s", part[3]);
	snprintf(ev->pod, sizeof(ev->pod), "%s", part[2]);
	snprintf(ev->container, sizeof(ev->container), "%s", part[1]);
	ev->has_pod = ev->has_container = true;
	ev->target_from = "dockershim";
	return KCSI_OK;
}

static kcsi_code target(kcsi_falco_event *ev, kcsi_error *err)
{
	bool hn = false, hp = false, hc = false;
	kcsi_code rc;
	const char *cname = NULL, *cid = NULL;
	char buf[64];

	if (ev->source && !strcmp(ev->source, "k8s_audit")) {
		const char *res = NULL;
		if ((rc = name_field(ev, "ka.target.namespace", false, ev->ns, sizeof(ev->ns), &hn, err)))
			return rc;
		if ((rc = name_field(ev, "ka.target.name", true, ev->pod, sizeof(ev->pod), &hp, err)))
			return rc;
		res = kcsi_falco_field(ev, "ka.target.resource", buf, sizeof(buf));
		if (hn && hp && res && !strcmp(res, "pods")) {
			ev->has_pod = true;
			ev->target_from = "k8s_audit";
			snprintf(ev->reason, sizeof(ev->reason),
				 "k8s_audit alert names pod %s/%s but no container (the audit log records "
				 "the API request, not a process)", ev->ns, ev->pod);
		} else {
			char shown_res[80];
			shown(res ? res : "no resource", shown_res, sizeof(shown_res));
			ev->ns[0] = ev->pod[0] = '\0';
			snprintf(ev->reason, sizeof(ev->reason), "k8s_audit alert on %s%s%s, not a pod: no container",
				 shown_res, hp ? " " : "", hp ? ev->pod : "");
		}
		return KCSI_OK;
	}
	if ((rc = name_field(ev, "k8s.ns.name", false, ev->ns, sizeof(ev->ns), &hn, err)))
		return rc;
	if ((rc = name_field(ev, "k8s.pod.name", true, ev->pod, sizeof(ev->pod), &hp, err)))
		return rc;
	ev->has_pod = hn && hp;
	if (!ev->has_pod)
		ev->ns[0] = ev->pod[0] = '\0';
	if (get_str(ev->fields, "container.name", &cname) < 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "output_fields.container.name: a string expected");
	if (get_str(ev->fields, "container.id", &cid) < 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "output_fields.container.id: a string expected");
	if (cid && *cid && strcmp(cid, "<NA>") && strcmp(cid, "host")) {
		for (const char *p = cid; *p; p++)
			if (!isxdigit((unsigned char)*p) || p - cid >= 64)
				return bad_name(err, "container.id", cid, "container ID (hex)");
		snprintf(ev->container_id, sizeof(ev->container_id), "%s", cid);
	}
	if (cname && !strncmp(cname, "k8s_", 4) && strchr(cname + 4, '_'))
		return dockershim(ev, cname, err);
	if (cname && *cname && strcmp(cname, "<NA>") && strcmp(cname, "host")) {
		if (!ev->has_pod) {
			char s[80];
			shown(cname, s, sizeof(s));
			snprintf(ev->reason, sizeof(ev->reason),
				 "container %s%s%s runs outside Kubernetes (no k8s.ns.name/k8s.pod.name): "
				 "no kubelet can checkpoint it", s, ev->container_id[0] ? " id " : "",
				 ev->container_id);
			return KCSI_OK;
		}
		if ((rc = name_field(ev, "container.name", false, ev->container, sizeof(ev->container), &hc,
				     err)))
			return rc;
		ev->has_container = hc;
		ev->target_from = "k8s";
		return KCSI_OK;
	}
	if (ev->has_pod) {
		ev->target_from = "k8s";
		if (ev->container_id[0])
			snprintf(ev->reason, sizeof(ev->reason),
				 "alert names pod %s/%s and container ID %s but no container name: the name "
				 "is looked up in the pod's status", ev->ns, ev->pod, ev->container_id);
		else
			snprintf(ev->reason, sizeof(ev->reason),
				 "alert names pod %s/%s but no container (no container.name or container.id)",
				 ev->ns, ev->pod);
		return KCSI_OK;
	}
	if (cname && !strcmp(cname, "host"))
		snprintf(ev->reason, sizeof(ev->reason), "alert is about the host, not a container");
	else
		snprintf(ev->reason, sizeof(ev->reason),
			 "alert names no pod and no container (no k8s.ns.name, k8s.pod.name, container.name)");
	return KCSI_OK;
}

kcsi_code kcsi_falco_parse(const void *body, size_t len, kcsi_falco_event *ev, kcsi_error *err)
{
	json_error_t je;
	json_t *tags;
	kcsi_code rc;

	memset(ev, 0, sizeof(*ev));
	ev->priority = KCSI_PRIO_UNKNOWN;
	ev->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!ev->root && json_error_code(&je) == json_error_numeric_overflow) {
		size_t n2 = 0;
		char *copy = quote_big_ints(body, len, &n2, &ev->big_ints);
		if (!copy)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		ev->root = json_loadb(copy, n2, JSON_REJECT_DUPLICATES, &je);
		free(copy);
	}
	if (!ev->root)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "not JSON: %s at line %d column %d", je.text,
				      je.line, je.column);
	if (!json_is_object(ev->root)) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "a JSON object expected");
		goto bad;
	}
	if (get_str(ev->root, "rule", &ev->rule) < 0 || (!ev->rule && get_str(ev->root, "Rule", &ev->rule) < 0)) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "rule: a string expected");
		goto bad;
	}
	if (!ev->rule || !*ev->rule) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "no rule (neither \"rule\" nor \"Rule\")");
		goto bad;
	}
	if (get_str(ev->root, "priority", &ev->priority_text) < 0) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "priority: a string expected");
		goto bad;
	}
	if (!ev->priority_text) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "no priority");
		goto bad;
	}
	ev->priority = kcsi_priority_parse(ev->priority_text);
	if (ev->priority == KCSI_PRIO_UNKNOWN) {
		char s[80];
		shown(ev->priority_text, s, sizeof(s));
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "priority \"%s\" is not a Falco priority", s);
		goto bad;
	}
	if (get_str(ev->root, "source", &ev->source) < 0 || get_str(ev->root, "time", &ev->time) < 0 ||
	    get_str(ev->root, "hostname", &ev->hostname) < 0 || get_str(ev->root, "uuid", &ev->uuid) < 0 ||
	    get_str(ev->root, "output", &ev->output) < 0) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
				    "source, time, hostname, uuid and output must be strings");
		goto bad;
	}
	if (!ev->source)
		ev->source = "syscall";
	tags = json_object_get(ev->root, "tags");
	if (tags && !json_is_null(tags)) {
		size_t i;
		json_t *t;
		if (!json_is_array(tags)) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "tags: an array expected");
			goto bad;
		}
		json_array_foreach(tags, i, t) {
			if (!json_is_string(t)) {
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "tags[%zu]: a string expected", i);
				goto bad;
			}
			if (ev->ntags < KCSI_MAX_TAGS)
				ev->tags[ev->ntags++] = json_string_value(t);
		}
	}
	ev->fields = json_object_get(ev->root, "output_fields");
	if (ev->fields && !json_is_null(ev->fields) && !json_is_object(ev->fields)) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "output_fields: an object expected");
		goto bad;
	}
	if (!ev->fields || json_is_null(ev->fields)) {
		ev->fields = json_object();
		json_object_set_new(ev->root, "output_fields", ev->fields);
	}
	if ((rc = target(ev, err)))
		goto bad;
	return KCSI_OK;
bad:
	json_decref(ev->root);
	ev->root = NULL;
	return rc;
}

void kcsi_falco_free(kcsi_falco_event *ev)
{
	if (ev && ev->root) {
		json_decref(ev->root);
		ev->root = NULL;
	}
}
