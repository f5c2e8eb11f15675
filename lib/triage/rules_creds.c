/* kcsi — credential access and secrets: what the content rules gathered
 * per process (triage/content.h) judged by who holds it.
 *
 * The workload is the container's entrypoint and its session; a process of
 * another session was run into the container later (kubectl exec, podman
 * exec, a detached implant).  The same token means different things in the
 * two: the workload holding its own service-account token or cloud keys is
 * how it works; a foreign process holding them — read from the mounted
 * secrets, from credential files, from other processes' environment or
 * memory — is credential theft, and worse when it can send them out.
 *
 *   KCSI-SECRET-004  low       secrets by format in the environment: one
 *                              finding for the container (inherited env)
 *   KCSI-SECRET-002  low       secrets by format a process holds beyond its
 *                              own environment (inventory, masked)
 *   KCSI-CRED-001    high      a foreign process holds credentials (service-
 *                              account token, cloud keys or credential files,
 *                              tokens, private keys) that are not its own
 *                              environment's, or reads another process's
 *                              memory or environment
 *                    critical  ... of two kinds or more, or the service-
 *                              account token, while it can send them (a
 *                              connection, or credentials in a send queue)
 *   KCSI-CRED-002    medium    a workload process has credentials as data in
 *                              a send queue (not in an authentication header)
 * The gatherings are freed here: this is the last summary family. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/content.h"

/* Credential groups: several formats of one provider count once. */
enum {
	G_SA = 1, G_AWS = 2, G_GCP = 4, G_AZURE = 8, G_KUBE = 16, G_DOCKER = 32, G_SAAS = 64, G_KEY = 128,
	G_PROCMEM = 256, G_TOKEN = 512,
};

static unsigned group_of_format(const kcsi_secret_format *f)
{
	if (!strcmp(f->id, "k8s-sa-token"))
		return G_SA;
	if (!strncmp(f->id, "aws-", 4))
		return G_AWS;
	if (!strncmp(f->id, "gcp-", 4))
		return G_GCP;
	if (!strncmp(f->id, "azure-", 6))
		return G_AZURE;
	if (!strncmp(f->id, "kubeconfig", 10))
		return G_KUBE;
	if (f->klass == KCSI_SECRET_KEY)
		return G_KEY;
	if (f->klass == KCSI_SECRET_TOKEN)
		return G_TOKEN;
	return G_SAAS;
}

static unsigned group_of_credfile(unsigned bit)
{
	switch (bit) {
	case AZ_CF_AWS: return G_AWS;
	case AZ_CF_GCP_SA: case AZ_CF_GCLOUD_ADC: return G_GCP;
	case AZ_CF_KUBECONFIG: return G_KUBE;
	case AZ_CF_DOCKER: return G_DOCKER;
	case AZ_CF_AZURE: return G_AZURE;
	default: return 0;
	}
}

/* ---- the environment: one finding for the container ---- */

#define ENV_KEPT 16

typedef struct env_secret {
	uint64_t hash;
	char line[160];       /* NAME=masked */
	uint32_t first_pid;
	unsigned holders;
} env_secret;

static void env_add(env_secret *v, size_t *n, const kcsi_proc *p, const char *var, const kcsi_secret_hit *h)
{
	const char *eq = strchr(var, '=');
	uint64_t hash = az_hash(var + h->off, h->len);
	char masked[96];
	for (size_t i = 0; i < *n; i++)
		if (v[i].hash == hash) {
			v[i].holders++;
			return;
		}
	if (*n == ENV_KEPT)
		return;
	kcsi_secret_mask(h->fmt, var + h->off, h->len, masked, sizeof(masked));
	v[*n] = (env_secret){hash, "", p->pid, 1};
	snprintf(v[*n].line, sizeof(v[*n].line), "%.*s=%s (%s)", eq ? (int)(eq - var) : 0, var, masked, h->fmt->name);
	(*n)++;
}

