#!/usr/bin/python3
"""gen_docs.py: a man page and a bash completion from a program's options.

Usage: gen_docs.py PROGRAM MAN_OUT COMPLETION_OUT

Runs `PROGRAM --help-options=tsv` (the option table of common/cmn_config.c,
the same one --help prints) in an empty environment, so the result is the
shipped defaults whatever the builder's MDS_*/MDP_* variables say, and
writes PROGRAM.1 (man(7) macros) and a bash completion script. meson runs
it at build time (tools/docs/meson.build); `meson install` installs both. The
summary's "Subcommands: a b FILE; c PATH (...)" line gives the subcommands.
"""
import re
import subprocess
import sys

TIMEOUT_SEC = 30
SECTION = "1"
MANUAL = "market-data backpressure"
EXIT_STATUS = [("0", "success (also after --help and --version)"),
               ("1", "a runtime failure (a socket that cannot be bound, an "
                     "actor that cannot start)"),
               ("2", "a usage or configuration error; the message names the "
                     "flag or variable and the value")]
PROGRAMS = ["mds-coordinator", "mdp-pipeline", "mds-feedback-tail"]
# The placeholder of each option type in SYNOPSIS-like text.
VALUE_NAMES = {"int": "N", "double": "X", "string": "TEXT", "bool": "BOOL"}
# String options whose value is a file or a directory (completion).
FILE_SUFFIXES = ("-path", "-file", "-dir")


def read_table(program):
    """(meta, rows): meta has program, version, summary; rows are dicts."""
    result = subprocess.run([program, "--help-options=tsv"],
                            capture_output=True, text=True, env={},
                            timeout=TIMEOUT_SEC)
    if result.returncode != 0:
        sys.exit("gen_docs: %s --help-options=tsv exited %d: %s"
                 % (program, result.returncode, result.stderr))
    meta, rows, header = {}, [], None
    for line in result.stdout.splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition("\t")
            meta[key] = value.replace("\\n", "\n")
        elif header is None:
            header = line.split("\t")
        else:
            rows.append(dict(zip(header, line.split("\t"))))
    if not rows or "program" not in meta:
        sys.exit("gen_docs: %s printed no option table" % program)
    return meta, rows


def subcommands(summary):
    """[(words, argument)] from "Subcommands: dlq replay FILE; keygen
    PATH (...)": the lower-case words, and the argument's placeholder
    (FILE, PATH) or None."""
    found = []

    def add(spec):
        words, takes_file = [], None
        for word in spec.split():
            if word.startswith("("):
                break
            if word.isupper():
                takes_file = word
                break
            words.append(word)
        if words:
            found.append((words, takes_file))

    in_table = False
    for line in summary.splitlines():
        if line.startswith("Subcommands:"):
            rest = line[len("Subcommands:"):]
            for spec in rest.split(";"):
                add(spec)
            in_table = not rest.strip()
            continue
        # A table: "  name ARG  description", continuations indented more.
        if in_table and re.match(r"  \S", line):
            add(re.split(r"\s{2,}", line.strip())[0])
        elif in_table and not line.startswith(" "):
            in_table = False
    return found


# ---- man page ---------------------------------------------------------------

def roff(text):
    """Text for a roff line: backslashes escaped, hyphens of options kept
    as minus signs, no control character at the start of a line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def value_name(row):
    if row["type"] == "choice":
        return "{" + row["choices"].replace("|", ",") + "}"
    return VALUE_NAMES[row["type"]]


def option_entry(row):
    lines = [".TP", ".BI \\-\\-%s \" %s\"" % (roff(row["flag"]),
                                               roff(value_name(row)))]
    lines.append(roff(row["description"].rstrip(".") + "."))
    facts = []
    if row["type"] in ("int", "double"):
        facts.append("%s from %s to %s" % (
            "An integer" if row["type"] == "int" else "A number",
            row["min"], row["max"]))
    elif row["type"] == "choice":
        facts.append("One of " + ", ".join(row["choices"].split("|")))
    elif row["type"] == "bool":
        facts.append("True or false (also yes/no, on/off, 1/0); the bare "
                     "flag means true")
    if facts:
        lines.append(roff(". ".join(facts) + "."))
    lines += ["Default:", ".BR %s ." % roff(row["default"] or "unset"),
              "Variable:", ".BR %s ." % roff(row["variable"])]
    return lines


def man_page(meta, rows):
    name = meta["program"]
    summary = meta.get("summary", "").strip()
    paragraphs = [line for line in summary.splitlines()
                  if line and not line.startswith("Subcommands:")
                  and not line.startswith(" ")]
    first = paragraphs[0] if paragraphs else name
    tagline = re.split(r"(?<=\.)\s", first, maxsplit=1)[0].rstrip(".")
    out = ['.\\" Generated by tools/docs/gen_docs.py from `%s --help-options=tsv`;'
           ' do not edit.' % name,
           '.TH %s %s "" "%s %s" "%s"' % (roff(name.upper()), SECTION,
                                           roff(name), roff(meta["version"]),
                                           MANUAL),
           # Identifiers are not hyphenated, lines not justified: a
           # variable name reads (and greps) as written.
           ".nh", ".ad l",
           ".SH NAME", "%s \\- %s" % (roff(name), roff(tagline)),
           ".SH SYNOPSIS", ".B %s" % roff(name), ".RI [ OPTION ]..."]
    for words, takes_file in subcommands(summary):
        out += [".br", ".B %s %s" % (roff(name), roff(" ".join(words)))]
        if takes_file:
            out.append(".I %s" % roff(takes_file))
        out.append(".RI [ OPTION ]...")
    out += [".SH DESCRIPTION"]
    for paragraph in paragraphs:
        out += [roff(paragraph), ".PP"]
    table = [line for line in summary.splitlines()
             if line.startswith(" ")]
    for line in summary.splitlines():
        if line.startswith("Subcommands:"):
            out += [roff(line)]
            if table:  # the subcommand table, as --help aligns it
                out += [".nf"] + [roff(row) for row in table] + [".fi"]
            out += [".PP"]
    out += [roff("Each option is a long flag (--name VALUE or --name=VALUE) "
                 "and an environment variable; a flag wins over a variable, "
                 "a variable over the default. An empty variable counts as "
                 "unset. A bad value stops start-up with exit status 2 and "
                 "a message naming the flag or variable."),
            ".SH OPTIONS"]
    for row in rows:
        out += option_entry(row)
    out += [".TP", ".B \\-\\-help", "Print the options and exit.",
            ".TP", ".B \\-\\-version", "Print the version and exit.",
            ".SH ENVIRONMENT",
            roff("Every option above is read from the variable named with "
                 "it. The variables of the table are the whole set: an "
                 "unknown one with the program's prefix is reported at "
                 "start-up with the closest known name."),
            ".SH EXIT STATUS"]
    for code, meaning in EXIT_STATUS:
        out += [".TP", ".B %s" % code, roff(meaning + ".")]
    others = [p for p in PROGRAMS if p != name]
    out += [".SH SEE ALSO",
            ",\n".join(".BR %s (%s)" % (roff(p), SECTION) for p in others),
            ".PP", roff("README.md, docs/operations.md, "
                        "store-coordinator/README.md, pipeline/README.md "
                        "and proto/*.md in the source tree.")]
    return "\n".join(out) + "\n"


# ---- bash completion -------------------------------------------------------

def shell_words(words):
    return " ".join(words)


def completion(meta, rows):
    name = meta["program"]
    function = "_" + re.sub(r"[^A-Za-z0-9]", "_", name)
    flags = ["--" + row["flag"] for row in rows] + ["--help", "--version"]
    bools = [("--" + row["flag"]) for row in rows if row["type"] == "bool"]
    values = []  # (case pattern, compgen arguments)
    for row in rows:
        flag = "--" + row["flag"]
        if row["type"] == "choice":
            values.append((flag, "-W '%s'" % row["choices"].replace("|", " ")))
        elif row["type"] == "bool":
            values.append((flag, "-W 'true false'"))
        elif row["type"] == "string" and row["flag"].endswith("-dir"):
            values.append((flag, "-d"))
        elif row["type"] == "string" and row["flag"].endswith(FILE_SUFFIXES):
            values.append((flag, "-f"))
        else:
            values.append((flag, ""))  # a value nobody can guess: none
    commands = subcommands(meta.get("summary", ""))
    lines = [
        "# bash completion for %s; generated by tools/docs/gen_docs.py from" % name,
        "# `%s --help-options=tsv` (do not edit). Needs no bash-completion"
        % name,
        "# helpers: works with `source` in any bash.",
        "%s()" % function,
        "{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev='' flag='' value=0",
        "    (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    # A value after --flag= (bash splits the word at '=') or after",
        "    # --flag; a boolean flag's value is optional.",
        "    if [[ $cur == --*=* ]]; then",
        "        flag=${cur%%=*} cur=${cur#*=} value=1",
        "    elif [[ $cur == = ]]; then",
        "        flag=$prev cur='' value=1",
        "    elif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then",
        "        flag=${COMP_WORDS[COMP_CWORD-2]} value=1",
        "    elif [[ $prev == --* ]]; then",
        "        case $prev in",
        "        %s) ;;" % "|".join(bools or ["--help"]),
        "        *) flag=$prev value=1 ;;",
        "        esac",
        "    fi",
        "    COMPREPLY=()",
        "    if (( value )); then",
        "        case $flag in",
    ]
    for flag, arguments in values:
        if arguments:
            lines.append("        %s) COMPREPLY=($(compgen %s -- \"$cur\"))"
                         "; return 0 ;;" % (flag, arguments))
        else:
            lines.append("        %s) return 0 ;;" % flag)
    lines += ["        esac", "    fi"]
    if bools:
        # `--bool <TAB>`: true/false or the next flag.
        lines += ["    case $prev in",
                  "        %s)" % "|".join(bools),
                  "            [[ $cur == -* ]] || COMPREPLY=($(compgen -W "
                  "'true false' -- \"$cur\"));;",
                  "    esac"]
    if commands:
        firsts = sorted({words[0] for words, _ in commands})
        lines += ["    # Subcommands: the words typed so far select the next.",
                  "    local typed=\"${COMP_WORDS[*]:1:COMP_CWORD-1}\"",
                  "    if [[ $cur != -* ]]; then",
                  "        case $typed in",
                  "        '') COMPREPLY=($(compgen -W '%s' -- \"$cur\"));"
                  " return 0 ;;" % shell_words(firsts)]
        for words, takes_file in commands:
            for depth in range(1, len(words)):
                lines.append("        '%s') COMPREPLY=($(compgen -W '%s' -- "
                             "\"$cur\")); return 0 ;;"
                             % (" ".join(words[:depth]), words[depth]))
            if takes_file:
                lines.append("        '%s') COMPREPLY=($(compgen -f -- "
                             "\"$cur\")); return 0 ;;" % " ".join(words))
        lines += ["        esac", "    fi"]
    lines += ["    [[ $cur == -* || -z $cur ]] && "
              "COMPREPLY+=($(compgen -W '%s' -- \"$cur\"))"
              % shell_words(flags),
              "    return 0",
              "}",
              "complete -F %s %s" % (function, name)]
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    meta, rows = read_table(sys.argv[1])
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        out.write(man_page(meta, rows))
    with open(sys.argv[3], "w", encoding="utf-8") as out:
        out.write(completion(meta, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
