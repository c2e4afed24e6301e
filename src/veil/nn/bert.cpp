// The plaintext instantiation of the BERT graph (the MPC backend instantiates its own).
#include "veil/nn/bert.h"

#include "veil/nn/plain_backend.h"

namespace veil::nn {
template class Bert<PlainBackend>;
}  // namespace veil::nn
