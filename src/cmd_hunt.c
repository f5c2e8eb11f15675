/* kcsi hunt — where else: indicators matched against checkpoints, directories
 * of them and the vault, in one pass each, in parallel across checkpoints.
 * Hits are printed as they are found (one line, one JSON value or one NDJSON
 * line each); memory stays flat whatever their number. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/hunt.h"
#ifdef KCSI_HAVE_VAULT
#include "kcsi/vault.h"
#endif

static const struct opt opts[] = {
	{"indicators", 'i', "FILE", "indicators: plain lines, a STIX 2.1 bundle or a MISP event", .kind = OPT_TEXT,
	 .flags = OPT_REPEAT},
	{"indicator", 'e', "IOC", "one indicator: an address, name, URL, e-mail, hash, hex:.., regex:/../", .kind = OPT_TEXT,
	 .flags = OPT_REPEAT},
	{"store", 's', "STORE", "hunt in the evidence vault STORE (every object held), decrypted in memory", .kind = OPT_TEXT},
	{"keys", 'k', "DIR", "the vault's key directory", .kind = OPT_TEXT},
	{"reason", 'r', "TEXT", "why the vault's evidence is read (recorded in its custody ledger; needed with --store)",
	 .kind = OPT_TEXT},
	{"index-only", 0, NULL, "--store: answer from the analysis reports attached to the evidence, without decrypting it",
	 .kind = OPT_FLAG},
	{"jobs", 'J', "N", "checkpoints hunted at once (default: the number of CPUs)", .kind = OPT_NUM, .min = 1, .max = 256},
	{"threads", 'T', "N", "threads per checkpoint for large memory areas (default: the CPUs the checkpoints leave)",
	 .kind = OPT_NUM, .min = 1, .max = 64},
	{"max-hits", 'm', "N", "hits shown per indicator and checkpoint (default 20; the rest are counted)", .kind = OPT_NUM,
	 .min = 1, .max = 0},
	{"json", 'j', NULL, "print JSON (one array of hits)", .kind = OPT_FLAG},
	{"ndjson", 0, NULL, "print one JSON object a line, as they are found", .kind = OPT_FLAG},
	{"pretty", 0, NULL, "indent the JSON", .kind = OPT_FLAG},
	{0},
};

struct target {
	char *path;  /* an archive or checkpoint directory, or a vault id */
	char *label; /* what the output calls it */
	bool vault;
};

struct shared {
	struct out *o;
	const kcsi_iocset *set;
	struct target *t;
	size_t nt;
	atomic_size_t next;
	pthread_mutex_t lock;   /* output and counters */
	uint64_t max_hits;
	unsigned threads;       /* per checkpoint: the cores the parallel checkpoints leave */
	uint64_t hits, shown, scanned, checkpoints, failed;
	bool first;             /* JSON: no comma before the first hit */
	bool ndjson;
#ifdef KCSI_HAVE_VAULT
	kcsi_vault *v;          /* the main thread's: lists the objects */
	char *store, *keys;     /* each worker opens a handle of its own */
	const char *reason;
	bool index_only;
#endif
};

/* hits so far per indicator in one checkpoint: a hit's indicator text is
 * the set's own string, so its address names the indicator */
struct counts {
	const char **key;
	uint64_t *n;
	size_t used, cap;
};

static uint64_t *count_of(struct counts *c, const char *key)
{
	if ((c->used + 1) * 2 > c->cap) {
		struct counts g = {calloc(c->cap ? c->cap * 2 : 64, sizeof(*g.key)),
				   calloc(c->cap ? c->cap * 2 : 64, sizeof(*g.n)), c->used, c->cap ? c->cap * 2 : 64};
		if (!g.key || !g.n) {
			free(g.key);
			free(g.n);
			return NULL;
		}
		for (size_t i = 0; i < c->cap; i++)
			if (c->key[i]) {
				size_t j = ((uintptr_t)c->key[i] >> 4) & (g.cap - 1);
				while (g.key[j])
					j = (j + 1) & (g.cap - 1);
				g.key[j] = c->key[i];
				g.n[j] = c->n[i];
			}
		free(c->key);
		free(c->n);
		*c = g;
	}
	size_t j = ((uintptr_t)key >> 4) & (c->cap - 1);
	while (c->key[j] && c->key[j] != key)
		j = (j + 1) & (c->cap - 1);
	if (!c->key[j]) {
		c->key[j] = key;
		c->used++;
	}
	return &c->n[j];
}

