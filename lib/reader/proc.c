/* kcsi — command line and environment of a process, read from its memory
 * the way the kernel's /proc/PID/cmdline reads them.
 *
 * The argument area is [mm_arg_start, mm_arg_end), the environment area
 * [mm_env_start, mm_env_end).  If the last byte of the argument area is not
 * NUL the program rewrote its title (setproctitle, Perl's $0): the kernel
 * then returns one string that starts at mm_arg_start and runs on into the
 * environment area up to the first NUL.  kcsi does the same, marks the
 * process (argv_rewritten) and keeps the environment strings that are left
 * after that title. */
#include <stdlib.h>
#include <string.h>

#include "reader/ckpt_int.h"

#define MAX_AREA (4u << 20) /* larger argument/environment areas are cut here */

/* Split [p, p+n) at NULs into strings kept by the checkpoint; empty strings
 * are dropped when skip_empty. */
static bool all_spaces(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ')
			return false;
	return true;
}

static kcsi_code split(kcsi_ckpt *c, const char *p, size_t n, bool skip_empty, char ***out,
		       size_t *count, kcsi_error *err)
{
	size_t cap = 0, i = 0;
	*out = NULL;
	*count = 0;
	while (i < n) {
		const char *s = p + i;
		const char *z = memchr(s, '\0', n - i);
		size_t len = z ? (size_t)(z - s) : n - i;
		i += len + 1;
		/* empty strings, and the space padding a title rewrite leaves,
		 * are not environment entries */
		if (skip_empty && all_spaces(s, len))
			continue;
		if (*count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **q = realloc(*out, ncap * sizeof(*q));
			if (!q)
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			*out = q;
			cap = ncap;
		}
		if (!((*out)[(*count)++] = ck_strndup(c, s, len)))
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	return KCSI_OK;
}

kcsi_code ck_load_cmdline(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err)
{
	const MmEntry *mm = p->mm;
	kcsi_proc *pub = &p->pub;
	uint64_t as, ae, es, ee, alen, elen;
	char *buf;
	size_t got;
	kcsi_code rc;

	if (!mm) {
		pub->memory_note = "no memory image (zombie or kernel task)";
		return KCSI_OK;
	}
	if ((rc = ck_load_runs(c, p, err)) != KCSI_OK)
		return rc;
	as = mm->mm_arg_start;
	ae = mm->mm_arg_end;
	es = mm->mm_env_start;
	ee = mm->mm_env_end;
	if (ae <= as) {
		pub->memory_read = true;
		return KCSI_OK;
	}
	/* as the kernel: the title may run on only into an adjacent env area */
	if (es != ae || ee < es)
		es = ee = ae;
	alen = ae - as;
	elen = ee - es;
	if (alen > MAX_AREA)
		alen = MAX_AREA;
	if (elen > MAX_AREA)
		elen = MAX_AREA;
	buf = malloc((size_t)(alen + elen + 1));
	if (!buf)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	got = kcsi_ckpt_read(c, pub->pid, as, buf, (size_t)alen);
	if (got < alen) {
		pub->memory_note = "the argument area is not in the checkpoint's memory pages";
		free(buf);
		return KCSI_OK;
	}
	if (elen)
		elen = kcsi_ckpt_read(c, pub->pid, es, buf + alen, (size_t)elen);
	buf[alen + elen] = '\0';
	pub->memory_read = true;
	if (buf[alen - 1] != '\0') {
		/* rewritten title: one string from arg_start to the first NUL */
		size_t tlen = strnlen(buf, (size_t)(alen + elen));
		size_t env_from = tlen + 1 > alen ? tlen + 1 - (size_t)alen : 0;
		pub->argv_rewritten = true;
		pub->argv = malloc(sizeof(char *));
		if (!pub->argv || !(pub->argv[0] = ck_strndup(c, buf, tlen))) {
			free(buf);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
		pub->argc = 1;
		if (env_from < elen)
			rc = split(c, buf + alen + env_from, (size_t)elen - env_from, true, &pub->env, &pub->envc, err);
	} else {
		rc = split(c, buf, (size_t)alen, false, &pub->argv, &pub->argc, err);
		/* the final NUL ends the last argument; it does not start another */
		if (rc == KCSI_OK && elen)
			rc = split(c, buf + alen, (size_t)elen, true, &pub->env, &pub->envc, err);
	}
	free(buf);
	return rc;
}
