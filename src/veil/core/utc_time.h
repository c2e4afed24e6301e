// Times as the tools read and print them: ISO-8601 in UTC, or unix seconds. Used for collateral
// validity (attest/), the KMS's audit log and expiries (serve/), and `--at` flags.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace veil {

// "2025-06-20T00:00:00Z" (ISO-8601, UTC, optional fraction, or +00:00) or unix seconds
// ("1750377600") to unix seconds. Throws std::invalid_argument naming the text.
int64_t parse_time(std::string_view text);
// Unix seconds to "2025-06-20T00:00:00Z".
std::string format_time(int64_t unix_seconds);

}  // namespace veil
