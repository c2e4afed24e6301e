// veil: private machine learning. One binary, one subcommand per job.
#include <cstdio>
#include <exception>

#include "veil/commands.h"

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
