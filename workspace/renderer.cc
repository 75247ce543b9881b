// Why the manifests look the way they do:
// - Single-node replicas share one StatefulSet (pod = replica); the Service balances
//   over all of them.
// - A replica spanning nodes gets its own StatefulSet (pods = nodes): ordinal 0 is the
//   Ray head and serves HTTP, the others join it as Ray workers. Keeping replicas in
//   separate StatefulSets means losing one node restarts one replica, not the fleet's
//   pod numbering. The Service selects only ordinal-0 pods (the pod-index label that
//   StatefulSets set since Kubernetes 1.28).
// - Selectors never include the revision (StatefulSet selectors are immutable); the pod
//   template carries it, so a new revision rolls the pods.
#include "workspace/renderer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "workspace/pod_template.h"
#include "workspace/pod_tolerations.h"
#include "workspace/text_match.h"
#include "api/kinds.h"
#include "api/yaml_json.h"

namespace berth::workspace {
using api::JsonToYaml;
using api::JsonToYamlDocuments;
using api::YamlDocumentsToJson;
using api::YamlToJson;
namespace {

using nlohmann::json;

constexpr char kManagedBy[] = "app.kubernetes.io/managed-by";
constexpr char kWorkspaceLabel[] = "berth.dev/workspace";
constexpr char kRevisionLabel[] = "berth.dev/revision";
constexpr char kReplicaLabel[] = "berth.dev/replica";
constexpr char kPodIndexLabel[] = "apps.kubernetes.io/pod-index";
constexpr int kRayPort = 6379;
constexpr char kWeightsDir[] = "/workspace/weights";
constexpr char kConfigDir[] = "/etc/berth";

std::string Fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

json Labels(const Workspace& ws, int64_t revision) {
  return {{kManagedBy, "berth"},
          {"app.kubernetes.io/name", ws.name},
          {kWorkspaceLabel, ws.name},
          {kRevisionLabel, std::to_string(revision)}};
}

json Metadata(const std::string& name, const std::string& ns, const json& labels) {
  return {{"name", name}, {"namespace", ns}, {"labels", labels}};
}

// vLLM picks bfloat16 for 16-bit checkpoints; GPUs before Ampere (compute < 8.0) have
// no bfloat16, and quantized checkpoints carry their own dtype.
std::string DtypeFor(const Workspace& ws, double compute_capability) {
  const std::string& dtype = ws.inference.parameters.dtype;
  if (!dtype.empty()) return dtype;
  const bool quantized =
      !(ws.model.quantization.empty() || EqualsIgnoreCase(ws.model.quantization, "none")) ||
      !ws.inference.parameters.quantization.empty();
  if (quantized) return "auto";
  return compute_capability > 0 && compute_capability < 8.0 ? "float16" : "bfloat16";
}

std::string AdapterPath(const AdapterSpec& a) { return std::string(kAdapterDir) + "/" + a.name; }

// One init container per adapter copies the image's /data into the shared adapter volume
// before vLLM starts (KAITO ships adapters this way).
json AdapterInitContainers(const Workspace& ws) {
  json out = json::array();
  for (const auto& a : ws.inference.adapters) {
    out.push_back({{"name", "adapter-" + a.name},
                   {"image", a.image},
                   {"imagePullPolicy", "IfNotPresent"},
                   {"command", {"/bin/sh", "-c", "mkdir -p " + AdapterPath(a) + " && cp -r /data/. " + AdapterPath(a) + "/"}},
                   {"volumeMounts", {{{"name", "adapters"}, {"mountPath", kAdapterDir}}}}});
  }
  return out;
}

// What the pods need of the Secrets the Workspace names: HF_TOKEN from modelAccessSecret,
// the adapters' pull secrets. Both point at the Workspace's own copies in the member.
void AddSecretReferences(const Workspace& ws, json& container, json& pod_spec) {
  if (!ws.inference.model_access_secret.empty()) {
    container["env"].push_back(
        {{"name", "HF_TOKEN"},
         {"valueFrom", {{"secretKeyRef", {{"name", MemberCopyName(ws.name, ws.inference.model_access_secret)},
                                          {"key", kHfTokenKey}}}}}});
  }
  json pulls = json::array();
  std::set<std::string> seen;
  for (const auto& a : ws.inference.adapters) {
    for (const auto& secret : a.image_pull_secrets) {
      if (seen.insert(secret).second) pulls.push_back({{"name", MemberCopyName(ws.name, secret)}});
    }
  }
  if (!pulls.empty()) pod_spec["imagePullSecrets"] = std::move(pulls);
}

std::vector<std::string> VllmArgs(const Workspace& ws, const ReplicaEstimate& est,
                                  const std::string& dtype) {
  const InferenceParameters& p = ws.inference.parameters;
  std::vector<std::string> args = {"--model=" + ws.model.hf_id};
  if (!ws.inference.revision.empty()) args.push_back("--revision=" + ws.inference.revision);
  args.push_back("--served-model-name=" + ws.ServedModelName());
  args.push_back("--dtype=" + dtype);
  if (!p.quantization.empty()) args.push_back("--quantization=" + p.quantization);
  args.push_back("--gpu-memory-utilization=" + Fixed2(est.gpu_memory_utilization));
  args.push_back("--max-model-len=" + std::to_string(p.max_model_len));
  args.push_back("--tensor-parallel-size=" + std::to_string(est.tensor_parallel));
  if (est.pipeline_parallel > 1) {
    args.push_back("--pipeline-parallel-size=" + std::to_string(est.pipeline_parallel));
    args.push_back("--distributed-executor-backend=ray");
  }
  args.push_back("--download-dir=" + std::string(kWeightsDir));
  args.push_back("--host=0.0.0.0");
  args.push_back("--port=" + std::to_string(kServingPort));
  if (!ws.inference.adapters.empty()) {
    // Each adapter is served as its own model name; all stay loaded (--max-loras).
    args.push_back("--enable-lora");
    args.push_back("--max-loras=" + std::to_string(ws.inference.adapters.size()));
    args.push_back("--lora-modules");
    for (const auto& ad : ws.inference.adapters) args.push_back(ad.name + "=" + AdapterPath(ad));
  }
  args.insert(args.end(), p.extra_args.begin(), p.extra_args.end());
  return args;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

json NodeAffinityTerm(const Workspace& ws, const std::string& product,
                      const std::string& mig_profile, bool with_label_selector) {
  std::vector<std::string> products = {product};
  // GFD's MIG "single" strategy renames the product, e.g. ...-80GB-MIG-1g.10gb.
  if (!mig_profile.empty()) products.push_back(product + "-MIG-" + mig_profile);
  json exprs =
      json::array({{{"key", "nvidia.com/gpu.product"}, {"operator", "In"}, {"values", products}}});
  if (!with_label_selector) return {{"matchExpressions", exprs}};
  for (const auto& [key, value] : ws.resource.label_selector.match_labels) {
    exprs.push_back({{"key", key}, {"operator", "In"}, {"values", {value}}});
  }
  for (const auto& e : ws.resource.label_selector.match_expressions) {
    json j = {{"key", e.key}, {"operator", e.op}};
    if (!e.values.empty()) j["values"] = e.values;
    exprs.push_back(std::move(j));
  }
  return {{"matchExpressions", exprs}};
}

json HttpProbe(int period, int failures, int initial_delay = 0) {
  json p = {{"httpGet", {{"path", "/health"}, {"port", kServingPort}, {"scheme", "HTTP"}}},
            {"periodSeconds", period},
            {"failureThreshold", failures},
            {"timeoutSeconds", 5}};
  if (initial_delay > 0) p["initialDelaySeconds"] = initial_delay;
  return p;
}

// Multi-node pods: the head serves /health; workers are healthy while the head's Ray
// cluster answers.
json RoleProbe(const std::string& leader, int period, int failures, int initial_delay = 0) {
  std::string script =
      "if [ \"${HOSTNAME##*-}\" = 0 ]; then python3 -c \"import urllib.request,sys; "
      "sys.exit(urllib.request.urlopen('http://127.0.0.1:" +
      std::to_string(kServingPort) +
      "/health', timeout=4).status != 200)\"; else ray health-check --address=" + leader + ":" +
      std::to_string(kRayPort) + "; fi";
  json p = {{"exec", {{"command", {"/bin/sh", "-c", script}}}},
            {"periodSeconds", period},
            {"failureThreshold", failures},
            {"timeoutSeconds", 5}};
  if (initial_delay > 0) p["initialDelaySeconds"] = initial_delay;
  return p;
}

// A StatefulSet of the Workspace: pods found through the headless Service, started in parallel.
json StatefulSetObject(const Workspace& ws, const std::string& name, const std::string& ns, const json& labels,
                       int replicas, const json& selector, const json& pod_metadata, const json& pod_spec) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", Metadata(name, ns, labels)},
          {"spec",
           {{"replicas", replicas},
            {"serviceName", ws.name + "-headless"},
            {"podManagementPolicy", "Parallel"},
            {"selector", {{"matchLabels", selector}}},
            {"template", {{"metadata", pod_metadata}, {"spec", pod_spec}}}}}};
}

struct PodPlan {
  std::string statefulset_name;
  int pods = 1;
  std::string replica_label;  // "" for single-node replicas
};

json StatefulSet(const Workspace& ws, const ClusterAssignment& a, const ReplicaEstimate& est,
                 const PodPlan& plan, const std::string& ns, const std::string& product,
                 const std::string& dtype, double weights_gib) {
  json labels = Labels(ws, a.revision);
  json selector = {{kWorkspaceLabel, ws.name}};
  if (!plan.replica_label.empty()) {
    labels[kReplicaLabel] = plan.replica_label;
    selector[kReplicaLabel] = plan.replica_label;
  }
  const std::string gpu_resource = a.shape.mig_profile.empty()
                                       ? "nvidia.com/gpu"
                                       : "nvidia.com/mig-" + ToLower(a.shape.mig_profile);
  json gpu_quantity = {{gpu_resource, std::to_string(est.gpus_per_node)}};
  const std::vector<std::string> args = VllmArgs(ws, est, dtype);
  const int64_t budget = StartupBudgetSeconds(weights_gib);
  const int startup_failures = static_cast<int>((budget + 9) / 10);

  json container = {
      {"name", "inference"},
      {"image", ws.inference.image.empty() ? kDefaultVllmImage : ws.inference.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports", {{{"name", "http"}, {"containerPort", kServingPort}, {"protocol", "TCP"}}}},
      {"env",
       {{{"name", "HF_HOME"}, {"value", kWeightsDir}},
        {{"name", "BERTH_WORKSPACE"}, {"value", ws.name}},
        {{"name", "BERTH_REVISION"}, {"value", std::to_string(a.revision)}}}},
      {"resources", {{"requests", gpu_quantity}, {"limits", gpu_quantity}}},
      {"volumeMounts",
       {{{"name", "dshm"}, {"mountPath", "/dev/shm"}},
        {{"name", "weights"}, {"mountPath", kWeightsDir}},
        {{"name", "config"}, {"mountPath", kConfigDir}, {"readOnly", true}}}}};
  if (plan.replica_label.empty()) {
    container["command"] = {"python3", "-m", "vllm.entrypoints.openai.api_server"};
    container["args"] = args;
    container["startupProbe"] = HttpProbe(10, startup_failures);
    container["livenessProbe"] = HttpProbe(10, 3);
    container["readinessProbe"] = HttpProbe(10, 3, 30);
  } else {
    const std::string leader =
        plan.statefulset_name + "-0." + ws.name + "-headless." + ns + ".svc.cluster.local";
    std::string serve = "python3 -m vllm.entrypoints.openai.api_server";
    for (const auto& arg : args) serve += " " + ShellQuote(arg);
    std::string script =
        "set -e\nif [ \"${HOSTNAME##*-}\" = 0 ]; then\n  ray start --head --port=" +
        std::to_string(kRayPort) + "\n  exec " + serve +
        "\nelse\n  exec ray start --address=" + leader + ":" + std::to_string(kRayPort) +
        " --block\nfi\n";
    container["command"] = {"/bin/sh", "-c", script};
    container["ports"].push_back(
        {{"name", "ray"}, {"containerPort", kRayPort}, {"protocol", "TCP"}});
    container["startupProbe"] = RoleProbe(leader, 10, startup_failures);
    container["livenessProbe"] = RoleProbe(leader, 10, 3);
    container["readinessProbe"] = RoleProbe(leader, 10, 3, 30);
  }

  json affinity = {
      {"nodeAffinity",
       {{"requiredDuringSchedulingIgnoredDuringExecution",
         {{"nodeSelectorTerms", {NodeAffinityTerm(ws, product, a.shape.mig_profile, a.label_selector_honoured)}}}}}}};
  if (!plan.replica_label.empty()) {
    // One pod per node: the replica's pipeline stages must sit on distinct nodes.
    affinity["podAntiAffinity"] = {{"requiredDuringSchedulingIgnoredDuringExecution",
                                    {{{"topologyKey", "kubernetes.io/hostname"},
                                      {"labelSelector", {{"matchLabels", selector}}}}}}};
  }

  json pod_spec = {
      {"containers", {container}},
      {"affinity", affinity},
      {"tolerations", RenderedPodTolerations()},
      {"terminationGracePeriodSeconds", 60},
      {"volumes",
       {{{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}}}},
        {{"name", "weights"}, {"emptyDir", json::object()}},
        {{"name", "config"}, {"configMap", {{"name", ws.name + "-inference-params"}}}}}}};
  if (!ws.inference.adapters.empty()) {
    pod_spec["initContainers"] = AdapterInitContainers(ws);
    pod_spec["volumes"].push_back({{"name", "adapters"}, {"emptyDir", json::object()}});
    pod_spec["containers"][0]["volumeMounts"].push_back({{"name", "adapters"}, {"mountPath", kAdapterDir}, {"readOnly", true}});
  }
  AddSecretReferences(ws, pod_spec["containers"][0], pod_spec);

