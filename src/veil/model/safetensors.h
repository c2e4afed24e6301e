// safetensors checkpoint reader and writer (the format of Hugging Face model.safetensors).
//
// File layout:
//   bytes [0, 8)        N: unsigned 64-bit little-endian length of the header
//   bytes [8, 8+N)      header: UTF-8 JSON object
//                         { "<tensor name>": { "dtype": "F32",
//                                              "shape": [d0, d1, ...],
//                                              "data_offsets": [begin, end] },
//                           ...,
//                           "__metadata__": { "<key>": "<string value>", ... } }  (optional)
//                       The writer of the reference implementation pads the header with
//                       trailing spaces so that the data buffer starts 8-byte aligned.
//   bytes [8+N, EOF)    data buffer. A tensor's bytes are buffer[begin, end): row-major,
//                       little-endian, end - begin == numel(shape) * dtype size. Tensors do
//                       not overlap. A shape of [] is a scalar (one element).
//
// Dtypes read here: F32, F16, BF16 (decoded to float), I32, I64 (decoded to int64), U64 (ring
// elements: the secret-share components of a party's bundle, nn/share_bundle.h).
// The reader checks every header field against the file and names the file and tensor in
// any error. The whole file is read into memory.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "veil/core/tensor.h"

namespace veil::model {

// A safetensors file that is malformed, unreadable or not writable.
struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Dtype { f32, f16, bf16, i32, i64, u64 };

std::string_view dtype_name(Dtype d);  // "F32", "F16", ...
size_t dtype_size(Dtype d);            // bytes per element

struct TensorInfo {
  Dtype dtype;
  Shape shape;
  uint64_t begin;  // byte range in the data buffer
  uint64_t end;
};

class SafeTensors {
 public:
  // Parses and validates the bytes of a whole file; `path` names it in errors.
  SafeTensors(std::string path, std::vector<uint8_t> bytes);

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  Tensor<float> get_f32(const std::string& name) const;    // dtype F32, F16 or BF16
  Tensor<int64_t> get_i64(const std::string& name) const;  // dtype I32 or I64
  std::vector<uint64_t> get_u64(const std::string& name) const;  // dtype U64; the shape is info(name).shape

 private:
  const uint8_t* tensor_bytes(const TensorInfo& t) const;

  std::string path_;
  std::vector<uint8_t> bytes_;  // the whole file
  uint64_t data_start_ = 0;     // offset of the data buffer in bytes_
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

SafeTensors load_safetensors(const std::string& path);

// A U64 tensor to serialise without copying it.
struct U64View {
  Shape shape;
  const uint64_t* data;  // numel(shape) elements
};

// The bytes of a safetensors file holding `tensors` as U64, in name order, header padded with
// spaces to 8 bytes. `what` names the result in errors.
std::vector<uint8_t> encode_safetensors_u64(const std::map<std::string, U64View>& tensors,
                                            const std::map<std::string, std::string>& metadata,
                                            const std::string& what);

// Writes every tensor as F32, in name order, header padded with spaces to 8 bytes.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor<float>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace veil::model
