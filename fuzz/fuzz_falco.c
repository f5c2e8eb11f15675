/* kcsi fuzz target: one Falco alert, as the responder receives it (Falco's
 * json_output / http_output body, or Falcosidekick's webhook body).
 *
 * kcsi_falco_parse() gets an exact-size heap copy of the bytes.  A parsed
 * alert is then held to what the responder relies on: every name it gives
 * for the target is a DNS-1123 name (it goes into a kubelet URL), the
 * strings are terminated, and every output field reads back as text; the
 * alert is also decided against a policy shaped like the shipped one
 * (deploy/kustomize/base/respond-config.yaml, plus field and image rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kcsi/respond.h"

static const char policy_yaml[] =
	"rules:\n"
	"  - name: interactive-shell\n"
	"    rule_glob: \"*shell*\"\n"
	"    priority: \">= Notice\"\n"
	"    source: syscall\n"
	"    tags_any: [container, shell]\n"
	"    actions: [checkpoint, label]\n"
	"  - name: crypto-miners\n"
	"    rule_regex: \"(?i)(crypto ?)?miners?\"\n"
	"    priority: \">= Warning\"\n"
	"    actions: [checkpoint, label]\n"
	"  - name: tools\n"
	"    tags: [network, mitre_discovery]\n"
	"    fields:\n"
	"      proc.name: \"nmap*\"\n"
	"      k8s.ns.name: \"?*\"\n"
	"    priority: \"< Error\"\n"
	"    actions: [notify]\n"
	"  - name: audit-exec\n"
	"    rule: [Attach/Exec Pod]\n"
	"    source: k8s_audit\n"
	"    actions: [label]\n"
	"exclude:\n"
	"  namespaces: [kube-system, kcsi-system, falco]\n"
	"  images: [\"registry.k8s.io/*\"]\n";

static kcsi_policy *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	kcsi_error err;
	(void)argc;
	(void)argv;
	kcsi_error_clear(&err);
	if (kcsi_policy_from_yaml(policy_yaml, strlen(policy_yaml), "fuzz-policy.yaml", &policy, &err) != KCSI_OK) {
		fprintf(stderr, "fuzz_falco: the built-in policy does not load: %s\n", err.msg);
		abort();
	}
	return 0;
}

static void check_event(const kcsi_falco_event *ev)
{
	const char *k;
	json_t *v;
	char buf[64];
	kcsi_decision d;

	fuzz_touch(ev->rule);
	fuzz_touch(ev->priority_text);
	fuzz_touch(ev->source);
	fuzz_touch(ev->time);
	fuzz_touch(ev->hostname);
	fuzz_touch(ev->uuid);
	fuzz_touch(ev->output);
	fuzz_touch(ev->target_from);
	fuzz_touch(ev->reason);
	fuzz_touch(ev->container_id);
	fuzz_touch(kcsi_priority_name(ev->priority));
	if (ev->ntags > KCSI_MAX_TAGS)
		abort();
	for (size_t i = 0; i < ev->ntags; i++)
		fuzz_touch(ev->tags[i]);
	/* names that reach a URL */
	if (ev->has_pod && (!kcsi_dns1123_label(ev->ns) || !kcsi_dns1123_subdomain(ev->pod))) {
		fprintf(stderr, "fuzz_falco: accepted pod %s/%s\n", ev->ns, ev->pod);
		abort();
	}
	if (ev->has_container && (!ev->has_pod || !kcsi_dns1123_label(ev->container))) {
		fprintf(stderr, "fuzz_falco: accepted container %s\n", ev->container);
		abort();
	}
	if (!json_is_object(ev->fields))
		abort();
	json_object_foreach(ev->fields, k, v)
		fuzz_touch(kcsi_falco_field(ev, k, buf, sizeof(buf)));
	kcsi_policy_decide(policy, ev, &d);
	fuzz_touch(d.policy_rule);
	fuzz_touch(d.excluded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	kcsi_falco_event ev;
	kcsi_error err;
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	kcsi_error_clear(&err);
	if (kcsi_falco_parse(copy, size, &ev, &err) == KCSI_OK) {
		check_event(&ev);
		kcsi_falco_free(&ev);
	} else {
		fuzz_touch(err.msg);
	}
	free(copy);
	return 0;
}
