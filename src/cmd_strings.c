/* kcsi strings — printable strings in process memory, with pid and address.
 * Strings are printed as they are found: memory stays flat whatever their
 * number. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/mem.h"

static const struct opt opts[] = {
	OPT_PID_FILTER,
	{"min", 'n', "MIN", "shortest string reported (default 4)", .kind = OPT_NUM, .min = 1, .max = 4096},
	{"encoding", 'e', "ENC", "the strings' encoding (default ascii)", .kind = OPT_CHOICE, .choices = "ascii|utf16le"},
	{"json", 'j', NULL, "print JSON (one array of {pid, address, string})", .kind = OPT_FLAG},
	{"ndjson", 0, NULL, "print JSON, a line per element (NDJSON)", .kind = OPT_FLAG},
	{"pretty", 0, NULL, "indent the JSON", .kind = OPT_FLAG},
	{0},
};

struct ctx {
	struct out *o;
	bool utf16;
};

static int on_string(void *ctx, const kcsi_match *m)
{
	struct ctx *x = ctx;
	char *s = NULL;
	size_t n = m->len;

	if (x->utf16) { /* printable ASCII in UTF-16LE: keep the low bytes */
		s = malloc(m->len / 2 + 1);
		if (!s)
			return 1;
		n = m->len / 2;
		for (size_t i = 0; i < n; i++)
			s[i] = (char)m->data[2 * i];
	}
	if (x->o->json) {
		char addr[32];
		snprintf(addr, sizeof(addr), "0x%" PRIx64, m->address);
		kcsi_jw_obj(&x->o->w);
		kcsi_jw_kuint(&x->o->w, "pid", m->pid);
		kcsi_jw_kstr(&x->o->w, "address", addr);
		kcsi_jw_key(&x->o->w, "string");
		kcsi_jw_strn(&x->o->w, s ? s : (const char *)m->data, n);
		kcsi_jw_obj_end(&x->o->w);
	} else {
		fprintf(x->o->f, "%u\t0x%" PRIx64 "\t", m->pid, m->address);
		print_escaped(x->o->f, s ? s : (const char *)m->data, n);
		fputc('\n', x->o->f);
	}
	free(s);
	return 0;
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_pattern *pat;
	kcsi_error err;
	struct out o;
	struct ctx x = {0};
	uint64_t min = opt_num(a, "min", 4);
	const char *enc = opt_val(a, "encoding");
	char re[96];
	int rc;

	kcsi_error_clear(&err);
	x.utf16 = enc && strcmp(enc, "utf16le") == 0;
	if (x.utf16)
		snprintf(re, sizeof(re), "(?:[\\x20-\\x7e\\t]\\x00){%" PRIu64 ",}", min);
	else
		snprintf(re, sizeof(re), "[\\x20-\\x7e\\t]{%" PRIu64 ",}", min);
	if (kcsi_pattern_compile(re, KCSI_PAT_REGEX, 0, &pat, &err) != KCSI_OK)
		return fail(&err);
	if ((rc = open_view(a, KCSI_CKPT_MEMORY, &c))) {
		kcsi_pattern_free(pat);
		return rc;
	}
	out_open(&o, a);
	fclose(o.f); /* stream to stdout: the strings are not kept in memory */
	free(o.buf);
	o.f = o.w.f = stdout;
	x.o = &o;
	if (o.json)
		kcsi_jw_arr(&o.w);
	if (kcsi_scan(c, opt_pid(a), pat, on_string, &x, &err) != KCSI_OK) {
		/* what was printed stays; a JSON array is left open */
		fflush(stdout);
		kcsi_error_prefix(&err, "%s", a->pos[0]);
		rc = fail(&err);
	}
	if (o.json && rc == 0) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	}
	kcsi_pattern_free(pat);
	kcsi_ckpt_close(c);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
		fprintf(stderr, "kcsi: writing the output: %s\n", strerror(errno));
		rc = KCSI_ERR_IO;
	}
	return rc;
}

const struct cmd cmd_strings = {
	.synopsis = "[--pid N] [-n MIN] [--encoding ascii|utf16le] [--json] ARCHIVE",
	.summary = "list printable strings in process memory with pid and address",
	.description =
		"Like strings(1) over the memory the checkpoint holds for each process (and the\n"
		"shared memory it maps): runs of at least MIN printable ASCII characters (or\n"
		"UTF-16LE characters with --encoding utf16le), each with its pid and virtual\n"
		"address.  Text output: PID<TAB>ADDRESS<TAB>STRING, with tabs and other\n"
		"special bytes escaped.",
	.json_doc = "An array of {pid, address (hex string), string}, written as the strings are found;\n"
		    "when the scan fails part way the array is left open (the error is on stderr).",
	.example =
		"$ kcsi strings --pid 15 -n 12 checkpoint-perlbot.tar | grep PRIVMSG\n"
		"15\t0x556a62e6e8f0\tPRIVMSG #perlbot :Linux vm 6.18.44-fc-v657 #1 SMP PREEMPT_DYNAMIC @0 x86_64 GNU/Linux\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
