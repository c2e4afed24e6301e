#include "veil/model/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "veil/model/float16.h"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swaps here");

namespace veil::model {
namespace {

using nlohmann::json;

constexpr uint64_t max_header_bytes = 100'000'000;  // the reference implementation's limit
constexpr int64_t max_numel = int64_t{1} << 48;     // keeps numel * dtype_size far from overflow
constexpr std::string_view metadata_key = "__metadata__";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw SafetensorsError("safetensors file " + path + ": " + what);
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name,
                              const std::string& what) {
  fail(path, "tensor '" + name + "': " + what);
}

std::optional<Dtype> parse_dtype(std::string_view s) {
  for (Dtype d : {Dtype::f32, Dtype::f16, Dtype::bf16, Dtype::i32, Dtype::i64, Dtype::u64})
    if (dtype_name(d) == s) return d;
  return std::nullopt;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Shape parse_shape(const json& j, const std::string& path, const std::string& name) {
  if (!j.is_array()) fail_tensor(path, name, "shape must be an array, got " + j.dump());
  Shape shape;
  int64_t n = 1;
  for (const json& d : j) {
    if (!d.is_number_unsigned())
      fail_tensor(path, name, "shape entries must be non-negative integers, got " + j.dump());
    const auto dim = d.get<uint64_t>() > uint64_t(max_numel) ? max_numel + 1 : d.get<int64_t>();
    if (dim != 0 && n > max_numel / dim)
      fail_tensor(path, name, "shape " + j.dump() + " has too many elements");
    n *= dim;
    shape.push_back(dim);
  }
  return shape;
}

TensorInfo parse_tensor(const json& j, uint64_t buffer_size, const std::string& path,
                        const std::string& name) {
  if (!j.is_object()) fail_tensor(path, name, "entry must be a JSON object, got " + j.dump());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!j.contains(key)) fail_tensor(path, name, std::string("missing field '") + key + "'");

  const json& dtype_json = j["dtype"];
  if (!dtype_json.is_string()) fail_tensor(path, name, "dtype must be a string");
  const auto dtype = parse_dtype(dtype_json.get<std::string>());
  if (!dtype)
    fail_tensor(path, name, "unsupported dtype '" + dtype_json.get<std::string>() +
                                "' (supported: F32, F16, BF16, I32, I64, U64)");

  Shape shape = parse_shape(j["shape"], path, name);

  const json& offsets = j["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail_tensor(path, name,
                "data_offsets must be [begin, end] with non-negative integers, got " +
                    offsets.dump());
  const auto begin = offsets[0].get<uint64_t>();
  const auto end = offsets[1].get<uint64_t>();
  if (begin > end)
    fail_tensor(path, name, "data_offsets begin " + std::to_string(begin) + " is after end " +
                                std::to_string(end));
  if (end > buffer_size)
    fail_tensor(path, name, "data_offsets end " + std::to_string(end) +
                                " is beyond the data buffer (" + std::to_string(buffer_size) +
                                " bytes)");
  const uint64_t expected = uint64_t(numel(shape)) * dtype_size(*dtype);
  if (end - begin != expected)
    fail_tensor(path, name, "holds " + std::to_string(end - begin) + " bytes but shape " +
                                shape_str(shape) + " of " + std::string(dtype_name(*dtype)) +
                                " needs " + std::to_string(expected));
  return {*dtype, std::move(shape), begin, end};
}

std::map<std::string, std::string> parse_metadata(const json& j, const std::string& path) {
  if (!j.is_object()) fail(path, "__metadata__ must be a JSON object, got " + j.dump());
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      fail(path, "__metadata__ value of '" + key + "' must be a string, got " + value.dump());
    out[key] = value.get<std::string>();
  }
  return out;
}

