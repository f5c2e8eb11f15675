/* kcsi — Kubernetes crime-scene investigation: the command-line front end.
 * Subcommands are listed in `commands`; each lives in its own cmd_*.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef KCSI_VERSION
#define KCSI_VERSION "0.0.0"
#endif

extern const struct cmd cmd_show, cmd_ps, cmd_files, cmd_net, cmd_maps, cmd_mounts, cmd_meta,
	cmd_list, cmd_decode, cmd_diff,
	cmd_checkpoint, cmd_respond,
	cmd_vault, cmd_collect, cmd_build,
	cmd_memgrep, cmd_strings, cmd_recover, cmd_rootfs, cmd_dump, cmd_analyze, cmd_detonate, cmd_hunt, cmd_history, cmd_memread;

/* the commands of this build (capture, vault and sandbox are Meson options) */
const struct cmd *const commands[] = {
	&cmd_show, &cmd_ps, &cmd_files, &cmd_net, &cmd_maps, &cmd_mounts, &cmd_meta,
	&cmd_list, &cmd_decode, &cmd_diff, &cmd_memgrep, &cmd_strings, &cmd_memread, &cmd_history, &cmd_recover, &cmd_rootfs,
	&cmd_dump, &cmd_analyze,
#ifdef KCSI_HAVE_HUNT
	&cmd_hunt,
#endif
#ifdef KCSI_HAVE_CAPTURE
	&cmd_checkpoint, &cmd_respond,
#endif
#ifdef KCSI_HAVE_VAULT
	&cmd_vault, &cmd_collect,
#endif
#ifdef KCSI_HAVE_SANDBOX
	&cmd_detonate,
#endif
#ifdef KCSI_HAVE_CAPTURE
	&cmd_build,
#endif
	NULL,
};

/* the escape rule of kcsi/text.h, as the help and kcsi(1) tell it */
static const char text_output_doc[] =
	"Text output shows strings from the archive escaped, on a terminal or not:\n"
	"\\\\ for a backslash, \\n \\t \\r, \\xNN for other control bytes and bytes that\n"
	"are not UTF-8 (e.g. ESC \\x1b, a raw C1 byte \\x9b), \\uXXXX for C1 controls and\n"
	"bidi or line-separator characters (e.g. \\u202e).  --json keeps the exact bytes.";

static void usage(FILE *f)
{
	fprintf(f, "usage: kcsi COMMAND [OPTIONS] ARGS...\n\n"
		   "kcsi reads container checkpoints (podman, CRI-O/kubelet, containerd; plain,\n"
		   "gzip or zstd tar, or a directory) and shows what ran in the container.\n\n"
		   "commands:\n");
	for (int i = 0; commands[i]; i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n  help CMD    show a command's help (--man: its man page)\n"
		   "  version     show the version\n\n"
		   "Every view takes --json. Exit codes: see kcsi(1).\n\n%s\n", text_output_doc);
}

static const struct cmd *find_cmd(const char *name)
{
	for (int i = 0; commands[i]; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void print_main_man(FILE *f)
{
	fprintf(f, ".TH KCSI 1 \"\" \"kcsi\" \"kcsi manual\"\n.SH NAME\nkcsi \\- container checkpoint forensics\n"
		   ".SH SYNOPSIS\n.B kcsi\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] \\fIARGS\\fR...\n"
		   ".SH DESCRIPTION\nkcsi reads container checkpoint archives (podman export, kubelet/CRI\\-O, containerd;\n"
		   "plain, gzip or zstd tar, or an extracted directory) and their CRIU images, and shows\n"
		   "the processes, files, sockets, memory and metadata they hold.\n.SH COMMANDS\n");
	for (int i = 0; commands[i]; i++)
		fprintf(f, ".TP\n\\fBkcsi\\-%s\\fR(1)\n%s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, ".SH EXIT STATUS\n.nf\n0  success\n1  operation failed\n2  usage error\n3  input/output error\n"
		   "4  malformed input (archive, image or metadata)\n5  unsupported input\n"
		   "6  a size or count limit was exceeded\n7  out of memory\n"
		   "8  not found (pid, image or member)\n9  unsafe archive member refused\n.fi\n"
		   ".SH TEXT OUTPUT\n");
	man_text(f, text_output_doc);
	fprintf(f, "\n.SH ENVIRONMENT\n.TP\nNO_COLOR\nno colour even on a terminal\n");
}

static int run_cmd(const struct cmd *c, int argc, char **argv)
{
	struct option lo[MAX_OPTS + 2];
	char shorts[3 * MAX_OPTS + 4] = "h";
	struct args a;
	int n = 0, ch;

	memset(&a, 0, sizeof(a));
	a.cmd = c;
	for (; c->opts && c->opts[n].name; n++) {
		lo[n].name = c->opts[n].name;
		lo[n].has_arg = c->opts[n].arg ? required_argument : no_argument;
		lo[n].flag = NULL;
		lo[n].val = 256 + n;
		if (c->opts[n].short_name) {
			size_t l = strlen(shorts);
			shorts[l] = c->opts[n].short_name;
			shorts[l + 1] = c->opts[n].arg ? ':' : '\0';
			shorts[l + 2] = '\0';
		}
	}
	lo[n] = (struct option){"help", no_argument, NULL, 'h'};
	lo[n + 1] = (struct option){0, 0, 0, 0};
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		int idx = -1;
		if (ch == 'h') {
			print_help(stdout, c);
			return 0;
		}
		if (ch >= 256)
			idx = ch - 256;
		else
			for (int i = 0; i < n; i++)
				if (c->opts[i].short_name == ch)
					idx = i;
		if (idx < 0) {
			if (optopt && optopt < 256)
				return usage_error(c, "unknown or incomplete option '-%c'", optopt);
			return usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
		if (a.count[idx] < 32)
			a.all[idx][a.count[idx]] = optarg;
		a.count[idx]++;
		a.val[idx] = optarg;
	}
	a.pos = argv + optind;
	a.npos = argc - optind;
	if (a.npos < c->min_pos)
		return usage_error(c, "missing argument (usage: kcsi %s %s)", c->name, c->synopsis);
	if (c->max_pos >= 0 && a.npos > c->max_pos)
		return usage_error(c, "too many arguments (usage: kcsi %s %s)", c->name, c->synopsis);
	return c->run(&a);
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		usage(stderr);
		return KCSI_ERR_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("kcsi %s\n", KCSI_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		bool man = argc > 2 && !strcmp(argv[2], "--man");
		const char *name = argc > (man ? 3 : 2) ? argv[man ? 3 : 2] : NULL;
		if (!name) {
			if (man)
				print_main_man(stdout);
			else
				usage(stdout);
			return 0;
		}
		c = find_cmd(name);
		if (!c) {
			fprintf(stderr, "kcsi: no command '%s'\n", name);
			return KCSI_ERR_USAGE;
		}
		if (man)
			print_man(stdout, c);
		else
			print_help(stdout, c);
		return 0;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		fprintf(stderr, "kcsi: '%s' is not a kcsi command; see 'kcsi --help'\n", argv[1]);
		return KCSI_ERR_USAGE;
	}
	return run_cmd(c, argc - 1, argv + 1);
}
