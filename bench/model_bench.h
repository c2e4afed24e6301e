// `veil bench model`: private GPT-2 / BERT workloads on the MPC backend with random weights of
// the real shapes (communication and rounds do not depend on the values). The client's token
// inputs go through an in-process ClientPort, which counts the bytes of their encoded messages:
// they are added to the embedding column and to the totals.
#pragma once
#include <string>

namespace veil::bench {

struct ModelBenchOptions {
  bool quick = false;        // 2 layers instead of 12: a smoke run
  std::string which = "all"; // gpt2, bert or all
  std::string json_path;
  std::string token_input = "onehot";  // onehot: the client shares one-hot rows; ids: secure equality
};

void run_model_bench(const ModelBenchOptions& o);

}  // namespace veil::bench
