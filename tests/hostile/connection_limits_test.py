"""Connection-level hostile probes against a real berth-hub on loopback (Python standard
library only): sockets closed before TLS, silent and slow clients, oversized headers and
bodies, too many connections, watchers that never read. The hub runs with short timeouts
(1-2 s) so each probe ends within seconds; every loop is bounded. After each probe the hub
must be alive, and at the end its open descriptors back near where they started and its RSS
under a stated bound.
"""
import http.client
import json
import os
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from hub_process import HubTestCase  # noqa: E402

JOIN = "/apis/berth.dev/v1alpha1/join"
WORKSPACES = "/apis/berth.dev/v1alpha1/namespaces/default/workspaces"
HANDSHAKE_S, HEADER_S, BODY_S, IDLE_S = 1, 2, 2, 2
MAX_CONNECTIONS = 64
WATCH_BACKLOG = 64 * 1024
RSS_BOUND_MIB = 400  # stated in docs/OPERATIONS.md "Edge limits"


def closed_within(sock, seconds):
    """True if the peer closes (EOF or reset) within `seconds`; reads and drops data."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            return True
    return False


class ConnectionLimitsTest(HubTestCase):
    HUB_PREFIX = "berth-limits-"
    HUB_ARGS = (
        "--tls-handshake-timeout", str(HANDSHAKE_S), "--request-header-timeout", str(HEADER_S),
        "--request-body-timeout", str(BODY_S), "--idle-timeout", str(IDLE_S),
        "--max-connections", str(MAX_CONNECTIONS), "--max-watch-backlog-bytes", str(WATCH_BACKLOG),
        "--no-controllers")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fds_at_start = cls.hubp.open_fds()

    def tls(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def metric(self, reason):
        _, data = self.request("GET", "/metrics", auth=True)
        key = 'berth_http_connections_closed_total{reason="%s"}' % reason
        for line in data.decode().splitlines():
            if line.startswith(key):
                return float(line.split()[-1])
        return 0.0

    def read_response(self, sock):
        """Reads one HTTP response off a raw TLS socket: (status, body)."""
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, resp.read()

    # Was: a TCP connect closed before TLS stayed in CLOSE-WAIT forever.
    def test_connects_closed_before_tls_release_their_sockets(self):
        before = self.hubp.open_fds()
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.close()
        for _ in range(50):  # bounded: 5 s
            if self.hubp.open_fds() <= before + 2:
                break
            time.sleep(0.1)
        self.assertLessEqual(self.hubp.open_fds(), before + 2)
        self.assertHubAlive()

    def test_silent_connection_is_closed_after_the_handshake_timeout(self):
        before = self.metric("handshake_timeout")
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        start = time.monotonic()
        self.assertTrue(closed_within(s, HANDSHAKE_S + 4), "a connection that never starts TLS stayed open")
        self.assertGreaterEqual(time.monotonic() - start, HANDSHAKE_S * 0.8)
        s.close()
        self.assertGreater(self.metric("handshake_timeout"), before)

    # Slowloris: a header trickling in a byte at a time is cut at the header deadline,
    # however steadily the bytes come.
    def test_slow_header_is_closed_at_the_header_deadline(self):
        s = self.tls()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < HEADER_S + 4:
            try:
                s.sendall(b"X")
            except (OSError, ssl.SSLError):
                closed = True
                break
            if closed_within(s, 0.3):
                closed = True
                break
        elapsed = time.monotonic() - start
        s.close()
        self.assertTrue(closed, "a slow header was still open after %.1f s" % elapsed)
        self.assertGreaterEqual(elapsed, HEADER_S * 0.8)
        self.assertHubAlive()

    def test_partial_body_is_closed_at_the_body_deadline(self):
        s = self.tls()
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000\r\n\r\n{\"a\":" % (WORKSPACES, self.token)).encode())
        start = time.monotonic()
        self.assertTrue(closed_within(s, BODY_S + 4), "a body that never completes kept its connection")
        self.assertGreaterEqual(time.monotonic() - start, BODY_S * 0.8)
        s.close()
        self.assertHubAlive()

    def test_idle_kept_alive_connection_is_closed(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 200)
        self.assertTrue(closed_within(conn.sock, IDLE_S + 4), "an idle kept-alive connection stayed open")
        conn.close()

    def test_oversized_header_is_431_and_costs_nothing(self):
        rss = self.hubp.rss_mib()
        s = self.tls()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(200):  # up to 200 x 8 KiB; the hub answers after 64 KiB
                s.sendall(b"a" * 8192)
        except (OSError, ssl.SSLError):
            pass
        status, _ = self.read_response(s)
        s.close()
        self.assertEqual(status, 431)
        self.assertLess(self.hubp.rss_mib() - rss, 32)
        fields = "".join("X-F%d: v\r\n" % i for i in range(200))
        s = self.tls()
        s.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n").encode())
        self.assertEqual(self.read_response(s)[0], 431)
        s.close()
        self.assertHubAlive()

    # The 401 comes from the header: the 100 MB the client announced are never read.
    def test_unauthenticated_body_is_refused_before_it_is_read(self):
        for path in (WORKSPACES, WORKSPACES + "/x", "/metrics"):
            s = self.tls()
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 100000000\r\n\r\n{" % path).encode())
            status, data = self.read_response(s)
            s.close()
            self.assertEqual(status, 401, data[:200])
            self.assertEqual(json.loads(data)["kind"], "Status")
        self.assertHubAlive()

    def test_oversized_bodies_are_413(self):
        # Announced: answered at once, whatever follows.
        for path, auth in ((JOIN, "abc.def"), (WORKSPACES, self.token)):
            s = self.tls()
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: 3221225472\r\n\r\n{" % (path, auth)).encode())
            status, data = self.read_response(s)
            s.close()
            self.assertEqual(status, 413, data[:200])
        # A join of 100 KiB (its cap is 64 KiB).
        s = self.tls()
        body = json.dumps({"clusterName": "a", "region": "x" * 100000}).encode()
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc.def\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n" % (JOIN, len(body))).encode() + body)
        self.assertEqual(self.read_response(s)[0], 413)
        s.close()
        # Chunked, without a length: cut while it streams in (3 MiB), not at its end.
        s = self.tls()
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" % (WORKSPACES, self.token)).encode())
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        sent = 0
        try:
            for _ in range(200):  # at most 12.5 MiB
                s.sendall(chunk)
                sent += 65536
        except (OSError, ssl.SSLError):
            pass
        status, _ = self.read_response(s)
        s.close()
        self.assertEqual(status, 413)
        self.assertLess(sent, 200 * 65536, "the hub read the whole chunked body before refusing it")
        self.assertHubAlive()

    def test_connections_beyond_the_cap_are_closed_at_once(self):
        socks = []
        try:
            for _ in range(MAX_CONNECTIONS + 16):
                socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
            time.sleep(0.5)
            closed = sum(1 for s in socks[MAX_CONNECTIONS - 8:] if closed_within(s, 0.2))
            self.assertGreaterEqual(closed, 8, "connections over the cap were kept")
        finally:
            for s in socks:
                s.close()
        for _ in range(100):  # the silent ones end at the handshake timeout; bounded: 10 s
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        self.assertHubAlive()

    # A watcher that never reads is cut once 64 KiB of events wait for it; a fresh watch
    # resumes from the resourceVersion it had seen.
    def test_watcher_that_never_reads_is_cut_and_can_resume(self):
        before = self.metric("stream_backlog")
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", self.port))
        s = self.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(("GET %s?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (WORKSPACES, self.token)).encode())
        status, _ = self.request("GET", WORKSPACES, auth=True)
        self.assertEqual(status, 200)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        note = "x" * 16384
        for i in range(400):  # up to 6.4 MB of events; the cut comes far earlier
            ws = {"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
                  "metadata": {"name": "flood-%d" % i, "annotations": {"note": note}},
                  "inference": {"preset": {"name": "phi-4-mini-instruct"}}}
            conn.request("POST", WORKSPACES, json.dumps(ws),
                         {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 201)
            if i % 20 == 19 and self.metric("stream_backlog") > before:
                break
        conn.close()
        self.assertGreater(self.metric("stream_backlog"), before, "a watcher that never read was not cut")
        s.close()
        # Resume: a watch from the list's resourceVersion sees only what came after.
        _, data = self.request("GET", WORKSPACES + "?limit=1", auth=True)
        rv = json.loads(data)["metadata"]["resourceVersion"]
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        conn.request("GET", WORKSPACES + "?watch=true&timeoutSeconds=2&resourceVersion=" + rv,
                     headers={"Authorization": "Bearer " + self.token})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.request("DELETE", WORKSPACES + "/flood-0", auth=True)
        events = [json.loads(l) for l in resp.read().decode().splitlines() if l.strip()]
        conn.close()
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events if e["type"] != "BOOKMARK"],
                         [("DELETED", "flood-0")])
        self.assertHubAlive()

    def test_zz_descriptors_and_memory_are_bounded(self):
        for _ in range(60):  # bounded: 6 s for the last connections to time out
            if self.hubp.open_fds() <= self.fds_at_start + 2:
                break
            time.sleep(0.1)
        self.assertLessEqual(self.hubp.open_fds(), self.fds_at_start + 2)
        self.assertLess(self.hubp.rss_mib(), RSS_BOUND_MIB)
        self.assertHubAlive()



class ManySlowHeadersTest(HubTestCase):
    """80 headers trickling in at once (more than the other suite's connection cap allows):
    every one is cut at the header deadline, and a real client whose header takes 1.5 s is
    served as soon as its blank line arrives."""
    HUB_PREFIX = "berth-slowheaders-"
    HUB_ARGS = ("--request-header-timeout", "8", "--no-controllers")
    SLOWLORIS = 80

    def tls(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def test_paced_slow_headers_still_end_and_real_clients_are_served(self):
        attackers = []
        try:
            for _ in range(self.SLOWLORIS):
                s = self.tls()
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                attackers.append(s)
            start = time.monotonic()
            for _ in range(3):  # a byte each after 1.2 s and 2.4 s: every one of them is slow now
                time.sleep(1.2)
                for s in attackers:
                    s.sendall(b"X-A: b\r\n")
            # A real client whose header takes 1.5 s: complete once its blank line arrives.
            slow = self.tls()
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            time.sleep(1.5)
            slow.sendall(b"\r\n")
            t = time.monotonic()
            resp = http.client.HTTPResponse(slow)
            resp.begin()
            self.assertEqual(resp.status, 200)
            self.assertLess(time.monotonic() - t, 4.0, "a complete header was not answered at once")
            slow.close()
            self.assertHubAlive()
            # The attackers end at the header deadline.
            closed = sum(1 for s in attackers if closed_within(s, max(0.1, 8 + 4 - (time.monotonic() - start))))
            self.assertEqual(closed, self.SLOWLORIS)
        finally:
            for s in attackers:
                s.close()

if __name__ == "__main__":
    unittest.main(verbosity=2)
