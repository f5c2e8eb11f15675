/* kcsi diff — what changed between two checkpoints of a container. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	{"exit-code", 0, NULL, "exit 1 when the checkpoints differ, 0 when they do not (as git diff does)",
	 .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

static char *joined(const kcsi_proc *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return strdup("");
	for (size_t i = 0; p->memory_read && i < p->argc; i++)
		fprintf(f, "%s%s", i ? " " : "", p->argv[i]);
	fclose(f);
	return buf;
}

static uint64_t mem_bytes(kcsi_ckpt *c, uint32_t pid)
{
	const kcsi_memrun *r;
	size_t n;
	uint64_t sum = 0;
	if (kcsi_ckpt_memory(c, pid, &r, &n, NULL) != KCSI_OK)
		return 0;
	for (size_t i = 0; i < n; i++)
		sum += r[i].len;
	return sum;
}

struct sink {
	struct out *o;
	const char *section;
	size_t changes;
};

static void change(struct sink *s, const char *what, uint32_t pid, int fd, const char *field,
		   const char *before, const char *after)
{
	struct out *o = s->o;
	s->changes++;
	if (o->json) {
		kcsi_jw_obj(&o->w);
		kcsi_jw_kstr(&o->w, "kind", s->section);
		kcsi_jw_kstr(&o->w, "change", what);
		kcsi_jw_kuint(&o->w, "pid", pid);
		if (fd != -100)
			kcsi_jw_kint(&o->w, "fd", fd);
		kcsi_jw_kstr(&o->w, "field", field);
		kcsi_jw_kstr(&o->w, "before", before);
		kcsi_jw_kstr(&o->w, "after", after);
		kcsi_jw_obj_end(&o->w);
		return;
	}
	const char *mark = !strcmp(what, "added") ? "+" : !strcmp(what, "removed") ? "-" : "~";
	fprintf(o->f, "%s%s %-8s pid %u", !strcmp(what, "added") ? c_yellow(o) : !strcmp(what, "removed") ? c_red(o) : "",
		mark, s->section, pid);
	if (fd != -100)
		fprintf(o->f, " fd %d", fd);
	if (field) {
		fputc(' ', o->f);
		print_escaped_str(o->f, field);
	}
	if (before) {
		fputs(": ", o->f);
		print_escaped_str(o->f, before);
	}
	if (before && after)
		fputs(" ->", o->f);
	if (after) {
		fputs(before ? " " : ": ", o->f);
		print_escaped_str(o->f, after);
	}
	fprintf(o->f, "%s\n", c_off(o));
}

/* Where each descriptor or socket of a checkpoint is, by (pid, fd). */
struct slot {
	uint32_t pid;
	int fd;
	size_t i;   /* index in the checkpoint's array; equal keys in array order */
};

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Sort n slots (filled by the caller); NULL when out of memory. */
static struct slot *sorted_slots(struct slot *v, size_t n)
{
	if (v && n > 1)
		qsort(v, n, sizeof(*v), cmp_slot);
	return v;
}

/* Index of the last entry with (pid, fd), or SIZE_MAX. */
static size_t find_slot(const struct slot *v, size_t n, uint32_t pid, int fd)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first slot after every (pid, fd) */
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].pid < pid || (v[mid].pid == pid && v[mid].fd <= fd))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && v[lo - 1].pid == pid && v[lo - 1].fd == fd ? v[lo - 1].i : SIZE_MAX;
}

static struct slot *fd_slots(const kcsi_fd *v, size_t n)
{
	struct slot *s = malloc((n ? n : 1) * sizeof(*s));
	for (size_t i = 0; s && i < n; i++)
		s[i] = (struct slot){v[i].pid, v[i].fd, i};
	return sorted_slots(s, n);
}

static struct slot *sock_slots(const kcsi_sock *v, size_t n)
{
	struct slot *s = malloc((n ? n : 1) * sizeof(*s));
	for (size_t i = 0; s && i < n; i++)
		s[i] = (struct slot){v[i].pid, v[i].fd, i};
	return sorted_slots(s, n);
}

