"""(4) Dockerfiles: Debian packages exist and cover the binary's libraries, the build
context holds every component, the built target is the non-root ENTRYPOINT."""

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path

from deploy_files import (
    BINARIES, DOCKERFILES, ROOT, arg_values, die, dockerfile_instructions, exec_form, rel)


def install_deps_packages():
    """The base package array of scripts/install-deps.sh."""
    text = (ROOT / "scripts" / "install-deps.sh").read_text()
    m = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    if not m:
        die("scripts/install-deps.sh: no packages=( ... ) array")
    words = []
    for line in m.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return words


def apt_installed(run_args):
    """Packages named by `apt-get install` in one RUN instruction."""
    pkgs = []
    for command in re.split(r"&&|;", run_args):
        words = command.split()
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


_APT_KNOWN = {}


def apt_prefetch(pkgs):
    """Asks apt-cache about many packages in one run (each run costs a second or more)."""
    todo = sorted(set(pkgs) - set(_APT_KNOWN))
    if not todo:
        return
    run = subprocess.run(["apt-cache", "show", "--no-all-versions", *todo], capture_output=True, text=True)
    found = set(re.findall(r"^Package:\s*(\S+)", run.stdout, re.M))
    for p in todo:
        _APT_KNOWN[p] = p in found


def apt_exists(pkg):
    apt_prefetch([pkg])
    return _APT_KNOWN[pkg]


def apt_closure(pkgs):
    """The packages and everything they Depend/PreDepend on (recursively)."""
    run = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *pkgs],
                         capture_output=True, text=True)
    closure = set(pkgs)
    for line in run.stdout.splitlines():
        m = re.match(r"\s*(?:\|)?(?:Pre)?Depends:\s+<?([^\s>]+)>?", line)
        if m:
            closure.add(m.group(1).split(":")[0])
        elif line and not line.startswith(" "):
            closure.add(line.strip().split(":")[0])
    return closure


def packages_of_binary(binary_path):
    """Debian packages owning the shared libraries `ldd` resolves for a binary."""
    run = subprocess.run(["ldd", str(binary_path)], capture_output=True, text=True)
    if run.returncode != 0:
        die(f"ldd {binary_path}: {run.stderr.strip()}")
    libs = {}
    for line in run.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line)
        if not m:
            continue
        lib = m.group(1)
        # dpkg knows a library under one of its paths (merged /usr: /lib → /usr/lib).
        candidates = {lib, os.path.realpath(lib)}
        candidates |= {c[4:] if c.startswith("/usr/") else "/usr" + c for c in list(candidates)}
        libs[lib] = candidates
    all_paths = sorted({c for cs in libs.values() for c in cs})
    query = subprocess.run(["dpkg", "-S", *all_paths], capture_output=True, text=True)
    owner_of = {}
    for line in query.stdout.splitlines():
        owners, _, path = line.partition(": ")
        owner_of[path.strip()] = owners.split(",")[0].split(":")[0].strip()
    pkgs, unowned = set(), []
    for lib, candidates in libs.items():
        owners = [owner_of[c] for c in candidates if c in owner_of]
        if owners:
            pkgs.add(owners[0])
        else:
            unowned.append(lib)
    return pkgs, unowned