struct job {
	struct shared *sh;
	const struct target *t;
	struct counts per_ioc;
	void *vault;            /* the worker's vault handle (kcsi_vault *) */
};

static void print_hit_json(kcsi_jsonw *w, const struct target *t, const kcsi_hit *h)
{
	char num[32];
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "checkpoint", t->label);
	kcsi_jw_kstr(w, "indicator", h->indicator);
	kcsi_jw_kstr(w, "type", h->type);
	kcsi_jw_kstr(w, "feed", h->feed);
	if (h->ref)
		kcsi_jw_kstr(w, "ref", h->ref);
	kcsi_jw_kstr(w, "source", h->source);
	kcsi_jw_kstr(w, "encoding", h->encoding);
	if (h->pid >= 0)
		kcsi_jw_kuint(w, "pid", (uint64_t)h->pid);
	if (h->comm)
		kcsi_jw_kstr(w, "comm", h->comm);
	if (h->fd >= 0)
		kcsi_jw_kuint(w, "fd", (uint64_t)h->fd);
	if (h->has_address) {
		snprintf(num, sizeof(num), "0x%" PRIx64, h->address);
		kcsi_jw_kstr(w, "address", num);
		kcsi_jw_kstr(w, "area", h->area);
	}
	if (h->has_offset)
		kcsi_jw_kuint(w, "offset", h->offset);
	if (h->path)
		kcsi_jw_kstr(w, "path", h->path);
	if (h->direction)
		kcsi_jw_kstr(w, "direction", h->direction);
	kcsi_jw_key(w, "match");
	kcsi_jw_strn(w, (const char *)h->context + h->match_at, h->match_len);
	kcsi_jw_key(w, "context");
	kcsi_jw_strn(w, (const char *)h->context, h->context_len);
	kcsi_jw_obj_end(w);
}

static void print_hit_text(FILE *f, const struct target *t, const kcsi_hit *h)
{
	print_escaped_str(f, t->label);
	fputc('\t', f);
	print_escaped_str(f, h->indicator);
	fprintf(f, "\t%s\t%s", h->type, h->source);
	if (h->pid >= 0)
		fprintf(f, "\tpid %" PRId64, h->pid);
	else
		fputs("\t-", f);
	if (h->has_address) {
		fprintf(f, "\t0x%" PRIx64 "\t", h->address);
		print_escaped_str(f, h->area);
	} else if (h->has_offset) {
		fprintf(f, "\t+%" PRIu64 "\t", h->offset);
		print_escaped_str(f, h->path);
	} else {
		fputs("\t-\t", f);
		print_escaped_str(f, h->path);
	}
	/* the match and a little around it: text lines stay readable */
	size_t from = h->match_at > 24 ? h->match_at - 24 : 0;
	size_t to = h->match_at + h->match_len + 24 < h->context_len ? h->match_at + h->match_len + 24 : h->context_len;
	fprintf(f, "\t(%s)\t", h->encoding);
	print_escaped(f, (const char *)h->context + from, to - from);
	fputc('\n', f);
}

