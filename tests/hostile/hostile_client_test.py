"""Hostile-client probes against a real berth-hub on loopback, with nothing but Python's
standard library (http.client, ssl, socket): each probe must get a 4xx (or a closed
connection) and the hub must stay alive. The seed of the hardening suite (issue: harden the
hub's edge); every probe is bounded in size and time.
"""
import http.client
import json
import os
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from hub_process import HubProcess  # noqa: E402

JOIN = "/apis/berth.dev/v1alpha1/join"
WORKSPACES = "/apis/berth.dev/v1alpha1/namespaces/default/workspaces"


class HostileClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hubp = HubProcess("berth-hostile-")
        cls.hub, cls.port = cls.hubp.proc, cls.hubp.port
        cls.ctx = ssl.create_default_context(cafile=cls.hubp.ca)
        cls.token = cls.hubp.admin_token()
        for _ in range(100):  # bounded: 10 s
            try:
                if cls.request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        cls.hubp.stop()

    @classmethod
    def request(cls, method, path, body=None, headers=None, auth=False):
        conn = http.client.HTTPSConnection("127.0.0.1", cls.port, context=cls.ctx, timeout=10)
        h = dict(headers or {})
        if auth:
            h["Authorization"] = "Bearer " + cls.token
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def assertHubAlive(self):
        self.assertIsNone(self.hub.poll(), "the hub died; its log:\n" + self.hubp.log()[-3000:])
        self.assertEqual(self.request("GET", "/healthz")[0], 200)

    def assertRefused(self, status, data, low=400, high=499):
        self.assertTrue(low <= status <= high, "%d %s" % (status, data[:300]))
        body = json.loads(data)
        self.assertEqual(body["kind"], "Status")
        self.assertHubAlive()
        return body

    # Was: a non-string clusterName threw inside a task continuation and aborted the hub,
    # before any credential was checked.
    def test_join_with_a_numeric_cluster_name(self):
        for body in ({"clusterName": 1}, {"clusterName": None}, {"clusterName": "ok", "labels": {"a": 1}},
                     {"clusterName": "ok", "region": ["x"]}, {"clusterName": "ok", "labels": []}):
            status, data = self.request("POST", JOIN, json.dumps(body),
                                        {"Authorization": "Bearer abc.def", "Content-Type": "application/json"})
            self.assertRefused(status, data)

    def test_join_body_that_is_not_json(self):
        for body in ("[", "1e999", "\"x\"", "[]", "{\"clusterName\": \"a\", \"clusterName\": 2}"):
            status, data = self.request("POST", JOIN, body, {"Authorization": "Bearer abc.def"})
            self.assertRefused(status, data)

    @unittest.skip("cpprestsdk's listener reads the whole body before the handler runs; "
                   "the bounded server of the hardening issue makes this pass")
    def test_join_with_a_huge_content_length_is_refused_before_reading(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        conn.putrequest("POST", JOIN)
        conn.putheader("Content-Length", str(3 * 1024 * 1024 * 1024))
        conn.putheader("Content-Type", "application/json")
        conn.endheaders()
        conn.send(b"{")  # a byte, then nothing: the answer must not wait for 3 GiB
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        conn.close()
        self.assertHubAlive()

    def test_delete_options_of_the_wrong_shape(self):
        for body in ("[]", "{\"dryRun\": \"All\"}", "{\"dryRun\": [1]}", "{\"preconditions\": {\"resourceVersion\": \"x\"}}"):
            status, data = self.request("DELETE", WORKSPACES + "/nothing", body,
                                        {"Content-Type": "application/json"}, auth=True)
            self.assertRefused(status, data)

    def test_bad_query_parameters(self):
        for query in ("?watch=yes", "?limit=12abc", "?limit=99999999999999999999", "?watch=1&timeoutSeconds=-",
                      "?watch=1&resourceVersion=abc", "?fieldSelector=spec.x%3Dy", "?dryRun=Some"):
            method = "DELETE" if "dryRun" in query else "GET"
            path = WORKSPACES + ("/x" if method == "DELETE" else "") + query
            status, data = self.request(method, path, auth=True)
            self.assertRefused(status, data)


if __name__ == "__main__":
    unittest.main(verbosity=2)