def check_dockerfile(findings, path, base_packages, components):
    name = path.name[: -len(".Dockerfile")]
    where = rel(path)
    instrs = dockerfile_instructions(path)
    stages, current = [], None
    for instr, args in instrs:
        if instr == "FROM":
            current = {"from": args, "instrs": []}
            stages.append(current)
        elif current is not None:
            current["instrs"].append((instr, args))
    findings.check(len(stages) >= 2, f"{where} is multi-stage", "use a build stage and a runtime stage")
    if len(stages) < 2:
        return
    build, runtime = stages[0], stages[-1]
    findings.check(build["from"].split()[0] == "debian:bookworm", f"{where} builds on debian:bookworm",
                   f"FROM {build['from']}")
    findings.check(runtime["from"] == "debian:bookworm-slim", f"{where} runs on debian:bookworm-slim",
                   f"FROM {runtime['from']}")
    stage_names = {s["from"].split()[-1] for s in stages[:-1] if " AS " in s["from"].upper()}

    build_pkgs = [p for i, a in build["instrs"] if i == "RUN" for p in apt_installed(a)]
    missing = [p for p in base_packages if p not in build_pkgs]
    findings.check(not missing, f"{where} build stage installs the packages of scripts/install-deps.sh",
                   f"missing {missing}")
    runtime_pkgs = [p for i, a in runtime["instrs"] if i == "RUN" for p in apt_installed(a)]
    for p in build_pkgs + runtime_pkgs:
        findings.check(apt_exists(p), f"{where} package {p} exists in Debian",
                       "`apt-cache show` does not know it: check the name (bookworm)")

    # Every component the build needs is copied into the build stage.
    copied = set()
    for stage in stages:
        for instr, args in stage["instrs"]:
            if instr not in ("COPY", "ADD"):
                continue
            words = args.split()
            opts = [w for w in words if w.startswith("--")]
            srcs = [w for w in words if not w.startswith("--")][:-1]
            from_stage = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
            if from_stage:
                findings.check(from_stage[0] in stage_names, f"{where} COPY --from={from_stage[0]} names a stage",
                               f"stages are {sorted(stage_names)}")
                continue
            for src in srcs:
                findings.check((ROOT / src).exists(), f"{where} COPY source {src} exists",
                               "the build context is the repository root; fix the path")
                copied.add(src.rstrip("/"))
    # Every component the root CMakeLists.txt adds reaches the build context.
    ignore_file = path.with_name(path.name + ".dockerignore")
    ignored = []
    if ignore_file.exists():
        ignored = [l.strip() for l in ignore_file.read_text().splitlines()
                   if l.strip() and not l.startswith("#")]
    findings.check(ignore_file.exists(), f"{where} has {ignore_file.name}",
                   "without it build/ and node_modules/ are sent as build context")
    for comp in components:
        excluded = [p for p in ignored
                    if fnmatch.fnmatch(comp, p.rstrip("/")) or fnmatch.fnmatch(comp + "/", p)]
        findings.check(("." in copied or comp in copied) and not excluded,
                       f"{where} copies component {comp}/",
                       f"CMakeLists.txt adds it; the image build would fail without it "
                       f"(copied: {sorted(copied)}, excluded by {excluded})")

    build_runs = " ".join(a for i, a in build["instrs"] if i == "RUN")
    findings.check(f"--target {name}" in build_runs, f"{where} builds target {name}",
                   "cmake --build ... --target NAME")
    copies_binary = any(i == "COPY" and f"/bin/{name} " in a + " " and "--from=" in a
                        for i, a in runtime["instrs"])
    findings.check(copies_binary, f"{where} copies the built {name} into the runtime stage",
                   "COPY --from=build /build/bin/NAME ...")
    entry = [exec_form(a, path) for i, a in runtime["instrs"] if i == "ENTRYPOINT"]
    findings.check(bool(entry) and entry[-1] and Path(entry[-1][0]).name == name,
                   f"{where} ENTRYPOINT is {name} (exec form)", f"ENTRYPOINT is {entry}")

    users = [a for i, a in runtime["instrs"] if i == "USER"]
    user = users[-1].split(":")[0] if users else "root"
    findings.check(user not in ("root", "0"), f"{where} runs as non-root (USER {user})",
                   "add USER with a non-root uid")
    if user.isdigit():
        creates = " ".join(a for i, a in runtime["instrs"] if i == "RUN")
        findings.check(f"--uid {user}" in creates, f"{where} creates uid {user}",
                       "useradd --uid UID so the user has a name and home")

    exposed = [a for i, a in runtime["instrs"] if i == "EXPOSE"]
    cmd = [exec_form(a, path) for i, a in runtime["instrs"] if i == "CMD"]
    if name == "berth-hub":
        listen = arg_values(cmd[-1] if cmd and cmd[-1] else [], "--listen")
        port = listen[0].rsplit(":", 1)[1] if listen else None
        findings.check(port is not None and any(port in e.split() for e in exposed),
                       f"{where} EXPOSEs the --listen port {port}", f"EXPOSE {exposed}")
    if name == "berth-agent":
        findings.check(bool(exposed), f"{where} EXPOSEs the admin port", "EXPOSE the --admin-listen port")
    if name == "berth-gateway":
        # berth-gateway starts HAProxy as its child (--haproxy, default /usr/sbin/haproxy).
        findings.check("haproxy" in runtime_pkgs, f"{where} runtime installs Debian's haproxy",
                       "add haproxy to the runtime stage's apt-get install")
        argv = cmd[-1] if cmd and cmd[-1] else []
        for flag in ("--listen", "--metrics-listen"):
            values = arg_values(argv, flag)
            port = values[0].rsplit(":", 1)[1] if values else None
            findings.check(port is not None and any(port in e.split() for e in exposed),
                           f"{where} EXPOSEs the {flag} port {port}", f"EXPOSE {exposed}")

    # The runtime packages (with their dependencies) provide every library the binary links.
    binary = Path(os.environ.get("BERTH_BIN_DIR", "")) / name
    if not binary.exists():
        die(f"{binary} does not exist: build {name} to check its runtime libraries")
    needed, unowned = packages_of_binary(binary)
    findings.check(not unowned, f"{where} every library of {name} belongs to a Debian package",
                   f"not from a package: {unowned}")
    closure = apt_closure(runtime_pkgs)
    for pkg in sorted(needed):
        findings.check(pkg in closure, f"{where} runtime provides {pkg} (ldd {name})",
                       f"add {pkg} to the runtime stage's apt-get install")


def root_components():
    """Unconditional add_subdirectory() of the root CMakeLists.txt (tests/bench are optional)."""
    text = (ROOT / "CMakeLists.txt").read_text()
    text = re.sub(r"if\(.*?endif\(\)", "", text, flags=re.S)
    return re.findall(r"add_subdirectory\((\S+?)\)", text)


def check_dockerfiles(findings):
    if shutil.which("apt-cache") is None:
        die("apt-cache is not available: the Dockerfile check needs a Debian host")
    findings.check(len(DOCKERFILES) == len(BINARIES), "one Dockerfile per binary",
                   f"found {[p.name for p in DOCKERFILES]}")
    if apt_exists("libnot-a-real-package-berth0"):
        die("self-check: apt-cache claims a made-up package exists")
    base = install_deps_packages()
    apt_prefetch(base + [p for path in DOCKERFILES for i, a in dockerfile_instructions(path)
                         if i == "RUN" for p in apt_installed(a)])
    components = root_components() + ["cmake"]
    for path in DOCKERFILES:
        check_dockerfile(findings, path, base, components)
