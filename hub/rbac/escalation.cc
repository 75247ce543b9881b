#include "hub/rbac/escalation.h"

#include <algorithm>
#include <map>
#include <set>

namespace berth::rbac {

namespace {

bool Has(const std::vector<std::string>& items, const std::string& x) {
  return std::find(items.begin(), items.end(), x) != items.end();
}

bool HasAll(const std::vector<std::string>& set, const std::vector<std::string>& items) {
  return std::all_of(items.begin(), items.end(), [&set](const std::string& x) { return Has(set, x); });
}

// One verb × group × resource × name piece per entry (Kubernetes' BreakdownRule).
std::vector<PolicyRule> Breakdown(const PolicyRule& rule) {
  std::vector<PolicyRule> out;
  for (const std::string& group : rule.api_groups) {
    for (const std::string& resource : rule.resources) {
      for (const std::string& verb : rule.verbs) {
        if (rule.resource_names.empty()) {
          out.push_back({{verb}, {group}, {resource}, {}, {}});
        }
        for (const std::string& name : rule.resource_names) {
          out.push_back({{verb}, {group}, {resource}, {name}, {}});
        }
      }
    }
  }
  for (const std::string& url : rule.non_resource_urls) {
    for (const std::string& verb : rule.verbs) out.push_back({{verb}, {}, {}, {}, {url}});
  }
  return out;
}

bool ResourcesCover(const std::vector<std::string>& owner, const std::vector<std::string>& wanted) {
  if (Has(owner, kAll) || HasAll(owner, wanted)) return true;
  for (const std::string& r : wanted) {
    if (Has(owner, r)) continue;
    const size_t slash = r.find('/');
    if (slash == std::string::npos || !Has(owner, "*/" + r.substr(slash + 1))) return false;
  }
  return true;
}

bool UrlCovers(const std::string& owner, const std::string& wanted) {
  if (owner == wanted) return true;
  if (owner.empty() || owner.back() != '*') return false;
  const std::string prefix = owner.substr(0, owner.find_last_not_of('*') + 1);
  return wanted.compare(0, prefix.size(), prefix) == 0;
}

bool UrlsCover(const std::vector<std::string>& owner, const std::vector<std::string>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&owner](const std::string& w) {
    return std::any_of(owner.begin(), owner.end(), [&w](const std::string& o) { return UrlCovers(o, w); });
  });
}

// Kubernetes' ruleCovers.
bool RuleCovers(const PolicyRule& owner, const PolicyRule& piece) {
  const bool verbs = Has(owner.verbs, kAll) || HasAll(owner.verbs, piece.verbs);
  const bool groups = Has(owner.api_groups, kAll) || HasAll(owner.api_groups, piece.api_groups);
  const bool resources = ResourcesCover(owner.resources, piece.resources);
  const bool urls = UrlsCover(owner.non_resource_urls, piece.non_resource_urls);
  const bool names = owner.resource_names.empty() ||
                     (!piece.resource_names.empty() && HasAll(owner.resource_names, piece.resource_names));
  return verbs && groups && resources && urls && names;
}

// Merges pieces that differ only in their verb (Kubernetes' CompactRules), so a refusal lists
// {APIGroups:["berth.dev"], Resources:["secrets"], Verbs:["get" "list"]} once.
std::vector<PolicyRule> Compact(const std::vector<PolicyRule>& pieces) {
  std::vector<PolicyRule> out;
  std::map<std::pair<std::string, std::string>, size_t> simple;  // (group, resource) → index
  for (const PolicyRule& p : pieces) {
    const bool mergeable = p.resource_names.empty() && p.non_resource_urls.empty();
    if (mergeable) {
      auto key = std::make_pair(p.api_groups[0], p.resources[0]);
      auto it = simple.find(key);
      if (it != simple.end()) {
        if (!Has(out[it->second].verbs, p.verbs[0])) out[it->second].verbs.push_back(p.verbs[0]);
        continue;
      }
      simple[key] = out.size();
    }
    out.push_back(p);
  }
  return out;
}

std::string DescribeRequester(const UserInfo& who) {
  std::string groups;
  for (const std::string& g : who.groups) groups += (groups.empty() ? "" : " ") + nlohmann::json(g).dump();
  return "user " + nlohmann::json(who.user).dump() + " (groups=[" + groups + "])";
}

