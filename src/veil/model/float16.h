// Decoding of the 16-bit float formats found in checkpoints.
//   F16  (IEEE 754 binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits.
//   BF16 (bfloat16):          1 sign, 8 exponent (bias 127), 7 mantissa bits, i.e. the top
//                             half of an F32.
// Both decode exactly to float: every F16 and BF16 value is representable in F32.
#pragma once
#include <cstdint>

namespace veil::model {

float f16_to_f32(uint16_t bits);
float bf16_to_f32(uint16_t bits);

}  // namespace veil::model
