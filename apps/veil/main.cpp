// veil: private machine learning. One binary, one subcommand per job.
#include <cstdio>
#include <exception>
#include <string>

#include "veil/commands.h"

namespace {

// A word that names none of the subcommands of a command that needs one ("veil foo", "veil tune
// foo"): CLI11 would say only "A subcommand is required". Returns the error, or "" when none.
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "veil";
  for (int i = 1; i < argc && argv[i][0] != '-' && at->get_require_subcommand_min() > 0; ++i) {
    try {
      at = at->get_subcommand(argv[i]);
    } catch (const CLI::OptionNotFound&) {
      return path + ": unknown command '" + argv[i] + "'; `" + path + " --help` lists the commands";
    }
    path += std::string(" ") + argv[i];
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"veil — private transformer inference by three-party secret sharing"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "veil 0.1.0");
  veil::app::register_attest(app);
  veil::app::register_bench(app);
  veil::app::register_certs(app);
  veil::app::register_classify(app);
  veil::app::register_eval_kv(app);
  veil::app::register_eval_ppl(app);
  veil::app::register_gateway(app);
  veil::app::register_generate(app);
  veil::app::register_kms(app);
  veil::app::register_loadtest(app);
  veil::app::register_party(app);
  veil::app::register_share_model(app);
  veil::app::register_tee_sim(app);
  veil::app::register_tee_worker(app);
  veil::app::register_tune(app);
  if (const std::string error = unknown_command(app, argc, argv); !error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return static_cast<int>(CLI::ExitCodes::ExtrasError);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "veil: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