// Kubernetes' ConfirmNoEscalation: the requester's rules in `ns` must cover `rules`.
Status ConfirmNoEscalation(const UserInfo& who, const std::string& ns,
                           const std::vector<PolicyRule>& rules, const RbacSnapshot& snapshot,
                           const std::string& refused) {
  const SubjectRules held = RulesFor(who.user, who.groups, ns, snapshot);
  std::vector<PolicyRule> owner = held.resource_rules;
  owner.insert(owner.end(), held.non_resource_rules.begin(), held.non_resource_rules.end());
  std::vector<PolicyRule> missing;
  if (Covers(owner, rules, &missing)) return Status::Ok();
  std::set<std::string> lines;  // sorted, as Kubernetes lists them
  for (const PolicyRule& m : Compact(missing)) lines.insert(DescribeRule(m));
  std::string msg = refused + " is forbidden: " + DescribeRequester(who) +
                    " is attempting to grant RBAC permissions not currently held:";
  for (const std::string& line : lines) msg += "\n" + line;
  if (!held.errors.empty()) {
    msg += "; resolution errors: [";
    for (size_t i = 0; i < held.errors.size(); ++i) msg += (i ? " " : "") + held.errors[i];
    msg += "]";
  }
  return Status::Forbidden(std::move(msg));
}

// Whether the requester holds `verb` (bind, escalate) on the role named.
bool HoldsVerbOnRole(const UserInfo& who, const std::string& verb, bool cluster_role,
                     const std::string& name, const std::string& ns, const RbacSnapshot& snapshot) {
  RequestAttributes a;
  a.user = who.user;
  a.groups = who.groups;
  a.verb = verb;
  a.api_group = kRbacGroup;
  a.resource = cluster_role ? "clusterroles" : "roles";
  a.name = name;
  a.ns = ns;
  return Authorize(a, snapshot).allowed;
}

std::string Refused(const std::string& plural, const std::string& name) {
  return plural + "." + kRbacGroup + " " + nlohmann::json(name).dump();
}

}  // namespace

bool Covers(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& servant,
            std::vector<PolicyRule>* missing) {
  bool all = true;
  for (const PolicyRule& rule : servant) {
    for (const PolicyRule& piece : Breakdown(rule)) {
      const bool covered = std::any_of(owner.begin(), owner.end(),
                                       [&piece](const PolicyRule& o) { return RuleCovers(o, piece); });
      if (covered) continue;
      all = false;
      if (missing) missing->push_back(piece);
    }
  }
  return all;
}

Status CheckRoleEscalation(const UserInfo& requester, const Role& role, const Role* old,
                           const RbacSnapshot& snapshot) {
  if (old && old->rules == role.rules && old->labels == role.labels &&
      old->aggregation_rule == role.aggregation_rule) {
    return Status::Ok();
  }
  if (Has(requester.groups, kGroupMasters)) return Status::Ok();
  if (HoldsVerbOnRole(requester, "escalate", role.cluster_role(), role.name, role.ns, snapshot)) {
    return Status::Ok();
  }
  const std::string refused = Refused(role.cluster_role() ? "clusterroles" : "roles", role.name);
  BERTH_RETURN_IF_ERROR(ConfirmNoEscalation(requester, role.ns, role.rules, snapshot, refused));
  if (!role.aggregation_rule.is_null()) {
    // An aggregation rule can gather any role's rules, so it needs all of them.
    const std::vector<PolicyRule> everything = {{{kAll}, {kAll}, {kAll}, {}, {}}, {{kAll}, {}, {}, {}, {kAll}}};
    if (!ConfirmNoEscalation(requester, "", everything, snapshot, refused).ok()) {
      return Status::Forbidden(refused + " is forbidden: must have cluster-admin privileges to use the aggregationRule");
    }
  }
  return Status::Ok();
}

Status CheckBindingEscalation(const UserInfo& requester, const RoleBinding& binding,
                              const RoleBinding* old, const RbacSnapshot& snapshot) {
  if (old && old->role_ref == binding.role_ref && old->subjects == binding.subjects) return Status::Ok();
  if (Has(requester.groups, kGroupMasters)) return Status::Ok();
  const bool cluster_role = binding.role_ref.kind == "ClusterRole";
  if (HoldsVerbOnRole(requester, "bind", cluster_role, binding.role_ref.name, binding.ns, snapshot)) {
    return Status::Ok();
  }
  const std::string refused =
      Refused(binding.cluster_binding() ? "clusterrolebindings" : "rolebindings", binding.name);
  auto rules = snapshot.RulesOf(binding.role_ref, binding.ns);
  if (!rules.ok()) return Status::Forbidden(refused + " is forbidden: " + rules.status().message());
  return ConfirmNoEscalation(requester, binding.ns, **rules, snapshot, refused);
}

}  // namespace berth::rbac
