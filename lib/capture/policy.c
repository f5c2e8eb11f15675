/* kcsi — response policy: which alerts lead to which actions.
 *
 *   rules:
 *     - name: shell-in-prod
 *       rule: [Terminal shell in container]   # exact names (a string or a list)
 *       rule_glob: "*shell*"                  # fnmatch(3) patterns
 *       rule_regex: "^Launch .* in Container$" # PCRE2
 *       priority: ">= Warning"                # or "== Error", "<= Notice", "Warning" (= ">=")
 *       source: syscall                       # or a list
 *       tags: [container]                     # all of them
 *       tags_any: [mitre_execution, shell]    # at least one
 *       fields: {k8s.ns.name: "prod-*"}       # glob on the field's text
 *       actions: [checkpoint, label, notify]
 *   exclude:
 *     namespaces: [kube-system]
 *     images: ["registry.k8s.io/kube-?*"]      # container.image.repository globs
 *
 * The rule matchers (rule, rule_glob, rule_regex) are alternatives: one of
 * them must match.  Every other condition must hold.  The first rule that
 * matches decides; exclusions win over every rule. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "capture/respond_int.h"
#include "base/util.h"

/* ---- YAML -> JSON tree ---------------------------------------------------- */

#define YAML_DEPTH 32

json_t *kcsi_yaml_load(const char *text, size_t len, const char *name, kcsi_error *err)
{
	yaml_parser_t p;
	yaml_event_t e;
	json_t *stack[YAML_DEPTH], *root = NULL;
	char *keys[YAML_DEPTH];
	int depth = 0;
	bool done = false, ok = true;

	memset(keys, 0, sizeof(keys));
	if (!yaml_parser_initialize(&p)) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && ok) {
		json_t *v = NULL;
		if (!yaml_parser_parse(&p, &e)) {
			kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: line %zu: %s", name, p.problem_mark.line + 1,
				       p.problem ? p.problem : "YAML syntax error");
			ok = false;
			break;
		}
		size_t line = e.start_mark.line + 1;
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			done = e.type == YAML_STREAM_END_EVENT || root;
			break;
		case YAML_ALIAS_EVENT:
			kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "%s: line %zu: aliases are not supported", name,
				       line);
			ok = false;
			break;
		case YAML_SCALAR_EVENT:
			if (e.data.scalar.anchor) {
				kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "%s: line %zu: anchors are not supported",
					       name, line);
				ok = false;
				break;
			}
			v = json_stringn((const char *)e.data.scalar.value, e.data.scalar.length);
			if (!v) {
				kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: line %zu: a scalar that is not UTF-8", name,
					       line);
				ok = false;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			v = e.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			json_t *c = stack[--depth];
			free(keys[depth]);
			keys[depth] = NULL;
			if (depth == 0) {
				root = c;
			} else {
				json_t *parent = stack[depth - 1];
				if (json_is_array(parent)) {
					json_array_append_new(parent, c);
				} else if (!keys[depth - 1]) {
					json_decref(c);
					kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: line %zu: a mapping or list as a key",
						       name, line);
					ok = false;
				} else {
					json_object_set_new(parent, keys[depth - 1], c);
					free(keys[depth - 1]);
					keys[depth - 1] = NULL;
				}
			}
			break;
		}
		default:
			break;
		}
		if (ok && v && !json_is_string(v)) {
			/* a new mapping or list: it joins its parent when it ends */
			if (depth == YAML_DEPTH) {
				json_decref(v);
				kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: line %zu: nested deeper than %d", name, line,
					       YAML_DEPTH);
				ok = false;
			} else {
				stack[depth++] = v;
			}
		} else if (ok && v) {
			/* a scalar: the whole document, a list item, a key or a value */
			if (depth == 0) {
				json_decref(root);
				root = v;
			} else if (json_is_array(stack[depth - 1])) {
				json_array_append_new(stack[depth - 1], v);
			} else if (!keys[depth - 1]) {
				if (json_object_get(stack[depth - 1], json_string_value(v))) {
					kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: line %zu: duplicate key \"%s\"", name,
						       line, json_string_value(v));
					ok = false;
				} else {
					keys[depth - 1] = strdup(json_string_value(v));
				}
				json_decref(v);
			} else {
				json_object_set_new(stack[depth - 1], keys[depth - 1], v);
				free(keys[depth - 1]);
				keys[depth - 1] = NULL;
			}
		}
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	for (int i = 0; i < depth; i++) {
		free(keys[i]);
		json_decref(stack[i]);
	}
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	if (!root)
		root = json_object(); /* an empty file */
	return root;
}

