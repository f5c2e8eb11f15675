/* kcsi memgrep — search process memory for bytes, text or a regex.
 *
 * Matches are printed as the scan finds them (text rows or the members of
 * one JSON array), so memory stays flat whatever the number of matches. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/mem.h"

static const struct opt opts[] = {
	OPT_PID_FILTER,
	{"regex", 'E', NULL, "PATTERN is a PCRE2 regular expression (binary-safe, JIT)", .kind = OPT_FLAG},
	{"hex", 'x', NULL, "PATTERN is hex bytes, e.g. 4e49434b20 (spaces and colons allowed)", .kind = OPT_FLAG},
	{"ignore-case", 'i', NULL, "ASCII case-insensitive", .kind = OPT_FLAG},
	{"encoding", 0, "ENC", "how a literal PATTERN is searched (default ascii; utf16le: its UTF-16LE form)",
	 .kind = OPT_CHOICE, .choices = "ascii|utf16le"},
	{"context", 'C', "N", "show N bytes before and after each match (default 32)", .kind = OPT_NUM, .max = 4096},
	{"max", 'm', "N", "stop after N matches", .kind = OPT_NUM, .min = 1},
	{"count", 'c', NULL, "print only the number of matches per process", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

struct ctx {
	kcsi_ckpt *c;
	struct out *o;
	uint64_t context, max, seen;
	bool count;
	bool header_done;  /* text: the header line is printed before the first match */
	uint32_t vpid;
	kcsi_vma *v;
	size_t nv;
	uint64_t *counts; /* per process index */
};

/* A text row: fixed columns, the last two as long as they are. */
static void text_row(struct ctx *x, const char *pid, const char *comm, const char *addr, const char *area,
		     const char *match, const char *context)
{
	fprintf(x->o->f, "%-5s  %-15s  %-14s  %-8s  %-12s  %s\n", pid, comm, addr, area, match, context);
}

static const char *area(struct ctx *x, uint32_t pid, uint64_t addr)
{
	if (x->vpid != pid) {
		free(x->v);
		x->v = NULL;
		x->nv = 0;
		x->vpid = pid;
		kcsi_ckpt_vmas(x->c, pid, &x->v, &x->nv, NULL);
	}
	return kcsi_area_name(x->v, x->nv, addr);
}

