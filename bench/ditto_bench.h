// `veil bench ditto`: the speed evaluation of the mixed-ring backend (nn/ditto_backend.h).
// GPT2-base (32-token prompt + 1 token chosen by argmax) and BERT-base (128 tokens, classifier
// logits to the client), each on DittoBackend under the built-in fp64 plan (the PUMA-like
// baseline: everything on FM64 with 18 fraction bits) and the ditto plan, in one run, with random
// weights of the real shapes (communication and rounds do not depend on the values). Wall time,
// bytes (all parties + client, busiest party), rounds, modelled LAN/WAN time (net_model.h) and a
// per-op breakdown by link tag; then the fp64/ditto ratios against the targets (ditto at
// least 1.6x faster in modelled LAN time, at least 2x less communication, on both models).
//
// Weight scales of the ditto plan: what the calibration (tools/distill.py, docs/DITTO.md) would
// pick from the weights alone. Every FM32 matrix (embedding tables, linear weights, the head) is
// drawn as the models' initialisation draws it (N(0, 0.02), Hugging Face's initializer_range), and
// gets the largest fb <= 20 with max|w|·2^fb < 2^(weight_bits − 1); biases and LayerNorm
// parameters keep their op's fraction bits. The accumulator rule needs activations (calibration
// data), which random weights have not: it would lower fb, but every fb > 10 gives the same casts
// and rounds (a product at 8 + fb > 18 bits is truncated by its up-cast to attention,
// upcast_trunc_a), and bytes that differ by 3 bits per query/key/value element per bit of fb.
#pragma once
#include <string>

namespace veil::bench {

struct DittoBenchOptions {
  bool quick = false;         // 2 layers instead of 12: a smoke run
  std::string which = "all";  // gpt2, bert or all
  std::string json_path;
  bool by_tag = false;  // also every link tag (kernels included), fp64 against ditto, per workload
};

void run_ditto_bench(const DittoBenchOptions& o);

}  // namespace veil::bench