/* Descriptors and sockets of one checkpoint; the error names it. */
static kcsi_code load_side(kcsi_ckpt *c, const char *path, kcsi_fd **f, size_t *nf, kcsi_sock **s, size_t *ns,
			   kcsi_error *err)
{
	kcsi_code rc = kcsi_ckpt_fds(c, 0, f, nf, err);
	if (rc == KCSI_OK)
		rc = kcsi_ckpt_socks(c, s, ns, err);
	if (rc != KCSI_OK)
		kcsi_error_prefix(err, "%s", path);
	return rc;
}

static void diff_str(struct sink *s, uint32_t pid, int fd, const char *field, const char *a, const char *b)
{
	if (!a) a = "";
	if (!b) b = "";
	if (strcmp(a, b) != 0)
		change(s, "changed", pid, fd, field, a, b);
}

static int run(struct args *a)
{
	kcsi_ckpt *A, *B;
	struct out o;
	struct sink s;
	kcsi_fd *fa = NULL, *fb = NULL;
	kcsi_sock *sa = NULL, *sb = NULL;
	size_t nfa = 0, nfb = 0, nsa = 0, nsb = 0;
	struct slot *ia = NULL, *ib = NULL, *ja = NULL, *jb = NULL; /* fds, sockets by (pid, fd) */
	kcsi_error err;
	int rc;

	kcsi_error_clear(&err);
	if ((rc = open_ckpt(a->pos[0], KCSI_CKPT_MEMORY, &A)))
		return rc;
	if ((rc = open_ckpt(a->pos[1], KCSI_CKPT_MEMORY, &B))) {
		kcsi_ckpt_close(A);
		return rc;
	}
	if (load_side(A, a->pos[0], &fa, &nfa, &sa, &nsa, &err) != KCSI_OK ||
	    load_side(B, a->pos[1], &fb, &nfb, &sb, &nsb, &err) != KCSI_OK) {
		rc = fail(&err);
		goto out;
	}
	if (!(ia = fd_slots(fa, nfa)) || !(ib = fd_slots(fb, nfb)) || !(ja = sock_slots(sa, nsa)) ||
	    !(jb = sock_slots(sb, nsb))) {
		fprintf(stderr, "kcsi: out of memory\n");
		rc = KCSI_ERR_NOMEM;
		goto out;
	}
	out_open(&o, a);
	s.o = &o;
	s.changes = 0;
	if (o.json)
		kcsi_jw_arr(&o.w);
	/* processes */
	s.section = "process";
	for (size_t i = 0; i < kcsi_ckpt_nprocs(A); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(A, i), *q = kcsi_ckpt_proc_by_pid(B, p->pid);
		char *ca = joined(p);
		if (!q) {
			change(&s, "removed", p->pid, -100, NULL, ca, NULL);
		} else {
			char *cb = joined(q);
			diff_str(&s, p->pid, -100, "comm", p->comm, q->comm);
			diff_str(&s, p->pid, -100, "exe", p->exe, q->exe);
			diff_str(&s, p->pid, -100, "cmdline", ca, cb);
			diff_str(&s, p->pid, -100, "state", p->state_name, q->state_name);
			free(cb);
			char ma[32], mb[32];
			uint64_t x = mem_bytes(A, p->pid), y = mem_bytes(B, q->pid);
			snprintf(ma, sizeof(ma), "%" PRIu64, x);
			snprintf(mb, sizeof(mb), "%" PRIu64, y);
			s.section = "memory";
			diff_str(&s, p->pid, -100, "bytes", ma, mb);
			s.section = "process";
		}
		free(ca);
	}
	for (size_t i = 0; i < kcsi_ckpt_nprocs(B); i++) {
		const kcsi_proc *q = kcsi_ckpt_proc(B, i);
		if (!kcsi_ckpt_proc_by_pid(A, q->pid)) {
			char *cb = joined(q);
			change(&s, "added", q->pid, -100, NULL, NULL, cb);
			free(cb);
		}
	}
	/* descriptors (numbered ones) */
	s.section = "fd";
	for (size_t i = 0; i < nfa; i++) {
		const kcsi_fd *x = &fa[i], *y = NULL;
		size_t k;
		if (x->fd < 0)
			continue;
		if ((k = find_slot(ib, nfb, x->pid, x->fd)) != SIZE_MAX)
			y = &fb[k];
		if (!y)
			change(&s, "removed", x->pid, x->fd, NULL, x->path, NULL);
		else {
			diff_str(&s, x->pid, x->fd, "path", x->path, y->path);
			diff_str(&s, x->pid, x->fd, "type", x->type, y->type);
			diff_str(&s, x->pid, x->fd, "deleted", x->deleted ? "true" : "false", y->deleted ? "true" : "false");
		}
	}
	for (size_t k = 0; k < nfb; k++) {
		if (fb[k].fd < 0)
			continue;
		if (find_slot(ia, nfa, fb[k].pid, fb[k].fd) == SIZE_MAX)
			change(&s, "added", fb[k].pid, fb[k].fd, NULL, NULL, fb[k].path);
	}
	/* sockets */
	s.section = "socket";
	for (size_t i = 0; i < nsa; i++) {
		const kcsi_sock *x = &sa[i], *y = NULL;
		char ea[200], eb[200];
		size_t k = find_slot(jb, nsb, x->pid, x->fd);
		if (k != SIZE_MAX)
			y = &sb[k];
		snprintf(ea, sizeof(ea), "%s %s %s:%u -> %s:%u", x->proto, x->state, x->src, x->sport, x->dst, x->dport);
		if (!y) {
			change(&s, "removed", x->pid, x->fd, NULL, ea, NULL);
			continue;
		}
		snprintf(eb, sizeof(eb), "%s %s %s:%u -> %s:%u", y->proto, y->state, y->src, y->sport, y->dst, y->dport);
		diff_str(&s, x->pid, x->fd, "endpoint", ea, eb);
	}
	for (size_t k = 0; k < nsb; k++) {
		char eb[200];
		if (find_slot(ja, nsa, sb[k].pid, sb[k].fd) != SIZE_MAX)
			continue;
		snprintf(eb, sizeof(eb), "%s %s %s:%u -> %s:%u", sb[k].proto, sb[k].state, sb[k].src, sb[k].sport,
			 sb[k].dst, sb[k].dport);
		change(&s, "added", sb[k].pid, sb[k].fd, NULL, NULL, eb);
	}
	if (o.json) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	}
	rc = out_close(&o, 0);
	if (rc == 0 && s.changes && opt_set(a, "exit-code"))
		rc = KCSI_ERR_GENERIC;
