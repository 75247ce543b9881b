// Validates rendered manifests (multi-document YAML files) against the official
// Kubernetes OpenAPI schemas, as compiled by kubernetes-models (and the Gateway API's, by
// @kubernetes-models/gateway-api). Offline.
// Usage: node validate.mjs <dir-or-file>...   Exit 0 = all valid, 1 = any invalid.
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Service } from "kubernetes-models/v1/Service";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";

const models = {
  "apps/v1/StatefulSet": StatefulSet,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  // The hub's Gateway API export of a Workspace's endpoint map (hub/httproute_export.h).
  "gateway.networking.k8s.io/v1/HTTPRoute": HTTPRoute,
};

function check(obj) {
  const Model = models[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return `unexpected kind ${obj.apiVersion}/${obj.kind}`;
  try {
    new Model(obj).validate();
    return null;
  } catch (e) {
    return e.message;
  }
}

// The validator must be able to fail: a deliberately broken StatefulSet is rejected.
const broken = check({
  apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "x" },
  spec: { replicas: "three", selector: {}, serviceName: "x", template: { spec: { containers: [] } } },
});
if (!broken) {
  console.error("self-check failed: a StatefulSet with replicas: \"three\" was accepted");
  process.exit(1);
}
// ... and an HTTPRoute whose backendRef weight is a string.
const brokenRoute = check({
  apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "x" },
  spec: { rules: [{ backendRefs: [{ name: "svc", port: 80, weight: "heavy" }] }] },
});
if (!brokenRoute) {
  console.error("self-check failed: an HTTPRoute with weight: \"heavy\" was accepted");
  process.exit(1);
}

const files = process.argv.slice(2).flatMap((p) =>
  fs.statSync(p).isDirectory()
    ? fs.readdirSync(p).filter((f) => f.endsWith(".yaml")).sort().map((f) => path.join(p, f))
    : [p]);
let passed = 0, failed = 0;
for (const file of files) {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) {
      console.error(`FAIL ${file}: YAML: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) continue;
    const err = check(obj);
    const what = `${path.basename(file)} ${obj.kind}/${obj.metadata?.name}`;
    if (err) {
      console.error(`FAIL ${what}: ${err}`);
      failed++;
    } else {
      console.log(`ok   ${what}`);
      passed++;
    }
  }
}
if (passed + failed === 0) {
  console.error("no manifests found");
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