static int on_hit(void *ctx, const kcsi_hit *h)
{
	struct job *j = ctx;
	struct shared *sh = j->sh;
	/* the engine calls back from the checkpoint's helper threads too: the
	 * per-indicator counts are kept under the same lock as the output */
	pthread_mutex_lock(&sh->lock);
	uint64_t *seen = count_of(&j->per_ioc, h->indicator);
	if (!seen) {
		pthread_mutex_unlock(&sh->lock);
		return 1; /* out of memory: stop this checkpoint */
	}
	sh->hits++;
	if ((*seen)++ < sh->max_hits) {
		sh->shown++;
		if (sh->o->json) {
			if (!sh->ndjson && !sh->first)
				fputs(",\n", sh->o->f);
			sh->first = false;
			kcsi_jsonw w;
			kcsi_jw_init(&w, sh->o->f, sh->ndjson ? 0 : sh->o->w.indent);
			print_hit_json(&w, j->t, h);
			if (sh->ndjson)
				fputc('\n', sh->o->f);
		} else {
			print_hit_text(sh->o->f, j->t, h);
		}
	}
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

/* A vault object as a file in memory: the plaintext never reaches a disk. */
static int vault_fd(struct shared *sh, void *vault, const char *id, kcsi_error *err)
{
#ifdef KCSI_HAVE_VAULT
	if (!vault) {
		kcsi_error_set(err, KCSI_ERR_IO, "the vault could not be opened by this worker");
		return -1;
	}
	int fd = memfd_create("kcsi-hunt", MFD_CLOEXEC);
	if (fd < 0) {
		kcsi_error_set(err, KCSI_ERR_IO, "memfd_create: %s", strerror(errno));
		return -1;
	}
	/* the worker's own handle: decryption runs on every core; the ledger
	 * is appended under the store's lock */
	kcsi_code rc = kcsi_vault_get_fd(vault, id, fd, sh->reason, err);
	if (rc != KCSI_OK) {
		close(fd);
		return -1;
	}
	return fd;
#else
	(void)sh;
	(void)vault;
	(void)id;
	kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "this kcsi is built without the vault");
	return -1;
#endif
}

#ifdef KCSI_HAVE_VAULT
/* The index: the IOCs of the analysis reports attached to a vault object,
 * looked up by value; a hit is recorded as an access to the evidence. */
static void hunt_index(struct shared *sh, struct job *j, const char *id)
{
	if (!j->vault)
		return;
	kcsi_error err;
	json_t *log = NULL, *e;
	size_t i, hits = 0;
	char why[600];
	kcsi_error_clear(&err);
	kcsi_code rc = kcsi_vault_log(j->vault, id, &log, &err);
	if (rc != KCSI_OK)
		return;
	json_array_foreach(log, i, e) {
		const char *rsha = json_string_value(json_object_get(e, "report_sha256"));
		char *data = NULL;
		size_t len = 0;
		json_t *rep, *ioc;
		size_t k;
		if (!rsha)
			continue;
		rc = kcsi_vault_report_get(j->vault, id, rsha, &data, &len, &err);
		if (rc != KCSI_OK)
			continue;
		rep = json_loadb(data, len, 0, NULL);
		free(data);
		json_array_foreach(json_object_get(rep, "iocs"), k, ioc) {
			const char *type = json_string_value(json_object_get(ioc, "type"));
			const char *value = json_string_value(json_object_get(ioc, "value"));
			kcsi_hit h = {.source = "index", .encoding = "report", .pid = -1, .fd = -1};
			if (!type || !value || !kcsi_iocset_find(sh->set, type, value, &h.indicator, &h.feed, &h.ref))
				continue;
			h.type = type;
			h.path = json_string_value(json_object_get(ioc, "source"));
			h.context = (const unsigned char *)value;
			h.context_len = h.match_len = strlen(value);
			on_hit(j, &h);
			hits++;
		}
		json_decref(rep);
	}
	json_decref(log);
	if (hits) {
		snprintf(why, sizeof(why), "%s (indicators found in the analysis report)", sh->reason);
		kcsi_vault_note_access(j->vault, id, why, &err);
	}
}
#endif

