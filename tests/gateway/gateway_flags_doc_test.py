#!/usr/bin/env python3
"""docs/GATEWAY.md and `berth-gateway --help` agree: every flag in the doc's Flags table
exists in --help, and every flag in --help is in the table."""
import os
import re
import subprocess
import sys

BIN = os.environ.get("BERTH_BIN_DIR", "build/bin")
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def table_flags(markdown):
    section = markdown.split("## Flags", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    return {flag for row in rows for flag in FLAG.findall(row.split("|")[1])}


def main():
    with open("docs/GATEWAY.md") as f:
        documented = table_flags(f.read())
    help_text = subprocess.run([os.path.join(BIN, "berth-gateway"), "--help"], check=True,
                               capture_output=True, text=True).stdout
    offered = set(FLAG.findall(help_text)) - {"--help"}
    missing_in_doc = sorted(offered - documented)
    missing_in_help = sorted(documented - offered)
    if missing_in_doc or missing_in_help:
        sys.exit("flags in --help but not in docs/GATEWAY.md: %s; in the doc but not in --help: %s"
                 % (missing_in_doc, missing_in_help))
    print("PASS: %d flags documented" % len(documented))


if __name__ == "__main__":
    main()
