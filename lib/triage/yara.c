/* kcsi — YARA rules (libyara): loading rule files and directories, scanning
 * buffers, reporting each matching string with its offset. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yara.h>

#include "triage/analyze_int.h"
#include "base/hash.h"

struct kcsi_yara {
	YR_RULES *rules;
	char digest[65]; /* of the files loaded: kcsi_yara_digest */
};

/* libyara's global state, set up by the first handle and torn down by the
 * last; handles may be made and freed on several threads */
static int yr_refs;
static pthread_mutex_t yr_refs_mu = PTHREAD_MUTEX_INITIALIZER;

static bool yara_ref(void)
{
	bool ok = true;
	pthread_mutex_lock(&yr_refs_mu);
	if (yr_refs == 0)
		ok = yr_initialize() == ERROR_SUCCESS;
	if (ok)
		yr_refs++;
	pthread_mutex_unlock(&yr_refs_mu);
	return ok;
}

static void yara_unref(void)
{
	pthread_mutex_lock(&yr_refs_mu);
	if (--yr_refs == 0)
		yr_finalize();
	pthread_mutex_unlock(&yr_refs_mu);
}

struct cerr {
	char msg[512];
	int errors;
};

static void on_compile(int level, const char *file, int line, const YR_RULE *rule, const char *message,
		       void *ud)
{
	struct cerr *c = ud;
	(void)rule;
	if (level == YARA_ERROR_LEVEL_ERROR && !c->errors++)
		snprintf(c->msg, sizeof(c->msg), "%s:%d: %s", file ? file : "?", line, message);
}

/* Compile a rule file; its name and sha256 go on the list the rule set's
 * digest is made of. */
static kcsi_code add_file(YR_COMPILER *cp, const char *path, const char *ns, struct cerr *ce, kcsi_buf *list,
			  kcsi_error *err)
{
	FILE *f = fopen(path, "r");
	const char *base = strrchr(path, '/');
	char hex[65];
	if (!f)
		return kcsi_error_set(err, KCSI_ERR_IO, "YARA rules %s: cannot open", path);
	if (kcsi_sha256_file(path, hex, NULL) == KCSI_OK)
		kcsi_buf_printf(list, "%s %s\n", hex, base ? base + 1 : path);
	yr_compiler_add_file(cp, f, ns, path);
	fclose(f);
	if (ce->errors)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "YARA rules: %s", ce->msg);
	return KCSI_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

kcsi_code kcsi_yara_load(const char *const *paths, kcsi_yara **out, unsigned *nrules, kcsi_error *err)
{
	YR_COMPILER *cp = NULL;
	struct cerr ce = {{0}, 0};
	kcsi_yara *y;
	kcsi_code rc = KCSI_OK;
	kcsi_buf list;

	kcsi_buf_init(&list, 1u << 24);
	*out = NULL;
	*nrules = 0;
	if (!paths || !paths[0])
		return KCSI_OK;
	if (!yara_ref())
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "libyara failed to initialise");
	if (yr_compiler_create(&cp) != ERROR_SUCCESS) {
		yara_unref();
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	yr_compiler_set_callback(cp, on_compile, &ce);
	for (size_t i = 0; paths[i] && rc == KCSI_OK; i++) {
		struct stat st;
		if (stat(paths[i], &st) != 0) {
			rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND, "YARA rules %s: not found", paths[i]);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(paths[i]);
			struct dirent *de;
			char **names = NULL;
			size_t n = 0;
			while (d && (de = readdir(d))) {
				size_t l = strlen(de->d_name);
				if ((l > 4 && !strcmp(de->d_name + l - 4, ".yar")) || (l > 5 && !strcmp(de->d_name + l - 5, ".yara"))) {
					char **q = realloc(names, (n + 1) * sizeof(*q));
					if (!q)
						break;
					names = q;
					if (asprintf(&names[n], "%s/%s", paths[i], de->d_name) >= 0)
						n++;
				}
			}
			if (d)
				closedir(d);
			qsort(names, n, sizeof(*names), cmp_str);
			for (size_t k = 0; k < n; k++) {
				if (rc == KCSI_OK)
					rc = add_file(cp, names[k], "default", &ce, &list, err);
				free(names[k]);
			}
			free(names);
		} else {
			rc = add_file(cp, paths[i], "default", &ce, &list, err);
		}
	}
	y = calloc(1, sizeof(*y));
	if (rc == KCSI_OK && (!y || yr_compiler_get_rules(cp, &y->rules) != ERROR_SUCCESS))
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "YARA: cannot build the rules");
	yr_compiler_destroy(cp);
	if (y)
		kcsi_sha256_hex(list.data ? list.data : "", list.len, y->digest);
	kcsi_buf_free(&list);
	if (rc != KCSI_OK) {
		free(y);
		yara_unref();
		return rc;
	}
	{
		YR_RULE *rule;
		yr_rules_foreach(y->rules, rule)(*nrules)++;
	}
	*out = y;
	return KCSI_OK;
}

const char *kcsi_yara_digest(const kcsi_yara *y)
{
	return y ? y->digest : NULL;
}

void kcsi_yara_free(kcsi_yara *y)
{
	if (!y)
		return;
	if (y->rules)
		yr_rules_destroy(y->rules);
	free(y);
	yara_unref();
}

struct sctx {
	kcsi_yara_hit cb;
	void *ctx;
};

static const char *meta_str(const YR_RULE *rule, const char *key)
{
	const YR_META *m;
	yr_rule_metas_foreach(rule, m)
		if (m->type == META_TYPE_STRING && !strcmp(m->identifier, key))
			return m->string;
	return NULL;
}

/* libyara 4.2 keeps YR_MATCH records in its arena without 8-byte alignment;
 * reading them through its own iteration macros is what the library
 * expects, so the alignment check is off for this function only. */
__attribute__((no_sanitize("alignment")))
static int on_scan(YR_SCAN_CONTEXT *context, int message, void *data, void *ud)
{
	struct sctx *s = ud;
	const YR_RULE *rule;
	const YR_STRING *str;
	const YR_MATCH *m;
	bool any = false;

	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	rule = data;
	yr_rule_strings_foreach(rule, str) {
		yr_string_matches_foreach(context, str, m) {
			any = true;
			s->cb(s->ctx, rule->identifier, rule->ns->name, meta_str(rule, "severity"), meta_str(rule, "mitre"),
			      meta_str(rule, "description"), (uint64_t)(m->base + m->offset), str->identifier, m->data,
			      (size_t)m->data_length);
		}
	}
	if (!any) /* a condition without strings */
		s->cb(s->ctx, rule->identifier, rule->ns->name, meta_str(rule, "severity"), meta_str(rule, "mitre"),
		      meta_str(rule, "description"), 0, NULL, NULL, 0);
	return CALLBACK_CONTINUE;
}

kcsi_code kcsi_yara_scan(kcsi_yara *y, const unsigned char *p, size_t n, kcsi_yara_hit cb, void *ctx,
			 kcsi_error *err)
{
	struct sctx s = {cb, ctx};
	int r;
	if (!y || !n)
		return KCSI_OK;
	r = yr_rules_scan_mem(y->rules, p, n, SCAN_FLAGS_FAST_MODE, on_scan, &s, 60);
	if (r != ERROR_SUCCESS && r != ERROR_TOO_MANY_MATCHES)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "YARA scan failed (libyara error %d)", r);
	return KCSI_OK;
}
