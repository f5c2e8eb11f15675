/* kcsi history — the shell history of bash processes, from their memory. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/history.h"
#include "kcsi/timefmt.h"

static const struct opt opts[] = {
	{"pid", 'p', "N", "only this process (default: every bash process)", .kind = OPT_PID},
	OPTS_JSON,
	{0},
};

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_history_entry *v = NULL;
	size_t n = 0;
	uint64_t pid = 0;
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	pid = opt_pid(a);
	if ((rc = open_view(a, KCSI_CKPT_MEMORY, &c)))
		return rc;
	if (kcsi_history(c, (uint32_t)pid, &v, &n, &err) != KCSI_OK)
		return ckpt_fail(c, a->pos[0], &err);
	out_open(&o, a);
	if (o.json)
		kcsi_jw_arr(&o.w);
	else if (n)
		fprintf(o.f, "PID    TIME                  COMMAND\n");
	for (size_t i = 0; i < n; i++) {
		char when[KCSI_TIME_TEXT_MAX], addr[32];
		kcsi_time_text(when, sizeof(when), v[i].time, false);
		if (o.json) {
			kcsi_jw_obj(&o.w);
			kcsi_jw_kuint(&o.w, "pid", v[i].pid);
			kcsi_jw_kstr(&o.w, "time", when);
			kcsi_jw_kint(&o.w, "epoch", v[i].time);
			kcsi_jw_kstr(&o.w, "command", v[i].command);
			snprintf(addr, sizeof(addr), "0x%" PRIx64, v[i].entry);
			kcsi_jw_kstr(&o.w, "entry", addr);
			snprintf(addr, sizeof(addr), "0x%" PRIx64, v[i].line);
			kcsi_jw_kstr(&o.w, "line", addr);
			kcsi_jw_obj_end(&o.w);
		} else {
			fprintf(o.f, "%-6u %-21s ", v[i].pid, when);
			print_escaped_str(o.f, v[i].command);
			fputc('\n', o.f);
		}
	}
	if (o.json) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	} else if (!n) {
		fprintf(o.f, "no shell history in the memory of %s\n", pid ? "that process" : "any bash process");
	}
	kcsi_history_free(v, n);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_history = {
	.synopsis = "[--pid N] [--json] ARCHIVE",
	.summary = "recover the shell history of bash processes from their memory",
	.description =
		"Interactive bash keeps its history in memory as entries that point at the\n"
		"command line and at a timestamp \"#EPOCH\" (bash stamps every entry, with or\n"
		"without HISTTIMEFORMAT).  kcsi finds the timestamps in each bash process's\n"
		"memory, the entries that point at them and the lines they point at: the\n"
		"commands typed, e.g. into a reverse shell, with the second each was entered,\n"
		"oldest first.  Entries whose memory was freed or reused are not found; sh and\n"
		"dash keep no history.",
	.json_doc = "An array of {pid, time (RFC 3339), epoch, command, entry, line (addresses, hex)}.",
	.example = "$ kcsi history checkpoint-revshell.tar\n"
		   "PID    TIME                  COMMAND\n"
		   "15     2026-11-27T01:48:41Z  id",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