/* KCSI-SECRET-004 */
static void environment(az *a)
{
	env_secret v[ENV_KEPT];
	size_t n = 0, procs = 0;
	kcsi_finding *f;
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		size_t before = n;
		unsigned held = 0;
		for (size_t k = 0; k < p->envc; k++) {
			kcsi_secret_hit h[4];
			size_t got = kcsi_secrets_find(p->env[k], strlen(p->env[k]), h, 4);
			for (size_t j = 0; j < got; j++)
				if (h[j].fmt->strong || h[j].validated) {
					env_add(v, &n, p, p->env[k], &h[j]);
					held++;
				}
		}
		procs += held > 0 || n > before;
	}
	if (!n)
		return;
	f = az_finding(a, "KCSI-SECRET-004", KCSI_SEV_LOW,
		       az_printf("%zu secret%s of known format in the environment of %zu process%s", n, n > 1 ? "s" : "",
				 procs, procs > 1 ? "es" : ""),
		       az_printf("The container's processes carry credentials in their environment (inherited from the "
				 "entrypoint or the pod spec). Any process of the container can read them, and the "
				 "checkpoint holds them: rotate them if the container was compromised. Values masked."),
		       "T1552.001");
	for (size_t i = 0; i < n; i++) {
		kcsi_evidence *e = az_evidence(f, "env", v[i].first_pid, -1);
		if (!e)
			break;
		kcsi_evidence_excerptf(e, "%s; in %u process%s", v[i].line, v[i].holders, v[i].holders > 1 ? "es" : "");
		e->command = az_printf("kcsi ps --pid %u ARCHIVE", v[i].first_pid);
	}
}

/* ---- one process ---- */

typedef struct judged {
	unsigned groups;
	bool sa_fd, sends, queued;
	char names[400];
	const kcsi_fd *sa, *procmem;
} judged;

static void name_add(judged *j, const char *name)
{
	size_t l = strlen(j->names);
	if (!strstr(j->names, name) && l + strlen(name) + 3 < sizeof(j->names))
		snprintf(j->names + l, sizeof(j->names) - l, "%s%s", l ? ", " : "", name);
}

/* Descriptors that tell: the mounted secrets, other processes' memory. */
static void descriptors(az *a, const kcsi_proc *p, judged *j)
{
	for (size_t i = 0; i < a->nfds; i++) {
		const kcsi_fd *d = &a->fds[i];
		const char *q;
		if (d->pid != p->pid || d->fd < 0 || !d->path)
			continue;
		if (!strncmp(d->path, "/var/run/secrets/", 17) || !strncmp(d->path, "/run/secrets/", 13)) {
			j->sa = d;
			j->groups |= G_SA;
			name_add(j, "an open mounted secret");
		}
		if (!strncmp(d->path, "/proc/", 6) && isdigit((unsigned char)d->path[6]) &&
		    strtoul(d->path + 6, NULL, 10) != p->pid && (q = strchr(d->path + 6, '/')) &&
		    (!strcmp(q, "/mem") || !strcmp(q, "/environ"))) {
			j->procmem = d;
			j->groups |= G_PROCMEM;
			name_add(j, "another process's memory or environment");
		}
	}
}

/* Can it send: a connection of its own, or of a foreign parent. */
static bool connected(az *a, const kcsi_proc *p)
{
	const kcsi_proc *parent = kcsi_ckpt_proc_by_pid(a->c, p->ppid);
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		if ((s->pid == p->pid || (parent && s->pid == parent->pid && az_is_outsider(a, parent))) && s->state &&
		    !strcmp(s->state, "ESTABLISHED") && strcmp(s->family, "UNIX"))
			return true;
	}
	return false;
}

/* A secret worth judging that is not (only) the process's own environment:
 * specific formats, or validated ones (a JWT that decodes), and anything
 * sent as data. */
static bool foreign(const az_secret_seen *s)
{
	return (s->fmt->strong || s->validated || s->bare) && (!s->own_env || s->bare);
}

static void evidence_of(kcsi_finding *f, const az_content_proc *cp, const judged *j)
{
	kcsi_evidence *e;
	for (size_t k = 0; k < cp->nsecrets; k++)
		if (foreign(&cp->secrets[k]))
			az_evidence_from(f, &cp->secrets[k].ev);
	for (unsigned k = 0; k < AZ_CF_N; k++)
		if (cp->credfiles & (1u << k))
			az_evidence_from(f, &cp->credfile_ev[k]);
	for (int k = 0; k < 2; k++) {
		const kcsi_fd *d = k ? j->procmem : j->sa;
		if (d && (e = az_evidence(f, "fd", d->pid, d->fd)))
			e->path = az_strdup(d->path);
	}
}

