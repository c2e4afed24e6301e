// Subcommands of the veil CLI; each file registers its own.
#pragma once
#include <functional>
#include <stdexcept>
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

// A CLI11 validator: "" when `parse` accepts the text, else its error message (CLI11 prefixes the
// option's name).
template <class Parse>
std::function<std::string(const std::string&)> parsed_by(Parse parse) {
  return [parse](const std::string& s) {
    try {
      parse(s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
}

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
