/* kcsi completion — shell completion for bash, zsh and fish, written from the
 * command table and the option tables (so it knows every command,
 * subcommand, option, choice and which options take a directory or a file). */
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	{0},
};

/* s in single quotes for bash and zsh ('\'' for a quote) or fish (\') */
static void quoted(FILE *f, const char *s, bool fish)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs(fish ? "\\'" : "'\\''", f);
		else if (fish && *s == '\\')
			fputs("\\\\", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* what an option's value is completed from: "=WORD WORD" (choices), "dir",
 * "file" or "" (nothing to offer) */
static void value_kind(const struct opt *o, char *buf, size_t cap)
{
	if (o->kind == OPT_CHOICE) {
		snprintf(buf, cap, "=%s", o->choices);
		for (char *p = buf; *p; p++)
			if (*p == '|')
				*p = ' ';
	} else if (o->kind == OPT_TEXT && strstr(o->arg, "DIR")) {
		snprintf(buf, cap, "dir");
	} else if (o->kind == OPT_TEXT && (strstr(o->arg, "FILE") || strstr(o->arg, "BUNDLE"))) {
		snprintf(buf, cap, "file");
	} else {
		buf[0] = '\0';
	}
}

/* the words a command's positional arguments are, space-separated: kcsi
 * help takes command names; a command may list its own (pos_words); false
 * when they are not words (files) */
static bool pos_words(const struct cmd *c, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (c == cmd_find(NULL, "help")) {
		for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
			if (!e->parent) {
				size_t l = strlen(buf);
				snprintf(buf + l, cap - l, "%s%s", l ? " " : "", e->name);
			}
		return true;
	}
	if (c->pos_words)
		snprintf(buf, cap, "%s", c->pos_words);
	return c->pos_words != NULL;
}

/* One entry of an associative array: bash's map['key']='value', or zsh's
 * map+=('key' 'value') (zsh keeps quotes in a subscript).  Keys and values
 * are names from the tables: no quotes in them. */
static void sh_set(FILE *f, bool zsh, const char *map, const char *key, const char *value)
{
	if (zsh)
		fprintf(f, "%s+=('%s' '%s')\n", map, key, value);
	else
		fprintf(f, "%s['%s']='%s'\n", map, key, value);
}

/* The tables bash and zsh read: associative arrays keyed by the command
 * path ("." for kcsi itself), and _kcsi_path that finds the path typed. */
static void gen_bash_like(FILE *f, bool zsh)
{
	fprintf(f, "typeset -gA _kcsi_subs _kcsi_opts _kcsi_value _kcsi_words\n");
	sh_set(f, zsh, "_kcsi_opts", ".", "-h --help --version");
	for (const struct cmd_entry *p = NULL;; p = p ? p + 1 : cmd_table) {
		char names[1024] = "";
		if (p && !p->cmd)
			break;
		if (p && !cmd_has_subs(p->cmd))
			continue;
		for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
			if (e->parent == (p ? p->cmd : NULL)) {
				size_t l = strlen(names);
				snprintf(names + l, sizeof(names) - l, "%s%s", l ? " " : "", e->name);
			}
		sh_set(f, zsh, "_kcsi_subs", p ? p->path : ".", names);
	}
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++) {
		const struct cmd *c = e->cmd;
		char list[1024] = "-h --help", key[160], v[256];
		for (int i = 0; c->opts && c->opts[i].name; i++) {
			size_t l = strlen(list);
			if (c->opts[i].short_name)
				snprintf(list + l, sizeof(list) - l, " -%c", c->opts[i].short_name);
			l = strlen(list);
			snprintf(list + l, sizeof(list) - l, " --%s", c->opts[i].name);
		}
		sh_set(f, zsh, "_kcsi_opts", e->path, list);
		for (int i = 0; c->opts && c->opts[i].name; i++) {
			const struct opt *o = &c->opts[i];
			if (o->kind == OPT_FLAG)
				continue;
			value_kind(o, v, sizeof(v));
			snprintf(key, sizeof(key), "%s|--%s", e->path, o->name);
			sh_set(f, zsh, "_kcsi_value", key, v);
			if (o->short_name) {
				snprintf(key, sizeof(key), "%s|-%c", e->path, o->short_name);
				sh_set(f, zsh, "_kcsi_value", key, v);
			}
		}
		if (pos_words(c, list, sizeof(list)))
			sh_set(f, zsh, "_kcsi_words", e->path, list);
	}
	/* the command path: the words before the cursor that name a command,
	 * then a subcommand */
	fprintf(f, "\n_kcsi_path() {\n"
		   "    local i w\n"
		   "    _kcsi_cmd=''\n"
		   "    for ((i = %d; i < %s; i++)); do\n"
		   "        w=${%s[i]}\n"
		   "        [[ \" ${_kcsi_subs[${_kcsi_cmd:-.}]} \" == *\" $w \"* ]] || break\n"
		   "        _kcsi_cmd=${_kcsi_cmd:+$_kcsi_cmd }$w\n"
		   "    done\n"
		   "}\n",
		zsh ? 2 : 1, zsh ? "CURRENT" : "COMP_CWORD", zsh ? "words" : "COMP_WORDS");
}