static int on_match(void *ctx, const kcsi_match *m)
{
	struct ctx *x = ctx;
	const kcsi_proc *p = kcsi_ckpt_proc_by_pid(x->c, m->pid);
	uint64_t cstart = m->address >= x->context ? m->address - x->context : 0;
	size_t clen = (size_t)(m->address - cstart + m->len + x->context);
	unsigned char *cbuf;
	size_t got;
	char addr[32];

	x->seen++;
	x->counts[kcsi_ckpt_proc_index(x->c, m->pid)]++; /* the extra slot takes an unknown pid */
	if (x->count)
		return x->max && x->seen >= x->max;
	/* context: what the checkpoint holds around the match */
	cbuf = malloc(clen ? clen : 1);
	if (!cbuf)
		return 1;
	got = kcsi_ckpt_read(x->c, m->pid, cstart, cbuf, clen);
	if (got < m->address - cstart) { /* hole before: start at the match */
		cstart = m->address;
		clen = m->len + x->context;
		got = kcsi_ckpt_read(x->c, m->pid, cstart, cbuf, clen);
	}
	if (m->shmid) { /* shared memory is not in the process pages: show the match */
		cstart = m->address;
		memcpy(cbuf, m->data, m->len);
		got = m->len;
	}
	snprintf(addr, sizeof(addr), "0x%" PRIx64, m->address);
	if (x->o->json) {
		kcsi_jsonw *w = &x->o->w;
		bool utf8 = true;
		for (size_t i = 0; i < m->len;) {
			size_t l = kcsi_utf8_seq(m->data + i, m->len - i);
			if (!l) {
				utf8 = false;
				break;
			}
			i += l;
		}
		kcsi_jw_obj(w);
		kcsi_jw_kuint(w, "pid", m->pid);
		kcsi_jw_kstr(w, "comm", p ? p->comm : NULL);
		kcsi_jw_kstr(w, "address", addr);
		kcsi_jw_kstr(w, "area", area(x, m->pid, m->address));
		kcsi_jw_key(w, "match");
		kcsi_jw_strn(w, m->data, m->len);
		if (!utf8) {
			kcsi_jw_key(w, "match_b64");
			kcsi_jw_base64(w, m->data, m->len);
		}
		kcsi_jw_key(w, "context");
		kcsi_jw_base64(w, cbuf, got);
		snprintf(addr, sizeof(addr), "0x%" PRIx64, cstart);
		kcsi_jw_kstr(w, "context_address", addr);
		if (m->shmid)
			kcsi_jw_kuint(w, "shmid", m->shmid);
		kcsi_jw_obj_end(w);
	} else {
		char pid[16], *ctxt = escaped((const char *)cbuf, got), *mt = escaped((const char *)m->data, m->len);
		const char *comm = p ? p->comm : "?", *ar = area(x, m->pid, m->address);
		char *ecomm = escaped(comm, strlen(comm)), *earea = escaped(ar, strlen(ar));
		if (!x->header_done) {
			fputs(c_bold(x->o), x->o->f);
			text_row(x, "PID", "COMM", "ADDRESS", "AREA", "MATCH", "CONTEXT");
			fputs(c_off(x->o), x->o->f);
			x->header_done = true;
		}
		snprintf(pid, sizeof(pid), "%u", m->pid);
		text_row(x, pid, ecomm, addr, earea, mt, ctxt);
		free(ecomm);
		free(earea);
		free(ctxt);
		free(mt);
	}
	free(cbuf);
	return x->max && x->seen >= x->max;
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_pattern *pat;
	kcsi_error err;
	struct out o;
	struct ctx x;
	uint32_t pid = opt_pid(a);
	enum kcsi_pattern_kind kind = KCSI_PAT_LITERAL;
	unsigned flags = 0;
	const char *enc = opt_val(a, "encoding");
	int rc;

	kcsi_error_clear(&err);
	memset(&x, 0, sizeof(x));
	x.context = opt_num(a, "context", 32);
	x.max = opt_num(a, "max", 0);
	if (opt_set(a, "regex") && opt_set(a, "hex"))
		return usage_error(a->cmd, "--regex and --hex exclude each other");
	if (opt_set(a, "regex"))
		kind = KCSI_PAT_REGEX;
	if (opt_set(a, "hex"))
		kind = KCSI_PAT_HEX;
	if (opt_set(a, "ignore-case"))
		flags |= KCSI_PAT_ICASE;
	if (enc && strcmp(enc, "utf16le") == 0)
		flags |= KCSI_PAT_UTF16LE;
	if (kcsi_pattern_compile(a->pos[1], kind, flags, &pat, &err) != KCSI_OK)
		return fail(&err);
	if ((rc = open_view(a, KCSI_CKPT_MEMORY, &c))) {
		kcsi_pattern_free(pat);
		return rc;
	}
	x.c = c;
	x.count = opt_set(a, "count");
	x.counts = calloc(kcsi_ckpt_nprocs(c) + 1, sizeof(uint64_t));
	if (!x.counts) {
		fprintf(stderr, "kcsi: out of memory\n");
		kcsi_pattern_free(pat);
		kcsi_ckpt_close(c);
		return KCSI_ERR_NOMEM;
	}
	x.vpid = 0;
	out_open(&o, a);
	fclose(o.f); /* stream to stdout: the matches are not kept in memory */
	free(o.buf);
	o.f = o.w.f = stdout;
	x.o = &o;
	if (o.json && !x.count)
		kcsi_jw_arr(&o.w);
	if (kcsi_scan(c, pid, pat, on_match, &x, &err) != KCSI_OK) {
		/* what was printed stays; a JSON array is left open, so that a
		 * partial document never parses as a whole one */
		fflush(stdout);
		kcsi_error_prefix(&err, "%s", a->pos[0]);
		rc = fail(&err);
	}
	if (x.count && rc == 0) {
		if (o.json)
			kcsi_jw_arr(&o.w);
		for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
			const kcsi_proc *p = kcsi_ckpt_proc(c, i);
			if (pid && p->pid != pid)
				continue;
			if (o.json) {
				kcsi_jw_obj(&o.w);
				kcsi_jw_kuint(&o.w, "pid", p->pid);
				kcsi_jw_kstr(&o.w, "comm", p->comm);
				kcsi_jw_kuint(&o.w, "count", x.counts[i]);
				kcsi_jw_obj_end(&o.w);
			} else {
				fprintf(o.f, "%u\t", p->pid);
				print_escaped_str(o.f, p->comm);
				fprintf(o.f, "\t%" PRIu64 "\n", x.counts[i]);
			}
		}
	}
	if (o.json && rc == 0) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	}
	free(x.v);
	free(x.counts);
	kcsi_pattern_free(pat);
	kcsi_ckpt_close(c);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
		fprintf(stderr, "kcsi: writing the output: %s\n", strerror(errno));
		rc = KCSI_ERR_IO;
	}
	if (rc == 0 && x.seen == 0)
		return 1; /* like grep: nothing found */
	return rc;
}

const struct cmd cmd_memgrep = {
	.synopsis = "[--pid N] [--regex|--hex] [-i] [--encoding utf16le] [--context N] [--json] ARCHIVE PATTERN",
	.summary = "search process memory for text, bytes or a regular expression",
	.description =
		"Searches the memory the checkpoint holds for every process (or --pid), and the\n"
		"shared memory (memfd, shared anonymous) each maps, straight from the archive.\n"
		"Binary-safe: a literal is matched byte for byte, --hex gives raw bytes, --regex\n"
		"a PCRE2 expression (JIT) run on the raw bytes.  Matches that span pages or pagemap\n"
		"entries inside contiguous memory are found; a regex match is at most 64 KiB.\n"
		"Each match: pid, comm, virtual address, the area holding it (file path, heap,\n"
		"stack, anon, shmem, /memfd:NAME) and the bytes around it.  Order: pid, address.\n"
		"Matches are printed as they are found (text in fixed-width columns), so memory\n"
		"use does not grow with their number.\n"
		"Exit status 1 when nothing matched, as grep.",
	.json_doc =
		"An array of {pid, comm, address (hex string), area, match (the matched bytes as a\n"
		"string; bytes that are not UTF-8 as \\udcXX), match_b64 (only when the match is not\n"
		"valid UTF-8), context (base64 of the bytes around the match), context_address,\n"
		"shmid (for matches in shared memory)}.  With --count: [{pid, comm, count}].\n"
		"Matches are written as they are found; when the scan fails part way the array\n"
		"is left open (the error is on stderr and the exit status is not 0).",
	.example =
		"$ kcsi memgrep checkpoint-perlbot.tar PBKEY-\n"
		"PID    COMM             ADDRESS         AREA      MATCH         CONTEXT\n"
		"...\n"
		"15     [kworker/u8:2-e  0x556a62e6e84a  heap      PBKEY-        \\x00\\x00\\x00\\x00\\x00\\x00NICK px15\\r\\nUSER px15 0 * :PBKEY-5d41402abc4b2a76b9719d911017c592",
	.opts = opts,
	.exit_doc = "1  nothing matched (as grep)",
	.min_pos = 2,
	.max_pos = 2,
	.run = run,
};
