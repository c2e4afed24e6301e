// Subcommands of the veil CLI; each file registers its own.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace veil::app {

// Validators for numbers >= 0 and > 0. CLI11's NonNegativeNumber and PositiveNumber name the
// largest double, 309 digits, in their errors; these say what is wrong in a few words.
inline const CLI::Validator non_negative(
    [](std::string& s) {
      double v = 0;
      return CLI::detail::lexical_cast(s, v) && v >= 0 ? std::string() : "must be a number >= 0, got " + s;
    },
    "NONNEGATIVE");
inline const CLI::Validator positive(
    [](std::string& s) {
      double v = 0;
      return CLI::detail::lexical_cast(s, v) && v > 0 ? std::string() : "must be a number > 0, got " + s;
    },
    "POSITIVE");

void register_attest(CLI::App& app);
void register_bench(CLI::App& app);
void register_certs(CLI::App& app);
void register_classify(CLI::App& app);
void register_eval_kv(CLI::App& app);
void register_eval_ppl(CLI::App& app);
void register_gateway(CLI::App& app);
void register_generate(CLI::App& app);
void register_kms(CLI::App& app);
void register_loadtest(CLI::App& app);
void register_party(CLI::App& app);
void register_share_model(CLI::App& app);
void register_tee_sim(CLI::App& app);
void register_tee_worker(CLI::App& app);
void register_tune(CLI::App& app);
}  // namespace veil::app
