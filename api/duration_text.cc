#include "api/duration_text.h"

namespace berth {

StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  int64_t total = 0, value = 0;
  bool digits = false, any = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      digits = true;
      continue;
    }
    int64_t unit = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : 0;
    if (!digits || unit == 0) {
      return Status::Invalid("invalid duration \"" + text + "\": use forms like 90s, 30m, 1h, 2h30m, 7d");
    }
    total += value * unit;
    value = 0;
    digits = false;
    any = true;
  }
  if (digits || !any) {
    return Status::Invalid("invalid duration \"" + text + "\": every number needs a unit (s, m, h, d)");
  }
  return total;
}

}  // namespace berth
