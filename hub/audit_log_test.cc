#include "hub/audit_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace berth::hub {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

AuditRecord Record(std::string name, int code = 200) {
  AuditRecord r;
  r.time = FakeClock().Now() + std::chrono::milliseconds(42);
  r.request_id = "req-1";
  r.user = "alice";
  r.groups = {"search", "system:authenticated"};
  r.verb = "patch";
  r.api_group = "berth.dev";
  r.resource = "workspaces";
  r.subresource = "scale";
  r.ns = "team-a";
  r.name = std::move(name);
  r.code = code;
  r.source_ip = "10.0.0.7";
  r.user_agent = "kubectl/v1.32.0";
  return r;
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-audit-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/audit.log";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, path_;
};

TEST(AuditLineTest, OneJsonLineWithEveryField) {
  const std::string line = AuditLine(Record("chat", 409));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(line), json::parse(R"({
    "time": "2026-01-01T00:00:00.042Z", "requestID": "req-1", "user": "alice",
    "groups": ["search", "system:authenticated"], "verb": "patch", "apiGroup": "berth.dev",
    "resource": "workspaces", "subresource": "scale", "namespace": "team-a", "name": "chat",
    "code": 409, "sourceIP": "10.0.0.7", "userAgent": "kubectl/v1.32.0"})"));
}

TEST(AuditLineTest, HostileUserAgentIsReplacedAndCut) {
  AuditRecord r = Record("x");
  r.user_agent = std::string("bad\xff\xfe\n{\"forged\":1}") + std::string(1000, 'a');
  std::string line;
  ASSERT_NO_THROW(line = AuditLine(r));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json j = json::parse(line);
  EXPECT_LE(j["userAgent"].get<std::string>().size(), 256u + 6u);  // two replacement characters
  EXPECT_FALSE(j.contains("forged"));
}

TEST(AuditLineTest, OnlyWritesAreAudited) {
  for (const char* v : {"create", "update", "patch", "delete", "deletecollection"}) EXPECT_TRUE(IsMutatingVerb(v)) << v;
  for (const char* v : {"get", "list", "watch", ""}) EXPECT_FALSE(IsMutatingVerb(v)) << v;
}

TEST_F(AuditLogTest, AppendsPrivateFileAndMirrors) {
  std::ostringstream mirror;
  auto log = AuditLog::Open({path_, 1 << 20, 3}, &mirror);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->Append(Record("a")).ok());
  ASSERT_TRUE((*log)->Append(Record("b")).ok());
  const auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[1])["name"], "b");
  EXPECT_EQ(mirror.str(), lines[0] + "\n" + lines[1] + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, RotatesAtTheLimitKeepingNOldFiles) {
  const size_t line_bytes = AuditLine(Record("n00")).size() + 1;
  // Room for exactly two lines per file.
  auto log = AuditLog::Open({path_, 2 * line_bytes, 2});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  for (int i = 0; i < 7; ++i) {
    char name[8];
    std::snprintf(name, sizeof(name), "n%02d", i);
    ASSERT_TRUE((*log)->Append(Record(name)).ok());
  }
  auto names = [](const std::string& file) {
    std::vector<std::string> out;
    for (const std::string& l : Lines(file)) out.push_back(json::parse(l)["name"]);
    return out;
  };
  // n00 n01 | n02 n03 | n04 n05 | n06: the current file and two backups, the oldest dropped.
  EXPECT_EQ(names(path_), std::vector<std::string>{"n06"});
  EXPECT_EQ(names(path_ + ".1"), (std::vector<std::string>{"n04", "n05"}));
  EXPECT_EQ(names(path_ + ".2"), (std::vector<std::string>{"n02", "n03"}));
  EXPECT_FALSE(fs::exists(path_ + ".3"));
  for (const auto& f : {path_, path_ + ".1", path_ + ".2"}) EXPECT_LE(fs::file_size(f), 2 * line_bytes);
}

TEST_F(AuditLogTest, ReopeningCountsTheExistingFile) {
  const size_t line_bytes = AuditLine(Record("n0")).size() + 1;
  {
    auto log = AuditLog::Open({path_, 2 * line_bytes, 1});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Record("n0")).ok());
    ASSERT_TRUE((*log)->Append(Record("n1")).ok());
  }
  auto log = AuditLog::Open({path_, 2 * line_bytes, 1});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Record("n2")).ok());
  EXPECT_EQ(Lines(path_).size(), 1u);
  EXPECT_EQ(Lines(path_ + ".1").size(), 2u);
}

TEST_F(AuditLogTest, NoBackupsTruncates) {
  const size_t line_bytes = AuditLine(Record("n0")).size() + 1;
  auto log = AuditLog::Open({path_, line_bytes, 0});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Record("n0")).ok());
  ASSERT_TRUE((*log)->Append(Record("n1")).ok());
  ASSERT_EQ(Lines(path_).size(), 1u);
  EXPECT_EQ(json::parse(Lines(path_)[0])["name"], "n1");
  EXPECT_FALSE(fs::exists(path_ + ".1"));
}

TEST_F(AuditLogTest, UnwritableDirectoryIsAnErrorNamingTheFile) {
  auto log = AuditLog::Open({dir_ + "/missing/audit.log", 1 << 20, 1});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kInternal);
  EXPECT_NE(log.status().message().find(dir_ + "/missing/audit.log"), std::string::npos);
}

TEST_F(AuditLogTest, StdoutOnlyWritesNoFile) {
  std::ostringstream mirror;
  auto log = AuditLog::Open({"", 1 << 20, 1}, &mirror);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Record("a")).ok());
  EXPECT_EQ(json::parse(mirror.str())["name"], "a");
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace berth::hub
