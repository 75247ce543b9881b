"""(1) Every --flag that deploy/ and docs/OPERATIONS.md pass to a Berth binary exists in
that binary's --help."""

import re
import shlex
from pathlib import Path

from deploy_files import (
    AGENT_DIRS, BINARIES, DOCKERFILES, GATEWAY_DIRS, HUB_DIRS, OPERATIONS_MD, UNITS, binary_of_image,
    containers_of, die, dockerfile_instructions, exec_form, flag_in_help, flags_of,
    help_text, rel, rendered_objects, unit_exec_starts)


def doc_command_lines(path):
    """Command lines in ``` blocks of a Markdown file that start with a Berth binary."""
    if not path.exists():
        return []
    out, in_block = [], False
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        line = line.strip()
        line = re.sub(r"^\$\s+", "", line)
        # Commands inside $(...) or after a pipe start a new command line too.
        for part in re.split(r"\$\(|\|\s*|&&\s*|;\s*", line):
            part = part.strip()
            words = part.split()
            if words and Path(words[0]).name in BINARIES:
                out.append(part)
    return out


def invocations():
    """[(where, binary, argv)] for every place deploy/ or the operations guide runs a binary."""
    found = []
    for source, obj in rendered_objects(*HUB_DIRS, *AGENT_DIRS, *GATEWAY_DIRS):
        for c in containers_of(obj):
            binary = binary_of_image(c.get("image", ""))
            if binary:
                where = f"{source} {obj['kind']}/{obj['metadata']['name']} container {c['name']}"
                found.append((where, binary, c.get("command", [])[1:] + c.get("args", [])))
    for path in DOCKERFILES:
        entry, cmd = [], []
        for instr, args in dockerfile_instructions(path):
            if instr == "ENTRYPOINT":
                entry = exec_form(args, path) or []
            elif instr == "CMD":
                cmd = exec_form(args, path) or []
        if entry and Path(entry[0]).name in BINARIES:
            found.append((rel(path), Path(entry[0]).name, entry[1:] + cmd))
    for path in UNITS:
        for line in unit_exec_starts(path):
            words = shlex.split(line)
            if words and Path(words[0].lstrip("-@+!")).name in BINARIES:
                found.append((rel(path), Path(words[0]).name, words[1:]))
    for line in doc_command_lines(OPERATIONS_MD):
        words = shlex.split(line, comments=True)
        found.append((f"{rel(OPERATIONS_MD)}: {line[:60]}", Path(words[0]).name, words[1:]))
    return found


def check_flags(findings):
    help_cache = {}

    def help_for(binary, argv):
        subcommands = []
        if binary in ("berthctl", "berth-hub"):  # berthctl token create, berth-hub migrate: the subcommand's --help
            for word in argv:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                subcommands.append(word)
        key = (binary, tuple(subcommands))
        if key not in help_cache:
            help_cache[key] = help_text(binary, subcommands)
        return help_cache[key]

    # Self-check: a flag no binary has is reported.
    if flag_in_help("--no-such-flag", help_for("berth-hub", [])):
        die("self-check: berth-hub --help claims --no-such-flag")
    if not flag_in_help("--data-dir", help_for("berth-hub", [])):
        die("self-check: berth-hub --help does not show --data-dir; is the help parser broken?")

    seen_binaries = set()
    for where, binary, argv in invocations():
        seen_binaries.add(binary)
        text = help_for(binary, argv)
        for flag in flags_of(argv):
            findings.check(flag_in_help(flag, text), f"{where}: {binary} {flag}",
                           f"{binary} has no such flag (see `{binary} --help`); fix the file "
                           "or add the flag to the binary")
    for binary in BINARIES:
        findings.check(binary in seen_binaries, f"deploy/ runs {binary}",
                       "no manifest, Dockerfile or unit starts it")
