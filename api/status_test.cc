#include "api/status.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, InvalidCarriesFieldCauses) {
  Status s = Status::Invalid("bad spec", {{"spec.resource.gpuu", "unknown field"}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalid);
  ASSERT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.ToString(), "Invalid: bad spec; spec.resource.gpuu: unknown field");
  EXPECT_EQ(s.WithContext("decode ws.yaml").message(), "decode ws.yaml: bad spec");
}

TEST(StatusOrTest, HoldsValueOrError) {
  StatusOr<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  StatusOr<int> e = Status::NotFound("no such thing");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth
