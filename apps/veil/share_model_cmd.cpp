// `veil share-model`: the model owner splits a GPT-2 folder into three encrypted share bundles.
#include <cstdio>
#include <memory>

#include "veil/commands.h"
#include "veil/nn/share_model.h"

namespace veil::app {

void register_share_model(CLI::App& app) {
  struct Args {
    std::string model, out;
    nn::ShareModelOptions opt;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "share-model",
      "Model owner: secret-share a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json, "
      "merges.txt) for three `veil party --serve` processes. Writes OUT/party-{0,1,2}.bundle (party i's shares, "
      "FM64 or per --precision, AES-256-GCM under party i's key), OUT/keys/party-{0,1,2}.key (fresh random keys, mode 0600) and "
      "OUT/client/ (config.json, vocab.json, merges.txt for `veil generate --parties`). Give each party only its "
      "own bundle and key; the bundle format is documented in src/veil/nn/share_bundle.h.");
  cmd->add_option("model", a->model, "GPT-2 model folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--out", a->out, "Output folder (created if missing)")->required();
  cmd->add_option("--key-dir", a->opt.key_dir,
                  "Seal the bundles under existing keys DIR/party-{0,1,2}.key (64 hex digits each) instead of "
                  "making new ones in OUT/keys")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--force", a->opt.overwrite, "Replace bundles and client files that already exist (never keys)");
  cmd->add_option("--precision", a->opt.precision,
                  "Deal the bundles for a precision plan (docs/DITTO.md): ditto or a plan JSON file; each weight is "
                  "shared on every ring the plan needs, the bundles record the plan with its scales, and "
                  "OUT/client/plan.json holds it for the client (`veil generate --parties ... --precision <name>`). "
                  "A built-in name uses the model folder's plan.json (calibrated scales) when its formats agree. "
                  "fp64 or unset: FM64 shares");
  cmd->callback([a] {
    const nn::ShareModelReport r = nn::share_model(a->model, a->out, a->opt);
    std::printf("shared %lld weights of %s%s\n", static_cast<long long>(r.parameters), a->model.c_str(),
                r.plan_source.empty() ? " (FM64)" : (" for precision plan " + r.plan_source).c_str());
    if (!r.plan_note.empty()) std::printf("note: %s\n", r.plan_note.c_str());
    for (int i = 0; i < 3; ++i)
      std::printf("party %d: bundle %s, key %s\n", i, r.bundles[size_t(i)].c_str(), r.keys[size_t(i)].c_str());
    std::printf("client: %s (pass it as `veil generate --parties ... --model %s`)\n", r.client_dir.c_str(),
                r.client_dir.c_str());
  });
}

}  // namespace veil::app
