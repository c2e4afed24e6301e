#pragma once
#include <stdexcept>

namespace veil::model {

// A tokenizer file that is malformed, or text or ids the tokenizer cannot process.
struct TokenizerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace veil::model
