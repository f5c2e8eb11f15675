/* kcsi collect — the node agent: move finished checkpoints into the vault. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/log.h"
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
	{"node", 0, "NAME", "this node's name, written in the receipts (default: $NODE_NAME)", .kind = OPT_TEXT},
	{0},
};

static volatile sig_atomic_t stop;
static void on_signal(int s) { stop = s; }

static bool has_cmd(const char *name)
{
	return cmd_find(NULL, name) != NULL;
}

static int run(struct args *a)
{
	static const char *const analyze_argv[] = {"kcsi", "analyze", "--json", NULL};
	char *store = NULL, *keys = NULL;
	kcsi_vault *v = NULL;
	kcsi_log *log = NULL;
	kcsi_error err;
	uint64_t settle = opt_num(a, "settle", 2);
	int rc = 0;
	kcsi_collect_opts o = {
		.watch = opt_val(a, "watch") ? opt_val(a, "watch") : "/var/lib/kubelet/checkpoints",
		.case_id = opt_val(a, "case"),
		.once = opt_set(a, "once"),
		.keep = opt_set(a, "keep"),
		.analyze_note = "kcsi analyze --json",
		.analyze_timeout_s = 3600,
		.stop = &stop,
		.node = opt_val(a, "node") ? opt_val(a, "node") : getenv("NODE_NAME"),
	};

	o.settle_s = settle > 86400 ? 86400 : (unsigned)settle;
	if (opt_set(a, "analyze")) {
		/* this very binary, when it has the command */
		o.analyze_missing = !has_cmd("analyze");
		o.analyze_argv = o.analyze_missing ? NULL : analyze_argv;
		o.analyze_file = "/proc/self/exe";
	}
	kcsi_error_clear(&err);
	if (kcsi_vault_config(opt_val(a, "vault"), opt_val(a, "keys"), &store, &keys, &err) != KCSI_OK ||
	    kcsi_vault_open(store, keys, &v, &err) != KCSI_OK) {
		free(store);
		free(keys);
		return fail(&err);
	}
	if (opt_val(a, "actor"))
		kcsi_vault_set_actor(v, opt_val(a, "actor"));
	/* one JSON line per event on stdout */
	o.log = log = kcsi_log_stream(stdout, false);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (kcsi_collect(v, &o, &err) != KCSI_OK)
		rc = fail(&err);
	kcsi_log_close(log);
	kcsi_vault_close(v);
	free(store);
	free(keys);
	return rc;
}

const struct cmd cmd_collect = {
	.synopsis = "[--watch DIR] [--vault STORE] [--case ID] [--settle SECONDS] [--once] [--keep] [--analyze] [--node NAME]",
	.summary = "node agent: move finished checkpoints into the vault, verify, delete the node copy",
	.description =
		"Watches DIR with inotify (close-after-write, renames into it) and takes a file\n"
		"when it has been unchanged for --settle seconds, no process holds it open for\n"
		"writing (a read lease can be taken), and it is a complete archive (a plain tar\n"
		"ends with its end-of-archive blocks after whole members; a compressed one\n"
		"decompresses to its end).  It is then put in the vault, verified there (a\n"
		"\"verified\" ledger entry), optionally analysed, a receipt is written into the\n"
		"vault's store (receipts/SHA256(NAME).json: the archive's name, --node, the\n"
		"evidence id and sha256, its size; kcsi respond reads it to link its incident\n"
		"to the evidence), and the node copy is overwritten with zeros (not on\n"
		"copy-on-write, overlay or network filesystems, where that would not reach the\n"
		"old blocks) and deleted.  When the put or the receipt fails (the vault's disk\n"
		"is full, S3 unreachable) the node copy is kept and retried later.\n"
		"File names are used as they are: the kubelet's names with colons\n"
		"(checkpoint-POD_NS-CTR-2024-01-01T10:00:00Z.tar) need no quoting.\n"
		"One JSON line per event goes to stdout (time, level, component, msg and the\n"
		"event's fields: file, id, bytes, error...); SIGTERM or SIGINT stop it.",
	.example =
		"$ kcsi vault init --store evidence\n"
		"...\n"
		"$ mkdir incoming && cp checkpoint-counter.tar incoming/\n"
		"$ kcsi collect --once --watch incoming --vault evidence | jq -c 'del(.time)'\n"
		"{\"level\":\"info\",\"component\":\"collect\",\"msg\":\"stored\",\"file\":\"checkpoint-counter.tar\",\"id\":\"420ee5d472715a935ee7214de9a3cd9ed7f4d3a132868c539ef879ffe1346ebd\",\"bytes\":359424}\n"
		"{\"level\":\"info\",\"component\":\"collect\",\"msg\":\"verified in the vault\",\"id\":\"420ee5d472715a935ee7214de9a3cd9ed7f4d3a132868c539ef879ffe1346ebd\"}\n"
		"...\n"
		"{\"level\":\"info\",\"component\":\"collect\",\"msg\":\"deleted the node copy\",\"file\":\"checkpoint-counter.tar\",\"overwritten\":true}",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.run = run,
};
