/* kcsi meta — container metadata: annotations, labels, image, runtime,
 * hostname, namespaces, cgroup, seccomp and LSM profiles, bind mounts. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	OPTS_JSON,
	{0},
};

/* Annotation values that hold JSON (CRI-O's Labels, Metadata, Annotations)
 * are decoded. */
static void annotations(kcsi_jsonw *w, const json_t *ann)
{
	const char *k;
	json_t *v;
	kcsi_jw_obj(w);
	if (json_is_object(ann))
		json_object_foreach((json_t *)ann, k, v) {
			const char *s = json_string_value(v);
			json_t *dec = NULL;
			kcsi_jw_key(w, k);
			if (s && (s[0] == '{' || s[0] == '['))
				dec = json_loads(s, 0, NULL);
			if (dec)
				jw_json(w, dec);
			else
				jw_json(w, v);
			json_decref(dec);
		}
	kcsi_jw_obj_end(w);
}

static const json_t *path_get(const json_t *j, const char *a, const char *b, const char *c)
{
	if (a) j = json_object_get(j, a);
	if (b && j) j = json_object_get(j, b);
	if (c && j) j = json_object_get(j, c);
	return j;
}

static void emit(kcsi_jsonw *w, kcsi_ckpt *c)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	const json_t *spec = kcsi_ckpt_spec(c), *cfg = kcsi_ckpt_config(c);
	const json_t *ann = spec ? json_object_get(spec, "annotations") : NULL;
	const json_t *labels = NULL;
	const char *lab = ann ? json_string_value(json_object_get(ann, "io.kubernetes.cri-o.Labels")) : NULL;
	json_t *lab_dec = lab ? json_loads(lab, 0, NULL) : NULL;
	const json_t *sec = spec ? path_get(spec, "linux", "seccomp", NULL) : NULL;

	if (lab_dec)
		labels = lab_dec;
	else if (cfg && json_object_get(cfg, "labels"))
		labels = json_object_get(cfg, "labels");
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "container", m->container);
	kcsi_jw_kstr(w, "id", m->id);
	kcsi_jw_kstr(w, "engine", m->engine);
	kcsi_jw_kstr(w, "image", m->image);
	kcsi_jw_kstr(w, "image_id", m->image_id);
	kcsi_jw_kstr(w, "runtime", m->runtime);
	kcsi_jw_kstr(w, "hostname", m->hostname);
	kcsi_jw_kstr(w, "pod", m->pod);
	kcsi_jw_kstr(w, "namespace", m->namespace_);
	kcsi_jw_kstr(w, "created", m->created);
	kcsi_jw_kstr(w, "checkpointed", m->checkpointed);
	kcsi_jw_key(w, "annotations");
	annotations(w, ann);
	kcsi_jw_key(w, "labels");
	jw_json(w, labels);
	kcsi_jw_key(w, "namespaces");
	jw_json(w, spec ? path_get(spec, "linux", "namespaces", NULL) : NULL);
	kcsi_jw_key(w, "cgroup");
	jw_json(w, spec ? path_get(spec, "linux", "cgroupsPath", NULL) : NULL);
	kcsi_jw_key(w, "seccomp");
	if (sec) {
		kcsi_jw_obj(w);
		kcsi_jw_key(w, "default_action");
		jw_json(w, json_object_get(sec, "defaultAction"));
		kcsi_jw_kuint(w, "rules", json_array_size(json_object_get(sec, "syscalls")));
		kcsi_jw_key(w, "profile");
		jw_json(w, ann ? json_object_get(ann, "io.kubernetes.cri-o.SeccompProfilePath") : NULL);
		kcsi_jw_obj_end(w);
	} else {
		kcsi_jw_null(w);
	}
	kcsi_jw_key(w, "apparmor_profile");
	jw_json(w, spec ? path_get(spec, "process", "apparmorProfile", NULL) : NULL);
	kcsi_jw_key(w, "selinux_label");
	jw_json(w, spec ? path_get(spec, "process", "selinuxLabel", NULL) : NULL);
	kcsi_jw_key(w, "capabilities");
	jw_json(w, spec ? path_get(spec, "process", "capabilities", "effective") : NULL);
	kcsi_jw_key(w, "privileged");
	{
		const char *p = ann ? json_string_value(json_object_get(ann, "io.podman.annotations.privileged")) : NULL;
		const json_t *pc = cfg ? json_object_get(cfg, "privileged") : NULL;
		if (json_is_boolean(pc))
			kcsi_jw_bool(w, json_is_true(pc));
		else if (p)
			kcsi_jw_bool(w, !strcasecmp(p, "true"));
		else
			kcsi_jw_null(w);
	}
	kcsi_jw_key(w, "bind_mounts");
	jw_json(w, kcsi_ckpt_bind_mounts(c));
	kcsi_jw_obj_end(w);
	json_decref(lab_dec);
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	struct out o;
	int rc;

	if ((rc = open_ckpt(a->pos[0], 0, &c)))
		return rc;
	out_open(&o, a);
	if (o.json) {
		emit(&o.w, c);
		kcsi_jw_end(&o.w);
	} else {
		/* text: the same document, indented, with the characters JSON
		 * leaves raw that a terminal acts on escaped */
		kcsi_jsonw w;
		char *doc = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&doc, &len);
		if (!m) {
			kcsi_ckpt_close(c);
			return out_close(&o, KCSI_ERR_NOMEM);
		}
		kcsi_jw_init(&w, m, 2);
		emit(&w, c);
		kcsi_jw_end(&w);
		fclose(m);
		kcsi_escape_write(o.f, doc, len, KCSI_ESC_JSON);
		free(doc);
	}
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_meta = {
	.synopsis = "[--json] ARCHIVE",
	.summary = "show metadata: annotations, labels, image, runtime, namespaces, profiles",
	.description =
		"Everything the checkpoint says about its container besides the processes:\n"
		"annotations (values holding JSON, like CRI-O's Labels and Metadata, decoded),\n"
		"labels, image, runtime, hostname (the UTS name the processes saw), namespaces,\n"
		"cgroup path, seccomp, AppArmor and SELinux profiles, capabilities and bind mounts.",
	.json_doc =
		"An object: container, id, engine, image, image_id, runtime, hostname, pod, namespace,\n"
		"created, checkpointed, annotations (object), labels, namespaces (the spec's list),\n"
		"cgroup, seccomp {default_action, rules, profile}, apparmor_profile, selinux_label,\n"
		"capabilities (effective set of the spec), privileged, bind_mounts (bind.mounts).",
	.example = "$ kcsi meta --json checkpoint-perlbot.tar | jq .hostname\n\"vm\"",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
