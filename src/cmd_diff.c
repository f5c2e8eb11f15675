/* kcsi diff — what changed between two checkpoints of a container. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	{"json", 'j', NULL, "print JSON"},
	{"pretty", 0, NULL, "indent the JSON"},
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
	bool open;
};

static void change(struct sink *s, const char *what, uint32_t pid, int fd, const char *field,
		   const char *before, const char *after)
{
	struct out *o = s->o;
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
	kcsi_fd *fa, *fb;
	kcsi_sock *sa, *sb;
	size_t nfa, nfb, nsa, nsb;
	kcsi_error err;
	int rc;

	kcsi_error_clear(&err);
	if ((rc = open_ckpt(a->pos[0], KCSI_CKPT_MEMORY, &A)))
		return rc;
	if ((rc = open_ckpt(a->pos[1], KCSI_CKPT_MEMORY, &B))) {
		kcsi_ckpt_close(A);
		return rc;
	}
	if (kcsi_ckpt_fds(A, 0, &fa, &nfa, &err) || kcsi_ckpt_fds(B, 0, &fb, &nfb, &err) ||
	    kcsi_ckpt_socks(A, &sa, &nsa, &err) || kcsi_ckpt_socks(B, &sb, &nsb, &err)) {
		rc = fail(&err);
		kcsi_ckpt_close(A);
		kcsi_ckpt_close(B);
		return rc;
	}
	out_open(&o, a);
	s.o = &o;
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
		if (x->fd < 0)
			continue;
		for (size_t k = 0; k < nfb; k++)
			if (fb[k].pid == x->pid && fb[k].fd == x->fd)
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
		bool found = false;
		if (fb[k].fd < 0)
			continue;
		for (size_t i = 0; i < nfa; i++)
			if (fa[i].pid == fb[k].pid && fa[i].fd == fb[k].fd)
				found = true;
		if (!found)
			change(&s, "added", fb[k].pid, fb[k].fd, NULL, NULL, fb[k].path);
	}
	/* sockets */
	s.section = "socket";
	for (size_t i = 0; i < nsa; i++) {
		const kcsi_sock *x = &sa[i], *y = NULL;
		char ea[200], eb[200];
		for (size_t k = 0; k < nsb; k++)
			if (sb[k].pid == x->pid && sb[k].fd == x->fd)
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
		bool found = false;
		char eb[200];
		for (size_t i = 0; i < nsa; i++)
			if (sa[i].pid == sb[k].pid && sa[i].fd == sb[k].fd)
				found = true;
		if (found)
			continue;
		snprintf(eb, sizeof(eb), "%s %s %s:%u -> %s:%u", sb[k].proto, sb[k].state, sb[k].src, sb[k].sport,
			 sb[k].dst, sb[k].dport);
		change(&s, "added", sb[k].pid, sb[k].fd, NULL, NULL, eb);
	}
	if (o.json) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	}
	free(fa);
	free(fb);
	free(sa);
	free(sb);
	kcsi_ckpt_close(A);
	kcsi_ckpt_close(B);
	return out_close(&o, 0);
}

const struct cmd cmd_diff = {
	.name = "diff",
	.synopsis = "[--json] A B",
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
		"$ kcsi diff before.tar after.tar\n"
		"+ process  pid 15: [kworker/u8:2-events]\n"
		"+ socket   pid 15 fd 5: TCP ESTABLISHED 127.0.0.1:40182 -> 127.6.6.6:6667",
	.opts = opts,
	.min_pos = 2,
	.max_pos = 2,
	.run = run,
};
