/* kcsi vault — the node agent (kcsi collect): finished checkpoints moved
 * from the kubelet's directory into the vault, verified there, optionally
 * analysed, the node copy deleted.  Every event is a log record. */
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
#include "base/spawn.h"

#define REPORT_MAX ((size_t)1 << 30)
#define ANALYZE_STDERR_MAX 2048

struct cand {
	char *name;
	double last;     /* last change seen */
	off_t size;
	struct timespec mtime;
	bool reported;   /* "waiting" said once */
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

/* The analyze command's stdout, attached to the evidence. */
static void analyze(struct collector *c, const char *id, const char *path)
{
	const kcsi_collect_opts *o = c->o;
	const char *argv[34];
	size_t n = 0;
	kcsi_buf out, errs;
	kcsi_spawn_result res;
	kcsi_error err;

	if (o->analyze_missing) {
		say(c, KCSI_LOG_WARNING, "no report: no command to analyse with", "id", json_string(id), NULL);
		return;
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
		say(c, KCSI_LOG_INFO, "report attached", "id", json_string(id), "bytes", json_integer((json_int_t)out.len),
		    NULL);
	kcsi_buf_free(&out);
	kcsi_buf_free(&errs);
}

/* Verify the vault's copy; then analyse, delete the node copy. */
static void after_put(struct collector *c, struct cand *k, const char *path, const kcsi_vault_put_info *info)
{
	json_t *res = NULL;
	kcsi_error err;
	bool ow = false;

	kcsi_error_clear(&err);
	if (kcsi_vault_verify(c->v, info->id, 0, &res, &err) != KCSI_OK || !json_is_true(json_object_get(res, "ok"))) {
		json_t *p = json_array_get(json_object_get(res, "problems"), 0);
		const char *why = p ? json_string_value(json_object_get(p, "problem")) : err.msg;
		say(c, KCSI_LOG_ERROR, "NOT deleting the node copy: the vault copy did not verify", "file", jtext(k->name),
		    "problem", jtext(why ? why : "?"), NULL);
		json_decref(res);
		return;
	}
	json_decref(res);
	say(c, KCSI_LOG_INFO, "verified in the vault", "id", json_string(info->id), NULL);
	if (c->o->analyze_argv || c->o->analyze_missing)
		analyze(c, info->id, path);
	if (c->o->keep)
		return;
	if (kcsi_secure_delete(path, &ow, &err) != KCSI_OK)
		say(c, KCSI_LOG_ERROR, "the node copy could not be deleted", "file", jtext(path), "error", jtext(err.msg),
		    NULL);
	else
		say(c, KCSI_LOG_INFO, "deleted the node copy", "file", jtext(k->name), "overwritten", json_boolean(ow),
		    NULL);
}

/* Take one file: returns true when it is done with (taken, or gone). */
static bool take(struct collector *c, struct cand *k, bool once)
{
	char path[8192];
	struct stat st;
	kcsi_error err;
	kcsi_vault_put_info info;

	snprintf(path, sizeof(path), "%s/%s", c->o->watch, k->name);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return true;
	if (!once && (st.st_size != k->size || st.st_mtim.tv_sec != k->mtime.tv_sec ||
		      st.st_mtim.tv_nsec != k->mtime.tv_nsec)) {
		k->size = st.st_size;
		k->mtime = st.st_mtim;
		k->last = now_s();
		return false;
	}
	if (kcsi_file_busy(path) == 1) {
		k->last = now_s();
		return false;
	}
	kcsi_error_clear(&err);
	if (kcsi_archive_complete(path, &err) != KCSI_OK) {
		if (!k->reported)
			say(c, KCSI_LOG_INFO, "waiting: not a complete archive yet", "file", jtext(k->name), "reason",
			    jtext(err.msg), NULL);
		k->reported = true;
		k->last = now_s();
		return once;
	}
	if (kcsi_vault_put(c->v, path, c->o->case_id, "kcsi collect", &info, &err) != KCSI_OK) {
		say(c, KCSI_LOG_ERROR, "NOT taken: the node copy is kept", "file", jtext(k->name), "error", jtext(err.msg),
		    NULL);
		k->last = now_s();
		return once;
	}
	say(c, KCSI_LOG_INFO, "stored", "file", jtext(k->name), "id", json_string(info.id), "bytes",
	    json_integer((json_int_t)info.size), NULL);
	after_put(c, k, path, &info);
	return true;
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
	*p = (struct cand){strdup(name), last, -1, {0, 0}, false};
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
