/* kcsi fuzz target: a case bundle, as `kcsi vault verify-bundle BUNDLE`
 * checks it offline (lib/vault/bundle.c).
 *
 * The bytes are the bundle file (a tar: MANIFEST.json, MANIFEST.sig,
 * evidence.tar, ledger.jsonl, reports/, public_key.txt), written to a memfd
 * and verified by its path: both passes over the tar, the manifest and its
 * signature, the members' hashes and each ledger line's signature and
 * order.  The result must be JSON every reader takes; a bundle that checks
 * is verified again against the key it names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "kcsi/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	json_t *res = NULL;
	kcsi_error err;
	int fd = fuzz_memfd(data, size, path, sizeof(path));
	kcsi_error_clear(&err);
	if (kcsi_vault_verify_bundle(path, NULL, &res, &err) == KCSI_OK) {
		const char *pk = json_string_value(json_object_get(res, "public_key"));
		if (!json_is_boolean(json_object_get(res, "ok")) || !json_is_array(json_object_get(res, "problems")))
			abort();
		fuzz_check_json(res);
		if (json_is_true(json_object_get(res, "ok"))) {
			json_t *again = NULL;
			if (!pk || json_array_size(json_object_get(res, "problems")))
				abort(); /* ok means no problem, and a key */
			kcsi_error_clear(&err);
			if (kcsi_vault_verify_bundle(path, pk, &again, &err) != KCSI_OK ||
			    !json_is_true(json_object_get(again, "ok")))
				abort(); /* the same bundle, its own key */
			json_decref(again);
		}
		json_decref(res);
	} else {
		fuzz_touch(err.msg);
	}
	close(fd);
	return 0;
}