kcsi_code kcsi_cfg_str(json_t *o, const char *key, const char **out, const char *where, kcsi_error *err)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	*out = NULL;
	if (!v)
		return KCSI_OK;
	if (!json_is_string(v))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.%s: a string expected", where, key);
	*out = json_string_value(v);
	return KCSI_OK;
}

kcsi_code kcsi_cfg_bool(json_t *o, const char *key, bool def, bool *out, const char *where, kcsi_error *err)
{
	const char *s;
	kcsi_code rc = kcsi_cfg_str(o, key, &s, where, err);
	*out = def;
	if (rc || !s)
		return rc;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
		*out = false;
	else
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.%s: true or false expected, not \"%s\"", where,
				      key, s);
	return KCSI_OK;
}

kcsi_code kcsi_cfg_num(json_t *o, const char *key, double def, double min, double max, double *out,
		       const char *where, kcsi_error *err)
{
	const char *s;
	char *end;
	kcsi_code rc = kcsi_cfg_str(o, key, &s, where, err);
	*out = def;
	if (rc || !s)
		return rc;
	double d = strtod(s, &end);
	if (end == s || *end || isnan(d) || d < min || d > max)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.%s: a number from %g to %g expected, not \"%s\"",
				      where, key, min, max, s);
	*out = d;
	return KCSI_OK;
}

/* ---- the policy ---------------------------------------------------------- */

enum cmp { CMP_GE, CMP_LE, CMP_EQ, CMP_GT, CMP_LT };

struct strlist {
	char **v;
	size_t n;
};

struct field_match {
	char *key, *glob;
};

struct prule {
	char *name;
	struct strlist exact, globs, sources, tags_all, tags_any;
	pcre2_code **regex;
	size_t nregex;
	bool has_prio;
	enum cmp cmp;
	kcsi_priority prio;
	struct field_match *fields;
	size_t nfields;
	unsigned actions;
};

struct kcsi_policy {
	struct prule *rules;
	size_t nrules;
	struct strlist ex_ns, ex_images;
};

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* A string or a list of strings. */
static kcsi_code strlist_get(json_t *o, const char *key, struct strlist *l, const char *where,
			     kcsi_error *err)
{
	json_t *v = json_object_get(o, key), *x;
	size_t i;
	if (!v)
		return KCSI_OK;
	if (json_is_string(v)) {
		l->v = calloc(1, sizeof(char *));
		l->v[0] = strdup(json_string_value(v));
		l->n = 1;
		return KCSI_OK;
	}
	if (!json_is_array(v))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.%s: a string or a list expected", where, key);
	l->v = calloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach(v, i, x) {
		if (!json_is_string(x))
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.%s[%zu]: a string expected", where, key, i);
		l->v[l->n++] = strdup(json_string_value(x));
	}
	return KCSI_OK;
}

static bool in_list(const struct strlist *l, const char *s)
{
	for (size_t i = 0; s && i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

static bool glob_list(const struct strlist *l, const char *s)
{
	for (size_t i = 0; s && i < l->n; i++)
		if (fnmatch(l->v[i], s, 0) == 0)
			return true;
	return false;
}

static kcsi_code parse_prio(const char *s, struct prule *r, const char *where, kcsi_error *err)
{
	static const struct {
		const char *op;
		enum cmp c;
	} ops[] = {{">=", CMP_GE}, {"<=", CMP_LE}, {"==", CMP_EQ}, {">", CMP_GT}, {"<", CMP_LT}, {"=", CMP_EQ}};
	const char *p = s;
	r->cmp = CMP_GE;
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(p, ops[i].op, strlen(ops[i].op))) {
			r->cmp = ops[i].c;
			p += strlen(ops[i].op);
			break;
		}
	while (*p == ' ')
		p++;
	r->prio = kcsi_priority_parse(p);
	if (r->prio == KCSI_PRIO_UNKNOWN)
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "%s.priority: \"%s\" is not [>=|<=|==|>|<] PRIORITY (Emergency, Alert, "
				      "Critical, Error, Warning, Notice, Informational, Debug)", where, s);
	r->has_prio = true;
	return KCSI_OK;
}

