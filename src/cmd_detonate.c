/* kcsi detonate — restore a checkpoint in a sealed sandbox and record what it does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/detonate.h"

static const struct opt opts[] = {
	{"out", 'o', "DIR", "write the pcap, transcripts, activity log, report.json and manifest.json here (new or empty)",
	 .kind = OPT_TEXT, .flags = OPT_REQUIRED},
	{"duration", 'd', "S", "seconds the restored container runs in the sandbox (default 20)", .kind = OPT_NUM,
	 .min = 1, .max = 3600},
	{"image", 'i', "IMAGE", "the image to restore on (needed for kubelet/CRI-O archives; default: the one the archive names)", .kind = OPT_TEXT},
	{"irc-command", 0, "TEXT", "the sinkhole's IRC operator sends TEXT to the bot's channel after it joins (in order)",
	 .kind = OPT_TEXT, .flags = OPT_REPEAT},
	{"cpu", 0, "PERCENT", "CPU cap in percent of one core (default 50)", .kind = OPT_NUM, .min = 1, .max = 800},
	{"memory", 0, "SIZE", "memory cap, e.g. 256M (default 512M)", .kind = OPT_SIZE, .min = 16u << 20, .max = 1ull << 40},
	{"pids", 0, "N", "cap on processes and threads (default 256)", .kind = OPT_NUM, .min = 8, .max = 65536},
	{"no-bpf", 0, NULL, "do not load the eBPF activity tracer", .kind = OPT_FLAG},
	{"verbose", 'v', NULL, "say what is going on, on stderr", .kind = OPT_FLAG},
	{"json", 'j', NULL, "print the run's summary as JSON", .kind = OPT_FLAG},
	{0},
};

static void progress(void *ctx, double seconds, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "kcsi detonate: [%6.2fs] ", seconds);
	print_escaped_str(stderr, msg);
	fputc('\n', stderr);
}

static int run(struct args *a)
{
	kcsi_detonate_opts o = {0};
	kcsi_detonate_result res;
	kcsi_error err;
	const char *cmds[MAX_REPEAT + 1] = {0};
	int n = 0;
	kcsi_error_clear(&err);
	o.archive = a->pos[0];
	o.outdir = opt_val(a, "out");
	o.duration_s = (unsigned)opt_num(a, "duration", 20);
	o.cpu_percent = (unsigned)opt_num(a, "cpu", 50);
	o.pids_max = (unsigned)opt_num(a, "pids", 256);
	o.memory_bytes = opt_num(a, "memory", 512ull << 20);
	o.image = opt_val(a, "image");
	const char *const *given = opt_all(a, "irc-command", &n);
	for (int i = 0; i < n; i++)
		cmds[i] = given[i];
	o.irc_commands = n ? cmds : NULL;
	o.no_bpf = opt_set(a, "no-bpf");
	if (opt_set(a, "verbose"))
		o.progress = progress;
	if (kcsi_detonate(&o, &res, &err) != KCSI_OK) {
		kcsi_error_prefix(&err, "%s", o.archive);
		if (res.report_written) {
			/* one line: the failure is in DIR/report.json too */
			size_t l = strlen(err.msg);
			snprintf(err.msg + l, sizeof(err.msg) - l, " (report: %s/report.json)", o.outdir);
		}
		return fail(&err);
	}
	if (res.nwarnings) {
		fprintf(stderr, "kcsi: warning: ");
		print_escaped_str(stderr, res.warning);
		fprintf(stderr, "%s\n", res.nwarnings > 1 ? " (and more: see report.json)" : "");
	}
	struct out out;
	char num[32];
	out_open(&out, a);
	if (out.json) {
		kcsi_jw_obj(&out.w);
		kcsi_jw_kstr(&out.w, "out", o.outdir);
		kcsi_jw_kstr(&out.w, "end_reason", res.end_reason);
		kcsi_jw_key(&out.w, "restore_seconds");
		snprintf(num, sizeof(num), "%.3f", res.restore_s);
		kcsi_jw_raw(&out.w, num);
		kcsi_jw_key(&out.w, "run_seconds");
		snprintf(num, sizeof(num), "%.3f", res.run_s);
		kcsi_jw_raw(&out.w, num);
		kcsi_jw_key(&out.w, "report_seconds");
		snprintf(num, sizeof(num), "%.3f", res.report_s);
		kcsi_jw_raw(&out.w, num);
		kcsi_jw_kuint(&out.w, "findings", res.nfindings);
		kcsi_jw_kbool(&out.w, "activity_log", res.bpf);
		if (!res.bpf)
			kcsi_jw_kstr(&out.w, "activity_log_unavailable", res.bpf_error);
		kcsi_jw_obj_end(&out.w);
		kcsi_jw_end(&out.w);
	} else {
		fprintf(out.f, "restored in %.2fs, ran %.1fs (", res.restore_s, res.run_s);
		print_escaped_str(out.f, res.end_reason);
		fprintf(out.f, "), report in %.2fs: %u findings\n", res.report_s, res.nfindings);
		if (!res.bpf) {
			fputs("no activity log: ", out.f);
			print_escaped_str(out.f, res.bpf_error);
			fputc('\n', out.f);
		}
		print_escaped_str(out.f, o.outdir);
		fputs("/report.json, ", out.f);
		print_escaped_str(out.f, o.outdir);
		fputs("/manifest.json\n", out.f);
	}
	/* a run cut short by Ctrl-C still leaves its report, but is not a
	 * success: 130, as shells report SIGINT */
	if (res.end_reason && !strcmp(res.end_reason, "interrupted")) {
		int rc = out_close(&out, 0);
		kcsi_error e;
		kcsi_error_set(&e, KCSI_ERR_GENERIC, "%s: interrupted; the partial report is in %s", a->pos[0], o.outdir);
		fail(&e);
		return rc ? rc : KCSI_EXIT_INTERRUPTED;
	}
	return out_close(&out, 0);
}

