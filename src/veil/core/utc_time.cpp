#include "veil/core/utc_time.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>

namespace veil {

int64_t parse_time(std::string_view text) {
  const std::string s(text);
  if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
    int64_t t = 0;
    if (std::from_chars(s.data(), s.data() + s.size(), t).ec != std::errc())
      throw std::invalid_argument("\"" + s + "\" is too large for unix seconds");
    return t;
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6)
    throw std::invalid_argument("\"" + s + "\" is not ISO-8601 (2025-06-20T00:00:00Z) or unix seconds");
  std::string_view rest = text.substr(size_t(consumed));
  if (!rest.empty() && rest[0] == '.') {  // fraction of a second: ignored
    size_t i = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    rest = rest.substr(i);
  }
  if (rest != "Z" && rest != "+00:00")
    throw std::invalid_argument("\"" + s + "\" must be UTC (end in Z or +00:00)");
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    throw std::invalid_argument("\"" + s + "\" has a field out of range");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::tm asked = tm;
  const time_t t = timegm(&tm);  // normalizes: 2025-02-30 would become 2025-03-02
  if (tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon) throw std::invalid_argument("\"" + s + "\" is not a date");
  return int64_t(t);
}

std::string format_time(int64_t unix_seconds) {
  const time_t t = time_t(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace veil
