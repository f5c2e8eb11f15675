/* kcsi collect — the node agent: move finished checkpoints into the vault. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/vault.h"

static const struct opt opts[] = {
	{"watch", 'w', "DIR", "the directory the kubelet writes checkpoints to (default /var/lib/kubelet/checkpoints)", .kind = OPT_TEXT},
	{"vault", 'v', "DIR|s3://BUCKET/PREFIX", "the vault (default: $KCSI_VAULT, then the config file)", .kind = OPT_TEXT},
	{"keys", 'k', "DIR", "the vault's private keys directory", .kind = OPT_TEXT},
	{"case", 'c', "ID", "record the evidence under this case", .kind = OPT_TEXT},
	{"settle", 0, "SECONDS", "a file must be unchanged this long before it is taken (default 2)",
	 .kind = OPT_NUM, .max = 3600},
	{"once", 0, NULL, "take the complete archives there now, then exit", .kind = OPT_FLAG},
	{"keep", 0, NULL, "do not delete the node copy after it is verified in the vault", .kind = OPT_FLAG},
	{"analyze", 0, NULL, "run `kcsi analyze --json` on each archive and attach the report", .kind = OPT_FLAG},
	{"actor", 0, "NAME", "who is acting (default: $KCSI_ACTOR, else USER@HOST)", .kind = OPT_TEXT},
	{0},
};

struct cand {
	char *name;
	double last;     /* last change seen */
	off_t size;
	struct timespec mtime;
	bool reported;   /* "waiting" said once */
	bool failed;     /* the put failed: retry after the next change or settle */
};

static volatile sig_atomic_t stop;
static void on_signal(int s) { stop = s; }

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char ts[40];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s ", ts);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static bool has_cmd(const char *name)
{
	return cmd_find(NULL, name) != NULL;
}

