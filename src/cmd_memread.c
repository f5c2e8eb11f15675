/* kcsi memread — bytes of process memory at a virtual address, as xxd shows
 * them, with the area that holds them; --raw writes the bytes themselves. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/mem.h"

#define MEMREAD_MAX (64u << 20)

static const struct opt opts[] = {
	OPT_PID_REQUIRED,
	{"raw", 'r', NULL, "write the bytes themselves to stdout (not to a terminal)", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return false;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

/* one xxd line: 16 bytes, "--" where the checkpoint holds none */
static void hex_line(FILE *f, uint64_t addr, const unsigned char *p, const bool *held, size_t n)
{
	fprintf(f, "%016" PRIx64 ": ", addr);
	for (size_t i = 0; i < 16; i++) {
		if (i < n && held[i])
			fprintf(f, "%02x", p[i]);
		else
			fputs(i < n ? "--" : "  ", f);
		if (i & 1)
			fputc(' ', f);
	}
	fputc(' ', f);
	for (size_t i = 0; i < n; i++)
		fputc(held[i] && p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.', f);
	fputc('\n', f);
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_error err;
	struct out o;
	uint64_t pid = 0, addr, len = 256;
	unsigned char *buf;
	bool *held;
	kcsi_vma *vmas = NULL;
	size_t nv = 0, got = 0;
	int rc;

	kcsi_error_clear(&err);
	pid = opt_pid(a);
	if (!parse_u64(a->pos[1], &addr))
		return usage_error(a->cmd, "'%s' is not an address (e.g. 0x556a62e6e84a)", a->pos[1]);
	if (a->npos > 2 && (!parse_u64(a->pos[2], &len) || !len || len > MEMREAD_MAX))
		return usage_error(a->cmd, "LENGTH is 1 to %u bytes", MEMREAD_MAX);
	if (opt_set(a, "raw") && isatty(STDOUT_FILENO))
		return usage_error(a->cmd, "--raw writes bytes, not text: redirect it to a file or a pipe");
	if ((rc = open_view(a, KCSI_CKPT_MEMORY, &c)))
		return rc;
	if (kcsi_ckpt_vmas(c, (uint32_t)pid, &vmas, &nv, &err) != KCSI_OK)
		return ckpt_fail(c, a->pos[0], &err);
	buf = calloc(1, (size_t)len);
	held = calloc(1, (size_t)len);
	if (!buf || !held) {
		free(buf);
		free(held);
		free(vmas);
		kcsi_error_set(&err, KCSI_ERR_NOMEM, "out of memory");
		return ckpt_fail(c, a->pos[0], &err);
	}
	/* the runs the checkpoint holds; holes stay marked */
	for (size_t at = 0; at < len;) {
		size_t n = kcsi_ckpt_read(c, (uint32_t)pid, addr + at, buf + at, (size_t)(len - at));
		if (n) {
			memset(held + at, 1, n);
			got += n;
			at += n;
		} else {
			at += 4096 - ((addr + at) & 4095); /* to the next page */
		}
	}
	const char *area = kcsi_area_name(vmas, nv, addr);
	if (opt_set(a, "raw")) {
		/* the bytes, zeros where none are held */
		size_t w = fwrite(buf, 1, (size_t)len, stdout);
		rc = w == len && fflush(stdout) == 0 ? 0 : KCSI_ERR_IO;
	} else {
		out_open(&o, a);
		if (o.json) {
			char num[32];
			kcsi_jw_obj(&o.w);
			kcsi_jw_kuint(&o.w, "pid", pid);
			snprintf(num, sizeof(num), "0x%" PRIx64, addr);
			kcsi_jw_kstr(&o.w, "address", num);
			kcsi_jw_kuint(&o.w, "length", len);
			kcsi_jw_kstr(&o.w, "area", area);
			kcsi_jw_kuint(&o.w, "held", got);
			kcsi_jw_key(&o.w, "data");
			kcsi_jw_base64(&o.w, buf, (size_t)len);
			kcsi_jw_obj_end(&o.w);
			kcsi_jw_end(&o.w);
		} else {
			fprintf(o.f, "pid %" PRIu64 "  ", pid);
			print_escaped_str(o.f, area);
			fprintf(o.f, "  %" PRIu64 " of %" PRIu64 " bytes held\n", (uint64_t)got, len);
			for (uint64_t at = 0; at < len; at += 16)
				hex_line(o.f, addr + at, buf + at, held + at, len - at < 16 ? (size_t)(len - at) : 16);
		}
		rc = out_close(&o, 0);
	}
	free(buf);
	free(held);
	free(vmas);
	kcsi_ckpt_close(c);
	return rc;
}

const struct cmd cmd_memread = {
	.synopsis = "--pid N [--raw|--json] ARCHIVE ADDRESS [LENGTH]",
	.summary = "show process memory at an address, as xxd does (or write it raw)",
	.description =
		"Reads LENGTH bytes (default 256, at most 64 MiB) of process N's memory at the\n"
		"virtual ADDRESS (0x... or decimal) from the checkpoint and shows them as xxd\n"
		"does, 16 a line with their text, under a line naming the area that holds them.\n"
		"Bytes the checkpoint does not hold (pages never touched, or not dumped) show as\n"
		"--.  --raw writes the bytes (zeros where none are held) to stdout, for a file or\n"
		"a pipe.  Addresses come from memgrep, strings, maps and analyze's evidence.",
	.json_doc = "{pid, address (hex), length, area, held (bytes held), data (base64; zeros where none are held)}",
	.example = "$ kcsi memread --pid 15 checkpoint-perlbot.tar 0x556a62e6e84a 32\n"
		   "pid 15  heap  32 of 32 bytes held\n"
		   "0000556a62e6e84a: 5042 4b45 592d 3564 3431 3430 3261 6263  PBKEY-5d41402abc\n"
		   "0000556a62e6e85a: 3462 3261 3736 6239 3731 3964 3931 3130  4b2a76b9719d9110",
	.opts = opts,
	.min_pos = 2,
	.max_pos = 3,
	.run = run,
};
