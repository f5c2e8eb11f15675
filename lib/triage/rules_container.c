/* kcsi — triage rules on the container's configuration: namespaces shared
 * with the host, a privileged container, processes holding capabilities that
 * reach outside the container. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "triage/analyze_int.h"

static void config_finding(az *a, const char *id, enum kcsi_severity sev, char *title, char *expl, const char *mitre)
{
	kcsi_evidence *e = az_evidence(az_finding(a, id, sev, title, expl, mitre), "config", -1, -1);
	if (e)
		e->command = strdup("kcsi meta ARCHIVE");
}

/* KCSI-PRIV-002, -003: the host's PID or network namespace */
static void namespaces(az *a, const json_t *spec)
{
	const json_t *ns = spec ? json_object_get(json_object_get(spec, "linux"), "namespaces") : NULL;
	bool have_net = false, have_pid = false;
	size_t i;
	json_t *v;
	if (!ns)
		return;
	json_array_foreach(ns, i, v) {
		const char *t = json_string_value(json_object_get(v, "type"));
		if (t && !strcmp(t, "network"))
			have_net = true;
		if (t && !strcmp(t, "pid"))
			have_pid = true;
	}
	if (!have_pid)
		config_finding(a, "KCSI-PRIV-002", KCSI_SEV_MEDIUM, az_printf("The container shares the host's PID namespace"),
			       az_printf("Processes in the container see and can signal every process of the node."), "T1611");
	if (!have_net)
		config_finding(a, "KCSI-PRIV-003", KCSI_SEV_LOW, az_printf("The container uses the host's network"),
			       az_printf("The container has no network namespace of its own: its sockets are the node's."),
			       "T1611");
}

static bool privileged(const json_t *spec, const json_t *cfg)
{
	const char *p = spec ? json_string_value(json_object_get(json_object_get(spec, "annotations"),
								 "io.podman.annotations.privileged"))
			     : NULL;
	return (cfg && json_is_true(json_object_get(cfg, "privileged"))) || (p && !strcasecmp(p, "true"));
}

/* KCSI-PRIV-004: the first process that holds a dangerous capability */
static void capabilities(az *a)
{
	const uint64_t dangerous = (1ull << 21) | (1ull << 19) | (1ull << 16) | (1ull << 12) | (1ull << 2) |
				   (1ull << 17) | (1ull << 38) | (1ull << 39);
	for (size_t k = 0; k < kcsi_ckpt_nprocs(a->c); k++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, k);
		uint64_t d = p->cap_eff & dangerous;
		kcsi_evidence *e;
		if (!d)
			continue;
		e = az_evidence(az_finding(a, "KCSI-PRIV-004", KCSI_SEV_MEDIUM,
					   az_printf("Process %u holds dangerous capabilities", p->pid),
					   az_printf("Capabilities such as CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_SYS_MODULE let a "
						     "process reach outside the container."),
					   "T1611 T1068"),
				"process", p->pid, -1);
		if (e) {
			kcsi_buf b;
			kcsi_buf_init(&b, 4096);
			for (unsigned bit = 0; bit < 64; bit++)
				if ((d >> bit) & 1)
					kcsi_buf_printf(&b, "%s%s", b.len ? " " : "", kcsi_cap_name(bit) ? kcsi_cap_name(bit) : "?");
			kcsi_evidence_excerpt(e, kcsi_buf_str(&b), b.len, SIZE_MAX);
			kcsi_buf_free(&b);
		}
		break; /* one is enough to make the point; ps shows them all */
	}
}

void az_family_container(az *a)
{
	const json_t *spec = kcsi_ckpt_spec(a->c), *cfg = kcsi_ckpt_config(a->c);
	namespaces(a, spec);
	if (privileged(spec, cfg))
		config_finding(a, "KCSI-PRIV-001", KCSI_SEV_HIGH, az_printf("Privileged container"),
			       az_printf("A privileged container has every capability and the host's devices: escaping to "
					 "the node is a matter of a few commands."),
			       "T1611");
	else
		capabilities(a);
}