static void hunt_one(struct shared *sh, const struct target *t, void *vault)
{
	struct job j = {sh, t, {0}, vault};
	kcsi_error err;
	kcsi_ckpt *c = NULL;
	kcsi_hunt_stats st = {0};
	char path[64];
	const char *open_path = t->path;
	int fd = -1;
	kcsi_error_clear(&err);
#ifdef KCSI_HAVE_VAULT
	if (t->vault) {
		hunt_index(sh, &j, t->path);
		if (sh->index_only) {
			pthread_mutex_lock(&sh->lock);
			sh->checkpoints++;
			pthread_mutex_unlock(&sh->lock);
			goto out;
		}
	}
#endif
	if (t->vault) {
		if ((fd = vault_fd(sh, vault, t->path, &err)) < 0)
			goto failed;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		open_path = path;
	}
	if (kcsi_ckpt_open(open_path, KCSI_CKPT_MEMORY | KCSI_CKPT_BULK, &c, &err) != KCSI_OK ||
	    kcsi_hunt(c, sh->set, sh->threads, on_hit, &j, &st, &err) != KCSI_OK)
		goto failed;
	pthread_mutex_lock(&sh->lock);
	sh->scanned += st.bytes_memory + st.bytes_objects;
	sh->checkpoints++;
	pthread_mutex_unlock(&sh->lock);
	goto out;
failed:
	pthread_mutex_lock(&sh->lock);
	sh->failed++;
	fputs("kcsi: ", stderr);
	print_escaped_str(stderr, t->label);
	fputs(": ", stderr);
	print_escaped_str(stderr, err.msg);
	fputc('\n', stderr);
	pthread_mutex_unlock(&sh->lock);
out:
	kcsi_ckpt_close(c);
	if (fd >= 0)
		close(fd);
	free(j.per_ioc.key);
	free(j.per_ioc.n);
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	void *vault = NULL;
#ifdef KCSI_HAVE_VAULT
	kcsi_error err;
	if (sh->store && kcsi_vault_open(sh->store, sh->keys, (kcsi_vault **)&vault, &err) != KCSI_OK)
		vault = NULL; /* each vault target then says why */
#endif
	for (size_t i; (i = atomic_fetch_add(&sh->next, 1)) < sh->nt;)
		hunt_one(sh, &sh->t[i], vault);
#ifdef KCSI_HAVE_VAULT
	kcsi_vault_close(vault);
#endif
	return NULL;
}

static int add_target(struct target **t, size_t *n, const char *path, const char *label, bool vault)
{
	struct target *g = realloc(*t, (*n + 1) * sizeof(**t));
	if (!g)
		return -1;
	*t = g;
	g[*n].path = strdup(path);
	g[*n].label = strdup(label);
	g[*n].vault = vault;
	if (!g[*n].path || !g[*n].label)
		return -1;
	(*n)++;
	return 0;
}

static bool is_checkpoint_dir(const char *dir)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof(p), "%s/checkpoint", dir);
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return true;
	snprintf(p, sizeof(p), "%s/inventory.img", dir);
	return stat(p, &st) == 0;
}

/* archives (*.tar, *.tar.gz, ...) and checkpoint directories below dir */
static int walk_dir(const char *dir, struct target **t, size_t *n, unsigned depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char p[4200];
		struct stat st;
		size_t dl = strlen(dir);
		while (dl > 1 && dir[dl - 1] == '/')
			dl--;
		if (de->d_name[0] == '.' ||
		    (size_t)snprintf(p, sizeof(p), "%.*s/%s", (int)dl, dir, de->d_name) >= sizeof(p) ||
		    lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (is_checkpoint_dir(p))
				add_target(t, n, p, p, false);
			else if (depth < 8)
				walk_dir(p, t, n, depth + 1);
		} else if (S_ISREG(st.st_mode) && strstr(de->d_name, ".tar")) {
			add_target(t, n, p, p, false);
		}
	}
	closedir(d);
	return 0;
}

static int load_set(struct args *a, kcsi_iocset **set)
{
	kcsi_error err;
	int n = 0;
	const char *const *v;
	kcsi_error_clear(&err);
	if (kcsi_iocset_new(set, &err) != KCSI_OK)
		return fail(&err);
	v = opt_all(a, "indicators", &n);
	for (int i = 0; i < n; i++)
		if (kcsi_iocset_load(*set, v[i], &err) != KCSI_OK)
			return fail(&err);
	v = opt_all(a, "indicator", &n);
	for (int i = 0; i < n; i++)
		if (kcsi_iocset_add(*set, v[i], "-e", &err) != KCSI_OK)
			return fail(&err);
	if (!kcsi_iocset_count(*set))
		return usage_error(a->cmd, "no indicators: give -i FILE or -e IOC");
	if (kcsi_iocset_compile(*set, &err) != KCSI_OK)
		return fail(&err);
	return 0;
}

