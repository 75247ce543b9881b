"""A real berth-hub on loopback for the Python suites (tests/python, tests/hostile): started
from $BERTH_BIN_DIR on a free port with its own data dir, stopped with SIGTERM. Standard
library only, so it runs under any python3.
"""
import http.client
import os
import shutil
import ssl
import socket
import subprocess
import tempfile
import time
import unittest


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HubProcess:
    """Starts berth-hub; waits (bounded, 20 s) until it wrote its CA and admin kubeconfig."""

    def __init__(self, prefix="berth-pytest-", extra_args=()):
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.data_dir = os.path.join(self.work, "hub")
        self.log_path = os.path.join(self.work, "hub.log")
        self.kubeconfig = os.path.join(self.data_dir, "admin.kubeconfig")
        self.ca = os.path.join(self.data_dir, "pki", "ca.crt")
        self._log = open(self.log_path, "w")
        # BERTH_HUB_WRAPPER: ctest's *_etcd variants run the hub on its own etcd
        # (tests/support/berth-hub-on-etcd).
        wrapper = [os.environ["BERTH_HUB_WRAPPER"]] if os.environ.get("BERTH_HUB_WRAPPER") else []
        self.proc = subprocess.Popen(
            wrapper + [os.path.join(os.environ["BERTH_BIN_DIR"], "berth-hub"), "--data-dir", self.data_dir,
             "--listen", "127.0.0.1:%d" % self.port] + list(extra_args), stdout=self._log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.ca) and os.path.exists(self.kubeconfig):
                break
            time.sleep(0.1)

    def request(self, method, path, body=None, headers=None, token=None):
        """One request on its own TLS connection (verified against the hub's CA): (status, body)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def wait_ready(self):
        """Waits (bounded, 10 s) until /readyz answers 200."""
        for _ in range(100):
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)

    def admin_token(self):
        with open(self.kubeconfig) as f:
            return [l.split("token:")[1].strip() for l in f if "token:" in l][0]

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss_mib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """Stops the hub, removes its data dir and returns its log."""
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self._log.close()
        text = self.log()
        shutil.rmtree(self.work, ignore_errors=True)
        return text


class HubTestCase(unittest.TestCase):
    """A test class with one hub of its own: HUB_ARGS are extra berth-hub flags."""
    HUB_PREFIX = "berth-pytest-"
    HUB_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.hubp = HubProcess(cls.HUB_PREFIX, cls.HUB_ARGS)
        cls.hub, cls.port = cls.hubp.proc, cls.hubp.port
        cls.ctx = ssl.create_default_context(cafile=cls.hubp.ca)
        cls.token = cls.hubp.admin_token()
        cls.hubp.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.hubp.stop()

    @classmethod
    def request(cls, method, path, body=None, headers=None, auth=False):
        return cls.hubp.request(method, path, body, headers, cls.token if auth else None)

    def assertHubAlive(self):
        self.assertIsNone(self.hub.poll(), "the hub died; its log:\n" + self.hubp.log()[-3000:])
        self.assertEqual(self.request("GET", "/healthz")[0], 200)