static void gen_bash(FILE *f)
{
	fprintf(f, "# bash completion for kcsi, written by `kcsi completion bash` from kcsi's command\n"
		   "# and option tables.  Use: source <(kcsi completion bash), or save it as\n"
		   "# /etc/bash_completion.d/kcsi.\n");
	gen_bash_like(f, false);
	fprintf(f, "\n_kcsi() {\n"
		   "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} key v _kcsi_cmd\n"
		   "    _kcsi_path\n"
		   "    key=${_kcsi_cmd:-.}\n"
		   "    COMPREPLY=()\n"
		   "    if [[ -n ${_kcsi_value[$key|$prev]+set} ]]; then\n"
		   "        v=${_kcsi_value[$key|$prev]}\n"
		   "        case $v in\n"
		   "            =*) COMPREPLY=($(compgen -W \"${v#=}\" -- \"$cur\")) ;;\n"
		   "            dir) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
		   "            file) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
		   "        esac\n"
		   "    elif [[ $cur == -* ]]; then\n"
		   "        COMPREPLY=($(compgen -W \"${_kcsi_opts[$key]}\" -- \"$cur\"))\n"
		   "    elif [[ -n ${_kcsi_subs[$key]+set} ]]; then\n"
		   "        COMPREPLY=($(compgen -W \"${_kcsi_subs[$key]}\" -- \"$cur\"))\n"
		   "    elif [[ -n ${_kcsi_words[$key]+set} ]]; then\n"
		   "        COMPREPLY=($(compgen -W \"${_kcsi_words[$key]}\" -- \"$cur\"))\n"
		   "    else\n"
		   "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
		   "    fi\n"
		   "}\n"
		   "complete -o filenames -F _kcsi kcsi kubectl-kcsi\n");
}

static void gen_zsh(FILE *f)
{
	fprintf(f, "#compdef kcsi kubectl-kcsi\n"
		   "# zsh completion for kcsi, written by `kcsi completion zsh` from kcsi's command\n"
		   "# and option tables.  Use: source <(kcsi completion zsh) after compinit, or save\n"
		   "# it as _kcsi in a directory of $fpath.\n");
	gen_bash_like(f, true);
	fprintf(f, "\n_kcsi() {\n"
		   "    local cur=${words[CURRENT]} prev=${words[CURRENT-1]} key vkey v _kcsi_cmd\n"
		   "    _kcsi_path\n"
		   "    key=${_kcsi_cmd:-.}\n"
		   "    vkey=\"$key|$prev\"\n"
		   "    if (( ${+_kcsi_value[$vkey]} )); then\n"
		   "        v=${_kcsi_value[$vkey]}\n"
		   "        case $v in\n"
		   "            '='*) compadd -- ${=v#=} ;;\n"
		   "            dir) _files -/ ;;\n"
		   "            file) _files ;;\n"
		   "        esac\n"
		   "    elif [[ $cur == -* ]]; then\n"
		   "        compadd -- ${=_kcsi_opts[$key]}\n"
		   "    elif (( ${+_kcsi_subs[$key]} )); then\n"
		   "        compadd -- ${=_kcsi_subs[$key]}\n"
		   "    elif (( ${+_kcsi_words[$key]} )); then\n"
		   "        compadd -- ${=_kcsi_words[$key]}\n"
		   "    else\n"
		   "        _files\n"
		   "    fi\n"
		   "}\n"
		   "if [[ ${funcstack[1]} == _kcsi ]]; then\n"
		   "    _kcsi \"$@\"\n"
		   "else\n"
		   "    compdef _kcsi kcsi kubectl-kcsi\n"
		   "fi\n");
}

/* fish: one `complete` line per command and option, under the condition
 * that the words before it name that command */
