// Whole-file reads for the loaders and commands: each caller turns a missing or unreadable file
// into its own error type and message (a tokenizer error, a CLI error naming the flag, ...).
#pragma once
#include <optional>
#include <string>

namespace veil {

// The bytes of the file at `path`, or nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);
// The same, throwing std::runtime_error("cannot read PATH") instead of returning nullopt.
std::string read_file_or_throw(const std::string& path);

}  // namespace veil