void check_no_overlap(const std::map<std::string, TensorInfo>& tensors, const std::string& path) {
  std::vector<std::pair<const std::string*, const TensorInfo*>> by_offset;
  for (const auto& [name, info] : tensors)
    if (info.end > info.begin) by_offset.emplace_back(&name, &info);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto& [prev_name, prev] = by_offset[i - 1];
    const auto& [name, info] = by_offset[i];
    if (info->begin < prev->end)
      fail_tensor(path, *name, "bytes [" + std::to_string(info->begin) + ", " +
                                   std::to_string(info->end) + ") overlap tensor '" +
                                   *prev_name + "' at [" + std::to_string(prev->begin) + ", " +
                                   std::to_string(prev->end) + ")");
  }
}

}  // namespace

std::string_view dtype_name(Dtype d) {
  switch (d) {
    case Dtype::f32: return "F32";
    case Dtype::f16: return "F16";
    case Dtype::bf16: return "BF16";
    case Dtype::i32: return "I32";
    case Dtype::i64: return "I64";
    case Dtype::u64: return "U64";
  }
  throw std::logic_error("dtype_name: bad Dtype");
}

size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::f16:
    case Dtype::bf16: return 2;
    case Dtype::f32:
    case Dtype::i32: return 4;
    case Dtype::i64:
    case Dtype::u64: return 8;
  }
  throw std::logic_error("dtype_size: bad Dtype");
}

SafeTensors::SafeTensors(std::string path, std::vector<uint8_t> bytes)
    : path_(std::move(path)), bytes_(std::move(bytes)) {
  if (bytes_.size() < 8)
    fail(path_, "file is " + std::to_string(bytes_.size()) +
                    " bytes, shorter than the 8-byte header length");
  const uint64_t header_size = read_u64_le(bytes_.data());
  if (header_size > max_header_bytes)
    fail(path_, "header length " + std::to_string(header_size) + " exceeds the limit of " +
                    std::to_string(max_header_bytes) + " bytes");
  if (header_size > bytes_.size() - 8)
    fail(path_, "header length " + std::to_string(header_size) + " is larger than the " +
                    std::to_string(bytes_.size() - 8) + " bytes after it");
  data_start_ = 8 + header_size;

  json header;
  try {
    header = json::parse(bytes_.begin() + 8, bytes_.begin() + std::ptrdiff_t(data_start_));
  } catch (const json::parse_error& e) {
    fail(path_, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path_, "header must be a JSON object, got " + header.dump());

  const uint64_t buffer_size = bytes_.size() - data_start_;
  for (const auto& [name, entry] : header.items()) {
    if (name == metadata_key)
      metadata_ = parse_metadata(entry, path_);
    else
      tensors_.emplace(name, parse_tensor(entry, buffer_size, path_, name));
  }
  check_no_overlap(tensors_, path_);
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  for (const auto& [name, info] : tensors_) out.push_back(name);
  return out;
}

const TensorInfo& SafeTensors::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, "no tensor named '" + name + "'");
  return it->second;
}

const uint8_t* SafeTensors::tensor_bytes(const TensorInfo& t) const {
  return bytes_.data() + data_start_ + t.begin;
}

Tensor<float> SafeTensors::get_f32(const std::string& name) const {
  const TensorInfo& t = info(name);
  Tensor<float> out(t.shape);
  const uint8_t* src = tensor_bytes(t);
  switch (t.dtype) {
    case Dtype::f32:
      if (out.size() != 0) std::memcpy(out.data.data(), src, out.size() * sizeof(float));
      return out;
    case Dtype::f16:
    case Dtype::bf16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = t.dtype == Dtype::f16 ? f16_to_f32(bits) : bf16_to_f32(bits);
      }
      return out;
    case Dtype::i32:
    case Dtype::i64:
    case Dtype::u64: break;
  }
  fail_tensor(path_, name, "has dtype " + std::string(dtype_name(t.dtype)) +
                               "; get_f32 reads F32, F16 or BF16");
}

