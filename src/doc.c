/* kcsi CLI — what kcsi says about itself: `kcsi --help`, each command's
 * --help, the man pages kcsi(1) and kcsi-COMMAND(1), and the one table of
 * exit statuses they all print (README.md's table is checked against it by
 * tests/test_cli.py).  Everything comes from the command and option tables. */
#include <ctype.h>
#include <string.h>

#include "cli.h"

const struct exit_status exit_statuses[] = {
	{KCSI_OK, "success"},
	{KCSI_ERR_GENERIC, "operation failed"},
	{KCSI_ERR_USAGE, "usage error"},
	{KCSI_ERR_IO, "input/output error"},
	{KCSI_ERR_FORMAT, "malformed input (archive, image or metadata)"},
	{KCSI_ERR_UNSUPPORTED, "unsupported input (e.g. decoding a raw pages image)"},
	{KCSI_ERR_LIMIT, "a size or count limit was exceeded"},
	{KCSI_ERR_NOMEM, "out of memory"},
	{KCSI_ERR_NOTFOUND, "not found (pid, image or member)"},
	{KCSI_ERR_UNSAFE, "unsafe archive member refused (path escape, link, device, duplicate); items refused by recover"},
	{KCSI_EXIT_INTERRUPTED, "interrupted (detonate keeps the partial report)"},
	{0, NULL},
};

/* the escape rule of kcsi/text.h, as the help and kcsi(1) tell it */
static const char text_output_doc[] =
	"Text output shows strings from the archive escaped, on a terminal or not:\n"
	"\\\\ for a backslash, \\n \\t \\r, \\xNN for other control bytes and bytes that\n"
	"are not UTF-8 (e.g. ESC \\x1b, a raw C1 byte \\x9b), \\uXXXX for C1 controls and\n"
	"bidi or line-separator characters (e.g. \\u202e).  --json keeps the exact bytes.";

static const char input_doc[] =
	"kcsi reads container checkpoints (podman, CRI-O/kubelet, containerd): a tar,\n"
	"plain or compressed with gzip, zstd, bzip2 or xz, or a directory; and shows\n"
	"what ran in the container.";

static void wrap(FILE *f, const char *text, int indent)
{
	/* print paragraphs; lines starting with two spaces are kept verbatim */
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "%*s%.*s\n", len ? indent : 0, "", (int)len, p);
		p += len + (nl ? 1 : 0);
	}
}

/* the name of a command's page: "kcsi-vault-put" */
static void page_name(const struct cmd *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "kcsi-%s", cmd_path(c));
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = '-';
}

/* what the table adds to an option's help: its range, "required" */
static void opt_facts(const struct opt *o, char *buf, size_t cap)
{
	char range[200];
	opt_range_text(o, range, sizeof(range));
	snprintf(buf, cap, "%s%s%s%s%s", range[0] ? " [" : "", range, range[0] ? "]" : "",
		 o->flags & OPT_REQUIRED ? " [required]" : "", o->flags & OPT_REPEAT ? " [repeatable]" : "");
}

static void print_exit_statuses(FILE *f, const char *indent)
{
	for (const struct exit_status *e = exit_statuses; e->meaning; e++)
		fprintf(f, "%s%-3d  %s\n", indent, e->code, e->meaning);
}

void print_usage(FILE *f)
{
	fprintf(f, "usage: %s COMMAND [OPTIONS] ARGS...\n\n%s\n\ncommands:\n", cli_prog, input_doc);
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
		if (!e->parent)
			fprintf(f, "  %-10s  %s\n", e->name, e->cmd->summary);
	fprintf(f, "\n'%s COMMAND --help' (or '%s help COMMAND') shows a command's options;\n"
		   "'%s help --man COMMAND' its man page.  Every view takes --json.\n\nexit status:\n",
		cli_prog, cli_prog, cli_prog);
	print_exit_statuses(f, "  ");
	fprintf(f, "\n%s\n", text_output_doc);
}

