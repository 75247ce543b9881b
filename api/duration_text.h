// Durations as people type them on command lines: "90s", "30m", "1h", "2h30m", "7d". Pure.
#pragma once

#include <cstdint>
#include <string>

#include "api/status.h"

namespace berth {

// Parses "90s", "30m", "1h", "2h30m", "7d" into seconds. Invalid on anything else.
StatusOr<int64_t> ParseDurationSeconds(const std::string& text);

}  // namespace berth