out:
	free(ia);
	free(ib);
	free(ja);
	free(jb);
	free(fa);
	free(fb);
	free(sa);
	free(sb);
	kcsi_ckpt_close(A);
	kcsi_ckpt_close(B);
	return rc;
}

const struct cmd cmd_diff = {
	.synopsis = "[--exit-code] [--json] A B",
	.summary = "show processes, descriptors, sockets and memory sizes that changed from A to B",
	.description =
		"Compares two checkpoints (usually of one container at two times): processes\n"
		"added, removed or changed (comm, executable, command line, state), memory bytes\n"
		"held per process, descriptors and sockets added, removed or changed.  Processes\n"
		"and descriptors are matched by pid and descriptor number.",
	.json_doc =
		"An array of changes: {kind (process, memory, fd, socket), change (added, removed,\n"
		"changed), pid, fd (fd and socket), field (for changed), before, after}.",
	.example =
		"$ kcsi diff checkpoint-counter.tar checkpoint-perlbot.tar\n"
		"...\n"
		"+ process  pid 15: [kworker/u8:2-events]\n"
		"...\n"
		"+ socket   pid 15 fd 5: TCP ESTABLISHED 127.0.0.1:38898 -> 127.6.6.6:6667",
	.opts = opts,
	.exit_doc = "1  with --exit-code: the checkpoints differ (the changes are printed)",
	.min_pos = 2,
	.max_pos = 2,
	.run = run,
};
