// The model owner's side of a served deployment: splits a Hugging Face GPT-2 folder into three
// encrypted share bundles (nn/share_bundle.h), one per party, plus the files the client needs.
//
// Output folder:
//   party-{0,1,2}.bundle        party i's shares, sealed under party i's key
//   keys/party-{0,1,2}.key      the keys (fresh random, mode 0600), unless key_dir is given
//   client/                     config.json, vocab.json, merges.txt: what `veil generate
//                               --parties` needs (no weights); with a precision plan also
//                               plan.json, the plan the bundles were dealt for (what `--precision
//                               <its name>` resolves to in that folder, nn/precision_plan.h)
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace veil::nn {

struct ShareModelOptions {
  std::string key_dir;     // read keys/party-<i>.key-named files from here instead of making new ones
  bool overwrite = false;  // replace existing bundles and client files
  // Empty or "fp64": FM64 bundles (the FM64 backend). Otherwise the bundles are dealt for the plan
  // resolve_precision(precision, model_dir) gives (the folder's plan.json for a built-in name whose
  // formats it shares), each weight on every ring the plan needs.
  std::string precision;
};

struct ShareModelReport {
  std::array<std::string, 3> bundles;
  std::array<std::string, 3> keys;
  std::string client_dir;
  int64_t parameters = 0;  // weight elements shared
  std::string plan_source;  // the plan dealt for (ResolvedPlan::source), empty for FM64 bundles
  std::string plan_note;    // ResolvedPlan::note
};

// Throws ModelFolderError / model::ConfigError / model::CheckpointError for a bad model folder
// and BundleError for files it cannot write (or would replace without `overwrite`).
ShareModelReport share_model(const std::string& model_dir, const std::string& out_dir, const ShareModelOptions& opt);

// The key file name of party `party` in a key folder: party-<party>.key.
std::string bundle_key_file(const std::string& key_dir, int party);

}  // namespace veil::nn