  return StatefulSetObject(ws, plan.statefulset_name, ns, labels, plan.pods, selector, {{"labels", labels}}, pod_spec);
}

// The Service clients call (port 80 → `port`) and the headless Service pods resolve each
// other with (multi-node replicas: the Ray head).
std::vector<json> Services(const Workspace& ws, const std::string& ns, const json& labels, bool multi_node, int port) {
  std::vector<json> out;
  json service_selector = {{kWorkspaceLabel, ws.name}};
  if (multi_node) service_selector[kPodIndexLabel] = "0";
  out.push_back({{"apiVersion", "v1"},
                         {"kind", "Service"},
                         {"metadata", Metadata(ws.name, ns, labels)},
                         {"spec",
                          {{"type", "ClusterIP"},
                           {"selector", service_selector},
                           {"ports",
                            {{{"name", "http"},
                              {"port", 80},
                              {"targetPort", port},
                              {"protocol", "TCP"}}}}}}});

  json headless_ports = {{{"name", "http"},
                          {"port", port},
                          {"targetPort", port},
                          {"protocol", "TCP"}}};
  if (multi_node)
    headless_ports.push_back(
        {{"name", "ray"}, {"port", kRayPort}, {"targetPort", kRayPort}, {"protocol", "TCP"}});
  out.push_back({{"apiVersion", "v1"},
                         {"kind", "Service"},
                         {"metadata", Metadata(ws.name + "-headless", ns, labels)},
                         {"spec",
                          {{"clusterIP", "None"},
                           // Workers resolve the Ray head before it is Ready.
                           {"publishNotReadyAddresses", true},
                           {"selector", {{kWorkspaceLabel, ws.name}}},
                           {"ports", headless_ports}}}});

  return out;
}