const struct cmd cmd_detonate = {
	.synopsis = "ARCHIVE --out DIR [--duration S] [--image IMAGE] [--irc-command TEXT]... [--cpu P] [--memory SIZE] [--pids N]",
	.summary = "restore a checkpoint in a sealed sandbox and record what it does",
	.description =
		"Dynamic analysis.  Needs root, podman with runc and CRIU (see lab/README.md).\n"
		"Sandbox: a new network namespace per run with lo and a dead-end interface\n"
		"(sink0) holding the default route; policy routing and nftables TPROXY hand\n"
		"every TCP and UDP flow, whatever its address and port, to kcsi's sinkhole\n"
		"(IRC with an optional scripted operator, HTTP 200, stratum JSON-RPC, DNS\n"
		"answering every name with " "198.18.0.1" ", raw TCP/UDP recorder).  Flows to\n"
		"sockets of the container itself (its own listeners) stay inside.  Nothing\n"
		"reaches the host's network stack; kcsi refuses to run when it cannot build\n"
		"the sandbox.  The container is restored there with podman (established TCP\n"
		"connections come back and are reset by the sandbox), capped in CPU, memory\n"
		"and pids, and runs for --duration seconds (or until it exits or Ctrl-C).\n"
		"Recorded: DIR/traffic.pcap (the namespace's traffic, libpcap), DIR/transcripts/\n"
		"(one file per TCP session, dns.txt), DIR/activity.jsonl (eBPF: exec, fork,\n"
		"exit, connect, accept, bind, listen, open for write, unlink, rename, chmod,\n"
		"memfd_create, ptrace, setuid of the restored processes, Falco-style fields),\n"
		"DIR/report.json (findings with MITRE ids and evidence, IOCs in analyze's\n"
		"schema; `kcsi analyze --detonation DIR` folds them in) and DIR/manifest.json\n"
		"(every file with its sha256).  Afterwards the container, the namespace with\n"
		"its rules, and every process left in it are removed, also on errors,\n"
		"time-outs and Ctrl-C.  The archive is only read; the restore uses a copy\n"
		"whose config.dump names the local image.  See docs/detonate.md.",
	.json_doc = "--json: {out, end_reason, restore_seconds, run_seconds, report_seconds, findings, activity_log\n"
		    "[, activity_log_unavailable]}.  DIR/report.json: {schema, archive, archive_sha256, container,\n"
		    "image, layout, end_reason, sandbox, times, resources, processes, network {sessions, dns, udp,\n"
		    "conversations, packets}, activity, fs_changes, findings, iocs}.",
	.example = "$ kcsi detonate checkpoint-perlbot.tar --out det --duration 15 --irc-command '!exec id'\n"
		   "restored in 1.40s, ran 15.0s (duration), report in 0.02s: 7 findings\n"
		   "det/report.json, det/manifest.json",
	.opts = opts,
	.exit_doc = "130  interrupted (Ctrl-C): the partial report is written",
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
