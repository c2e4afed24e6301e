// Subcommands of the veil CLI; each file registers its own.
#pragma once
#include <CLI/CLI.hpp>

namespace veil::app {
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