// The Workspace's copies of the Secrets and ConfigMaps the hub delivered (names per
// MemberCopyName; type, data and binaryData as at the hub).
std::vector<json> DeliveredCopies(const Workspace& ws, const std::vector<json>& references, const std::string& ns,
                                  const json& labels) {
  std::vector<json> out;
  for (const json& ref : references) {
    const std::string kind = ref.value("kind", "");
    if ((kind != "Secret" && kind != "ConfigMap") || !ref.contains("name") || !ref["name"].is_string()) continue;
    json copy = {{"apiVersion", "v1"}, {"kind", kind},
                 {"metadata", Metadata(MemberCopyName(ws.name, ref["name"].get<std::string>()), ns, labels)}};
    for (const char* key : {"type", "data", "binaryData", "immutable"}) {
      if (ref.contains(key)) copy[key] = ref[key];
    }
    out.push_back(std::move(copy));
  }
  return out;
}

// The port the template's first container serves on (80 when it names none).
int TemplatePort(const json& pod_spec) {
  const json ports = pod_spec.at("containers").at(0).value("ports", json::array());
  if (!ports.is_array() || ports.empty() || !ports[0].is_object()) return 80;
  const json port = ports[0].value("containerPort", json());
  if (!port.is_number_integer() || port.get<int64_t>() < 1 || port.get<int64_t>() > 65535) return 80;
  return port.get<int>();
}

