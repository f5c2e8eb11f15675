/* kcsi fuzz target: a response policy (YAML), as `kcsi respond` loads the
 * `rules:` and `exclude:` of its config or a policy file.
 *
 * The bytes go to kcsi_policy_from_yaml() (the YAML reader, then the rule
 * parser: names, globs, PCRE2 patterns, priorities, fields, actions).  A
 * policy that loads is listed rule by rule and decides every real alert of
 * tests/data/falco-events/ (read once at start; environment
 * KCSI_FUZZ_EVENTS names another directory).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kcsi/respond.h"

#ifndef KCSI_FUZZ_EVENTS
#define KCSI_FUZZ_EVENTS "tests/data/falco-events"
#endif

static kcsi_falco_event *events;
static size_t nevents;

static void load_event(const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[1 << 16];
	size_t n;
	kcsi_error err;
	if (!f)
		abort();
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	events = realloc(events, (nevents + 1) * sizeof(*events));
	if (!events)
		abort();
	kcsi_error_clear(&err);
	if (kcsi_falco_parse(buf, n, &events[nevents], &err) == KCSI_OK)
		nevents++;
	else
		fprintf(stderr, "fuzz_policy: %s: %s (not used)\n", path, err.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("KCSI_FUZZ_EVENTS");
	struct dirent **names;
	char path[4400];
	int n;
	(void)argc;
	(void)argv;
	if (!dir || !*dir)
		dir = KCSI_FUZZ_EVENTS;
	n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);
		if (l > 5 && !strcmp(names[i]->d_name + l - 5, ".json")) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			load_event(path);
		}
		free(names[i]);
	}
	if (n > 0)
		free(names);
	if (!nevents) {
		fprintf(stderr, "fuzz_policy: no alert in %s\n", dir);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	kcsi_policy *p = NULL;
	kcsi_error err;
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	kcsi_error_clear(&err);
	if (kcsi_policy_from_yaml(copy, size, "fuzz.yaml", &p, &err) == KCSI_OK) {
		for (size_t i = 0; i < kcsi_policy_nrules(p); i++) {
			unsigned acts;
			fuzz_touch(kcsi_policy_rule(p, i, &acts));
			if (!acts || acts & ~(unsigned)(KCSI_ACT_CHECKPOINT | KCSI_ACT_LABEL | KCSI_ACT_NOTIFY))
				abort(); /* every rule has actions, all known */
		}
		for (size_t i = 0; i < nevents; i++) {
			kcsi_decision d;
			kcsi_policy_decide(p, &events[i], &d);
			fuzz_touch(d.policy_rule);
			fuzz_touch(d.excluded);
		}
		kcsi_policy_free(p);
	} else {
		if (p)
			abort(); /* a failed load hands nothing out */
		fuzz_touch(err.msg);
	}
	free(copy);
	return 0;
}
