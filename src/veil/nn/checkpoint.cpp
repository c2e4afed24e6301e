#include "veil/nn/checkpoint.h"

#include <filesystem>

#include "veil/model/checkpoint_layout.h"
#include "veil/model/safetensors.h"

namespace veil::nn {

namespace {

// Path of `file` in `dir`; throws when the folder or the file is absent.
std::string required_file(const std::string& dir, const std::string& file) {
  const std::filesystem::path d(dir);
  if (!std::filesystem::is_directory(d))
    throw ModelFolderError("model folder " + dir + " does not exist (expected config.json and "
                           "model.safetensors in it)");
  const auto p = d / file;
  if (!std::filesystem::is_regular_file(p))
    throw ModelFolderError("model folder " + dir + " has no " + file);
  return p.string();
}

Weights read_weights(const model::SafeTensors& file, const model::CheckpointNames& names) {
  Weights w;
  for (const auto& [canonical, stored] : names) w.emplace(canonical, file.get_f32(stored));
  return w;
}

}  // namespace

Gpt2Checkpoint load_gpt2_checkpoint(const std::string& dir) {
  const std::string config_path = required_file(dir, "config.json");
  const std::string weights_path = required_file(dir, "model.safetensors");
  Gpt2Checkpoint c{model::load_gpt2_config(config_path), {}};
  const model::SafeTensors file = model::load_safetensors(weights_path);
  c.weights = read_weights(file, model::match_gpt2_checkpoint(file, c.config));
  return c;
}

BertCheckpoint load_bert_checkpoint(const std::string& dir) {
  const std::string config_path = required_file(dir, "config.json");
  const std::string weights_path = required_file(dir, "model.safetensors");
  BertCheckpoint c{model::load_bert_config(config_path), {}};
  const model::SafeTensors file = model::load_safetensors(weights_path);
  c.weights = read_weights(file, model::match_bert_checkpoint(file, c.config));
  return c;
}

}  // namespace veil::nn
