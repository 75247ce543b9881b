#include "api/clock.h"

#include <cstdio>
#include <ctime>

namespace berth {

std::string FormatRfc3339(Clock::TimePoint t) {
  std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatRfc3339Millis(Clock::TimePoint t) {
  const int64_t ms = t.time_since_epoch().count();
  // Floor division, so instants before 1970 keep a non-negative fraction.
  const int64_t floor_secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  std::string out = FormatRfc3339(Clock::TimePoint(Clock::Duration(floor_secs * 1000)));
  char frac[8];
  std::snprintf(frac, sizeof(frac), ".%03d", static_cast<int>(ms - floor_secs * 1000));
  return out.insert(out.size() - 1, frac);
}

bool ParseRfc3339(const std::string& text, Clock::TimePoint* out) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t millis = 0;
  size_t pos = static_cast<size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    int64_t scale = 100;
    for (++pos; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
    }
  }
  std::string zone = text.substr(pos);
  if (zone != "Z" && zone != "+00:00" && zone != "z") return false;
  std::time_t secs = timegm(&tm);
  *out = Clock::TimePoint(Clock::Duration(static_cast<int64_t>(secs) * 1000 + millis));
  return true;
}

}  // namespace berth
