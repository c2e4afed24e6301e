#include "veil/model/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace veil::model {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  SafetensorsTest()
      : dir_(fs::temp_directory_path() /
             ("veil_safetensors_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::create_directories(dir_);
  }
  ~SafetensorsTest() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(v >> (8 * i));
  return out;
}

// A file whose header is `header` followed by `data_bytes` zero bytes.
std::string file_with(const std::string& header, size_t data_bytes = 0) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

template <class T>
std::string raw(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

TEST_F(SafetensorsTest, RoundTripsTensorsAndMetadata) {
  std::map<std::string, Tensor<float>> tensors;
  tensors["h.0.weight"] = Tensor<float>({2, 3}, {1, 2, 3, 4, 5, -6.5f});
  tensors["scalar"] = Tensor<float>(Shape{}, std::vector<float>{42});
  tensors["empty"] = Tensor<float>({0, 4});
  tensors["bias"] = Tensor<float>({5}, {0.1f, 0.2f, 0.3f, 1e-30f, -1e30f});
  const std::string path = (dir_ / "m.safetensors").string();
  save_safetensors(path, tensors, {{"format", "pt"}});

  const SafeTensors st = load_safetensors(path);
  EXPECT_EQ(st.names(), (std::vector<std::string>{"bias", "empty", "h.0.weight", "scalar"}));
  EXPECT_EQ(st.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  for (const auto& [name, t] : tensors) {
    EXPECT_EQ(st.info(name).dtype, Dtype::f32) << name;
    const Tensor<float> back = st.get_f32(name);
    EXPECT_EQ(back.shape, t.shape) << name;
    EXPECT_EQ(back.data, t.data) << name;
  }
}

TEST_F(SafetensorsTest, WriterPadsHeaderWithSpacesToEightBytes) {
  const std::string path = (dir_ / "p.safetensors").string();
  save_safetensors(path, {{"x", Tensor<float>({1}, {3.0f})}});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(bytes[size_t(i)]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 4);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"x":{"data_offsets":[0,4],"dtype":"F32","shape":[1]}})");
}

TEST_F(SafetensorsTest, DecodesF16AndBf16ToFloat) {
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[8,16]}})";
  const std::string data = raw<uint16_t>({0x3C00, 0xC000, 0x7BFF, 0x0001}) +
                           raw<uint16_t>({0x3F80, 0xC040, 0x4049, 0xFF80});
  const SafeTensors st = load_safetensors(write("half.safetensors", file_with(header) + data));

  const Tensor<float> h = st.get_f32("h");
  EXPECT_EQ(h.shape, (Shape{2, 2}));
  EXPECT_EQ(h.data, (std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24)}));
  const Tensor<float> b = st.get_f32("b");
  EXPECT_EQ(b.data, (std::vector<float>{1.0f, -3.0f, 3.140625f,
                                        -std::numeric_limits<float>::infinity()}));
}

TEST_F(SafetensorsTest, ReadsIntegerTensors) {
  const std::string header =
      R"({"i32":{"dtype":"I32","shape":[3],"data_offsets":[0,12]},)"
      R"("i64":{"dtype":"I64","shape":[2],"data_offsets":[16,32]}})";
  const std::string data = raw<int32_t>({-1, 7, 2147483647}) + std::string(4, '\0') +
                           raw<int64_t>({int64_t{1} << 40, -5});
  const SafeTensors st = load_safetensors(write("int.safetensors", file_with(header) + data));
  EXPECT_EQ(st.get_i64("i32").data, (std::vector<int64_t>{-1, 7, 2147483647}));
  EXPECT_EQ(st.get_i64("i64").data, (std::vector<int64_t>{int64_t{1} << 40, -5}));
  EXPECT_THROW(st.get_f32("i32"), SafetensorsError);
}

