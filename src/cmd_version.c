/* kcsi version — the version (also `kcsi --version`). */
#include "cli.h"

#ifndef KCSI_VERSION
#define KCSI_VERSION "0.0.0"
#endif

static const struct opt opts[] = {
	{0},
};

static int run(struct args *a)
{
	(void)a;
	printf("kcsi %s\n", KCSI_VERSION);
	return 0;
}

const struct cmd cmd_version = {
	.synopsis = "",
	.summary = "show the version",
	.example = "$ kcsi version\nkcsi 0.1.0",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.run = run,
};
