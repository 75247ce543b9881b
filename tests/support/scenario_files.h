// The data-driven suites' scenario files (tests/<suite>/scenarios/*.yaml): where they are, which
// there are (sorted, for stable test names) and their text. Header-only.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace berth::testing {

// tests/<suite>/scenarios under $BERTH_SOURCE_DIR (ctest sets it), else under the working dir.
inline std::filesystem::path ScenarioDir(const std::string& suite) {
  const char* src = std::getenv("BERTH_SOURCE_DIR");
  return std::filesystem::path(src ? src : ".") / "tests" / suite / "scenarios";
}

// The .yaml file names in ScenarioDir(suite), sorted.
inline std::vector<std::string> ScenarioFiles(const std::string& suite) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(ScenarioDir(suite))) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string ReadScenarioText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace berth::testing
