/* kcsi ps — the process tree of a checkpoint. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	OPT_PID_FILTER,
	{"env", 'e', NULL, "also show the environment read from memory", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

static void json_caps(kcsi_jsonw *w, const char *key, uint64_t v)
{
	kcsi_jw_key(w, key);
	kcsi_jw_arr(w);
	for (unsigned b = 0; b < 64; b++)
		if (v & (1ull << b)) {
			const char *n = kcsi_cap_name(b);
			if (n)
				kcsi_jw_str(w, n);
			else {
				char s[16];
				snprintf(s, sizeof(s), "CAP_%u", b);
				kcsi_jw_str(w, s);
			}
		}
	kcsi_jw_arr_end(w);
}

static void proc_json(struct out *o, const kcsi_proc *p, bool env)
{
	kcsi_jsonw *w = &o->w;
	kcsi_jw_obj(w);
	kcsi_jw_kuint(w, "pid", p->pid);
	kcsi_jw_kuint(w, "ppid", p->ppid);
	kcsi_jw_kuint(w, "pgid", p->pgid);
	kcsi_jw_kuint(w, "sid", p->sid);
	kcsi_jw_kuint(w, "threads", p->nthreads);
	kcsi_jw_kstr(w, "state", p->state_name);
	if (p->has_creds) {
		kcsi_jw_kuint(w, "uid", p->uid);
		kcsi_jw_kuint(w, "gid", p->gid);
		kcsi_jw_kuint(w, "euid", p->euid);
		kcsi_jw_kuint(w, "egid", p->egid);
		kcsi_jw_key(w, "caps");
		kcsi_jw_obj(w);
		json_caps(w, "effective", p->cap_eff);
		json_caps(w, "permitted", p->cap_prm);
		json_caps(w, "inheritable", p->cap_inh);
		json_caps(w, "bounding", p->cap_bnd);
		kcsi_jw_obj_end(w);
	} else {
		kcsi_jw_key(w, "uid"); kcsi_jw_null(w);
		kcsi_jw_key(w, "gid"); kcsi_jw_null(w);
		kcsi_jw_key(w, "caps"); kcsi_jw_null(w);
	}
	kcsi_jw_kstr(w, "comm", p->comm);
	kcsi_jw_kstr(w, "exe", p->exe);
	kcsi_jw_kbool(w, "exe_deleted", p->exe_deleted);
	kcsi_jw_kbool(w, "exe_memfd", p->exe_memfd);
	kcsi_jw_key(w, "cmdline");
	if (p->memory_read) {
		kcsi_jw_arr(w);
		for (size_t i = 0; i < p->argc; i++)
			kcsi_jw_str(w, p->argv[i]);
		kcsi_jw_arr_end(w);
	} else {
		kcsi_jw_null(w);
	}
	kcsi_jw_kbool(w, "argv_rewritten", p->argv_rewritten);
	if (!p->memory_read)
		kcsi_jw_kstr(w, "cmdline_note", p->memory_note);
	kcsi_jw_kstr(w, "seccomp", p->seccomp);
	if (env) {
		kcsi_jw_key(w, "env");
		if (p->memory_read) {
			kcsi_jw_arr(w);
			for (size_t i = 0; i < p->envc; i++)
				kcsi_jw_str(w, p->env[i]);
			kcsi_jw_arr_end(w);
		} else {
			kcsi_jw_null(w);
		}
	}
	kcsi_jw_obj_end(w);
}

static char *cmdline_text(const kcsi_proc *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	if (!p->memory_read) {
		fputc('[', f);
		print_escaped_str(f, p->comm);
		fputs("] (", f);
		print_escaped_str(f, p->memory_note ? p->memory_note : "no memory");
		fputc(')', f);
	}
	for (size_t i = 0; p->memory_read && i < p->argc; i++) {
		if (i)
			fputc(' ', f);
		print_escaped(f, p->argv[i], strlen(p->argv[i]));
	}
	fclose(f);
	return buf;
}

/* One row of the tree. */
static void tree_row(const kcsi_proc *p, size_t depth, struct table *t)
{
	char pid[16], ppid[16], uid[16], thr[16], name[512];
	char *cmd = cmdline_text(p);
	int indent = depth < 256 ? (int)depth * 2 : 512; /* past the column width anyway */
	snprintf(pid, sizeof(pid), "%u", p->pid);
	snprintf(ppid, sizeof(ppid), "%u", p->ppid);
	snprintf(thr, sizeof(thr), "%u", p->nthreads);
	if (p->has_creds)
		snprintf(uid, sizeof(uid), "%u", p->uid);
	else
		snprintf(uid, sizeof(uid), "-");
	snprintf(name, sizeof(name), "%*s%s%s%s", indent, "", depth ? "\\_ " : "", cmd ? cmd : "",
		 p->argv_rewritten ? "  [argv rewritten]" : "");
	table_add(t, pid, ppid, uid, p->state_name, thr, p->comm, p->exe ? p->exe : "-", name);
	free(cmd);
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	struct out o;
	uint32_t pid = opt_pid(a);
	bool one = pid != 0;
	bool env = opt_set(a, "env");
	int rc = open_view(a, KCSI_CKPT_MEMORY, &c);
	size_t n;

	if (rc)
		return rc;
	n = kcsi_ckpt_nprocs(c);
	out_open(&o, a);
	if (o.json) {
		kcsi_jw_arr(&o.w);
		for (size_t i = 0; i < n; i++) {
			const kcsi_proc *p = kcsi_ckpt_proc(c, i);
			if (!one || p->pid == pid)
				proc_json(&o, p, env);
		}
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	} else {
		struct table t;
		table_init(&t, 8);
		t.shown = 1u << 7; /* COMMAND is made escaped, under its tree marks */
		t.fit_terminal = true; /* a deep tree or a long command line does not wrap */
		table_add(&t, "PID", "PPID", "UID", "STATE", "THR", "COMM", "EXE", "COMMAND");
		if (one) {
			tree_row(kcsi_ckpt_proc_by_pid(c, pid), 0, &t);
		} else {
			size_t *order, *depth;
			kcsi_error err;
			if (kcsi_ckpt_tree(c, &order, &depth, &err) != KCSI_OK) {
				rc = fail(&err);
			} else {
				for (size_t k = 0; k < n; k++)
					tree_row(kcsi_ckpt_proc(c, order[k]), depth[k], &t);
				free(order);
				free(depth);
			}
		}
		table_print(&t, &o);
		table_free(&t);
		if (env)
			for (size_t i = 0; i < n; i++) {
				const kcsi_proc *p = kcsi_ckpt_proc(c, i);
				if (one && p->pid != pid)
					continue;
				fprintf(o.f, "\n%spid %u environment%s%s\n", c_bold(&o), p->pid,
					p->argv_rewritten ? " (what is left after the rewritten title)" : "", c_off(&o));
				if (!p->memory_read)
					fprintf(o.f, "  (%s)\n", p->memory_note ? p->memory_note : "not read");
				for (size_t k = 0; k < p->envc; k++) {
					fputs("  ", o.f);
					print_escaped(o.f, p->env[k], strlen(p->env[k]));
					fputc('\n', o.f);
				}
			}
	}
	kcsi_ckpt_close(c);
	return out_close(&o, rc);
}

