/* kcsi — bash history from process memory.  See include/kcsi/history.h.
 *
 * Two passes over each bash process's memory: the first collects the
 * addresses of timestamp strings ("#" and 9 to 11 digits, NUL-terminated,
 * 16-byte aligned as malloc returns them); the second looks, at every
 * 8-byte aligned word, for a pointer to one of them: the word before it is
 * the entry's line pointer.  The line is read where it points and must be
 * printable text.  The bytes read for lines are bounded per call
 * (READ_BUDGET): a hostile memory can point any number of entries at long
 * lines. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "kcsi/history.h"
#include "kcsi/mem.h"

#define HIST_MAX 100000      /* entries per process */
#define LINE_MAX_BYTES 65536 /* a history line longer than this is cut */
#define READ_BUDGET (16u << 20) /* bytes of lines read per call, in all */

struct hctx {
	kcsi_ckpt *c;
	uint32_t pid;
	kcsi_strmap stamps;  /* address (8 bytes) -> index into times */
	int64_t *times;
	size_t ntimes, captimes;
	kcsi_strmap seen;    /* entry addresses found */
	kcsi_history_entry *v;
	size_t n, cap;
	size_t *budget;      /* bytes of lines that may still be read */
	bool nomem;
};

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int find_stamps(void *ctx, const kcsi_window *w)
{
	struct hctx *x = ctx;
	for (size_t i = (16 - (w->addr & 15)) & 15; i + 12 <= w->len; i += 16) {
		uint64_t addr = w->addr + i;
		size_t d = 0;
		if (w->p[i] != '#' || addr < w->from || addr >= w->to)
			continue;
		while (i + 1 + d < w->len && d < 12 && isdigit(w->p[i + 1 + d]))
			d++;
		if (d < 9 || d > 11 || i + 1 + d >= w->len || w->p[i + 1 + d] != '\0')
			continue;
		char num[16];
		memcpy(num, w->p + i + 1, d);
		num[d] = '\0';
		if (x->ntimes == x->captimes) {
			size_t nc = x->captimes ? x->captimes * 2 : 64;
			int64_t *g = realloc(x->times, nc * sizeof(*g));
			if (!g) {
				x->nomem = true;
				return 1;
			}
			x->times = g;
			x->captimes = nc;
		}
		x->times[x->ntimes] = strtoll(num, NULL, 10);
		if (kcsi_strmap_put(&x->stamps, (const char *)&addr, sizeof(addr), (int)x->ntimes)) {
			x->nomem = true;
			return 1;
		}
		x->ntimes++;
	}
	return 0;
}

/* The NUL-terminated printable line at `at` (newlines and tabs allowed),
 * read in growing pieces so that a short line costs little; NULL when there
 * is none, or when the budget is spent. */
static char *read_line(kcsi_ckpt *c, uint32_t pid, uint64_t at, size_t *budget)
{
	char *buf = NULL;
	size_t got = 0, n = 0;
	for (size_t want = 256; !n; want *= 2) {
		char *g;
		if (want > LINE_MAX_BYTES || want > *budget || !(g = realloc(buf, want + 1))) {
			free(buf);
			return NULL;
		}
		buf = g;
		got = kcsi_ckpt_read(c, pid, at, buf, want);
		*budget -= got;
		n = strnlen(buf, got);
		if (n == got && got < want) { /* no end before the bytes held end */
			free(buf);
			return NULL;
		}
		if (n == got)
			n = 0; /* longer: read more */
		else if (n == 0)
			break; /* empty */
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t')
			n = 0; /* not a command line */
	if (!n) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	char *small = realloc(buf, n + 1);
	return small ? small : buf;
}

static int find_entries(void *ctx, const kcsi_window *w)
{
	struct hctx *x = ctx;
	for (size_t i = 8 + ((8 - (w->addr & 7)) & 7); i + 8 <= w->len && x->n < HIST_MAX; i += 8) {
		uint64_t addr = w->addr + i, ts = le64(w->p + i);
		if (addr < w->from + 8 || addr >= w->to)
			continue;
		int k = kcsi_strmap_get(&x->stamps, (const char *)&ts, sizeof(ts), -1);
		uint64_t entry = addr - 8;
		if (k < 0 || kcsi_strmap_get(&x->seen, (const char *)&entry, sizeof(entry), 0))
			continue;
		uint64_t line = le64(w->p + i - 8);
		char *cmd = read_line(x->c, x->pid, line, x->budget);
		if (!cmd)
			continue;
		if (x->n == x->cap) {
			size_t nc = x->cap ? x->cap * 2 : 32;
			kcsi_history_entry *g = realloc(x->v, nc * sizeof(*g));
			if (!g) {
				free(cmd);
				x->nomem = true;
				return 1;
			}
			x->v = g;
			x->cap = nc;
		}
		x->v[x->n++] = (kcsi_history_entry){x->pid, x->times[k], cmd, entry, line};
		if (kcsi_strmap_put(&x->seen, (const char *)&entry, sizeof(entry), 1)) {
			x->nomem = true;
			return 1;
		}
	}
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const kcsi_history_entry *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static bool is_bash(const kcsi_proc *p)
{
	const char *exe = p->exe ? strrchr(p->exe, '/') : NULL;
	return (p->comm && !strcmp(p->comm, "bash")) || (exe && !strcmp(exe, "/bash"));
}

kcsi_code kcsi_history(kcsi_ckpt *c, uint32_t pid, kcsi_history_entry **out, size_t *n, kcsi_error *err)
{
	kcsi_history_entry *all = NULL;
	size_t nall = 0, budget = READ_BUDGET;
	kcsi_code rc = KCSI_OK;
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c) && !rc; i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		struct hctx x = {.c = c, .pid = p->pid, .budget = &budget};
		if ((pid && p->pid != pid) || (!pid && !is_bash(p)))
			continue;
		if ((rc = kcsi_walk_memory(c, p->pid, find_stamps, &x, err)) == KCSI_OK && x.ntimes && !x.nomem)
			rc = kcsi_walk_memory(c, p->pid, find_entries, &x, err);
		if (!rc && x.nomem)
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		if (!rc && x.n) {
			kcsi_history_entry *g = realloc(all, (nall + x.n) * sizeof(*g));
			if (!g) {
				rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			} else {
				all = g;
				memcpy(all + nall, x.v, x.n * sizeof(*g));
				nall += x.n;
				x.n = 0;
			}
		}
		kcsi_history_free(x.v, x.n);
		free(x.times);
		kcsi_strmap_free(&x.stamps);
		kcsi_strmap_free(&x.seen);
	}
	if (rc) {
		kcsi_history_free(all, nall);
		return rc;
	}
	if (nall)
		qsort(all, nall, sizeof(*all), cmp_entry);
	*out = all;
	*n = nall;
	return KCSI_OK;
}

void kcsi_history_free(kcsi_history_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].command);
	free(v);
}