void print_help(FILE *f, const struct cmd *c)
{
	char page[96];
	page_name(c, page, sizeof(page));
	fprintf(f, "usage: %s %s %s\n\n%s\n", cli_prog, cmd_path(c), c->synopsis, c->summary);
	if (c->description) {
		fputc('\n', f);
		wrap(f, c->description, 0);
	}
	if (cmd_has_subs(c)) {
		fprintf(f, "\ncommands:\n");
		for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
			if (e->parent == c)
				fprintf(f, "  %-14s  %s\n", e->name, e->cmd->summary);
	}
	fprintf(f, "\noptions:\n");
	for (int i = 0; c->opts && c->opts[i].name; i++) {
		const struct opt *o = &c->opts[i];
		char left[64], facts[256];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		opt_facts(o, facts, sizeof(facts));
		fprintf(f, "  %-26s %s%s\n", left, o->help, facts);
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help and exit");
	if (c->example) {
		fprintf(f, "\nexample:\n");
		wrap(f, c->example, 2);
	}
	if (c->exit_doc) {
		fprintf(f, "\nexit status (with those of '%s --help'):\n", cli_prog);
		wrap(f, c->exit_doc, 2);
	}
	if (cmd_has_subs(c))
		fprintf(f, "\n'%s %s COMMAND --help' shows a command's options; see %s-COMMAND(1).\n", cli_prog,
			cmd_path(c), page);
	else
		fprintf(f, "\nSee %s(1) for the JSON keys and exit codes.\n", page);
}

void man_text(FILE *f, const char *s)
{
	/* escape roff specials at line starts and backslashes */
	bool bol = true;
	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

/* a preformatted section */
static void man_section(FILE *f, const char *title, const char *text)
{
	fprintf(f, ".SH %s\n.nf\n", title);
	man_text(f, text);
	fprintf(f, "\n.fi\n");
}

static void man_exit_status(FILE *f, const char *extra)
{
	fprintf(f, ".SH EXIT STATUS\n.nf\n");
	for (const struct exit_status *e = exit_statuses; e->meaning; e++) {
		fprintf(f, "%-3d  ", e->code);
		man_text(f, e->meaning);
		fputc('\n', f);
	}
	if (extra) {
		fprintf(f, "\nSpecific to this command:\n");
		man_text(f, extra);
		fputc('\n', f);
	}
	fprintf(f, ".fi\n");
}

static void man_environment(FILE *f)
{
	fprintf(f, ".SH ENVIRONMENT\n.TP\nNO_COLOR\nno colour even on a terminal\n"
		   ".TP\nKCSI_MAX_UNPACKED\nbound on decompressed bytes (default 256G)\n"
		   ".TP\nTMPDIR\nwhere compressed archives are decompressed (an unlinked file)\n");
}

/* ".TP\n\fBkcsi\-vault\-put\fR(1)\nSUMMARY" for every command below parent
 * (every command at all when all) */
static void man_command_list(FILE *f, const struct cmd *parent, bool all)
{
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++) {
		char page[96];
		if (!all && e->parent != parent)
			continue;
		page_name(e->cmd, page, sizeof(page));
		fprintf(f, ".TP\n\\fB");
		man_text(f, page);
		fprintf(f, "\\fR(1)\n");
		man_text(f, e->cmd->summary);
		fputc('\n', f);
	}
}

void print_man(FILE *f, const struct cmd *c)
{
	const struct cmd_entry *ent = cmd_entry_of(c);
	char page[96], up[96];
	size_t i;
	page_name(c, page, sizeof(page));
	for (i = 0; page[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)page[i]);
	up[i] = '\0';
	fprintf(f, ".TH ");
	man_text(f, up);
	fprintf(f, " 1 \"\" \"kcsi\" \"kcsi manual\"\n.SH NAME\n");
	man_text(f, page);
	fprintf(f, " \\- ");
	man_text(f, c->summary);
	fprintf(f, "\n.SH SYNOPSIS\n.B kcsi %s\n", cmd_path(c));
	man_text(f, c->synopsis);
	fputc('\n', f);
	if (c->description)
		man_section(f, "DESCRIPTION", c->description);
	if (cmd_has_subs(c)) {
		fprintf(f, ".SH COMMANDS\n");
		man_command_list(f, c, false);
	}
	fprintf(f, ".SH OPTIONS\n");
	for (int k = 0; c->opts && c->opts[k].name; k++) {
		const struct opt *o = &c->opts[k];
		char facts[256];
		fprintf(f, ".TP\n");
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fprintf(f, "\\fB\\-\\-");
		man_text(f, o->name);
		fprintf(f, "\\fR");
		if (o->arg) {
			fprintf(f, " \\fI");
			man_text(f, o->arg);
			fprintf(f, "\\fR");
		}
		fputc('\n', f);
		man_text(f, o->help);
		opt_facts(o, facts, sizeof(facts));
		man_text(f, facts);
		fputc('\n', f);
	}
	fprintf(f, ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nshow the help and exit\n");
	if (c->json_doc)
		man_section(f, "JSON OUTPUT", c->json_doc);
	if (c->example)
		man_section(f, "EXAMPLE", c->example);
	man_exit_status(f, c->exit_doc);
	man_environment(f);
	fprintf(f, ".SH SEE ALSO\n\\fBkcsi\\fR(1)");
	if (ent && ent->parent) {
		page_name(ent->parent, page, sizeof(page));
		fprintf(f, ", \\fB");
		man_text(f, page);
		fprintf(f, "\\fR(1)");
	}
	fputc('\n', f);
}

void print_main_man(FILE *f)
{
	fprintf(f, ".TH KCSI 1 \"\" \"kcsi\" \"kcsi manual\"\n.SH NAME\nkcsi \\- container checkpoint forensics\n"
		   ".SH SYNOPSIS\n.B kcsi\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] \\fIARGS\\fR...\n"
		   ".br\n.B kubectl kcsi\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] \\fIARGS\\fR...\n.SH DESCRIPTION\n");
	man_text(f, input_doc);
	fprintf(f, "\nIt shows the processes, files, sockets, memory and metadata a checkpoint holds,\n"
		   "triages it, keeps it as evidence and detonates it in a sandbox.\n"
		   "Installed as \\fBkubectl\\-kcsi\\fR (a link to kcsi) it is a kubectl plugin:\n"
		   "\\fBkubectl kcsi checkpoint\\fR \\fINS/POD/CTR\\fR runs \\fBkcsi checkpoint\\fR.\n"
		   ".SH COMMANDS\n");
	man_command_list(f, NULL, true);
	man_exit_status(f, NULL);
	fprintf(f, ".SH TEXT OUTPUT\n");
	man_text(f, text_output_doc);
	fputc('\n', f);
	man_environment(f);
	fprintf(f, ".SH SEE ALSO\n\\fBkcsi\\-COMMAND\\fR(1) for each command above; \\fBkcsi completion\\fR for shell "
		   "completion\n");
}