static kcsi_code parse_rule(json_t *j, size_t idx, struct prule *r, kcsi_error *err)
{
	char where[64];
	const char *s;
	struct strlist acts = {0}, rx = {0};
	kcsi_code rc;
	json_t *f;
	static const char *const known[] = {"name", "rule", "rule_glob", "rule_regex", "priority", "source",
					    "tags", "tags_any", "fields", "actions", NULL};
	const char *k;
	json_t *v;

	snprintf(where, sizeof(where), "rules[%zu]", idx);
	if (!json_is_object(j))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: a mapping expected", where);
	json_object_foreach(j, k, v) {
		bool ok = false;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: unknown key \"%s\"", where, k);
	}
	if ((rc = kcsi_cfg_str(j, "name", &s, where, err)))
		return rc;
	for (const char *p = s; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.name: a control character in it", where);
	r->name = strdup(s ? s : where);
	if ((rc = strlist_get(j, "rule", &r->exact, where, err)) ||
	    (rc = strlist_get(j, "rule_glob", &r->globs, where, err)) ||
	    (rc = strlist_get(j, "rule_regex", &rx, where, err)) ||
	    (rc = strlist_get(j, "source", &r->sources, where, err)) ||
	    (rc = strlist_get(j, "tags", &r->tags_all, where, err)) ||
	    (rc = strlist_get(j, "tags_any", &r->tags_any, where, err)) ||
	    (rc = strlist_get(j, "actions", &acts, where, err)))
		goto out;
	r->regex = calloc(rx.n + 1, sizeof(*r->regex));
	for (size_t i = 0; i < rx.n; i++) {
		int ec;
		PCRE2_SIZE off;
		r->regex[i] = pcre2_compile((PCRE2_SPTR)rx.v[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
		if (!r->regex[i]) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.rule_regex \"%s\": %s at offset %zu", where,
					    rx.v[i], (char *)msg, (size_t)off);
			goto out;
		}
		r->nregex++;
	}
	if ((rc = kcsi_cfg_str(j, "priority", &s, where, err)))
		goto out;
	if (s && (rc = parse_prio(s, r, where, err)))
		goto out;
	f = json_object_get(j, "fields");
	if (f) {
		if (!json_is_object(f)) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.fields: a mapping expected", where);
			goto out;
		}
		r->fields = calloc(json_object_size(f) + 1, sizeof(*r->fields));
		json_object_foreach(f, k, v) {
			if (!json_is_string(v)) {
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s.fields.%s: a string expected", where, k);
				goto out;
			}
			r->fields[r->nfields].key = strdup(k);
			r->fields[r->nfields++].glob = strdup(json_string_value(v));
		}
	}
	if (acts.n == 0) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no actions (checkpoint, label, notify)", where);
		goto out;
	}
	for (size_t i = 0; i < acts.n; i++) {
		if (!strcmp(acts.v[i], "checkpoint"))
			r->actions |= KCSI_ACT_CHECKPOINT;
		else if (!strcmp(acts.v[i], "label"))
			r->actions |= KCSI_ACT_LABEL;
		else if (!strcmp(acts.v[i], "notify"))
			r->actions |= KCSI_ACT_NOTIFY;
		else {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
					    "%s.actions: \"%s\" is not checkpoint, label or notify", where, acts.v[i]);
			goto out;
		}
	}
out:
	strlist_free(&acts);
	strlist_free(&rx);
	return rc;
}

void kcsi_policy_free(kcsi_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		struct prule *r = &p->rules[i];
		free(r->name);
		strlist_free(&r->exact);
		strlist_free(&r->globs);
		strlist_free(&r->sources);
		strlist_free(&r->tags_all);
		strlist_free(&r->tags_any);
		for (size_t j = 0; j < r->nregex; j++)
			pcre2_code_free(r->regex[j]);
		free(r->regex);
		for (size_t j = 0; j < r->nfields; j++) {
			free(r->fields[j].key);
			free(r->fields[j].glob);
		}
		free(r->fields);
	}
	free(p->rules);
	strlist_free(&p->ex_ns);
	strlist_free(&p->ex_images);
	free(p);
}

kcsi_code kcsi_policy_from_json(json_t *root, const char *name, kcsi_policy **out, kcsi_error *err)
{
	kcsi_policy *p = calloc(1, sizeof(*p));
	json_t *rules = json_object_get(root, "rules"), *ex = json_object_get(root, "exclude");
	kcsi_code rc = KCSI_OK;
	size_t i;
	json_t *r;

	*out = NULL;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (!rules || !json_is_array(rules)) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "no rules: a list \"rules:\" is needed");
		goto fail;
	}
	p->rules = calloc(json_array_size(rules) + 1, sizeof(*p->rules));
	json_array_foreach(rules, i, r) {
		rc = parse_rule(r, i, &p->rules[p->nrules], err);
		p->nrules++;
		if (rc)
			goto fail;
	}
	if (ex) {
		if (!json_is_object(ex)) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "exclude: a mapping expected");
			goto fail;
		}
		if ((rc = strlist_get(ex, "namespaces", &p->ex_ns, "exclude", err)) ||
		    (rc = strlist_get(ex, "images", &p->ex_images, "exclude", err)))
			goto fail;
	}
	*out = p;
	return KCSI_OK;
