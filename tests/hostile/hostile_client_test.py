"""Hostile-client probes against a real berth-hub on loopback, with nothing but Python's
standard library (http.client, ssl, socket): each probe must get a 4xx (or a closed
connection) and the hub must stay alive. The seed of the hardening suite (issue: harden the
hub's edge); every probe is bounded in size and time.
"""
import datetime
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from hub_process import HubTestCase  # noqa: E402

JOIN = "/apis/berth.dev/v1alpha1/join"
WORKSPACES = "/apis/berth.dev/v1alpha1/namespaces/default/workspaces"


class HostileClientTest(HubTestCase):
    HUB_PREFIX = "berth-hostile-"

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


    def join_member(self, name):
        """A member credential, as an agent gets it: a bootstrap token from berthctl, then join."""
        env = dict(os.environ, KUBECONFIG=self.hubp.kubeconfig)
        out = subprocess.run([os.path.join(os.environ["BERTH_BIN_DIR"], "berthctl"), "token", "create",
                              "--cluster", name],
                             env=env, capture_output=True, text=True, timeout=30, check=True).stdout
        token = [w for w in out.split() if "." in w and len(w) > 20][0]
        status, data = self.join(token, name)
        self.assertEqual(status, 200, data)
        return json.loads(data)["token"]

    def join(self, token, name, labels=None):
        body = {"clusterName": name, "labels": labels or {}}
        return self.request("POST", JOIN, json.dumps(body),
                            {"Authorization": "Bearer " + token, "Content-Type": "application/json"})

    def create_token(self, token_id, **binding):
        """A BootstrapToken POSTed as admin, as `berthctl token create` does: the hub keeps only
        the SHA-256 (hex) of the secret. Returns the bearer token "<id>.<secret>"."""
        secret = "s3cret" + token_id + "0123456789"
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        spec = {"secretHash": hashlib.sha256(secret.encode()).hexdigest(),
                "expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        spec.update(binding)
        body = {"apiVersion": "berth.dev/v1alpha1", "kind": "BootstrapToken", "metadata": {"name": token_id},
                "spec": spec}
        status, data = self.request("POST", "/apis/berth.dev/v1alpha1/bootstraptokens", json.dumps(body),
                                    {"Content-Type": "application/json"}, auth=True)
        self.assertEqual(status, 201, data)
        return token_id + "." + secret

    def as_member(self, credential, method, path, body=None, content_type="application/merge-patch+json"):
        return self.request(method, path, body, {"Authorization": "Bearer " + credential,
                                                 "Content-Type": content_type})

    # Was: any bootstrap token could join as an EXISTING member: its holder got the member's
    # Work, locked the real agent out (its credential replaced) and merged labels that steer
    # placement. Now the token's binding decides, refusals change nothing, and the event log
    # says who tried.
    def test_a_join_token_cannot_hijack_a_healthy_member(self):
        victim = self.join_member("victim-a")
        renewed = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        status, data = self.as_member(victim, "PATCH", "/apis/berth.dev/v1alpha1/leases/victim-a",
                                      json.dumps({"spec": {"renewTime": renewed}}))
        self.assertEqual(status, 200, data)
        member_path = "/apis/berth.dev/v1alpha1/memberclusters/victim-a"
        before = json.loads(self.request("GET", member_path, auth=True)[1])

        attempts = [
            ("hijack1", {}, "may only join as a new member"),                   # unbound
            ("hijack2", {"clusterName": "other-b"}, 'bound to cluster "other-b"'),
            ("hijack3", {"clusterNamePattern": "other-*"}, 'matching "other-*"'),
            ("hijack4", {"clusterName": "victim-a"}, "--rejoin"),                # no rejoin
        ]
        for token_id, binding, why in attempts:
            token = self.create_token(token_id, **binding)
            status, data = self.join(token, "victim-a", labels={"tier": "attacker"})
            body = self.assertRefused(status, data, 403, 403)
            self.assertIn(why, body["message"])
            token_obj = json.loads(self.request("GET", "/apis/berth.dev/v1alpha1/bootstraptokens/" + token_id,
                                                auth=True)[1])
            self.assertNotIn("usedBy", token_obj.get("status", {}), "a refused join spends nothing")

        # Nothing changed: the member as it was, the real agent still in.
        after = json.loads(self.request("GET", member_path, auth=True)[1])
        self.assertEqual(after["metadata"].get("labels"), before["metadata"].get("labels"))
        self.assertEqual(after["metadata"]["annotations"], before["metadata"]["annotations"])
        self.assertEqual(self.as_member(victim, "GET", member_path)[0], 200)
        self.assertEqual(self.request("GET", "/apis/berth.dev/v1alpha1/memberclusters/other-b", auth=True)[0], 404)

        # The event log names every attempt's token, never a secret.
        status, data = self.request("GET", "/api/v1/namespaces/default/events"
                                    "?fieldSelector=involvedObject.name%3Dvictim-a", auth=True)
        self.assertEqual(status, 200, data)
        events = json.loads(data)["items"]
        refused = [e for e in events if e["reason"] == "JoinRefused"]
        self.assertEqual(sorted(t for t, _, _ in attempts),
                         sorted(t for e in refused for t, _, _ in attempts if '"%s"' % t in e["message"]))
        self.assertTrue(all(e["type"] == "Warning" for e in refused))
        self.assertFalse(any("s3cret" in e["message"] for e in events), events)
        self.assertTrue(any(e["reason"] == "MemberJoined" for e in events), events)

        # The admin's explicit choice: a --rejoin token replaces the agent and revokes its credential.
        token = self.create_token("takeover", clusterName="victim-a", allowRejoin=True)
        status, data = self.join(token, "victim-a")
        self.assertEqual(status, 200, data)
        self.assertEqual(self.as_member(victim, "GET", member_path)[0], 401)
        self.assertEqual(self.as_member(json.loads(data)["token"], "GET", member_path)[0], 200)
        events = json.loads(self.request("GET", "/api/v1/namespaces/default/events"
                                         "?fieldSelector=involvedObject.name%3Dvictim-a", auth=True)[1])["items"]
        rejoined = [e for e in events if e["reason"] == "MemberRejoined"]
        self.assertEqual(len(rejoined), 1, events)
        self.assertIn('"takeover"', rejoined[0]["message"])
        self.assertHubAlive()

    def test_a_bootstrap_token_binding_is_validated(self):
        for binding, field in (({"clusterName": "gpu-a", "clusterNamePattern": "gpu-*"}, "spec.clusterNamePattern"),
                               ({"clusterNamePattern": "*"}, "spec.clusterNamePattern"),
                               ({"clusterNamePattern": "gpu-" + "*" * 100000}, "spec.clusterNamePattern"),
                               ({"clusterName": "Not_A_Label"}, "spec.clusterName"),
                               ({"allowRejoin": True}, "spec.allowRejoin")):
            body = {"apiVersion": "berth.dev/v1alpha1", "kind": "BootstrapToken", "metadata": {"name": "badbinding"},
                    "spec": dict({"secretHash": "0" * 64, "expiration": "2099-01-01T00:00:00Z"}, **binding)}
            status, data = self.request("POST", "/apis/berth.dev/v1alpha1/bootstraptokens", json.dumps(body),
                                        {"Content-Type": "application/json"}, auth=True)
            body = self.assertRefused(status, data, 422, 422)
            self.assertIn(field, [c["field"] for c in body["details"]["causes"]], body)

    # Was: any credential, a member's included, could read the hub's /metrics.
    def test_members_cannot_read_metrics(self):
        credential = self.join_member("probe-metrics")
        status, data = self.request("GET", "/metrics", headers={"Authorization": "Bearer " + credential})
        self.assertRefused(status, data, 403, 403)
        self.assertEqual(self.request("GET", "/metrics", auth=True)[0], 200)

    # Was: a member could add a finalizer to its own Lease and pin it.
    def test_members_cannot_add_finalizers_to_their_lease(self):
        credential = self.join_member("probe-lease")
        status, data = self.request("PATCH", "/apis/berth.dev/v1alpha1/leases/probe-lease",
                                    json.dumps({"metadata": {"finalizers": ["x/keep"]}}),
                                    {"Authorization": "Bearer " + credential,
                                     "Content-Type": "application/merge-patch+json"})
        self.assertRefused(status, data, 422, 422)
        status, data = self.request("PATCH", "/apis/berth.dev/v1alpha1/leases/probe-lease",
                                    json.dumps({"spec": {"holderIdentity": "probe"}}),
                                    {"Authorization": "Bearer " + credential,
                                     "Content-Type": "application/merge-patch+json"})
        self.assertEqual(status, 200, data)

    # Was: any Content-Type was parsed as JSON (Kubernetes answers 415).
    def test_unsupported_content_type_is_415(self):
        ws = json.dumps({"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
                         "metadata": {"name": "ct"}, "inference": {"preset": {"name": "phi-4-mini-instruct"}}})
        for ct in ("text/plain", "application/vnd.kubernetes.protobuf", "application/xml"):
            status, data = self.request("POST", WORKSPACES, ws, {"Content-Type": ct}, auth=True)
            self.assertRefused(status, data, 415, 415)
        status, data = self.request("POST", WORKSPACES, ws, {"Content-Type": "application/json; charset=utf-8"}, auth=True)
        self.assertEqual(status, 201, data)

    # Was: TLS 1.2 still offered CBC-SHA1 suites.
    def test_tls12_offers_only_aead_suites(self):
        for cipher in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256",
                       "ECDHE-ECDSA-AES256-SHA384"):
            ctx = ssl.create_default_context(cafile=self.hubp.ca)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(cipher)
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
                with self.assertRaises(ssl.SSLError, msg=cipher):
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        ctx = ssl.create_default_context(cafile=self.hubp.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                name = tls.cipher()[0]
                self.assertTrue("GCM" in name or "CHACHA20" in name, name)
        self.assertHubAlive()

    # Was: the SQLite files were 0644.
    def test_store_files_are_owner_only(self):
        files = [f for f in os.listdir(self.hubp.data_dir) if ".db" in f]
        self.assertTrue(files, os.listdir(self.hubp.data_dir))
        for f in files:
            mode = os.stat(os.path.join(self.hubp.data_dir, f)).st_mode & 0o777
            self.assertEqual(mode, 0o600, "%s is %o" % (f, mode))


    # Was: each of these killed the hub (uncaught exceptions in continuations; stack overflows
    # in recursion and std::regex). Now each is a 4xx naming what is wrong.
    def test_bodies_that_used_to_kill_the_hub(self):
        ws = {"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace", "metadata": {"name": "victim"},
              "inference": {"preset": {"name": "phi-4-mini-instruct"}}}
        self.request("POST", WORKSPACES, json.dumps(ws), {"Content-Type": "application/json"}, auth=True)
        head = '{"apiVersion":"berth.dev/v1alpha1","kind":"Workspace",'
        merge = {"Content-Type": "application/merge-patch+json"}
        cases = [
            ("POST", WORKSPACES, head + '"metadata":{"name":"q"},"placement":{"replicas":1e999}}', {}),
            ("POST", WORKSPACES, "apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: q}\n"
                                 "placement: {replicas: 1e999}\n", {"Content-Type": "application/yaml"}),
            ("PATCH", WORKSPACES + "/victim", '{"placement":{"replicas":1e999}}', merge),
            ("POST", WORKSPACES, head + '"metadata":{"name":5}}', {}),
            ("POST", WORKSPACES, head + '"metadata":{"name":"x","namespace":5}}', {}),
            ("POST", WORKSPACES, head + '"metadata":{"name":"x","resourceVersion":5}}', {}),
            ("POST", WORKSPACES, head + '"metadata":{"generateName":5}}', {}),
            ("PATCH", WORKSPACES + "/victim", '{"metadata":{"name":5}}', merge),
            ("PATCH", WORKSPACES + "/victim", '{"a":' * 100000 + "1" + "}" * 100000, merge),
            ("PATCH", WORKSPACES + "/victim", '[{"op":"add","path":"/x","value":' + "[" * 100000 + "]" * 100000 + "}]",
             {"Content-Type": "application/json-patch+json"}),
            ("PUT", WORKSPACES + "/victim/status", '{"status":' * 70000 + "1" + "}" * 70000, {}),
            ("POST", WORKSPACES, "a: " + "[" * 100000 + "]" * 100000 + "\n", {"Content-Type": "application/yaml"}),
            ("POST", WORKSPACES, "".join("%s: &%s [%s]\n" % (n, n, ",".join(["*" + p] * 9 if p else ['"x"'] * 9))
                                         for n, p in zip("abcdefg", ["", "a", "b", "c", "d", "e", "f"])),
             {"Content-Type": "application/yaml"}),
        ]
        # Found by fuzzing: text that is not UTF-8 made every later JSON dump throw.
        cases += [
            ("POST", WORKSPACES, b"apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: q, labels: {a: \"\xa6\"}}\n",
             {"Content-Type": "application/yaml"}),
            ("GET", WORKSPACES + "/%FF", None, {}),
            ("GET", WORKSPACES + "?labelSelector=%C3", None, {}),
        ]
        for method, path, body, headers in cases:
            h = {"Content-Type": "application/json"}
            h.update(headers)
            status, data = self.request(method, path, body, h, auth=True)
            self.assertRefused(status, data)
        # Was: accepted. A duplicate key (strict means strict); replicas 2^63 (read as 0).
        for body in (head + '"metadata":{"name":"dup","name":"dup2"},"inference":{"preset":{"name":"phi-4-mini-instruct"}}}',
                     head + '"metadata":{"name":"big"},"inference":{"preset":{"name":"phi-4-mini-instruct"}},'
                            '"placement":{"replicas":9223372036854775808}}'):
            status, data = self.request("POST", WORKSPACES, body, {"Content-Type": "application/json"}, auth=True)
            self.assertRefused(status, data)
        # A 100k-digit YAML scalar (std::regex recursed per character) is no integer.
        status, data = self.request("POST", WORKSPACES, "apiVersion: berth.dev/v1alpha1\nkind: Workspace\n"
                                    "metadata: {name: q}\nplacement: {replicas: " + "9" * 100000 + "}\n",
                                    {"Content-Type": "application/yaml"}, auth=True)
        self.assertRefused(status, data)


if __name__ == "__main__":
    unittest.main(verbosity=2)
