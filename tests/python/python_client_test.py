"""The official Kubernetes Python client (Debian's python3-kubernetes) against a real berth-hub.

A client we did not write: discovery, version, custom objects (CRUD, a stale replace's 409,
merge and JSON patch, /scale), the dynamic client, watches (also from a resourceVersion),
CoreV1 namespaces, ConfigMaps and Secrets, dry-run and field selectors, as client libraries
use them. Run by ctest with Debian's /usr/bin/python3.
"""
import json
import os
import sys
import time
import unittest

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from hub_process import HubProcess  # noqa: E402

GROUP, VERSION = "berth.dev", "v1alpha1"


def workspace(name, replicas=1):
    return {
        "apiVersion": "berth.dev/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": name, "labels": {"team": "py"}},
        "resource": {"gpuProducts": ["L4"]},
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        "placement": {"replicas": replicas},
    }


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = HubProcess("berth-pyclient-")
        for _ in range(200):  # bounded: 20 s
            try:
                config.load_kube_config(config_file=cls.hub.kubeconfig)
                client.VersionApi().get_code()
                break
            except Exception:  # not serving yet
                time.sleep(0.1)
        config.load_kube_config(config_file=cls.hub.kubeconfig)
        cls.custom = client.CustomObjectsApi()

    @classmethod
    def tearDownClass(cls):
        log = cls.hub.stop()
        assert "terminate called" not in log, log

    def create(self, name, replicas=1):
        return self.custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", "workspaces", workspace(name, replicas))

    def get(self, name):
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, "default", "workspaces", name)

    def test_custom_objects_crud_and_a_stale_replace_is_a_409(self):
        created = self.create("py-crud", replicas=1)
        stale = dict(created)
        # The hub's controllers write the status meanwhile: read-modify-write until it lands,
        # as clients do (bounded).
        replaced = None
        for _ in range(20):
            got = self.get("py-crud")
            got["placement"]["replicas"] = 2
            try:
                replaced = self.custom.replace_namespaced_custom_object(GROUP, VERSION, "default", "workspaces",
                                                                        "py-crud", got)
                break
            except ApiException as e:
                self.assertEqual(e.status, 409)
                time.sleep(0.1)
        self.assertIsNotNone(replaced)
        self.assertEqual(replaced["placement"]["replicas"], 2)
        stale["placement"] = {"replicas": 5}
        with self.assertRaises(ApiException) as err:
            self.custom.replace_namespaced_custom_object(GROUP, VERSION, "default", "workspaces", "py-crud", stale)
        self.assertEqual(err.exception.status, 409)
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", "workspaces", "py-crud")
        with self.assertRaises(ApiException) as gone:
            self.get("py-crud")
        self.assertEqual(gone.exception.status, 404)

    def test_merge_and_json_patch(self):
        self.create("py-patch")
        merged = self.custom.patch_namespaced_custom_object(GROUP, VERSION, "default", "workspaces", "py-patch",
                                                            {"metadata": {"labels": {"tier": "gpu"}}})
        self.assertEqual(merged["metadata"]["labels"], {"team": "py", "tier": "gpu"})
        # This client version sends CustomObjectsApi patches as merge patches; a JSON patch goes
        # through the dynamic client with its content type.
        from kubernetes import dynamic
        api = dynamic.DynamicClient(client.ApiClient()).resources.get(api_version="berth.dev/v1alpha1",
                                                                      kind="Workspace")
        patched = api.patch(name="py-patch", namespace="default", content_type="application/json-patch+json",
                            body=[{"op": "replace", "path": "/placement/replicas", "value": 3}])
        self.assertEqual(patched.placement.replicas, 3)
        managers = {e["manager"] for e in self.get("py-patch")["metadata"]["managedFields"]}
        self.assertIn("OpenAPI-Generator", managers)  # recorded under the client's User-Agent

    def test_scale_subresource(self):
        self.create("py-scale", replicas=1)
        scale = self.custom.patch_namespaced_custom_object_scale(GROUP, VERSION, "default", "workspaces",
                                                                 "py-scale", {"spec": {"replicas": 4}})
        self.assertEqual(scale["kind"], "Scale")
        self.assertEqual(scale["spec"]["replicas"], 4)
        self.assertEqual(self.get("py-scale")["placement"]["replicas"], 4)

    def test_watch_from_a_resource_version_replays_what_came_after(self):
        first = self.create("py-rv-a")
        rv = first["metadata"]["resourceVersion"]
        self.create("py-rv-b")
        w = watch.Watch()
        seen = []
        for event in w.stream(self.custom.list_namespaced_custom_object, GROUP, VERSION, "default", "workspaces",
                              resource_version=rv, timeout_seconds=5):
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            if event["object"]["metadata"]["name"] == "py-rv-b":
                w.stop()
        self.assertIn(("ADDED", "py-rv-b"), seen)
        self.assertNotIn(("ADDED", "py-rv-a"), seen)

    def test_dynamic_client_crud_and_watch(self):
        from kubernetes import dynamic
        dyn = dynamic.DynamicClient(client.ApiClient())
        api = dyn.resources.get(api_version="berth.dev/v1alpha1", kind="Workspace")
        created = api.create(body=workspace("py-dyn"), namespace="default")
        self.assertEqual(created.metadata.name, "py-dyn")
        patched = api.patch(name="py-dyn", namespace="default", body={"placement": {"replicas": 2}},
                            content_type="application/merge-patch+json")
        self.assertEqual(patched.placement.replicas, 2)
        seen = []
        for event in api.watch(namespace="default", field_selector="metadata.name=py-dyn",
                               resource_version=created.metadata.resourceVersion, timeout=5):
            seen.append(event["type"])
            break
        self.assertEqual(seen, ["MODIFIED"])
        api.delete(name="py-dyn", namespace="default")

    def test_core_v1_namespaces_config_maps_and_secrets(self):
        core = client.CoreV1Api()
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-team")))
        self.assertIn("py-team", [n.metadata.name for n in core.list_namespace().items])
        cm = core.create_namespaced_config_map("py-team", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="vllm"), data={"max-model-len": "8192"}))
        self.assertEqual(cm.data, {"max-model-len": "8192"})
        secret = core.create_namespaced_secret("py-team", client.V1Secret(
            metadata=client.V1ObjectMeta(name="hf"), string_data={"token": "hf_abc"}))
        self.assertIsNone(secret.string_data)  # folded into data, never stored
        read = core.read_namespaced_secret("hf", "py-team")
        import base64
        self.assertEqual(base64.b64decode(read.data["token"]), b"hf_abc")
        with self.assertRaises(ApiException) as missing:
            core.read_namespaced_config_map("vllm", "py-nowhere")
        self.assertEqual(missing.exception.status, 404)
        core.delete_namespace("py-team")

    def test_paged_list_is_one_snapshot_and_an_expired_token_is_a_410(self):
        core = client.CoreV1Api()
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-pages")))
        for n in ("a", "b", "c"):
            core.create_namespaced_config_map("py-pages", client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=n), data={"v": "1"}))
        first = core.list_namespaced_config_map("py-pages", limit=2)
        self.assertEqual([i.metadata.name for i in first.items], ["a", "b"])
        self.assertTrue(first.metadata._continue)
        core.create_namespaced_config_map("py-pages", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="bb"), data={"v": "1"}))
        core.patch_namespaced_config_map("c", "py-pages", {"data": {"v": "2"}})
        rest = core.list_namespaced_config_map("py-pages", limit=2, _continue=first.metadata._continue)
        self.assertEqual([i.metadata.name for i in rest.items], ["c"], "bb came after the snapshot")
        self.assertEqual(rest.items[0].data, {"v": "1"}, "c as it was at the first page")
        self.assertEqual(rest.metadata.resource_version, first.metadata.resource_version)
        forged = "1\x1f\x1fa".encode().hex()
        with self.assertRaises(ApiException) as expired:
            core.list_namespaced_config_map("py-pages", limit=2, _continue=forged)
        self.assertEqual(expired.exception.status, 410)
        self.assertEqual(json.loads(expired.exception.body)["reason"], "Expired")
        core.delete_namespace("py-pages")

    # Was: /version/ answered 404, so VersionApi failed.
    def test_version_api(self):
        info = client.VersionApi().get_code()
        self.assertTrue(info.git_version.startswith("v1."), info.git_version)

    # Was: /apis/ answered 404, so ApisApi failed.
    def test_apis_api_lists_the_berth_group(self):
        groups = client.ApisApi().get_api_versions()
        names = [g.name for g in groups.groups]
        self.assertIn("berth.dev", names)
        self.assertIn("kaito.sh", names)

    # Was: watch=True was read as a plain list, so the stream yielded nothing.
    def test_watch_streams_events(self):
        self.create("py-watch")
        w = watch.Watch()
        seen = []
        for event in w.stream(self.custom.list_namespaced_custom_object, GROUP, VERSION, "default",
                              "workspaces", field_selector="metadata.name=py-watch",
                              timeout_seconds=5):
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            w.stop()
        self.assertEqual(seen, [("ADDED", "py-watch")])

    def test_bad_boolean_parameter_is_a_400_naming_it(self):
        with self.assertRaises(ApiException) as e:
            self.custom.api_client.call_api(
                "/apis/berth.dev/v1alpha1/namespaces/default/workspaces", "GET",
                query_params=[("watch", "maybe")], auth_settings=["BearerToken"],
                _preload_content=False)
        self.assertEqual(e.exception.status, 400)
        self.assertIn("watch", e.exception.body.decode() if isinstance(e.exception.body, bytes)
                      else e.exception.body)

    # Was: DELETE ignored dryRun (query and DeleteOptions body) and really deleted.
    def test_dry_run_delete_keeps_the_object(self):
        created = self.create("py-dry")
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", "workspaces", "py-dry",
                                                    dry_run="All")
        self.custom.delete_namespaced_custom_object(
            GROUP, VERSION, "default", "workspaces", "py-dry",
            body=client.V1DeleteOptions(dry_run=["All"]))
        still = self.get("py-dry")
        self.assertEqual(still["metadata"]["uid"], created["metadata"]["uid"])
        self.assertNotIn("deletionTimestamp", still["metadata"])
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", "workspaces", "py-dry")
        with self.assertRaises(ApiException) as e:
            self.get("py-dry")
        self.assertEqual(e.exception.status, 404)

    def test_dry_run_patch_and_create_store_nothing(self):
        self.create("py-dry-patch", replicas=1)
        out = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", "workspaces", "py-dry-patch", {"placement": {"replicas": 4}},
            dry_run="All")
        self.assertEqual(out["placement"]["replicas"], 4)
        self.assertEqual(self.get("py-dry-patch")["placement"]["replicas"], 1)
        self.custom.create_namespaced_custom_object(GROUP, VERSION, "default", "workspaces",
                                                    workspace("py-dry-create"), dry_run="All")
        with self.assertRaises(ApiException) as e:
            self.get("py-dry-create")
        self.assertEqual(e.exception.status, 404)

    # Was: an unknown field selector returned an empty list.
    def test_unknown_field_selector_is_a_400_listing_the_supported_ones(self):
        with self.assertRaises(ApiException) as e:
            self.custom.list_namespaced_custom_object(GROUP, VERSION, "default", "workspaces",
                                                      field_selector="spec.color=red")
        self.assertEqual(e.exception.status, 400)
        self.assertIn("spec.color", e.exception.body)
        self.assertIn("metadata.name", e.exception.body)
        core = client.CoreV1Api()
        events = core.list_namespaced_event("default", field_selector="involvedObject.name=x")
        self.assertEqual(events.items, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
