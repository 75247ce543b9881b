#include "api/selector.h"

#include <algorithm>

#include "api/kinds.h"
#include "api/schema.h"

namespace berth::api {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTerms(const std::string& text) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') depth++;
    if (c == ')') depth--;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!Trim(cur).empty() || !out.empty()) out.push_back(Trim(cur));
  return out;
}

Status BadTerm(const std::string& term, const std::string& why) {
  return Status::BadRequest("invalid label selector term \"" + term + "\": " + why);
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector sel;
  for (const std::string& term : SplitTerms(text)) {
    if (term.empty()) return BadTerm(term, "empty term");
    Requirement r;
    size_t sp = term.find(' ');
    if (term[0] == '!') {
      r.key = Trim(term.substr(1));
      r.op = Op::kDoesNotExist;
    } else if (auto p = term.find("!="); p != std::string::npos) {
      r = {Trim(term.substr(0, p)), Op::kNotEquals, {Trim(term.substr(p + 2))}};
    } else if (auto p2 = term.find("=="); p2 != std::string::npos) {
      r = {Trim(term.substr(0, p2)), Op::kEquals, {Trim(term.substr(p2 + 2))}};
    } else if (auto p3 = term.find('='); p3 != std::string::npos) {
      r = {Trim(term.substr(0, p3)), Op::kEquals, {Trim(term.substr(p3 + 1))}};
    } else if (sp != std::string::npos) {
      r.key = term.substr(0, sp);
      std::string rest = Trim(term.substr(sp));
      size_t open = rest.find('(');
      size_t close = rest.rfind(')');
      if (open == std::string::npos || close == std::string::npos || close < open) {
        return BadTerm(term, "expected 'key in (a,b)' or 'key notin (a,b)'");
      }
      std::string op = Trim(rest.substr(0, open));
      if (op == "in") r.op = Op::kIn;
      else if (op == "notin") r.op = Op::kNotIn;
      else return BadTerm(term, "unknown operator '" + op + "' (use in or notin)");
      std::string inner = rest.substr(open + 1, close - open - 1);
      size_t start = 0;
      while (start <= inner.size()) {
        size_t comma = inner.find(',', start);
        std::string v = Trim(inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (!v.empty()) r.values.push_back(v);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (r.values.empty()) return BadTerm(term, "needs at least one value");
    } else {
      r.key = term;
      r.op = Op::kExists;
    }
    if (r.key.empty()) return BadTerm(term, "empty key");
    if (std::string why = CheckLabelKey(r.key); !why.empty()) return BadTerm(term, "key " + why);
    for (const auto& v : r.values) {
      if (std::string why = CheckLabelValue(v); !why.empty()) {
        return BadTerm(term, "value \"" + v + "\" " + why);
      }
    }
    sel.requirements_.push_back(std::move(r));
  }
  return sel;
}

StatusOr<LabelSelector> LabelSelector::FromJson(const nlohmann::json& selector, const std::string& path) {
  LabelSelector sel;
  if (selector.is_null()) return sel;
  if (!selector.is_object()) return Status::Invalid(path + " must be an object", {{path, "must be an object"}});
  if (auto ml = selector.find("matchLabels"); ml != selector.end() && ml->is_object()) {
    for (auto it = ml->begin(); it != ml->end(); ++it) {
      if (!it->is_string()) {
        std::string f = path + ".matchLabels." + it.key();
        return Status::Invalid(f + " must be a string", {{f, "must be a string"}});
      }
      sel.requirements_.push_back({it.key(), Op::kEquals, {it->get<std::string>()}});
    }
  }
  if (auto me = selector.find("matchExpressions"); me != selector.end() && me->is_array()) {
    for (size_t i = 0; i < me->size(); ++i) {
      const auto& e = (*me)[i];
      std::string f = path + ".matchExpressions[" + std::to_string(i) + "]";
      Requirement r;
      r.key = e.value("key", "");
      std::string op = e.value("operator", "");
      if (op == "In") r.op = Op::kIn;
      else if (op == "NotIn") r.op = Op::kNotIn;
      else if (op == "Exists") r.op = Op::kExists;
      else if (op == "DoesNotExist") r.op = Op::kDoesNotExist;
      else {
        return Status::Invalid(f + ".operator must be In, NotIn, Exists or DoesNotExist",
                               {{f + ".operator", "must be In, NotIn, Exists or DoesNotExist"}});
      }
      if (auto vals = e.find("values"); vals != e.end() && vals->is_array()) {
        for (const auto& v : *vals) {
          if (v.is_string()) r.values.push_back(v);
        }
      }
      if ((r.op == Op::kIn || r.op == Op::kNotIn) && r.values.empty()) {
        return Status::Invalid(f + ".values must not be empty for " + op,
                               {{f + ".values", "must not be empty for " + op}});
      }
      if (r.key.empty()) return Status::Invalid(f + ".key is required", {{f + ".key", "required value"}});
      sel.requirements_.push_back(std::move(r));
    }
  }
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : requirements_) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    auto in_values = [&] {
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values()) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

StatusOr<FieldSelector> FieldSelector::Parse(const std::string& text) {
  FieldSelector sel;
  for (const std::string& term : SplitTerms(text)) {
    if (term.empty()) return Status::BadRequest("invalid field selector: empty term");
    Term t;
    if (auto p = term.find("!="); p != std::string::npos) {
      t = {Trim(term.substr(0, p)), false, Trim(term.substr(p + 2))};
    } else if (auto p2 = term.find("=="); p2 != std::string::npos) {
      t = {Trim(term.substr(0, p2)), true, Trim(term.substr(p2 + 2))};
    } else if (auto p3 = term.find('='); p3 != std::string::npos) {
      t = {Trim(term.substr(0, p3)), true, Trim(term.substr(p3 + 1))};
    } else {
      return Status::BadRequest("invalid field selector term \"" + term +
                                "\": expected field=value or field!=value");
    }
    if (t.path.empty()) return Status::BadRequest("invalid field selector term \"" + term + "\": empty field");
    sel.terms_.push_back(std::move(t));
  }
  return sel;
}

bool FieldSelector::Matches(const nlohmann::json& object) const {
  for (const auto& t : terms_) {
    nlohmann::json v = JsonPathGet(object, t.path);
    std::string s = v.is_string() ? v.get<std::string>() : (v.is_null() ? "" : v.dump());
    if ((s == t.value) != t.equals) return false;
  }
  return true;
}

Status FieldSelector::CheckSupported(const std::vector<std::string>& supported,
                                     const std::string& resource) const {
  for (const auto& t : terms_) {
    if (std::find(supported.begin(), supported.end(), t.path) != supported.end()) continue;
    std::string list;
    for (const auto& f : supported) list += (list.empty() ? "" : ", ") + f;
    return Status::BadRequest("fieldSelector: field label not supported for " + resource + ": \"" +
                              t.path + "\"; supported fields: " + list);
  }
  return Status::Ok();
}

std::string FieldSelector::ExactName() const {
  for (const auto& t : terms_) {
    if (t.path == "metadata.name" && t.equals) return t.value;
  }
  return "";
}

}  // namespace berth::api