// A custom template as given, with Berth's labels, GPU node affinity and GPU toleration
// added (ANDed with its own) and references pointed at the Workspace's copies. One pod per
// replica.
json TemplateStatefulSet(const Workspace& ws, const ClusterAssignment& a, const std::string& ns,
                         const std::string& product) {
  json labels = Labels(ws, a.revision);
  json tmpl_labels = api::JsonPathGet(ws.inference.pod_template, "metadata.labels");
  if (!tmpl_labels.is_object()) tmpl_labels = json::object();
  tmpl_labels.update(labels);
  json pod_spec = RenameReferences(ws.inference.pod_template["spec"], ws.name);
  const json ours = NodeAffinityTerm(ws, product, "", a.label_selector_honoured)["matchExpressions"];
  json& terms = pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
  if (!terms.is_array() || terms.empty()) terms = json::array({{{"matchExpressions", json::array()}}});
  for (json& term : terms) {
    for (const json& e : ours) term["matchExpressions"].push_back(e);
  }
  if (!pod_spec.contains("tolerations") || !pod_spec["tolerations"].is_array()) pod_spec["tolerations"] = json::array();
  for (const json& t : RenderedPodTolerations()) pod_spec["tolerations"].push_back(t);
  json tmpl_meta = ws.inference.pod_template.value("metadata", json::object());
  tmpl_meta["labels"] = tmpl_labels;
  return StatefulSetObject(ws, ws.name, ns, labels, a.replicas, {{kWorkspaceLabel, ws.name}}, tmpl_meta, pod_spec);
}

}  // namespace

