#include "hub/rbac/rbac_rules.h"

#include <algorithm>

namespace berth::rbac {

using nlohmann::json;

namespace {

bool Has(const std::vector<std::string>& items, std::string_view x) {
  return std::find(items.begin(), items.end(), x) != items.end();
}

bool VerbMatches(const PolicyRule& rule, const std::string& verb) {
  return Has(rule.verbs, kAll) || Has(rule.verbs, verb);
}

bool ApiGroupMatches(const PolicyRule& rule, const std::string& group) {
  return Has(rule.api_groups, kAll) || Has(rule.api_groups, group);
}

bool ResourceMatches(const PolicyRule& rule, const std::string& combined, const std::string& sub) {
  for (const std::string& r : rule.resources) {
    if (r == kAll || r == combined) return true;
    // "*/scale" matches the scale subresource of every resource; it is the only wildcard form
    // besides "*" ("workspaces/*" is a literal that matches nothing).
    if (!sub.empty() && r.size() == sub.size() + 2 && r.compare(0, 2, "*/") == 0 &&
        r.compare(2, std::string::npos, sub) == 0) {
      return true;
    }
  }
  return false;
}

bool ResourceNameMatches(const PolicyRule& rule, const std::string& name) {
  return rule.resource_names.empty() || Has(rule.resource_names, name);
}

bool NonResourceUrlMatches(const PolicyRule& rule, const std::string& path) {
  for (const std::string& u : rule.non_resource_urls) {
    if (u == kAll || u == path) return true;
    if (!u.empty() && u.back() == '*') {
      const std::string prefix = u.substr(0, u.find_last_not_of('*') + 1);
      if (path.compare(0, prefix.size(), prefix) == 0) return true;
    }
  }
  return false;
}

std::string Quote(const std::string& s) { return json(s).dump(); }

std::string DescribeSubject(const Subject& s, const std::string& binding_ns) {
  std::string name = s.name;
  if (s.kind == Subject::Kind::kServiceAccount) name += "/" + (s.ns.empty() ? binding_ns : s.ns);
  return std::string(SubjectKindName(s.kind)) + " " + Quote(name);
}

std::string DescribeGrant(const RoleBinding& b, const Subject& s) {
  const std::string name = b.cluster_binding() ? b.name : b.name + "/" + b.ns;
  return b.kind() + " " + Quote(name) + " of " + b.role_ref.kind + " " + Quote(b.role_ref.name) +
         " to " + DescribeSubject(s, b.ns);
}

// Go's utilerrors aggregate: one error as itself, several as "[a, b]".
std::string Aggregate(const std::vector<std::string>& errors) {
  if (errors.size() == 1) return errors.front();
  std::string out;
  for (const std::string& e : errors) out += (out.empty() ? "" : ", ") + e;
  return "[" + out + "]";
}

void AddUnique(std::vector<PolicyRule>* rules, const PolicyRule& rule) {
  if (std::find(rules->begin(), rules->end(), rule) == rules->end()) rules->push_back(rule);
}

const PolicyRule& AllResources() {
  static const PolicyRule r{{kAll}, {kAll}, {kAll}, {}, {}};
  return r;
}

const PolicyRule& AllNonResourceUrls() {
  static const PolicyRule r{{kAll}, {}, {}, {}, {kAll}};
  return r;
}

}  // namespace

std::string VerbFor(std::string_view method, bool named, bool watch) {
  // As Kubernetes' RequestInfoFactory: ?watch=true turns only a collection read into a watch;
  // a named GET stays a get.
  if (method == "GET" || method == "HEAD") {
    if (named) return "get";
    return watch ? "watch" : "list";
  }
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return named ? "delete" : "deletecollection";
  return "";
}

RequestAttributes ResourceRequestAttributes(const UserInfo& who, const ResourceRequest& r) {
  RequestAttributes a;
  a.user = who.user;
  a.groups = who.groups;
  a.verb = VerbFor(r.method, !r.name.empty(), r.watch);
  a.api_group = r.api_group;
  a.resource = r.resource;
  a.subresource = r.subresource;
  a.ns = r.ns;
  a.name = r.name;
  if (r.name.empty() && (a.verb == "list" || a.verb == "watch")) a.name = r.selector_name;
  if (r.api_group.empty() && r.resource == "namespaces" && !r.name.empty()) a.ns = r.name;
  return a;
}

RequestAttributes NonResourceRequestAttributes(const UserInfo& who, std::string_view method,
                                               const std::string& path) {
  RequestAttributes a;
  a.user = who.user;
  a.groups = who.groups;
  a.verb = std::string(method);
  for (char& c : a.verb) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
  a.resource_request = false;
  a.path = path;
  return a;
}

bool RuleAllows(const RequestAttributes& attrs, const PolicyRule& rule) {
  if (!VerbMatches(rule, attrs.verb)) return false;
  if (!attrs.resource_request) return NonResourceUrlMatches(rule, attrs.path);
  const std::string combined =
      attrs.subresource.empty() ? attrs.resource : attrs.resource + "/" + attrs.subresource;
  return ApiGroupMatches(rule, attrs.api_group) &&
         ResourceMatches(rule, combined, attrs.subresource) &&
         ResourceNameMatches(rule, attrs.name);
}

std::shared_ptr<const RbacSnapshot> RbacSnapshot::Build(std::vector<Role> roles,
                                                        std::vector<RoleBinding> bindings) {
  auto snap = std::make_shared<RbacSnapshot>();
  for (Role& r : roles) {
    auto key = std::make_pair(r.ns, r.name);
    snap->roles_.insert_or_assign(std::move(key), std::move(r));
  }
  // Aggregate from the rules as given, so the result does not depend on map order.
  std::map<std::string, std::vector<PolicyRule>> aggregated;
  for (const auto& [key, role] : snap->roles_) {
    if (!role.cluster_role() || role.aggregation_rule.is_null()) continue;
    std::vector<PolicyRule>& rules = aggregated[role.name];
    for (const auto& [other_key, other] : snap->roles_) {
      if (!other.cluster_role() || other.name == role.name) continue;
      bool selected = false;
      for (const api::LabelSelector& sel : role.aggregation_selectors) {
        selected = selected || sel.Matches(other.labels);
      }
      if (!selected) continue;
      for (const PolicyRule& rule : other.rules) AddUnique(&rules, rule);
    }
  }
  for (auto& [name, rules] : aggregated) snap->roles_[{"", name}].rules = std::move(rules);
  std::map<std::pair<std::string, std::string>, RoleBinding> unique;
  for (RoleBinding& b : bindings) {
    auto key = std::make_pair(b.ns, b.name);
    unique.insert_or_assign(std::move(key), std::move(b));
  }
  for (auto& [key, b] : unique) snap->bindings_[key.first].push_back(std::move(b));
  return snap;
}

const Role* RbacSnapshot::FindRole(const std::string& ns, const std::string& name) const {
  auto it = roles_.find({ns, name});
  return it == roles_.end() ? nullptr : &it->second;
}

const std::vector<RoleBinding>& RbacSnapshot::BindingsIn(const std::string& ns) const {
  static const std::vector<RoleBinding> kNone;
  auto it = bindings_.find(ns);
  return it == bindings_.end() ? kNone : it->second;
}

StatusOr<const std::vector<PolicyRule>*> RbacSnapshot::RulesOf(const RoleRef& ref,
                                                               const std::string& binding_ns) const {
  const bool cluster = ref.kind == "ClusterRole";
  const Role* role = FindRole(cluster ? "" : binding_ns, ref.name);
  if (!role) {
    return Status::NotFound(std::string(cluster ? "clusterrole" : "role") +
                            ".rbac.authorization.k8s.io " + Quote(ref.name) + " not found");
  }
  return &role->rules;
}

bool SubjectMatches(const Subject& subject, const std::string& user,
                    const std::vector<std::string>& groups, const std::string& binding_ns) {
  switch (subject.kind) {
    case Subject::Kind::kUser:
      return user == subject.name;
    case Subject::Kind::kGroup:
      return Has(groups, subject.name);
    case Subject::Kind::kServiceAccount: {
      const std::string& sa_ns = subject.ns.empty() ? binding_ns : subject.ns;
      return !sa_ns.empty() && user == ServiceAccountUser(sa_ns, subject.name);
    }
  }
  return false;
}

void VisitRulesFor(const RbacSnapshot& snapshot, const std::string& user,
                   const std::vector<std::string>& groups, const std::string& ns,
                   const std::function<bool(const std::string& source, const PolicyRule&)>& visit,
                   std::vector<std::string>* errors) {
  std::vector<const std::vector<RoleBinding>*> scopes = {&snapshot.BindingsIn("")};
  if (!ns.empty()) scopes.push_back(&snapshot.BindingsIn(ns));
  for (const std::vector<RoleBinding>* bindings : scopes) {
    for (const RoleBinding& b : *bindings) {
      const Subject* who = nullptr;
      for (const Subject& s : b.subjects) {
        if (SubjectMatches(s, user, groups, b.ns)) {
          who = &s;
          break;
        }
      }
      if (!who) continue;
      auto rules = snapshot.RulesOf(b.role_ref, b.ns);
      if (!rules.ok()) {
        if (errors) errors->push_back(rules.status().message());
        continue;
      }
      const std::string source = DescribeGrant(b, *who);
      for (const PolicyRule& rule : **rules) {
        if (!visit(source, rule)) return;
      }
    }
  }
}

Decision Authorize(const RequestAttributes& attrs, const RbacSnapshot& snapshot) {
  if (Has(attrs.groups, kGroupMasters)) {
    return {true, std::string("allowed: the group ") + kGroupMasters + " may do everything"};
  }
  std::string granted;
  std::vector<std::string> errors;
  VisitRulesFor(
      snapshot, attrs.user, attrs.groups, attrs.resource_request ? attrs.ns : "",
      [&attrs, &granted](const std::string& source, const PolicyRule& rule) {
        if (!RuleAllows(attrs, rule)) return true;
        granted = source;
        return false;
      },
      &errors);
  if (!granted.empty()) return {true, "RBAC: allowed by " + granted};
  std::string reason = ForbiddenMessage(attrs);
  if (!errors.empty()) reason += ": RBAC: " + Aggregate(errors);
  return {false, reason};
}

std::string ForbiddenMessage(const RequestAttributes& attrs) {
  const std::string who = "User " + Quote(attrs.user) + " cannot " + attrs.verb;
  if (!attrs.resource_request) return who + " path " + Quote(attrs.path);
  std::string resource = attrs.resource;
  if (!attrs.subresource.empty()) resource += "/" + attrs.subresource;
  std::string out = who + " resource " + Quote(resource) + " in API group " + Quote(attrs.api_group);
  return out + (attrs.ns.empty() ? " at the cluster scope" : " in the namespace " + Quote(attrs.ns));
}

Status ForbiddenStatus(const RequestAttributes& attrs, const Decision& decision) {
  if (!attrs.resource_request || attrs.resource.empty()) {
    return Status::Forbidden("forbidden: " + decision.reason);
  }
  const std::string gr =
      attrs.api_group.empty() ? attrs.resource : attrs.resource + "." + attrs.api_group;
  if (attrs.name.empty()) return Status::Forbidden(gr + " is forbidden: " + decision.reason);
  return Status::Forbidden(gr + " " + Quote(attrs.name) + " is forbidden: " + decision.reason);
}

SubjectRules RulesFor(const std::string& user, const std::vector<std::string>& groups,
                      const std::string& ns, const RbacSnapshot& snapshot) {
  SubjectRules out;
  if (Has(groups, kGroupMasters)) {
    out.resource_rules.push_back(AllResources());
    out.non_resource_rules.push_back(AllNonResourceUrls());
  }
  VisitRulesFor(
      snapshot, user, groups, ns,
      [&out](const std::string&, const PolicyRule& rule) {
        if (!rule.resources.empty()) {
          AddUnique(&out.resource_rules, {rule.verbs, rule.api_groups, rule.resources, rule.resource_names, {}});
        }
        if (!rule.non_resource_urls.empty()) {
          AddUnique(&out.non_resource_rules, {rule.verbs, {}, {}, {}, rule.non_resource_urls});
        }
        return true;
      },
      &out.errors);
  return out;
}

json SelfSubjectRulesReviewStatus(const SubjectRules& rules) {
  json resource = json::array(), non_resource = json::array();
  for (const PolicyRule& r : rules.resource_rules) {
    json j = {{"verbs", r.verbs}, {"apiGroups", r.api_groups}, {"resources", r.resources}};
    if (!r.resource_names.empty()) j["resourceNames"] = r.resource_names;
    resource.push_back(std::move(j));
  }
  for (const PolicyRule& r : rules.non_resource_rules) {
    non_resource.push_back({{"verbs", r.verbs}, {"nonResourceURLs", r.non_resource_urls}});
  }
  json status = {{"resourceRules", resource},
                 {"nonResourceRules", non_resource},
                 {"incomplete", !rules.errors.empty()}};
  if (!rules.errors.empty()) status["evaluationError"] = Aggregate(rules.errors);
  return status;
}

StatusOr<json> SelfSubjectRulesReview(const UserInfo& who, const json& review, const RbacSnapshot& snapshot) {
  if (!review.is_object() || review.value("kind", json("SelfSubjectRulesReview")) != "SelfSubjectRulesReview") {
    return Status::BadRequest("the body must be a SelfSubjectRulesReview");
  }
  const json spec = review.value("spec", json::object());
  const json ns = spec.is_object() ? spec.value("namespace", json()) : json();
  if (!ns.is_string() || ns.get<std::string>().empty()) {
    return Status::BadRequest("no namespace on request: spec.namespace is required");
  }
  json out = review;
  out["apiVersion"] = "authorization.k8s.io/v1";
  out["kind"] = "SelfSubjectRulesReview";
  if (!out.contains("metadata") || !out["metadata"].is_object()) out["metadata"] = json::object();
  out["metadata"]["creationTimestamp"] = nullptr;
  out["status"] = SelfSubjectRulesReviewStatus(RulesFor(who.user, who.groups, ns.get<std::string>(), snapshot));
  return out;
}

}  // namespace berth::rbac
