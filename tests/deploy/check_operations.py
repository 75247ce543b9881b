"""docs/OPERATIONS.md walked through with a real berth-hub started from the Deployment's
arguments."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from deploy_files import (
    HUB_EXAMPLE, HUB_KUSTOMIZE, arg_values, binary_of_image, containers_of, die,
    rendered_objects)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HubProcess:
    """berth-hub started with a manifest's arguments, its data dir and port moved to a temp dir
    and a free loopback port."""

    def __init__(self, args, data_dir, log_path):
        self.port = free_port()
        self.data_dir = data_dir
        argv = [a for a in args if not a.startswith(("--data-dir", "--listen"))]
        argv += [f"--data-dir={data_dir}", f"--listen=127.0.0.1:{self.port}"]
        binary = Path(os.environ.get("BERTH_BIN_DIR", "")) / "berth-hub"
        if not binary.exists():
            die(f"{binary} does not exist: build berth-hub")
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([str(binary), *argv], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"berth-hub exited {self.proc.returncode} at start; log: {log_path}")
            try:
                if self.request("/readyz", verify=False)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        die(f"berth-hub did not become ready in 30 s; log: {log_path}")

    def request(self, path, token=None, verify=True, server_name="127.0.0.1"):
        """(status, body) of GET path over HTTPS; verify=True checks the
        certificate against pki/ca.crt *for server_name*."""
        ctx = ssl.create_default_context(cafile=str(Path(self.data_dir) / "pki" / "ca.crt")) \
            if verify else ssl._create_unverified_context()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                headers = f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n"
                if token:
                    headers += f"Authorization: Bearer {token}\r\n"
                tls.sendall((headers + "\r\n").encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
        status = int(data.split(b" ", 2)[1])
        return status, data.split(b"\r\n\r\n", 1)[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def admin_token(data_dir):
    text = (Path(data_dir) / "admin.kubeconfig").read_text()
    m = re.search(r"^\s*token:\s*(\S+)", text, re.M)
    if not m:
        die(f"{data_dir}/admin.kubeconfig has no token")
    return m.group(1)


def kubeconfig_server(data_dir):
    m = re.search(r"^\s*server:\s*(\S+)", (Path(data_dir) / "admin.kubeconfig").read_text(), re.M)
    return m.group(1) if m else None


def loopback_kubeconfig(hub):
    """admin.kubeconfig with its server moved to the hub's loopback port: the guide's
    `kubectl port-forward` + `config set-cluster --server=https://127.0.0.1:6443` step
    (127.0.0.1 is always in the serving certificate)."""
    text = (Path(hub.data_dir) / "admin.kubeconfig").read_text()
    moved = re.sub(r"^(\s*server:\s*)\S+", rf"\g<1>https://127.0.0.1:{hub.port}", text, flags=re.M)
    path = Path(hub.data_dir).parent / "loopback.kubeconfig"
    path.write_text(moved)
    path.chmod(0o600)
    return path


def create_join_token(hub):
    """`berthctl token create --kubeconfig admin.kubeconfig --cluster NAME` (the guide's join
    step), through the port-forwarded address; returns the token id (the BootstrapToken's name)."""
    berthctl = Path(os.environ.get("BERTH_BIN_DIR", "")) / "berthctl"
    if not berthctl.exists():
        die(f"{berthctl} does not exist: build berthctl")
    run = subprocess.run([str(berthctl), "token", "create", "--kubeconfig",
                          str(loopback_kubeconfig(hub)), "--cluster", "gpu-eu-1", "--ttl", "1h"],
                         capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        die(f"berthctl token create: {run.stderr.strip()}")
    return run.stdout.strip().split(".")[0]


def token_names(hub, token):
    status, body = hub.request("/apis/berth.dev/v1alpha1/bootstraptokens", token=token)
    if status != 200:
        die(f"GET bootstraptokens: {status} {body[:200]!r}")
    return {item["metadata"]["name"] for item in json.loads(body)["items"]}


def online_backup(db, target):
    """The backup command of docs/OPERATIONS.md; Python's sqlite3 runs the same online backup
    API when the sqlite3 CLI is not installed."""
    if shutil.which("sqlite3"):
        run = subprocess.run(["sqlite3", str(db), f".backup {target}"], capture_output=True, text=True)
        return "sqlite3 CLI", run.returncode == 0 and Path(target).exists(), run.stderr.strip()
    import sqlite3
    src, dst = sqlite3.connect(str(db)), sqlite3.connect(str(target))
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return "python sqlite3 backup API (install the sqlite3 CLI)", True, ""


def check_operations(findings):
    """Runs the hub the way the Deployment does and walks through the guide's procedures:
    certificate bootstrap, fetching admin.kubeconfig and the CA, /metrics auth, online backup,
    admin token rotation, adding a SAN."""
    hub_objects = rendered_objects(HUB_KUSTOMIZE)
    [dep] = [o for _, o in hub_objects if o["kind"] == "Deployment"]
    [c] = [c for c in containers_of(dep) if binary_of_image(c["image"]) == "berth-hub"]
    args = c.get("args", [])
    service_names = arg_values(args, "--tls-san")
    [example] = [o for _, o in rendered_objects(HUB_EXAMPLE) if o["kind"] == "Deployment"]
    example_args = containers_of(example)[0].get("args", [])

    with tempfile.TemporaryDirectory(prefix="berth-deploy-") as tmp:
        data, log = Path(tmp) / "data", Path(tmp) / "hub.log"
        hub = HubProcess(args, data, log)
        try:
            for f in ("berth.db", "admin.kubeconfig", "pki/ca.crt", "pki/ca.key", "pki/server.crt"):
                findings.check((data / f).exists(), f"first start created {f}", f"missing; log: {log}")
            advertised = arg_values(args, "--advertise-url")[-1:]
            findings.check(bool(advertised) and kubeconfig_server(data) == advertised[0],
                           f"admin.kubeconfig names the --advertise-url {advertised}",
                           f"it names {kubeconfig_server(data)}")
            # Clients that dial the Service verify the hub with the CA from the data dir.
            for name in service_names:
                try:
                    status = hub.request("/readyz", server_name=name)[0]
                    findings.check(status == 200, f"TLS verifies as {name} with pki/ca.crt", f"/readyz {status}")
                except ssl.SSLError as e:
                    findings.fail(f"TLS verifies as {name} with pki/ca.crt: {e}")
            try:
                hub.request("/readyz", server_name="not-in-the-cert.example.com")
                findings.fail("self-check: a name outside --tls-san verified")
            except ssl.SSLCertVerificationError:
                findings.ok("a name outside --tls-san does not verify")
            findings.check(hub.request("/healthz")[0] == 200, "/healthz answers 200", "liveness probe path")
            token = admin_token(data)
            findings.check(hub.request("/metrics")[0] == 401, "/metrics without a token is 401",
                           "metrics must need the admin token")
            status, body = hub.request("/metrics", token=token)
            findings.check(status == 200 and b"berth_api_requests_total" in body,
                           "/metrics with the admin token serves berth_api_requests_total", f"status {status}")
            # Online backup while the hub runs (WAL mode): one token before it, one after.
            before_backup = create_join_token(hub)
            how, ok, err = online_backup(data / "berth.db", Path(tmp) / "backup.db")
            findings.check(ok, f"online backup of berth.db while running ({how})", err)
            if ok:
                import sqlite3
                con = sqlite3.connect(str(Path(tmp) / "backup.db"))
                integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
                tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                con.close()
                findings.check(integrity == "ok" and tables > 0, "the backup passes integrity_check and has tables",
                               f"integrity {integrity}, {tables} tables")
            after_backup = create_join_token(hub)
        finally:
            findings.check(hub.stop() == 0, "SIGTERM stops the hub with exit 0", f"log: {log}")

        # Restore (the guide's steps: hub stopped, replace berth.db, drop -wal/-shm), and
        # rotation (delete admin.kubeconfig): one restart does both.
        if ok:
            shutil.copyfile(Path(tmp) / "backup.db", data / "berth.db")
            for suffix in ("-wal", "-shm"):
                (data / f"berth.db{suffix}").unlink(missing_ok=True)
        ca_before = (data / "pki" / "ca.crt").read_bytes()
        (data / "admin.kubeconfig").unlink()
        hub = HubProcess(args, data, log)
        try:
            new_token = admin_token(data)
            if ok:
                names = token_names(hub, new_token)
                findings.check(before_backup in names and after_backup not in names,
                               "the restored hub has what the backup held, and nothing later",
                               f"tokens {sorted(names)}; before backup {before_backup}, after {after_backup}")
            findings.check(new_token != token, "restart without admin.kubeconfig mints a new token", "same token")
            findings.check(hub.request("/metrics", token=token)[0] == 401, "the old admin token is refused",
                           "rotation must revoke it")
            findings.check(hub.request("/metrics", token=new_token)[0] == 200, "the new admin token works", "")
            findings.check((data / "pki" / "ca.crt").read_bytes() == ca_before,
                           "token rotation keeps the CA (members keep working)", "the CA changed")
        finally:
            hub.stop()

        # Adding a --tls-san (the hub-loadbalancer example) re-issues the serving cert at start.
        extra = [a for a in arg_values(example_args, "--tls-san") if a not in service_names]
        hub = HubProcess(example_args, data, log)
        try:
            for name in extra:
                try:
                    status = hub.request("/readyz", server_name=name)[0]
                    findings.check(status == 200, f"after adding --tls-san={name} TLS verifies as {name}", "")
                except ssl.SSLError as e:
                    findings.fail(f"after adding --tls-san={name} TLS verifies as {name}: {e}")
            findings.check(bool(extra), "the example overlay adds a SAN", "nothing to check")
        finally:
            hub.stop()
        example_url = arg_values(example_args, "--advertise-url")[-1:]
        findings.check(bool(example_url) and kubeconfig_server(data) == example_url[0],
                       f"with the example overlay admin.kubeconfig names {example_url} (the last "
                       "--advertise-url wins)", f"it names {kubeconfig_server(data)}")

        # --advertise-url: a host outside the certificate is warned about; http is refused.
        hub = HubProcess(args + ["--advertise-url=https://not-in-the-cert.example.com"], data, log)
        hub.stop()
        warnings = [l for l in log.read_text().splitlines() if "is not in the serving certificate" in l]
        findings.check(any("not-in-the-cert.example.com" in l for l in warnings),
                       "berth-hub warns when the --advertise-url host is not a SAN",
                       f"no warning in {log}")
        binary = Path(os.environ.get("BERTH_BIN_DIR", "")) / "berth-hub"
        run = subprocess.run([str(binary), f"--data-dir={data}", "--listen=127.0.0.1:0",
                              "--advertise-url=http://berth-hub:443"],
                             capture_output=True, text=True, timeout=30)
        findings.check(run.returncode == 2 and "--advertise-url" in run.stderr and "https://" in run.stderr,
                       "berth-hub refuses an http --advertise-url, naming the flag",
                       f"exit {run.returncode}: {run.stderr.strip()}")