static int run(struct args *a)
{
	struct shared sh = {.first = true, .max_hits = 20};
	kcsi_iocset *set = NULL;
	struct target *t = NULL;
	size_t nt = 0;
	uint64_t jobs = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN), threads = 0;
	struct out o;
	struct timespec t0, t1;
	int rc;
	kcsi_error err;

	kcsi_error_clear(&err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	jobs = opt_num(a, "jobs", jobs);
	threads = opt_num(a, "threads", 0);
	sh.max_hits = opt_num(a, "max-hits", 20);
	if (!a->npos && !opt_val(a, "store"))
		return usage_error(a->cmd, "give checkpoints, directories of them, or --store STORE");
	if ((rc = load_set(a, &set))) {
		kcsi_iocset_free(set);
		return rc;
	}
	for (int i = 0; i < a->npos; i++) {
		struct stat st;
		if (stat(a->pos[i], &st) != 0) {
			kcsi_error_set(&err, KCSI_ERR_NOTFOUND, "%s: %s", a->pos[i], strerror(errno));
			rc = fail(&err);
			goto done;
		}
		if (S_ISDIR(st.st_mode) && !is_checkpoint_dir(a->pos[i]))
			walk_dir(a->pos[i], &t, &nt, 0);
		else
			add_target(&t, &nt, a->pos[i], a->pos[i], false);
	}
#ifdef KCSI_HAVE_VAULT
	if (opt_val(a, "store")) {
		char *store = NULL, *keys = NULL;
		json_t *l = NULL, *e;
		size_t i;
		if (!opt_val(a, "reason")) {
			rc = usage_error(a->cmd, "reading the vault's evidence needs a reason (--reason TEXT): it is recorded");
			goto done;
		}
		sh.reason = opt_val(a, "reason");
		sh.index_only = opt_set(a, "index-only");
		if (kcsi_vault_config(opt_val(a, "store"), opt_val(a, "keys"), &store, &keys, &err) != KCSI_OK ||
		    kcsi_vault_open(store, keys, &sh.v, &err) != KCSI_OK || kcsi_vault_list(sh.v, NULL, &l, &err) != KCSI_OK) {
			free(store);
			free(keys);
			rc = fail(&err);
			goto done;
		}
		sh.store = store;
		sh.keys = keys;
		json_array_foreach(l, i, e) {
			const char *id = json_string_value(json_object_get(e, "id"));
			const char *state = json_string_value(json_object_get(e, "state"));
			char label[200];
			if (!id || (state && strcmp(state, "held")))
				continue;
			snprintf(label, sizeof(label), "vault:%.16s", id);
			add_target(&t, &nt, id, label, true);
		}
		json_decref(l);
	}
#else
	if (opt_val(a, "store")) {
		rc = usage_error(a->cmd, "this kcsi is built without the vault");
		goto done;
	}
#endif
	out_open(&o, a);
	fclose(o.f); /* stream to stdout: hits are not kept in memory */
	free(o.buf);
	o.f = o.w.f = stdout;
	sh.o = &o;
	sh.ndjson = opt_set(a, "ndjson");
	if (sh.ndjson)
		o.json = true;
	sh.set = set;
	sh.t = t;
	sh.nt = nt;
	{
		uint64_t cpus = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN), at_once = jobs < nt ? jobs : (nt ? nt : 1);
		sh.threads = (unsigned)(cpus / at_once ? cpus / at_once : 1);
		if (threads)
			sh.threads = (unsigned)threads;
	}
	pthread_mutex_init(&sh.lock, NULL);
	if (o.json && !sh.ndjson)
		fputs("[\n", o.f);
	{
		size_t nw = jobs < nt ? (size_t)jobs : nt;
		pthread_t *th = calloc(nw ? nw : 1, sizeof(*th));
		size_t started = 0;
		for (size_t i = 0; th && i < nw; i++)
			if (pthread_create(&th[i], NULL, worker, &sh) == 0)
				started++;
		if (!started)
			worker(&sh);
		for (size_t i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		free(th);
	}
	if (o.json && !sh.ndjson)
		fputs(sh.first ? "]\n" : "\n]\n", o.f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "kcsi hunt: %" PRIu64 " hits (%" PRIu64 " shown) of %zu indicators (%s) in %" PRIu64
			" of %zu checkpoints; %.1f MB scanned in %.2f s\n",
		sh.hits, sh.shown, kcsi_iocset_count(set), kcsi_iocset_summary(set), sh.checkpoints, nt,
		(double)sh.scanned / 1e6, secs);
	rc = sh.failed ? (sh.checkpoints ? KCSI_ERR_GENERIC : KCSI_ERR_IO) : 0;
	if (fflush(stdout) != 0 && !rc)
		rc = KCSI_ERR_IO;
	pthread_mutex_destroy(&sh.lock);
done:
#ifdef KCSI_HAVE_VAULT
	kcsi_vault_close(sh.v);
	free(sh.store);
	free(sh.keys);
#endif
	for (size_t i = 0; i < nt; i++) {
		free(t[i].path);
		free(t[i].label);
	}
	free(t);
	kcsi_iocset_free(set);
	return rc;
}

