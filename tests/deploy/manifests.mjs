// Renders Berth's deployment manifests and validates them against the official Kubernetes
// OpenAPI schemas (kubernetes-models), offline. Reuses the packages installed for the
// workspace schema check (tests/workspace/k8s-schema, `npm ci` by scripts/install-deps.sh).
//
//   node manifests.mjs validate <kustomize-dir | yaml-file>...   exit 0 = all valid
//   node manifests.mjs json     <kustomize-dir | yaml-file>...   prints [{source, object}] as JSON
//
// A directory is rendered with `kubectl kustomize DIR`; a file is read as multi-document YAML.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const schemaPkg = path.resolve(here, "../workspace/k8s-schema/package.json");
const requireFromSchema = createRequire(schemaPkg);

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

async function load(specifier) {
  let resolved;
  try {
    resolved = requireFromSchema.resolve(specifier);
  } catch {
    // ESM-only packages have no `require` condition; fall back to the file layout.
    const [pkg, ...rest] = specifier.split("/");
    resolved = path.join(path.dirname(schemaPkg), "node_modules", pkg, ...rest) + ".js";
    if (rest.length === 0) resolved = null;
  }
  if (!resolved || !fs.existsSync(resolved)) {
    fail(`cannot load ${specifier}: run \`npm ci --prefix tests/workspace/k8s-schema\` ` +
         `(make deps does it)`);
  }
  return import(pathToFileURL(resolved).href);
}

async function loadYaml() {
  const dir = path.join(path.dirname(schemaPkg), "node_modules", "yaml");
  if (!fs.existsSync(dir)) fail("yaml package missing: run `npm ci --prefix tests/workspace/k8s-schema`");
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const entry = pkg.exports?.["."]?.node?.import ?? pkg.exports?.["."]?.import ?? pkg.module ?? pkg.main;
  const target = typeof entry === "object" ? entry.default ?? entry.import : entry;
  return import(pathToFileURL(path.join(dir, target)).href);
}

// Every kind the deploy manifests may contain, with its kubernetes-models module.
const kindModules = {
  "v1/Namespace": "kubernetes-models/v1/Namespace",
  "v1/ServiceAccount": "kubernetes-models/v1/ServiceAccount",
  "v1/Service": "kubernetes-models/v1/Service",
  "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
  "v1/Secret": "kubernetes-models/v1/Secret",
  "v1/PersistentVolumeClaim": "kubernetes-models/v1/PersistentVolumeClaim",
  "apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
  "rbac.authorization.k8s.io/v1/ClusterRole": "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
      "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding",
  "rbac.authorization.k8s.io/v1/Role": "kubernetes-models/rbac.authorization.k8s.io/v1/Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding",
};

async function check(obj) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const modulePath = kindModules[key];
  if (!modulePath) return `unexpected kind ${key} (add it to kindModules if it is meant to be here)`;
  const mod = await load(modulePath);
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
    return null;
  } catch (e) {
    return e.message;
  }
}

function render(source) {
  if (fs.statSync(source).isDirectory()) {
    try {
      return execFileSync("kubectl", ["kustomize", source], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      fail(`kubectl kustomize ${source}: ${e.stderr || e.message}`);
    }
  }
  return fs.readFileSync(source, "utf8");
}

const [mode, ...sources] = process.argv.slice(2);
if (!["validate", "json"].includes(mode) || sources.length === 0) {
  console.error("usage: node manifests.mjs validate|json <kustomize-dir|yaml-file>...");
  process.exit(2);
}
const { parseAllDocuments } = await loadYaml();
const objects = [];
for (const source of sources) {
  for (const doc of parseAllDocuments(render(source))) {
    if (doc.errors.length) fail(`${source}: YAML: ${doc.errors[0].message}`);
    const obj = doc.toJS();
    if (obj != null) objects.push({ source, object: obj });
  }
}

if (mode === "json") {
  process.stdout.write(JSON.stringify(objects));
  process.exit(0);
}

// The validator must be able to fail: a Deployment with a string replica count and no
// containers is rejected.
const broken = await check({
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
  spec: { replicas: "one", selector: {}, template: { spec: { containers: "none" } } },
});
if (!broken) fail("self-check: an invalid Deployment was accepted");

let passed = 0, failed = 0;
for (const { source, object } of objects) {
  const err = await check(object);
  const what = `${source} ${object.kind}/${object.metadata?.name}`;
  if (err) {
    console.error(`FAIL ${what}: ${err}`);
    failed++;
  } else {
    console.log(`ok   ${what}`);
    passed++;
  }
}
if (passed + failed === 0) fail("no manifests found");
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
