/* kcsi — the log: records as JSON lines to a stream or a function (see
 * kcsi/log.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kcsi/log.h"
#include "base/time.h"

struct kcsi_log {
	FILE *f;
	bool own;
	kcsi_log_fn fn;
	void *ctx;
	kcsi_log_level min;
	pthread_mutex_t lock;
};

static kcsi_log *log_new(FILE *f, bool own, kcsi_log_fn fn, void *ctx)
{
	kcsi_log *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->f = f;
	l->own = own;
	l->fn = fn;
	l->ctx = ctx;
	l->min = KCSI_LOG_DEBUG;
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

kcsi_log *kcsi_log_stream(FILE *f, bool own)
{
	return log_new(f, own, NULL, NULL);
}

kcsi_log *kcsi_log_func(kcsi_log_fn fn, void *ctx)
{
	return log_new(NULL, false, fn, ctx);
}

kcsi_log *kcsi_log_open(const char *path, kcsi_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
	kcsi_log *l;
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot open: %s", path, strerror(e));
		return NULL;
	}
	if (!(l = log_new(f, true, NULL, NULL))) {
		fclose(f);
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	return l;
}

void kcsi_log_close(kcsi_log *l)
{
	if (!l)
		return;
	if (l->own && l->f)
		fclose(l->f);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void kcsi_log_set_level(kcsi_log *l, kcsi_log_level min)
{
	if (l)
		l->min = min;
}

bool kcsi_log_wants(const kcsi_log *l, kcsi_log_level level)
{
	return l && level >= l->min;
}

const char *kcsi_log_level_name(kcsi_log_level level)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	return (unsigned)level < sizeof(names) / sizeof(names[0]) ? names[level] : "info";
}

void kcsi_log_fields(kcsi_log *l, kcsi_log_level level, const char *component, const char *msg, json_t *fields)
{
	char t[KCSI_TIME_MAX], *line;
	json_t *o, *empty = NULL;
	const char *k;
	json_t *v;

	if (!kcsi_log_wants(l, level)) {
		json_decref(fields);
		return;
	}
	kcsi_rfc3339_now(t, sizeof(t), 6);
	o = json_object();
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "level", json_string(kcsi_log_level_name(level)));
	json_object_set_new(o, "component", json_string(component));
	json_object_set_new(o, "msg", json_string(msg));
	json_object_foreach(fields, k, v)
		json_object_set(o, k, v);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	pthread_mutex_lock(&l->lock);
	if (line && l->f) {
		fprintf(l->f, "%s\n", line);
		fflush(l->f);
	} else if (line && l->fn) {
		kcsi_log_record rec = {t, level, component, msg, fields ? fields : (empty = json_object()), line};
		l->fn(l->ctx, &rec);
	}
	pthread_mutex_unlock(&l->lock);
	free(line);
	json_decref(o);
	json_decref(empty);
	json_decref(fields);
}

void kcsi_log_vwrite(kcsi_log *l, kcsi_log_level level, const char *component, const char *msg, va_list ap)
{
	const char *k;
	json_t *fields = kcsi_log_wants(l, level) ? json_object() : NULL;

	while ((k = va_arg(ap, const char *))) {
		json_t *v = va_arg(ap, json_t *);
		if (fields)
			json_object_set_new(fields, k, v ? v : json_null());
		else
			json_decref(v);
	}
	if (fields)
		kcsi_log_fields(l, level, component, msg, fields);
}

void kcsi_log_write(kcsi_log *l, kcsi_log_level level, const char *component, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	kcsi_log_vwrite(l, level, component, msg, ap);
	va_end(ap);
}