const struct cmd cmd_ps = {
	.synopsis = "[--pid N] [--env] [--json] ARCHIVE",
	.summary = "show the process tree: ids, credentials, executable, command line",
	.description =
		"Lists every process of the checkpoint as a tree.  The executable comes from the\n"
		"process's executable mapping; the command line and environment are read from\n"
		"its memory as the kernel's /proc/PID/cmdline reads them: when the last byte of\n"
		"the argument area is not NUL the program rewrote its title (setproctitle, Perl's\n"
		"$0) and the title runs on into the environment area.  Such processes are marked\n"
		"argv_rewritten, and what is left of the environment is shown.  On a terminal\n"
		"the COMMAND column ends at the terminal's width (cut, with an ellipsis); piped, or with\n"
		"--json, command lines are whole.",
	.json_doc =
		"An array of objects, one per process, in pid order:\n"
		"  pid, ppid, pgid, sid    numbers\n"
		"  threads                 number of threads\n"
		"  state                   running, stopped, zombie, dead\n"
		"  uid, gid, euid, egid    numbers (null when the image has no credentials)\n"
		"  caps                    {effective, permitted, inheritable, bounding}: capability names\n"
		"  comm                    the kernel's task name (15 bytes at most)\n"
		"  exe                     path of the executable mapping (null if none)\n"
		"  exe_deleted, exe_memfd  the executable was deleted / is a memfd\n"
		"  cmdline                 array of strings read from memory (null if not in the checkpoint)\n"
		"  argv_rewritten          true when the program rewrote its argument area\n"
		"  seccomp                 disabled, strict or filter\n"
		"  env                     (with --env) array of \"K=V\" strings\n"
		"Bytes that are not UTF-8 are written as \\udcXX escapes.",
	.example =
		"$ kcsi ps checkpoint-perlbot.tar\n"
		"PID  PPID  UID  STATE    THR  COMM             EXE             COMMAND\n"
		"1    0     0    running  1    sh               /usr/bin/dash   sh -c while true; do date > /var/log/app.log; sleep 5; done\n"
		"15   1     0    running  1    [kworker/u8:2-e  /usr/bin/perl     \\_ [kworker/u8:2-events]  [argv rewritten]\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
