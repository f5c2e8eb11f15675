/* kcsi — Kubernetes crime-scene investigation: the command-line front end.
 *
 * The command table is made by Meson from src/commands.txt (commands.inc:
 * the commands of this build, whose features are enabled); each command
 * lives in its own cmd_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define KCSI_COMMAND(name, id) extern const struct cmd cmd_##id;
#define KCSI_SUBCOMMAND(pname, pid, name, id) extern const struct cmd cmd_##pid##_##id;
#include "commands.inc"
#undef KCSI_COMMAND
#undef KCSI_SUBCOMMAND

const struct cmd_entry cmd_table[] = {
#define KCSI_COMMAND(name, id) {name, name, &cmd_##id, NULL},
#define KCSI_SUBCOMMAND(pname, pid, name, id) {name, pname " " name, &cmd_##pid##_##id, &cmd_##pid},
#include "commands.inc"
#undef KCSI_COMMAND
#undef KCSI_SUBCOMMAND
	{NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	const char *self = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	self = self ? self + 1 : argc > 0 && argv[0] ? argv[0] : "kcsi";
	/* kubectl runs the plugin kubectl-kcsi for `kubectl kcsi ...` */
	if (!strcmp(self, "kubectl-kcsi"))
		cli_prog = "kubectl kcsi";
	if (argc < 2) {
		print_usage(stderr);
		return KCSI_ERR_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		static char version[] = "version";
		argv[1] = version;
	}
	progress_start(&argc, argv);
	if (argc < 2) {
		print_usage(stderr);
		return KCSI_ERR_USAGE;
	}
	return run_main(argc, argv);
}
