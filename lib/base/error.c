/* kcsi — error values and messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kcsi/error.h"

kcsi_code kcsi_error_set(kcsi_error *err, kcsi_code code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		err->param = NULL;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void kcsi_error_param(kcsi_error *err, const char *param)
{
	if (err)
		err->param = param;
}

void kcsi_error_prefix(kcsi_error *err, const char *fmt, ...)
{
	char prefix[512], old[KCSI_ERRMSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	{
		size_t pl = strnlen(prefix, sizeof(err->msg) - 3);
		memcpy(err->msg, prefix, pl);
		memcpy(err->msg + pl, ": ", 2);
		size_t room = sizeof(err->msg) - pl - 3;
		size_t ol = strnlen(old, room);
		memcpy(err->msg + pl + 2, old, ol);
		err->msg[pl + 2 + ol] = '\0';
	}
}

void kcsi_error_clear(kcsi_error *err)
{
	if (err) {
		err->code = KCSI_OK;
		err->msg[0] = '\0';
		err->param = NULL;
	}
}

const char *kcsi_strerror(kcsi_code code)
{
	switch (code) {
	case KCSI_OK: return "success";
	case KCSI_ERR_GENERIC: return "operation failed";
	case KCSI_ERR_USAGE: return "usage error";
	case KCSI_ERR_IO: return "input/output error";
	case KCSI_ERR_FORMAT: return "malformed input";
	case KCSI_ERR_UNSUPPORTED: return "unsupported input";
	case KCSI_ERR_LIMIT: return "size or count limit exceeded";
	case KCSI_ERR_NOMEM: return "out of memory";
	case KCSI_ERR_NOTFOUND: return "not found";
	case KCSI_ERR_UNSAFE: return "unsafe archive member";
	}
	return "unknown error";
}
