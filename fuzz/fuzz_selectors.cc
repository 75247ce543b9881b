// Fuzz target: what a list or watch URL carries: the query string (percent-decoding,
// booleans, integers, dryRun), label and field selectors, and a selector matched
// against a labelled object.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/selector.h"
#include "hub/query_params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto query = berth::hub::QueryParams::Parse(text);
  (void)query.Bool("watch");
  (void)query.Int("limit");
  (void)query.DryRun();
  (void)berth::hub::PercentDecode(text, false);
  static const nlohmann::json object = {
      {"metadata", {{"name", "chat"}, {"namespace", "ml"}, {"labels", {{"team", "search"}, {"tier", "1"}}}}}};
  auto labels = berth::api::LabelSelector::Parse(query.Get("labelSelector").empty() ? text : query.Get("labelSelector"));
  if (labels.ok()) (void)labels->Matches(std::map<std::string, std::string>{{"team", "search"}, {"tier", "1"}});
  auto fields = berth::api::FieldSelector::Parse(query.Get("fieldSelector").empty() ? text : query.Get("fieldSelector"));
  if (fields.ok()) {
    (void)fields->Matches(object);
    (void)fields->ExactName();
  }
  return 0;
}