const struct cmd cmd_hunt = {
	.synopsis = "(-i FILE | -e IOC)... [--store STORE --reason TEXT [--index-only]] [--jobs N] [--threads N] [--max-hits N] [--json|--ndjson] "
		    "[TARGET...]",
	.summary = "find indicators in checkpoints, directories of them and the vault, in one pass each",
	.description =
		"Matches a set of indicators (addresses, names, URLs, e-mails, hashes, hex bytes,\n"
		"literals, regular expressions; from plain lines, STIX 2.1 bundles or MISP events,\n"
		"such as `kcsi analyze` exports) against everything each checkpoint holds, in one\n"
		"pass: process memory and the shared memory it maps (text, UTF-16LE and, for names,\n"
		"the DNS wire form), TCP queues, ghost files, memfd contents, rootfs diff and\n"
		"/dev/shm files, the sockets' endpoints and the digests of those files.\n"
		"TARGETs are archives, checkpoint directories and directories holding them (searched\n"
		"below); --store hunts every object the vault holds, decrypted in memory (never on\n"
		"disk), each read recorded in the custody ledger with --reason.  Checkpoints are\n"
		"hunted in parallel (--jobs).  In the vault, the IOCs of the analysis reports attached\n"
		"to each object (kcsi vault report, kcsi collect --analyze) answer first, without\n"
		"decrypting the evidence (source \"index\"); --index-only stops there.  Text output, a line per hit: CHECKPOINT, INDICATOR,\n"
		"TYPE, SOURCE, pid, address and area (memory) or offset and path (objects), the\n"
		"byte form found and the bytes around it (escaped).  A summary goes to stderr.\n"
		"Plain lines: one indicator a line, # comments; its type comes from its shape, or a\n"
		"prefix literal: hex: regex:/../flags ipv4: ipv6: domain: url: email: sha256: sha1:\n"
		"md5:.  Defanged forms (hxxp, [.]) are taken back.  An address or a name must stand\n"
		"alone: 10.1.2.3 is not found in 110.1.2.34, evil.example not in notevil.example (in\n"
		"www.evil.example it is).",
	.json_doc = "An array (or, with --ndjson, one object a line) of {checkpoint, indicator, type,\n"
		    "feed, ref (STIX id or MISP uuid), source (memory, queue, ghost, memfd, rootfs,\n"
		    "devshm, socket, hash), encoding (text, utf16le, dns-wire, bytes, regex, endpoint,\n"
		    "digest), pid, comm, fd, address, area, offset, path, direction, match, context}.",
	.example =
		"$ kcsi hunt -e 127.6.6.6 -e PBKEY-5d41402abc4b2a76b9719d911017c592 .\n"
		"...\n"
		"./checkpoint-perlbot.tar\t127.6.6.6\tipv4\tsocket\tpid 15\t-\t127.0.0.1:38898->127.6.6.6:6667\t(endpoint)\t127.6.6.6",
	.opts = opts,
	.min_pos = 0,
	.max_pos = -1,
	.run = run,
};
