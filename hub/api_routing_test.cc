#include "hub/api_routing.h"

#include <gtest/gtest.h>

#include "kinds/berth_kinds.h"

namespace berth::hub {
namespace {

TEST(ApiRoutingTest, SplitPathDecodesSegmentsAndDropsEmptyOnes) {
  EXPECT_EQ(SplitPath("/apis//berth.dev/v1alpha1/"),
            (std::vector<std::string>{"apis", "berth.dev", "v1alpha1"}));
  EXPECT_EQ(SplitPath("/api/v1/namespaces/a%20b/events/x+y"),
            (std::vector<std::string>{"api", "v1", "namespaces", "a b", "events", "x+y"}));
  EXPECT_TRUE(SplitPath("/").empty());
}

TEST(ApiRoutingTest, NormalizePathDropsTrailingSlashesButKeepsTheRoot) {
  EXPECT_EQ(NormalizePath("/apis/"), "/apis");
  EXPECT_EQ(NormalizePath("/apis//"), "/apis");
  EXPECT_EQ(NormalizePath("/"), "/");
}

// group, version, namespace, plural, name, subresource; {"none"} when the path names no resource.
std::vector<std::string> Parsed(const std::string& path) {
  auto r = ParseResourcePath(SplitPath(path));
  if (!r) return {"none"};
  return {r->group, r->version, r->ns, r->plural, r->name, r->subresource};
}

TEST(ApiRoutingTest, ParsesNamespacedAndClusterScopedResourcePaths) {
  EXPECT_EQ(
      Parsed("/apis/berth.dev/v1alpha1/namespaces/team/workspaces/llama/status"),
      (std::vector<std::string>{"berth.dev", "v1alpha1", "team", "workspaces", "llama", "status"}));
  EXPECT_EQ(Parsed("/api/v1/events"), (std::vector<std::string>{"", "v1", "", "events", "", ""}));
  // A collection called "namespaces" is a plural, not a namespace prefix.
  EXPECT_EQ(Parsed("/api/v1/namespaces/team"),
            (std::vector<std::string>{"", "v1", "", "namespaces", "team", ""}));
}

TEST(ApiRoutingTest, PathsOutsideTheResourceTreeNameNoResource) {
  for (const char* path :
       {"/apis/berth.dev/v1alpha1", "/version", "/apis/berth.dev/v1alpha1/works/a/status/extra"}) {
    EXPECT_EQ(Parsed(path), std::vector<std::string>{"none"}) << path;
  }
}

TEST(ApiRoutingTest, ResolveKindRefusesUnknownKindsSubresourcesAndScopes) {
  api::KindRegistry registry;
  ASSERT_TRUE(kinds::RegisterBerthKinds(registry).ok());
  auto resolve = [&](const std::string& path) {
    return ResolveKind(registry, *ParseResourcePath(SplitPath(path)));
  };
  auto ws = resolve("/apis/berth.dev/v1alpha1/namespaces/team/workspaces/llama/status");
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ((*ws)->kind, "Workspace");

  auto unknown = resolve("/apis/berth.dev/v1alpha1/gadgets");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            "the server could not find the requested resource (gadgets.berth.dev/v1alpha1)");

  auto scale = resolve("/apis/berth.dev/v1alpha1/namespaces/team/workspaces/llama/scale");
  ASSERT_TRUE(scale.ok()) << scale.status().message();  // Workspaces have /scale
  auto mc_scale = resolve("/apis/berth.dev/v1alpha1/memberclusters/gpu-1/scale");
  ASSERT_FALSE(mc_scale.ok());
  EXPECT_EQ(mc_scale.status().message(), "MemberCluster has no subresource scale");
  auto bogus = resolve("/apis/berth.dev/v1alpha1/namespaces/team/workspaces/llama/logs");
  ASSERT_FALSE(bogus.ok());
  EXPECT_EQ(bogus.status().message(), "Workspace has no subresource logs");

  auto lease_status = resolve("/apis/berth.dev/v1alpha1/leases/gpu-1/status");
  ASSERT_FALSE(lease_status.ok());
  EXPECT_EQ(lease_status.status().message(), "Lease has no subresource status");

  auto scoped = resolve("/apis/berth.dev/v1alpha1/namespaces/team/memberclusters/gpu-1");
  ASSERT_FALSE(scoped.ok());
  EXPECT_EQ(scoped.status().message(),
            "MemberCluster is cluster-scoped; drop the namespace from the path");
}

}  // namespace
}  // namespace berth::hub
