// A Hugging Face model folder read in the clear: config.json plus model.safetensors, checked
// against each other (model/checkpoint_layout.h) and keyed by canonical tensor name. The
// plaintext backend is built from it; the model owner's `share-model` starts from the same.
#pragma once
#include <map>
#include <stdexcept>
#include <string>

#include "veil/core/tensor.h"
#include "veil/model/hf_config.h"

namespace veil::nn {

// A model folder that lacks a file the model needs.
struct ModelFolderError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Weights = std::map<std::string, Tensor<float>>;  // canonical name -> tensor

struct Gpt2Checkpoint {
  model::Gpt2Config config;
  Weights weights;
};

struct BertCheckpoint {
  model::BertConfig config;
  Weights weights;
};

// Throw ModelFolderError for a missing folder or file, model::ConfigError for a bad config and
// model::CheckpointError (listing every problem) for tensors that do not match it.
Gpt2Checkpoint load_gpt2_checkpoint(const std::string& dir);
BertCheckpoint load_bert_checkpoint(const std::string& dir);

}  // namespace veil::nn