fail:
	kcsi_error_prefix(err, "%s", name);
	kcsi_policy_free(p);
	return rc;
}

kcsi_code kcsi_policy_from_yaml(const char *text, size_t len, const char *name, kcsi_policy **out,
				kcsi_error *err)
{
	json_t *root = kcsi_yaml_load(text, len, name, err);
	kcsi_code rc;
	*out = NULL;
	if (!root)
		return err ? err->code : KCSI_ERR_FORMAT;
	rc = kcsi_policy_from_json(root, name, out, err);
	json_decref(root);
	return rc;
}

kcsi_code kcsi_policy_load(const char *path, kcsi_policy **out, kcsi_error *err)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	kcsi_code rc;
	if (!f)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot open: %m", path);
	text = malloc(1 << 20);
	len = text ? fread(text, 1, 1 << 20, f) : 0;
	fclose(f);
	if (!text)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (len == 1 << 20) {
		free(text);
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: larger than 1 MiB", path);
	}
	rc = kcsi_policy_from_yaml(text, len, path, out, err);
	free(text);
	return rc;
}

size_t kcsi_policy_nrules(const kcsi_policy *p)
{
	return p ? p->nrules : 0;
}

const char *kcsi_policy_rule(const kcsi_policy *p, size_t i, unsigned *actions)
{
	*actions = p->rules[i].actions;
	return p->rules[i].name;
}

static bool has_tag(const kcsi_falco_event *ev, const char *t)
{
	for (size_t i = 0; i < ev->ntags; i++)
		if (!strcmp(ev->tags[i], t))
			return true;
	return false;
}

static bool prio_ok(const struct prule *r, kcsi_priority p)
{
	/* "greater" means more severe, which is a smaller number */
	switch (r->cmp) {
	case CMP_GE: return p <= r->prio;
	case CMP_LE: return p >= r->prio;
	case CMP_GT: return p < r->prio;
	case CMP_LT: return p > r->prio;
	default: return p == r->prio;
	}
}

static bool rule_matches(const struct prule *r, const kcsi_falco_event *ev)
{
	char buf[64];
	if (r->exact.n || r->globs.n || r->nregex) {
		bool any = in_list(&r->exact, ev->rule) || glob_list(&r->globs, ev->rule);
		for (size_t i = 0; !any && i < r->nregex; i++) {
			pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->regex[i], NULL);
			any = md && pcre2_match(r->regex[i], (PCRE2_SPTR)ev->rule, PCRE2_ZERO_TERMINATED, 0, 0, md,
						NULL) >= 0;
			pcre2_match_data_free(md);
		}
		if (!any)
			return false;
	}
	if (r->has_prio && !prio_ok(r, ev->priority))
		return false;
	if (r->sources.n && !in_list(&r->sources, ev->source))
		return false;
	for (size_t i = 0; i < r->tags_all.n; i++)
		if (!has_tag(ev, r->tags_all.v[i]))
			return false;
	if (r->tags_any.n) {
		bool any = false;
		for (size_t i = 0; !any && i < r->tags_any.n; i++)
			any = has_tag(ev, r->tags_any.v[i]);
		if (!any)
			return false;
	}
	for (size_t i = 0; i < r->nfields; i++) {
		const char *v = kcsi_falco_field(ev, r->fields[i].key, buf, sizeof(buf));
		if (!v || fnmatch(r->fields[i].glob, v, 0) != 0)
			return false;
	}
	return true;
}

void kcsi_policy_decide(const kcsi_policy *p, const kcsi_falco_event *ev, kcsi_decision *d)
{
	char buf[64];
	const char *img = kcsi_falco_field(ev, "container.image.repository", buf, sizeof(buf));
	memset(d, 0, sizeof(*d));
	if (ev->has_pod && in_list(&p->ex_ns, ev->ns)) {
		d->excluded = "namespace";
		return;
	}
	if (img && glob_list(&p->ex_images, img)) {
		d->excluded = "image";
		return;
	}
	for (size_t i = 0; i < p->nrules; i++)
		if (rule_matches(&p->rules[i], ev)) {
			d->actions = p->rules[i].actions;
			d->policy_rule = p->rules[i].name;
			return;
		}
}