Tensor<int64_t> SafeTensors::get_i64(const std::string& name) const {
  const TensorInfo& t = info(name);
  Tensor<int64_t> out(t.shape);
  const uint8_t* src = tensor_bytes(t);
  switch (t.dtype) {
    case Dtype::i64:
      if (out.size() != 0) std::memcpy(out.data.data(), src, out.size() * sizeof(int64_t));
      return out;
    case Dtype::i32:
      for (size_t i = 0; i < out.size(); ++i) {
        int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        out[i] = v;
      }
      return out;
    case Dtype::f32:
    case Dtype::f16:
    case Dtype::bf16:
    case Dtype::u64: break;
  }
  fail_tensor(path_, name, "has dtype " + std::string(dtype_name(t.dtype)) +
                               "; get_i64 reads I32 or I64");
}

std::vector<uint64_t> SafeTensors::get_u64(const std::string& name) const {
  const TensorInfo& t = info(name);
  if (t.dtype != Dtype::u64)
    fail_tensor(path_, name, "has dtype " + std::string(dtype_name(t.dtype)) + "; get_u64 reads U64");
  std::vector<uint64_t> out(size_t(numel(t.shape)));
  if (!out.empty()) std::memcpy(out.data(), tensor_bytes(t), out.size() * sizeof(uint64_t));
  return out;
}

SafeTensors load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read size: " + ec.message());
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
    fail(path, "read failed after " + std::to_string(in.gcount()) + " bytes");
  return SafeTensors(path, std::move(bytes));
}

namespace {

struct Entry {
  Dtype dtype;
  const Shape* shape;
  size_t elements;  // as held, checked against the shape
};

// The 8-byte length and the padded JSON header of a file holding `entries` in name order.
std::string encode_header(const std::map<std::string, Entry>& entries,
                          const std::map<std::string, std::string>& metadata, const std::string& path) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, e] : entries) {
    if (name == metadata_key) fail(path, "a tensor may not be named __metadata__");
    if (std::any_of(e.shape->begin(), e.shape->end(), [](int64_t d) { return d < 0; }) ||
        int64_t(e.elements) != numel(*e.shape))
      fail_tensor(path, name, std::to_string(e.elements) + " elements do not fit shape " + shape_str(*e.shape));
    const uint64_t bytes = e.elements * dtype_size(e.dtype);
    header[name] = {{"dtype", std::string(dtype_name(e.dtype))}, {"shape", *e.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header[std::string(metadata_key)] = metadata;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception& e) {  // e.g. a name or metadata value that is not UTF-8
    fail(path, std::string("cannot encode header: ") + e.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(uint8_t(uint64_t(header_text.size()) >> (8 * i)));
  return out + header_text;
}

}  // namespace

std::vector<uint8_t> encode_safetensors_u64(const std::map<std::string, U64View>& tensors,
                                            const std::map<std::string, std::string>& metadata,
                                            const std::string& what) {
  std::map<std::string, Entry> entries;
  size_t data_bytes = 0;
  for (const auto& [name, t] : tensors) {
    const size_t n = size_t(std::max<int64_t>(numel(t.shape), 0));
    entries.emplace(name, Entry{Dtype::u64, &t.shape, n});
    data_bytes += n * sizeof(uint64_t);
  }
  const std::string header = encode_header(entries, metadata, what);
  std::vector<uint8_t> out;
  out.reserve(header.size() + data_bytes);
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& [name, t] : tensors) {
    const auto* p = reinterpret_cast<const uint8_t*>(t.data);
    out.insert(out.end(), p, p + size_t(numel(t.shape)) * sizeof(uint64_t));
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor<float>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Entry> entries;
  for (const auto& [name, t] : tensors) entries.emplace(name, Entry{Dtype::f32, &t.shape, t.size()});
  const std::string header = encode_header(entries, metadata, path);

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, std::string("cannot create: ") + std::strerror(errno));
  out.write(header.data(), std::streamsize(header.size()));
  for (const auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t.data.data()), std::streamsize(t.size() * sizeof(float)));
  out.close();
  if (!out) fail(path, "write failed");
}

}  // namespace veil::model
