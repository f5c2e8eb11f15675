/* kcsi list — the checkpoints in directories. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const struct opt opts[] = {
	OPTS_JSON,
	{0},
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* what to do when a directory does not open */
static const char *open_hint(int e, bool is_default)
{
	if (e == ENOTDIR)
		return "a file: show one checkpoint with kcsi show FILE";
	if (is_default && e == ENOENT)
		return "the kubelet's directory, absent here: give the directory that holds the checkpoints, "
		       "kcsi list DIR";
	if (e == EACCES || e == EPERM)
		return is_default ? "the kubelet's directory is root's: run as root, or give another DIR"
				  : "not readable by this user: run as its owner or root";
	return is_default ? "give the directory that holds the checkpoints: kcsi list DIR"
			  : "give the directory that holds the checkpoints";
}

static int run(struct args *a)
{
	static char *const defaults[] = {"/var/lib/kubelet/checkpoints"};
	char *const *dirs = a->npos ? a->pos : defaults;
	int ndirs = a->npos ? a->npos : 1;
	struct out o;
	struct table t;
	int rc = 0;

	out_open(&o, a);
	table_init(&t, 6);
	table_add(&t, "NAMESPACE", "POD", "CONTAINER", "ENGINE", "CHECKPOINTED", "FILE");
	if (o.json)
		kcsi_jw_arr(&o.w);
	for (int d = 0; d < ndirs; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, cap = 0;
		if (!dir) {
			int e = errno;
			fputs("kcsi: ", stderr);
			print_escaped_str(stderr, dirs[d]);
			fprintf(stderr, ": cannot open directory: %s (%s)\n", strerror(e), open_hint(e, a->npos == 0));
			rc = KCSI_ERR_IO;
			continue;
		}
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				names = realloc(names, cap * sizeof(*names));
				if (!names) {
					closedir(dir);
					return out_close(&o, KCSI_ERR_NOMEM);
				}
			}
			names[n++] = strdup(de->d_name);
		}
		closedir(dir);
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 0; i < n; i++) {
			char path[4096];
			kcsi_ckpt *c;
			kcsi_error err;
			struct stat st;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], names[i]);
			free(names[i]);
			if (stat(path, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
				continue;
			kcsi_error_clear(&err);
			if (kcsi_ckpt_open(path, KCSI_CKPT_META_ONLY, &c, &err) != KCSI_OK)
				continue; /* not a checkpoint */
			const kcsi_meta *m = kcsi_ckpt_meta(c);
			if (o.json) {
				kcsi_jw_obj(&o.w);
				kcsi_jw_kstr(&o.w, "namespace", m->namespace_);
				kcsi_jw_kstr(&o.w, "pod", m->pod);
				kcsi_jw_kstr(&o.w, "container", m->container);
				kcsi_jw_kstr(&o.w, "engine", m->engine);
				kcsi_jw_kstr(&o.w, "checkpointed", m->checkpointed);
				kcsi_jw_kstr(&o.w, "file", path);
				kcsi_jw_kuint(&o.w, "size", m->checkpoint_size);
				kcsi_jw_obj_end(&o.w);
			} else {
				table_add(&t, m->namespace_, m->pod, m->container, m->engine, m->checkpointed, path);
			}
			kcsi_ckpt_close(c);
		}
		free(names);
	}
	if (o.json) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	} else {
		table_print(&t, &o);
	}
	table_free(&t);
	return out_close(&o, rc);
}

const struct cmd cmd_list = {
	.synopsis = "[--json] [DIR...]",
	.summary = "list the checkpoints in directories (default /var/lib/kubelet/checkpoints)",
	.description =
		"Every file or directory in DIR that is a container checkpoint, by name order,\n"
		"with its namespace, pod, container, engine and checkpoint time read from the\n"
		"archive's metadata (one streaming pass each; memory pages are skipped).\n"
		"Files that are not checkpoints are passed over.",
	.json_doc = "An array of {namespace, pod, container, engine, checkpointed, file, size}.",
	.example =
		"$ kcsi list .\n"
		"NAMESPACE  POD  CONTAINER  ENGINE  CHECKPOINTED          FILE\n"
		"...\n"
		"-          -    webapp     podman  2026-11-27T01:48:40Z  ./checkpoint-perlbot.tar\n"
		"...",
	.opts = opts,
	.min_pos = 0,
	.max_pos = -1,
	.run = run,
};
