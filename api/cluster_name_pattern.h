// Cluster-name patterns: the glob a BootstrapToken's spec.clusterNamePattern binds the token to
// (`berthctl token create --cluster-pattern 'gpu-east-*'`).
//
// Spelling: lower-case letters, digits, '-' and '*', 1 to 63 characters. '*' matches any run
// of characters, the empty one included ("gpu-east-*" matches "gpu-east-1" and "gpu-east-");
// every other character matches itself. A pattern has at least one '*' (a fixed name is
// spec.clusterName), at least one letter or digit (no "*" or "-*": such a token would be
// unbound in all but name), no "**", and neither starts nor ends with '-' (no cluster name does).
// No regular expressions: matching is linear in pattern × name and never recurses.
#pragma once

#include <string>

namespace berth::api {

// Empty when `pattern` is a valid cluster-name pattern, otherwise why not (a sentence that
// names the rule broken).
std::string CheckClusterNamePattern(const std::string& pattern);

// True when `name` matches `pattern`. Meaningful only for patterns CheckClusterNamePattern
// accepts; never throws.
bool ClusterNameMatchesPattern(const std::string& pattern, const std::string& name);

}  // namespace berth::api
