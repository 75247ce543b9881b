#include "api/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth {
namespace {

namespace fs = std::filesystem;

StatusOr<std::string> ReadWholeFile(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(field + ": cannot read file " + path +
                            " (check the path and its permissions)");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).string();
}

// Finds the entry named `name` in a kubeconfig list like `clusters: [{name, cluster}]`.
StatusOr<YAML::Node> FindNamed(const YAML::Node& root, const std::string& list,
                               const std::string& body_key, const std::string& name) {
  const YAML::Node items = root[list];
  if (items && !items.IsSequence()) return Status::Invalid(list + ": must be a list");
  if (items) {
    for (const auto& item : items) {
      if (item["name"] && item["name"].as<std::string>() == name) {
        YAML::Node body = item[body_key];
        if (!body || !body.IsMap()) {
          return Status::Invalid(list + "[" + name + "]." + body_key + ": missing or not a map");
        }
        return body;
      }
    }
  }
  return Status::Invalid(list + ": no entry named \"" + name + "\"");
}

std::string Str(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

// Reads a "<key>-data" (base64) or "<key>" (file path) pair; the data form wins, as in kubectl.
StatusOr<std::string> DataOrFile(const YAML::Node& map, const std::string& prefix,
                                 const std::string& key, const std::string& base_dir) {
  const std::string data = Str(map, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded) {
      return Status::Invalid(prefix + "." + key + "-data: not valid base64",
                             {{prefix + "." + key + "-data", "not valid base64"}});
    }
    return *decoded;
  }
  const std::string file = Str(map, key.c_str());
  if (file.empty()) return std::string();
  return ReadWholeFile(Resolve(base_dir, file), prefix + "." + key);
}

StatusOr<ClientConfig> ParseKubeconfigNode(const YAML::Node& root, const std::string& base_dir,
                                           const std::string& wanted_context) {
  if (!root.IsMap()) return Status::Invalid("kubeconfig: top level must be a map");
  std::string context_name = wanted_context.empty() ? Str(root, "current-context") : wanted_context;
  if (context_name.empty()) {
    return Status::Invalid(
        "current-context: not set; set it (kubectl config use-context NAME) or pass a context",
        {{"current-context", "required"}});
  }
  auto context = FindNamed(root, "contexts", "context", context_name);
  if (!context.ok()) return context.status();
  const std::string cluster_name = Str(*context, "cluster");
  const std::string user_name = Str(*context, "user");
  const std::string ctx_prefix = "contexts[" + context_name + "].context";
  if (cluster_name.empty()) {
    return Status::Invalid(ctx_prefix + ".cluster: required",
                           {{ctx_prefix + ".cluster", "required"}});
  }

  ClientConfig config;
  config.default_namespace = Str(*context, "namespace");

  auto cluster = FindNamed(root, "clusters", "cluster", cluster_name);
  if (!cluster.ok()) return cluster.status();
  const std::string cl_prefix = "clusters[" + cluster_name + "].cluster";
  config.server = Str(*cluster, "server");
  if (config.server.empty()) {
    return Status::Invalid(cl_prefix + ".server: required", {{cl_prefix + ".server", "required"}});
  }
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Status::Invalid(cl_prefix + ".server: must start with https:// or http://",
                           {{cl_prefix + ".server", "must be an http(s) URL"}});
  }
  auto ca = DataOrFile(*cluster, cl_prefix, "certificate-authority", base_dir);
  if (!ca.ok()) return ca.status();
  config.ca_pem = std::move(ca).value();
  const YAML::Node insecure = (*cluster)["insecure-skip-tls-verify"];
  if (insecure) {
    try {
      config.insecure_skip_tls_verify = insecure.as<bool>();
    } catch (const YAML::Exception&) {
      return Status::Invalid(cl_prefix + ".insecure-skip-tls-verify: must be true or false",
                             {{cl_prefix + ".insecure-skip-tls-verify", "must be a boolean"}});
    }
  }

  if (user_name.empty()) return config;  // Anonymous access is legal.
  auto user = FindNamed(root, "users", "user", user_name);
  if (!user.ok()) return user.status();
  const std::string u_prefix = "users[" + user_name + "].user";
  for (const char* unsupported : {"exec", "auth-provider", "username"}) {
    if ((*user)[unsupported]) {
      return Status::Invalid(
          u_prefix + "." + unsupported +
              ": not supported by berth; use token, tokenFile or client-certificate(-data)",
          {{u_prefix + "." + unsupported, "unsupported authentication method"}});
    }
  }
  config.bearer_token = Str(*user, "token");
  const std::string token_file = Str(*user, "tokenFile");
  if (config.bearer_token.empty() && !token_file.empty()) {
    config.bearer_token_file = Resolve(base_dir, token_file);
    auto token = ReadWholeFile(config.bearer_token_file, u_prefix + ".tokenFile");
    if (!token.ok()) return token.status();
    config.bearer_token = *token;
    while (!config.bearer_token.empty() &&
           std::isspace(static_cast<unsigned char>(config.bearer_token.back()))) {
      config.bearer_token.pop_back();
    }
  }
  auto cert = DataOrFile(*user, u_prefix, "client-certificate", base_dir);
  if (!cert.ok()) return cert.status();
  auto key = DataOrFile(*user, u_prefix, "client-key", base_dir);
  if (!key.ok()) return key.status();
  config.client_cert_pem = std::move(cert).value();
  config.client_key_pem = std::move(key).value();
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    const std::string missing =
        config.client_cert_pem.empty() ? "client-certificate" : "client-key";
    return Status::Invalid(
        u_prefix + "." + missing + ": required when the other half of the client key pair is set",
        {{u_prefix + "." + missing, "required"}});
  }
  return config;
}

}  // namespace

