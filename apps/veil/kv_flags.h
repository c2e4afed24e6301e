// The --kv-* flags of `veil generate` and `veil eval-kv`: one KvPolicyConfig (nn/kv_policy_config.h)
// filled from the command line, with each flag's meaning in --help.
#pragma once
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "veil/nn/kv_policy_config.h"

namespace veil::app {

struct KvFlags {
  std::string policy = "full";
  std::string reveal = "positions";
  std::string share = "on";
  std::string static_eviction = "on";
  nn::KvPolicyConfig config;
  // The config the flags describe; throws std::invalid_argument naming the bad flag.
  nn::KvPolicyConfig resolve() const;
};

// Registers the flags on `cmd`; `with_policy` adds --kv-policy itself (eval-kv takes a list).
void add_kv_flags(CLI::App* cmd, KvFlags& f, bool with_policy = true);

}  // namespace veil::app