/* KCSI-CRED-001: a foreign process with credentials not its own */
static void foreign_process(az *a, const kcsi_proc *p, const az_content_proc *cp, judged *j)
{
	bool several = __builtin_popcount(j->groups & ~(unsigned)G_TOKEN) >= 2 || (j->groups & G_SA);
	bool critical = several && (j->sends || j->queued);
	char mitre[64] = "T1552.001";
	kcsi_finding *f;
	if (!(j->groups & ~(unsigned)G_TOKEN))
		return; /* a generic JWT alone: a session, not a credential to judge */
	if (j->groups & (G_SA | G_GCP))
		strcat(mitre, " T1528");
	if (j->groups & G_SA)
		strcat(mitre, " T1552.007");
	if (j->groups & G_PROCMEM)
		strcat(mitre, " T1003.007");
	f = az_finding(a, "KCSI-CRED-001", critical ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
		       az_printf("Process %u (%s), foreign to the workload, holds credentials: %s", p->pid,
				 az_base(p->exe ? p->exe : p->comm), j->names),
		       az_printf("Process %u was run into the container after its entrypoint (another session) and holds "
				 "credentials that are not its own environment's: %s.%s%s The values are masked.",
				 p->pid, j->names,
				 j->queued ? " Some wait in a send queue, as data." : "",
				 j->sends && !j->queued ? " It has a connection open to send them." : ""),
		       mitre);
	evidence_of(f, cp, j);
}

/* KCSI-CRED-002 (workload: secrets as data in a send queue), else the
 * inventory KCSI-SECRET-002 */
static void workload_process(az *a, const kcsi_proc *p, const az_content_proc *cp, const judged *j)
{
	bool bare = false, any = false;
	kcsi_finding *f;
	for (size_t k = 0; k < cp->nsecrets; k++) {
		bare |= cp->secrets[k].bare && !cp->secrets[k].own_env && cp->secrets[k].fmt->strong;
		any |= foreign(&cp->secrets[k]);
	}
	if (bare) {
		f = az_finding(a, "KCSI-CRED-002", KCSI_SEV_MEDIUM,
			       az_printf("Credentials as data in a send queue of process %u: %s", p->pid, j->names),
			       az_printf("A send queue of process %u holds credentials outside any authentication header "
					 "(%s): they are being sent as data. Values masked.", p->pid, j->names),
			       "T1552.001");
		evidence_of(f, cp, j);
	} else if (any) {
		f = az_finding(a, "KCSI-SECRET-002", KCSI_SEV_LOW, az_printf("Secrets in process %u: %s", p->pid, j->names),
			       az_printf("Process %u holds %s beyond its own environment (its configuration, or data it "
					 "handles). Values masked.", p->pid, j->names),
			       "T1552");
		evidence_of(f, cp, j);
	}
}

static void judge(az *a, const kcsi_proc *p, const az_content_proc *cp)
{
	judged j;
	bool outsider = az_is_outsider(a, p);
	memset(&j, 0, sizeof(j));
	for (size_t k = 0; k < cp->nsecrets; k++) {
		const az_secret_seen *s = &cp->secrets[k];
		if (!foreign(s))
			continue;
		j.groups |= group_of_format(s->fmt);
		j.queued |= s->in_send_queue;
		name_add(&j, s->fmt->name);
	}
	for (unsigned k = 0; k < AZ_CF_N; k++)
		if ((cp->credfiles & (1u << k)) && (1u << k) != AZ_CF_SA_PATH) {
			j.groups |= group_of_credfile(1u << k);
			name_add(&j, az_credfile_name(1u << k));
		}
	if (outsider) {
		descriptors(a, p, &j);
		if (j.groups & ~(unsigned)G_TOKEN) {
			j.sends = connected(a, p);
			foreign_process(a, p, cp, &j);
			return;
		}
	}
	workload_process(a, p, cp, &j);
}

void az_family_credentials(az *a)
{
	environment(a);
	for (size_t i = 0; a->content && i < a->content->nprocs; i++)
		judge(a, kcsi_ckpt_proc(a->c, i), &a->content->procs[i]);
	az_content_free(a);
}