static void gen_fish(FILE *f)
{
	fprintf(f, "# fish completion for kcsi, written by `kcsi completion fish` from kcsi's command\n"
		   "# and option tables.  Use: kcsi completion fish | source, or save it as\n"
		   "# ~/.config/fish/completions/kcsi.fish.\n"
		   "function __kcsi_path --description 'the kcsi command path typed so far'\n"
		   "    set -l words (commandline -opc)\n"
		   "    set -e words[1]\n"
		   "    set -l path\n"
		   "    for w in $words\n"
		   "        if contains -- \"$w\" (__kcsi_subs \"$path\")\n"
		   "            set path $path $w\n"
		   "        else\n"
		   "            break\n"
		   "        end\n"
		   "    end\n"
		   "    echo \"$path\"\n"
		   "end\n"
		   "function __kcsi_subs --description 'the subcommands of a kcsi command path'\n"
		   "    switch \"$argv[1]\"\n");
	for (const struct cmd_entry *p = NULL;; p = p ? p + 1 : cmd_table) {
		const struct cmd *parent = p ? p->cmd : NULL;
		if (p && !p->cmd)
			break;
		if (parent && !cmd_has_subs(parent))
			continue;
		fprintf(f, "        case '%s'\n            printf '%%s\\n'", parent ? cmd_path(parent) : "");
		for (const struct cmd_entry *e = cmd_table; e->cmd; e++)
			if (e->parent == parent)
				fprintf(f, " %s", e->name);
		fprintf(f, "\n");
	}
	fprintf(f, "    end\n"
		   "end\n"
		   "function __kcsi_is --description 'is the kcsi command path typed so far this one?'\n"
		   "    test (__kcsi_path) = \"$argv[1]\"\n"
		   "end\n"
		   "for prog in kcsi kubectl-kcsi\n");
	for (const struct cmd_entry *e = cmd_table; e->cmd; e++) {
		const struct cmd *c = e->cmd;
		char words[1024];
		fprintf(f, "    complete -c $prog -f -n '__kcsi_is %s' -a %s -d ",
			e->parent ? cmd_path(e->parent) : "\"\"", e->name);
		quoted(f, c->summary, true);
		fprintf(f, "\n    complete -c $prog -n '__kcsi_is \"%s\"' -s h -l help -d 'show the help'\n", e->path);
		for (int i = 0; c->opts && c->opts[i].name; i++) {
			const struct opt *o = &c->opts[i];
			char v[256];
			fprintf(f, "    complete -c $prog -n '__kcsi_is \"%s\"' -l %s", e->path, o->name);
			if (o->short_name)
				fprintf(f, " -s %c", o->short_name);
			if (o->kind != OPT_FLAG) {
				value_kind(o, v, sizeof(v));
				if (v[0] == '=')
					fprintf(f, " -x -a '%s'", v + 1);
				else if (!strcmp(v, "dir"))
					fprintf(f, " -x -a '(__fish_complete_directories)'");
				else
					fprintf(f, " -r");
			}
			fprintf(f, " -d ");
			quoted(f, o->help, true);
			fputc('\n', f);
		}
		if (pos_words(c, words, sizeof(words)))
			fprintf(f, "    complete -c $prog -f -n '__kcsi_is \"%s\"' -a '%s'\n", e->path, words);
	}
	fprintf(f, "end\n");
}

static int run(struct args *a)
{
	const char *shell = a->pos[0];
	if (!strcmp(shell, "bash"))
		gen_bash(stdout);
	else if (!strcmp(shell, "zsh"))
		gen_zsh(stdout);
	else if (!strcmp(shell, "fish"))
		gen_fish(stdout);
	else
		return usage_error(a->cmd, "the shells are bash, zsh and fish, not '%s'", shell);
	return 0;
}

const struct cmd cmd_completion = {
	.synopsis = "bash|zsh|fish",
	.summary = "print shell completion for bash, zsh or fish",
	.description = "Completes commands, subcommands, options, the values of choice options (e.g.\n"
		       "analyze --format) and file and directory arguments.  It also completes\n"
		       "kubectl-kcsi, the kubectl plugin's name.",
	.example = "$ source <(kcsi completion bash)\n"
		   "$ kcsi completion zsh > _kcsi          # into a directory of $fpath\n"
		   "$ kcsi completion fish > kcsi.fish     # into ~/.config/fish/completions",
	.opts = opts,
	.pos_words = "bash zsh fish",
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
