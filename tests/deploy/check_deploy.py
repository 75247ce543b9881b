#!/usr/bin/env python3
"""Checks of deploy/: the files operators run agree with the binaries they start.

    check_deploy.py flags          every --flag used exists in the binary's --help
    check_deploy.py rbac           the agent's ClusterRole covers exactly the requests of
                                   `berth-agent --print-kube-requests`
    check_deploy.py manifests      kustomize renders, schemas validate, deployment invariants
    check_deploy.py dockerfiles    packages exist and cover ldd, COPY sources, non-root USER
    check_deploy.py systemd        units carry the hardening and state directories
    check_deploy.py operations     the hub, started with the Deployment's args, follows the guide

Runs from the repository root (ctest sets the cwd); binaries come from $BERTH_BIN_DIR.
Exit 0 = every check passed; 1 = a finding (each printed as FAIL with the file and what to do).
Each check first proves it can fail on a deliberately wrong input (self-check).
"""

import os
import sys
from pathlib import Path

# The check modules sit beside this file; keep the source tree free of __pycache__.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_dockerfiles import check_dockerfiles  # noqa: E402
from check_flags import check_flags  # noqa: E402
from check_manifests import check_manifests  # noqa: E402
from check_operations import check_operations  # noqa: E402
from check_rbac import check_rbac  # noqa: E402
from check_systemd import check_systemd  # noqa: E402
from deploy_files import ROOT, Findings, die  # noqa: E402


def main(argv):
    if not argv or argv[0] not in ("flags", "rbac", "manifests", "dockerfiles", "systemd", "operations"):
        print(__doc__, file=sys.stderr)
        return 2
    os.chdir(ROOT)
    findings = Findings()
    if argv[0] == "flags":
        check_flags(findings)
    elif argv[0] == "rbac":
        check_rbac(findings)
    elif argv[0] == "manifests":
        check_manifests(findings)
    elif argv[0] == "dockerfiles":
        check_dockerfiles(findings)
    elif argv[0] == "systemd":
        check_systemd(findings)
    else:
        check_operations(findings)
    return findings.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
