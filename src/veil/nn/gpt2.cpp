// The plaintext instantiation of the GPT-2 graph (the MPC backend instantiates its own).
#include "veil/nn/gpt2.h"

#include "veil/nn/plain_backend.h"

namespace veil::nn {
static_assert(Backend<PlainBackend>);
template class Gpt2<PlainBackend>;
}  // namespace veil::nn