TEST_F(SafetensorsTest, AccessErrorsNameFileAndTensor) {
  const std::string path = (dir_ / "a.safetensors").string();
  save_safetensors(path, {{"w", Tensor<float>({2}, {1, 2})}});
  const SafeTensors st = load_safetensors(path);
  try {
    st.get_i64("w");
    FAIL() << "get_i64 read an F32 tensor";
  } catch (const SafetensorsError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor 'w'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(st.info("missing"), SafetensorsError);
  EXPECT_THROW(load_safetensors((dir_ / "absent.safetensors").string()), SafetensorsError);
}

TEST_F(SafetensorsTest, WriterRejectsTensorsThatDoNotFitTheirShape) {
  Tensor<float> bad({2, 2});
  bad.data.pop_back();
  EXPECT_THROW(save_safetensors((dir_ / "bad.safetensors").string(), {{"x", bad}}),
               SafetensorsError);
  EXPECT_THROW(save_safetensors((dir_ / "meta.safetensors").string(),
                                {{"__metadata__", Tensor<float>({1})}}),
               SafetensorsError);
}

struct BrokenFile {
  const char* name;
  std::string bytes;
  const char* expected;  // part of the error message
};

TEST_F(SafetensorsTest, RejectsBrokenFilesWithAClearMessage) {
  const std::string f32_2 = R"("dtype":"F32","shape":[2])";
  const std::vector<BrokenFile> cases = {
      {"empty", "", "shorter than the 8-byte header length"},
      {"seven_bytes", std::string(7, '\x01'), "shorter than the 8-byte header length"},
      {"header_past_eof", le64(100) + "{}", "larger than the 2 bytes after it"},
      {"absurd_header", le64(uint64_t{1} << 40) + "{}", "exceeds the limit"},
      {"not_json", file_with("{\"a\": "), "header is not valid JSON"},
      {"not_object", file_with("[1, 2]"), "header must be a JSON object"},
      {"entry_not_object", file_with(R"({"a": 3})"), "tensor 'a': entry must be a JSON object"},
      {"missing_dtype", file_with(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4),
       "tensor 'a': missing field 'dtype'"},
      {"missing_offsets", file_with(R"({"a":{"dtype":"F32","shape":[1]}})", 4),
       "tensor 'a': missing field 'data_offsets'"},
      {"unknown_dtype", file_with(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", 4),
       "tensor 'a': unsupported dtype 'Q4'"},
      {"dtype_not_string", file_with(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", 4),
       "tensor 'a': dtype must be a string"},
      {"negative_dim", file_with(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       "tensor 'a': shape entries must be non-negative integers"},
      {"fractional_dim", file_with(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
       "tensor 'a': shape entries must be non-negative integers"},
      {"shape_not_array", file_with(R"({"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", 16),
       "tensor 'a': shape must be an array"},
      {"huge_shape",
       file_with(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4),
       "has too many elements"},
      {"huge_dim", file_with(R"({"a":{"dtype":"F32","shape":[1152921504606846976],"data_offsets":[0,4]}})", 4),
       "has too many elements"},
      {"one_offset", file_with(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0]}})", 8),
       "tensor 'a': data_offsets must be [begin, end]"},
      {"negative_offset", file_with(R"({"a":{)" + f32_2 + R"(,"data_offsets":[-8,0]}})", 8),
       "tensor 'a': data_offsets must be [begin, end]"},
      {"offsets_not_array", file_with(R"({"a":{)" + f32_2 + R"(,"data_offsets":"0-8"}})", 8),
       "tensor 'a': data_offsets must be [begin, end]"},
      {"begin_after_end", file_with(R"({"a":{)" + f32_2 + R"(,"data_offsets":[8,0]}})", 8),
       "tensor 'a': data_offsets begin 8 is after end 0"},
      {"end_past_buffer", file_with(R"({"a":{)" + f32_2 + R"(,"data_offsets":[8,16]}})", 8),
       "tensor 'a': data_offsets end 16 is beyond the data buffer (8 bytes)"},
      {"size_mismatch", file_with(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "tensor 'a': holds 8 bytes but shape (3) of F32 needs 12"},
      {"f16_size_mismatch", file_with(R"({"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", 8),
       "tensor 'a': holds 8 bytes but shape (3) of F16 needs 6"},
      {"overlap",
       file_with(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8]},"b":{)" + f32_2 +
                     R"(,"data_offsets":[4,12]}})",
                 12),
       "tensor 'b': bytes [4, 12) overlap tensor 'a' at [0, 8)"},
      {"metadata_not_object", file_with(R"({"__metadata__":[1]})"), "__metadata__ must be a JSON object"},
      {"metadata_value_not_string", file_with(R"({"__metadata__":{"step":5}})"),
       "__metadata__ value of 'step' must be a string"},
  };
  for (const BrokenFile& c : cases) {
    const std::string path = write(std::string(c.name) + ".safetensors", c.bytes);
    try {
      load_safetensors(path);
      ADD_FAILURE() << c.name << ": loaded without error";
    } catch (const SafetensorsError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(c.expected), std::string::npos)
          << c.name << ": message '" << message << "' lacks '" << c.expected << "'";
      EXPECT_NE(message.find(path), std::string::npos) << c.name << ": no file name in " << message;
    }
  }
}

TEST_F(SafetensorsTest, AcceptsEmptyTensorsAndTrailingHeaderSpaces) {
  const std::string header = R"({"z":{"dtype":"BF16","shape":[0,3],"data_offsets":[0,0]}})" "   ";
  const SafeTensors st = load_safetensors(write("z.safetensors", file_with(header)));
  EXPECT_EQ(st.info("z").shape, (Shape{0, 3}));
  EXPECT_EQ(st.get_f32("z").size(), 0u);
  EXPECT_TRUE(st.metadata().empty());
}

TEST_F(SafetensorsTest, U64TensorsRoundTripInMemory) {
  const std::vector<uint64_t> a = {1, ~uint64_t{0}, uint64_t{1} << 63, 42, 0, 7};
  const std::vector<uint64_t> b = {5};
  const std::vector<uint8_t> bytes = encode_safetensors_u64(
      {{"a", U64View{{2, 3}, a.data()}}, {"b", U64View{{}, b.data()}}}, {{"party", "1"}}, "mem");
  const SafeTensors st("mem", bytes);
  EXPECT_EQ(st.info("a").dtype, Dtype::u64);
  EXPECT_EQ(st.info("a").shape, (Shape{2, 3}));
  EXPECT_EQ(st.get_u64("a"), a);
  EXPECT_EQ(st.get_u64("b"), b);
  EXPECT_EQ(st.metadata().at("party"), "1");
  EXPECT_THROW(st.get_f32("a"), SafetensorsError);
}

}  // namespace
}  // namespace veil::model
