#include "api/cluster_name_pattern.h"

namespace berth::api {

std::string CheckClusterNamePattern(const std::string& pattern) {
  if (pattern.empty()) return "must not be empty";
  if (pattern.size() > 63) return "must be no more than 63 characters (a cluster name's limit)";
  bool star = false, literal = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*') {
      if (i > 0 && pattern[i - 1] == '*') return "must not contain \"**\": write one '*'";
      star = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      literal = true;
    } else if (c != '-') {
      return "may contain only lower-case letters, digits, '-' and '*' (e.g. 'gpu-east-*')";
    }
  }
  if (!star)
    return "has no '*': bind the token to this one name with spec.clusterName (--cluster) instead";
  if (!literal) {
    return "must contain a letter or digit: a pattern that matches every name binds nothing "
           "(leave the token unbound instead: it may then only join as a new member)";
  }
  if (pattern.front() == '-' || pattern.back() == '-') {
    return "must not start or end with '-' (no cluster name does)";
  }
  return "";
}

bool ClusterNameMatchesPattern(const std::string& pattern, const std::string& name) {
  // Greedy glob match with backtracking to the last '*' only: O(pattern × name), no recursion.
  size_t p = 0, n = 0;
  size_t star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace berth::api
