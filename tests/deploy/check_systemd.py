"""systemd units: hardening, state directories, systemd-analyze verify."""

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from deploy_files import (
    UNITS, arg_values, die, rel, unit_exec_starts)


HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "DynamicUser": "yes"}


def unit_settings(path):
    settings = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), []).append(v.strip())
    return settings


def check_systemd(findings):
    findings.check({p.name for p in UNITS} >= {"berth-hub.service", "berth-agent.service",
                                               "berth-gateway.service"},
                   "units for the hub, the agent and the gateway exist", f"found {[p.name for p in UNITS]}")
    for path in UNITS:
        where = rel(path)
        s = unit_settings(path)
        for key, value in HARDENING.items():
            findings.check(s.get(key, [None])[-1] == value, f"{where} {key}={value}", f"it is {s.get(key)}")
        findings.check(bool(s.get("Restart")), f"{where} sets Restart=", "add Restart=on-failure")
        findings.check(s.get("CapabilityBoundingSet", ["x"])[-1] == "", f"{where} drops all capabilities",
                       "set CapabilityBoundingSet= (empty)")
        state_dirs = {f"/var/lib/{d}" for v in s.get("StateDirectory", []) for d in v.split()}
        [exec_start] = unit_exec_starts(path)
        argv = shlex.split(exec_start)
        for flag in ("--data-dir", "--state-dir"):
            for value in arg_values(argv, flag):
                findings.check(value in state_dirs, f"{where} {flag} {value} is its StateDirectory",
                               f"with ProtectSystem=strict only StateDirectory= is writable ({state_dirs})")
        # Secrets reach the binaries as credential files, never on the command line.
        credentials = {v.split(":", 1)[0] for v in s.get("LoadCredential", [])}
        findings.check(not arg_values(argv, "--join-token") and "--join-token" not in argv,
                       f"{where} passes no --join-token on its command line",
                       "use --join-token-file=${CREDENTIALS_DIRECTORY}/join-token")
        for value in arg_values(argv, "--join-token-file"):
            name = value.rsplit("/", 1)[-1]
            findings.check(value.startswith("${CREDENTIALS_DIRECTORY}/") and name in credentials,
                           f"{where} --join-token-file {value} is a LoadCredential= file",
                           f"add LoadCredential={name}:/etc/berth/{name}")
        # A kubeconfig holds a credential too: a LoadCredential= file, readable by the dynamic user.
        for value in arg_values(argv, "--kubeconfig"):
            name = value.rsplit("/", 1)[-1]
            findings.check(value.startswith("${CREDENTIALS_DIRECTORY}/") and name in credentials,
                           f"{where} --kubeconfig {value} is a LoadCredential= file",
                           f"add LoadCredential={name}:/etc/berth/<file> and pass ${{CREDENTIALS_DIRECTORY}}/{name}")
        if path.name == "berth-gateway.service":
            findings.check(bool(arg_values(argv, "--kubeconfig")), f"{where} names the hub's kubeconfig",
                           "pass --kubeconfig=${CREDENTIALS_DIRECTORY}/kubeconfig")
            # HAProxy JIT-compiles the configuration's regexes (PCRE2 JIT) and refuses to start
            # when W^X memory is denied ("jit compilation failed").
            findings.check(s.get("MemoryDenyWriteExecute", ["no"])[-1] != "yes",
                           f"{where} allows HAProxy's PCRE2 JIT (no MemoryDenyWriteExecute=yes)",
                           "remove MemoryDenyWriteExecute=yes: the HAProxy child would not start")
        if path.name == "berth-agent.service":
            findings.check(bool(arg_values(argv, "--join-token-file")), f"{where} reads its join token from a file",
                           "pass --join-token-file")
        if shutil.which("systemd-analyze"):
            problems = systemd_verify(path)
            findings.check(not problems, f"{where} passes systemd-analyze verify", "; ".join(problems))
    if shutil.which("systemd-analyze"):
        # Self-check: verify reports an unknown key and a bad value.
        with tempfile.TemporaryDirectory() as tmp:
            bogus = Path(tmp) / "bogus.service"
            bogus.write_text("[Service]\nExecStart=/bin/true\nBogusKey=1\nProtectSystem=wrong\n")
            if len(systemd_verify(bogus)) < 2:
                die("self-check: systemd-analyze verify accepted an unknown key and a bad value")


def systemd_verify(path):
    """systemd-analyze verify findings, minus the binary not being installed on this host."""
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                         capture_output=True, text=True)
    return [l for l in (run.stderr + run.stdout).splitlines()
            if l.strip() and "is not executable" not in l]
