// Sequence classification with a BertForSequenceClassification checkpoint, in the clear or with
// the three parties as threads of this process. Privately: the model owner deals the weight
// shares; the client secret-shares the one-hot rows of the token ids (T,V) and of the token
// types (T,type_vocab_size) through a ClientPort (TokenInput::client_onehot); each party runs
// Bert::classify on the MPC backend and hands its pair of the logits to the client
// (MpcBackend::reveal_to_client): only the client reconstructs them. The parties learn T.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "veil/nn/checkpoint.h"

namespace veil::nn {

// Throws std::invalid_argument naming `dir` when the checkpoint has no pooler and classifier
// (a BertModel rather than a BertForSequenceClassification).
void require_classifier(const BertCheckpoint& ck, const std::string& dir);

// Throws std::invalid_argument for no tokens, more than max_position_embeddings, an id outside
// [0, vocab_size), a token type outside [0, type_vocab_size), or a token_types list whose length
// differs from the ids'.
void check_classify_input(const model::BertConfig& config, const std::vector<int32_t>& ids,
                          const std::vector<int32_t>& token_types);

// The logits (num_labels) in float32 in the clear.
std::vector<float> classify_plain(const BertCheckpoint& ck, const std::vector<int32_t>& ids,
                                  const std::vector<int32_t>& token_types);

struct PrivateClassification {
  std::vector<float> logits;          // as reconstructed by the client (num_labels)
  double seconds = 0;                 // from the client's first input to the reconstructed logits
  int64_t bytes_total = 0;            // bytes sent by all parties to each other
  int64_t bytes_max = 0;              // bytes sent by the busiest party
  int64_t rounds = 0;                 // rounds of the busiest party
  int64_t client_bytes_sent = 0;      // client -> parties (the shared inputs)
  int64_t client_bytes_received = 0;  // parties -> client (the pairs of the logits)
};

// Checks the input (check_classify_input) before any party starts.
PrivateClassification classify_private(const BertCheckpoint& ck, const std::vector<int32_t>& ids,
                                       const std::vector<int32_t>& token_types);

}  // namespace veil::nn