/* kcsi analyze --json PATH, its stdout attached to the evidence */
static void analyze(kcsi_vault *v, const char *id, const char *path)
{
	int pfd[2];
	pid_t pid;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int status = 0;
	kcsi_error err;

	if (!has_cmd("analyze")) {
		logf_("analyze: this kcsi has no analyze command; no report for %s", id);
		return;
	}
	if (pipe(pfd) != 0)
		return;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl("/proc/self/exe", "kcsi", "analyze", "--json", path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n;
		if (len == cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!p || cap > (size_t)1 << 30)
				break;
			buf = p;
		}
		n = read(pfd[0], buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	kcsi_error_clear(&err);
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		logf_("analyze %s: failed (exit %d); no report", path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else if (kcsi_vault_report(v, id, buf, len, "kcsi analyze --json", &err) != KCSI_OK)
		logf_("analyze %s: %s", path, err.msg);
	else
		logf_("analysed %s: report of %zu bytes attached", id, len);
	free(buf);
}

/* Take one file: returns true when it is done with (taken, or gone). */
static bool take(kcsi_vault *v, struct args *a, const char *dir, struct cand *c, bool once)
{
	char path[8192];
	struct stat st;
	kcsi_error err;
	kcsi_vault_put_info info;
	json_t *res = NULL;
	int busy;

	snprintf(path, sizeof(path), "%s/%s", dir, c->name);
	if (lstat(path, &st) != 0)
		return true;
	if (!S_ISREG(st.st_mode))
		return true;
	if (!once && (st.st_size != c->size || st.st_mtim.tv_sec != c->mtime.tv_sec ||
		      st.st_mtim.tv_nsec != c->mtime.tv_nsec)) {
		c->size = st.st_size;
		c->mtime = st.st_mtim;
		c->last = now_s();
		return false;
	}
	busy = kcsi_file_busy(path);
	if (busy == 1) {
		c->last = now_s();
		return false;
	}
	kcsi_error_clear(&err);
	if (kcsi_archive_complete(path, &err) != KCSI_OK) {
		if (!c->reported)
			logf_("waiting for %s: %s", c->name, err.msg);
		c->reported = true;
		c->last = now_s();
		return once;
	}
	if (kcsi_vault_put(v, path, opt_val(a, "case"), "kcsi collect", &info, &err) != KCSI_OK) {
		logf_("NOT taken %s: %s (the node copy is kept)", c->name, err.msg);
		c->failed = true;
		c->last = now_s();
		return once;
	}
	logf_("stored %s as %s (%llu bytes)", c->name, info.id, (unsigned long long)info.size);
	if (kcsi_vault_verify(v, info.id, 0, &res, &err) != KCSI_OK || !json_is_true(json_object_get(res, "ok"))) {
		json_t *p = json_array_get(json_object_get(res, "problems"), 0);
		logf_("NOT deleting %s: the vault copy did not verify: %s", c->name,
		      p ? json_string_value(json_object_get(p, "problem")) : err.msg);
		json_decref(res);
		return true;
	}
	json_decref(res);
	logf_("verified %s in the vault", info.id);
	if (opt_set(a, "analyze"))
		analyze(v, info.id, path);
	if (!opt_set(a, "keep")) {
		bool ow = false;
		if (kcsi_secure_delete(path, &ow, &err) != KCSI_OK)
			logf_("deleting %s: %s", path, err.msg);
		else
			logf_("deleted the node copy %s%s", c->name, ow ? " (overwritten first)" : " (not overwritten: filesystem)");
	}
	return true;
}

static int run(struct args *a)
{
	const char *dir = opt_val(a, "watch") ? opt_val(a, "watch") : "/var/lib/kubelet/checkpoints";
	char *store = NULL, *keys = NULL;
	kcsi_vault *v = NULL;
	kcsi_error err;
	struct cand *cs = NULL;
	size_t nc = 0;
	uint64_t settle = opt_num(a, "settle", 2);
	int ifd = -1, rc = 0;
	bool once = opt_set(a, "once");
	DIR *dh;
	struct dirent *de;

	kcsi_error_clear(&err);
	if (kcsi_vault_config(opt_val(a, "vault"), opt_val(a, "keys"), &store, &keys, &err) != KCSI_OK ||
	    kcsi_vault_open(store, keys, &v, &err) != KCSI_OK) {
		free(store);
		free(keys);
		return fail(&err);
	}
	if (opt_val(a, "actor"))
		kcsi_vault_set_actor(v, opt_val(a, "actor"));
	if (!once) {
		ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (ifd < 0 || inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY |
							       IN_ATTRIB) < 0) {
			fprintf(stderr, "kcsi: watching %s: %s\n", dir, strerror(errno));
			rc = KCSI_ERR_IO;
			goto out;
		}
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		logf_("watching %s for checkpoints; vault %s", dir, store);
	}
	/* what is there already */
	dh = opendir(dir);
	if (!dh) {
		fprintf(stderr, "kcsi: %s: %s\n", dir, strerror(errno));
		rc = KCSI_ERR_IO;
		goto out;
	}
	while ((de = readdir(dh))) {
		struct cand *p;
		if (de->d_name[0] == '.')
			continue;
		p = realloc(cs, (nc + 1) * sizeof(*cs));
		if (!p)
			break;
		cs = p;
		cs[nc++] = (struct cand){strdup(de->d_name), now_s(), -1, {0, 0}, false, false};
	}
	closedir(dh);
	if (once) {
		for (size_t i = 0; i < nc; i++)
			take(v, a, dir, &cs[i], true);
		goto out;
	}
	while (!stop) {
		struct pollfd pf = {ifd, POLLIN, 0};
		char ev[16384] __attribute__((aligned(8)));
		ssize_t n;
		double t;
		if (poll(&pf, 1, 250) < 0 && errno != EINTR)
			break;
		while ((n = read(ifd, ev, sizeof(ev))) > 0) {
			for (char *p = ev; p < ev + n;) {
				struct inotify_event *ie = (struct inotify_event *)p;
				p += sizeof(*ie) + ie->len;
				if (!ie->len || ie->name[0] == '.')
					continue;
				size_t i;
				for (i = 0; i < nc && strcmp(cs[i].name, ie->name); i++)
					;
				if (i == nc) {
					struct cand *q = realloc(cs, (nc + 1) * sizeof(*cs));
					if (!q)
						continue;
					cs = q;
					cs[nc++] = (struct cand){strdup(ie->name), 0, -1, {0, 0}, false, false};
				}
				cs[i].last = now_s();
				cs[i].reported = false;
			}
		}
		t = now_s();
		for (size_t i = 0; i < nc;) {
			if (t - cs[i].last >= (double)settle && take(v, a, dir, &cs[i], false)) {
				free(cs[i].name);
				cs[i] = cs[--nc];
				continue;
			}
			i++;
		}
	}
	if (stop)
		logf_("stopping (signal %d)", (int)stop);
out:
	for (size_t i = 0; i < nc; i++)
		free(cs[i].name);
	free(cs);
	if (ifd >= 0)
		close(ifd);
	kcsi_vault_close(v);
	free(store);
	free(keys);
	return rc;
}

const struct cmd cmd_collect = {
	.synopsis = "[--watch DIR] [--vault STORE] [--case ID] [--settle SECONDS] [--once] [--keep] [--analyze]",
	.summary = "node agent: move finished checkpoints into the vault, verify, delete the node copy",
	.description =
		"Watches DIR with inotify (close-after-write, renames into it) and takes a file\n"
		"when it has been unchanged for --settle seconds, no process holds it open for\n"
		"writing (a read lease can be taken), and it is a complete archive (a plain tar\n"
		"ends with its end-of-archive blocks after whole members; a compressed one\n"
		"decompresses to its end).  It is then put in the vault, verified there (a\n"
		"\"verified\" ledger entry), optionally analysed, and the node copy is overwritten\n"
		"with zeros (not on copy-on-write, overlay or network filesystems, where that\n"
		"would not reach the old blocks) and deleted.  When the put fails (the vault's\n"
		"disk is full, S3 unreachable) the node copy is kept and retried later.\n"
		"File names are used as they are: the kubelet's names with colons\n"
		"(checkpoint-POD_NS-CTR-2024-01-01T10:00:00Z.tar) need no quoting.\n"
		"One line per event goes to stdout; SIGTERM or SIGINT stop it.",
	.example =
		"$ kcsi collect --watch /var/lib/kubelet/checkpoints --vault /srv/evidence\n"
		"2026-11-27T01:50:02Z stored checkpoint-web_default-app-2026-11-27T01:49:58Z.tar as 3f1c... (3449856 bytes)\n"
		"2026-11-27T01:50:02Z verified 3f1c... in the vault\n"
		"2026-11-27T01:50:02Z deleted the node copy checkpoint-web_default-app-2026-11-27T01:49:58Z.tar (overwritten first)",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.run = run,
};
