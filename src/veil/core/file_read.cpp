#include "veil/core/file_read.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace veil {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return std::nullopt;
  return bytes;
}

std::string read_file_or_throw(const std::string& path) {
  std::optional<std::string> bytes = read_file(path);
  if (!bytes) throw std::runtime_error("cannot read " + path);
  return std::move(*bytes);
}

}  // namespace veil