StatusOr<ClientConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                       const std::string& context) {
  try {
    return ParseKubeconfigNode(YAML::Load(std::string(yaml)), base_dir, context);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(std::string("kubeconfig: not valid YAML: ") + e.what());
  }
}

StatusOr<ClientConfig> LoadKubeconfigFile(const std::string& path, const std::string& context) {
  auto text = ReadWholeFile(path, "kubeconfig");
  if (!text.ok()) return text.status();
  auto config = ParseKubeconfig(*text, fs::path(path).parent_path().string(), context);
  if (!config.ok()) return config.status().WithContext(path);
  return config;
}

StatusOr<ClientConfig> LoadInClusterConfig(const InClusterOptions& options) {
  auto env = [&](const char* name) -> std::string {
    if (options.env) {
      auto it = options.env->find(name);
      return it == options.env->end() ? std::string() : it->second;
    }
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  const std::string host = env("KUBERNETES_SERVICE_HOST");
  const std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Status::FailedPrecondition(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(not running in a pod?); pass a kubeconfig instead");
  }
  const std::string dir = options.root_dir + "/var/run/secrets/kubernetes.io/serviceaccount";
  ClientConfig config;
  // An IPv6 service address needs brackets in a URL.
  config.server =
      "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  config.bearer_token_file = dir + "/token";
  auto token = ReadWholeFile(config.bearer_token_file, "in-cluster token");
  if (!token.ok()) return token.status();
  config.bearer_token = *token;
  while (!config.bearer_token.empty() &&
         std::isspace(static_cast<unsigned char>(config.bearer_token.back()))) {
    config.bearer_token.pop_back();
  }
  auto ca = ReadWholeFile(dir + "/ca.crt", "in-cluster CA");
  if (!ca.ok()) return ca.status();
  config.ca_pem = *ca;
  auto ns = ReadWholeFile(dir + "/namespace", "in-cluster namespace");
  if (ns.ok()) {
    config.default_namespace = *ns;
    while (!config.default_namespace.empty() &&
           std::isspace(static_cast<unsigned char>(config.default_namespace.back()))) {
      config.default_namespace.pop_back();
    }
  }
  return config;
}

namespace {

// The user's fields go in as (key, value) pairs, in order.
std::string RenderKubeconfigFor(const std::string& cluster_name, const std::string& server_url,
                                const std::string& ca_pem, const std::string& user_name,
                                const std::vector<std::pair<std::string, std::string>>& user_fields) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << cluster_name;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "server" << YAML::Value << server_url;
  out << YAML::Key << "certificate-authority-data" << YAML::Value << Base64Encode(ca_pem);
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << cluster_name;
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << cluster_name;
  out << YAML::Key << "user" << YAML::Value << user_name;
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "current-context" << YAML::Value << cluster_name;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << user_name;
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  for (const auto& [key, value] : user_fields) out << YAML::Key << key << YAML::Value << value;
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "preferences" << YAML::Value << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace

std::string RenderKubeconfig(const std::string& cluster_name, const std::string& server_url,
                             const std::string& ca_pem, const std::string& user_name,
                             const std::string& token) {
  return RenderKubeconfigFor(cluster_name, server_url, ca_pem, user_name, {{"token", token}});
}

std::string RenderClientCertKubeconfig(const std::string& cluster_name, const std::string& server_url,
                                       const std::string& ca_pem, const std::string& user_name,
                                       const std::string& cert_pem, const std::string& key_pem) {
  return RenderKubeconfigFor(cluster_name, server_url, ca_pem, user_name,
                             {{"client-certificate-data", Base64Encode(cert_pem)},
                              {"client-key-data", Base64Encode(key_pem)}});
}

}  // namespace berth