int64_t StartupBudgetSeconds(double weights_gib) {
  const double seconds = 15 * 60 + 18 * std::max(0.0, weights_gib);
  return static_cast<int64_t>(std::clamp(std::ceil(seconds), 30.0 * 60, 180.0 * 60));
}

StatusOr<RenderedWorkspace> RenderWorkspace(const Workspace& ws, const ClusterAssignment& a,
                                            const Catalog& catalog) {
  if (a.replicas < 0) return Status::Invalid("assignment replicas must be >= 0");
  if (a.revision < 0) return Status::Invalid("assignment revision must be >= 0");
  GpuShape shape = a.shape;
  std::string product = a.gfd_product;
  double compute_capability = 0;
  if (auto g = catalog.FindGpu(shape.product); g.ok()) {
    if (product.empty()) product = g->gfd_product;
    if (shape.memory_gib <= 0 && shape.mig_profile.empty()) shape.memory_gib = g->memory_gib;
    compute_capability = g->compute_capability;
    if (!shape.mig_profile.empty() && !g->mig_capable) {
      return Status::Invalid(g->name + " does not support MIG (profile " + shape.mig_profile + ")");
    }
    shape.product = g->name;
  } else if (product.empty() || shape.memory_gib <= 0) {
    return g.status();
  }
  if (!shape.mig_profile.empty() && shape.memory_gib <= 0) {
    auto mem = MigProfileMemoryGib(shape.mig_profile);
    if (!mem.ok()) return mem.status();
    shape.memory_gib = *mem;
  }

  const std::string ns = !a.namespace_.empty()    ? a.namespace_
                         : !ws.namespace_.empty() ? ws.namespace_
                                                  : "default";
  const json labels = Labels(ws, a.revision);
  RenderedWorkspace out;
  out.objects = DeliveredCopies(ws, a.references, ns, labels);
  if (ws.custom_template()) {
    if (!shape.mig_profile.empty()) return Status::Invalid("a custom template requests whole GPUs (nvidia.com/gpu), not MIG slices");
    if (ws.template_gpus > shape.gpus_per_node) {
      return Status::Invalid("the template's pod requests " + std::to_string(ws.template_gpus) + " GPUs; nodes of " +
                             shape.product + " have " + std::to_string(shape.gpus_per_node));
    }
    out.estimate.gpus_per_node = out.estimate.tensor_parallel = ws.template_gpus;
    try {
      json sts = TemplateStatefulSet(ws, a, ns, product);
      for (json& svc : Services(ws, ns, labels, false, TemplatePort(sts["spec"]["template"]["spec"]))) {
        out.objects.push_back(std::move(svc));
      }
      out.objects.push_back(std::move(sts));
    } catch (const nlohmann::json::exception& e) {
      // The template is the user's own (unknown fields preserved): a field of the wrong type
      // where Berth adds its affinity or reads the port is refused, never thrown.
      return Status::Invalid(std::string("inference.template: a field has the wrong type for a PodTemplateSpec (") +
                             e.what() + ")");
    }
    return out;
  }

  const std::string& dtype_param = ws.inference.parameters.dtype;
  if (dtype_param == "bfloat16" && compute_capability > 0 && compute_capability < 8.0) {
    char cc[16];
    std::snprintf(cc, sizeof cc, "%.1f", compute_capability);
    return Status::Invalid(
        "inference.parameters.dtype bfloat16 needs compute capability 8.0 or newer; " +
        shape.product + " has " + cc + ": use float16 or auto");
  }

  auto est = EstimateReplica(ws.model, shape, ws.EstimateOptionsFor());
  if (!est.ok()) {
    return est.status().WithContext("workspace " + ws.name + " on " +
                                    std::to_string(shape.gpus_per_node) + "×" + shape.product +
                                    (shape.mig_profile.empty() ? "" : " MIG " + shape.mig_profile));
  }

  const std::string dtype = DtypeFor(ws, compute_capability);
  const bool multi_node = est->nodes > 1;
  out.estimate = *est;

  // The parameters the pods run with, readable with kubectl and mounted at /etc/berth.
  json params = {{"model", ws.model.hf_id},
                 {"revision", ws.inference.revision},
                 {"servedModelName", ws.ServedModelName()},
                 {"dtype", dtype},
                 {"maxModelLen", ws.inference.parameters.max_model_len},
                 {"gpuMemoryUtilization", Fixed2(est->gpu_memory_utilization)},
                 {"tensorParallelSize", est->tensor_parallel},
                 {"pipelineParallelSize", est->pipeline_parallel},
                 {"gpusPerNode", est->gpus_per_node},
                 {"nodesPerReplica", est->nodes},
                 {"gpuProduct", product}};
  if (!shape.mig_profile.empty()) params["migProfile"] = shape.mig_profile;
  out.objects.push_back({{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", Metadata(ws.name + "-inference-params", ns, labels)},
                         {"data", {{"inference-config.yaml", JsonToYaml(params)}}}});

  for (json& svc : Services(ws, ns, labels, multi_node, kServingPort)) out.objects.push_back(std::move(svc));

  if (!multi_node) {
    out.objects.push_back(StatefulSet(ws, a, *est, PodPlan{ws.name, a.replicas, ""}, ns, product,
                                      dtype, ws.model.weights_gib));
  } else {
    for (int r = 0; r < a.replicas; ++r) {
      const std::string replica = "r" + std::to_string(r);
      out.objects.push_back(StatefulSet(ws, a, *est,
                                        PodPlan{ws.name + "-" + replica, est->nodes, replica}, ns,
                                        product, dtype, ws.model.weights_gib));
    }
  }
  return out;
}

}  // namespace berth::workspace
