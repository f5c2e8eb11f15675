/* kcsi help — a command's help or man page (kcsi help [--man] [COMMAND [SUBCOMMAND]]). */
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	{"man", 0, NULL, "print the man page (roff) instead of the help", .kind = OPT_FLAG},
	{0},
};

static int run(struct args *a)
{
	const struct cmd *c = NULL;
	bool man = opt_set(a, "man");
	for (int i = 0; i < a->npos; i++) {
		const struct cmd *sub;
		if (c && !cmd_has_subs(c))
			return usage_error(a->cmd, "'%s' has no subcommands", cmd_path(c));
		if (!(sub = cmd_find(c, a->pos[i])))
			return unknown_command(c, a->pos[i]);
		c = sub;
	}
	if (!c && man)
		print_main_man(stdout);
	else if (!c)
		print_usage(stdout);
	else if (man)
		print_man(stdout, c);
	else
		print_help(stdout, c);
	return 0;
}

const struct cmd cmd_help = {
	.synopsis = "[--man] [COMMAND [SUBCOMMAND]]",
	.summary = "show a command's help (--man: its man page)",
	.description = "Without COMMAND: kcsi's own help (--man: kcsi(1)).  --man may come anywhere:\n"
		       "`kcsi help ps --man` is `kcsi help --man ps`.",
	.example =
		"$ kcsi help --man vault put | head -3\n"
		".TH KCSI\\-VAULT\\-PUT 1 \"\" \"kcsi\" \"kcsi manual\"\n"
		".SH NAME\n"
		"kcsi\\-vault\\-put \\- encrypt and store an archive; print its evidence id",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 2,
	.run = run,
};
