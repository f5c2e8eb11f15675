/* kcsi fuzz target: the responder's config file (YAML), as
 * `kcsi respond --config FILE --check-config` reads it.
 *
 * The bytes are written to a memfd and opened by its path with
 * kcsi_respond_open(), which reads and checks the whole config (YAML reader,
 * every section's keys and values, the policy, the actions' needs) and
 * starts nothing; a config that loads is described as --check-config prints
 * it.  Files a config names (certificates, tokens, a kubeconfig) are read
 * from this machine as given: run the target with stdin not a terminal or
 * pipe (fuzz/run.sh gives it /dev/null).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "kcsi/respond.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* kubernetes.in_cluster must not find a cluster */
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	kcsi_responder *r = NULL;
	kcsi_error err;
	int fd = fuzz_memfd(data, size, path, sizeof(path));
	kcsi_error_clear(&err);
	if (kcsi_respond_open(path, &r, &err) == KCSI_OK) {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			kcsi_respond_describe(r, f);
			fclose(f);
		}
		for (size_t i = 0; i < kcsi_policy_nrules(kcsi_respond_policy(r)); i++) {
			unsigned acts;
			fuzz_touch(kcsi_policy_rule(kcsi_respond_policy(r), i, &acts));
		}
		kcsi_respond_close(r);
	} else {
		if (r)
			abort();
		fuzz_touch(err.msg);
	}
	close(fd);
	return 0;
}
