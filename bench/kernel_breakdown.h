// `veil bench kernels`: where the bytes of one GeLU block and one softmax block go, per link tag
// (every kernel opens a tag; tags nest, so a kernel's row includes the kernels it calls).
#pragma once

namespace veil::bench {

void print_kernel_breakdown();

}  // namespace veil::bench
