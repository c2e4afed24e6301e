// Explicit instantiation of a kernel template for both rings (FM32 and FM64).
#pragma once
#include <cstdint>

#define VEIL_FOR_RINGS(X) X(uint32_t) X(uint64_t)
