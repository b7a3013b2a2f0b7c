// Writer -> reader round trips on files built here: every value type, nested
// arrays, tensor layout and alignment, callbacks, atomic write_file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "gguf/gguf.h"

namespace pagoda::gguf {
namespace {

Writer writer_with_every_type() {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("t.u8", Value::u8(250));
  w.set("t.i8", Value::i8(-7));
  w.set("t.u16", Value::u16(65000));
  w.set("t.i16", Value::i16(-32000));
  w.set("t.u32", Value::u32(4000000000u));
  w.set("t.i32", Value::i32(-2000000000));
  w.set("t.f32", Value::f32(0.1f));
  w.set("t.bool", Value::boolean(true));
  w.set("t.string", Value::string(std::string("a\0b\xff", 4)));
  w.set("t.u64", Value::u64(std::numeric_limits<uint64_t>::max()));
  w.set("t.i64", Value::i64(std::numeric_limits<int64_t>::min()));
  w.set("t.f64", Value::f64(-1e300));
  w.set("t.strings", Value::string_array({"", "x", "hello world"}));
  w.set("t.floats", Value::f32_array({1.5f, -0.25f, 3e-8f}));
  w.set("t.ints", Value::i32_array({-1, 0, 2147483647}));
  Array bools;
  bools.elem_type = ValueType::BOOL;
  bools.uints = {1, 0, 1};
  w.set("t.bools", Value::array(bools));
  Array inner1, inner2, outer;
  inner1.elem_type = ValueType::UINT16;
  inner1.uints = {1, 2, 3};
  inner2.elem_type = ValueType::STRING;
  inner2.strings = {"p", "q"};
  outer.elem_type = ValueType::ARRAY;
  outer.arrays = {Value::array(inner1), Value::array(inner2)};
  w.set("t.nested", Value::array(outer));
  Array empty;
  empty.elem_type = ValueType::INT64;
  w.set("t.empty", Value::array(empty));
  return w;
}

TEST(GgufWriter, EveryValueTypeRoundTrips) {
  Writer w = writer_with_every_type();
  auto bytes = w.write_memory();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto file = File::parse(*bytes, "mem.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  const File& f = **file;
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), w.metadata().size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, w.metadata()[i].key);
    EXPECT_EQ(f.metadata()[i].value.type(), w.metadata()[i].value.type());
  }
  EXPECT_EQ(f.find("t.u8")->as_uint(), 250u);
  EXPECT_EQ(f.get_int("t.i8"), -7);
  EXPECT_EQ(f.get_int("t.u16"), 65000);
  EXPECT_EQ(f.get_int("t.i16"), -32000);
  EXPECT_EQ(f.get_int("t.u32"), 4000000000);
  EXPECT_EQ(f.get_int("t.i32"), -2000000000);
  EXPECT_EQ(f.get_float("t.f32"), static_cast<double>(0.1f));
  EXPECT_EQ(f.get_bool("t.bool"), true);
  EXPECT_EQ(f.get_string("t.string"), std::string("a\0b\xff", 4));
  EXPECT_EQ(f.get_int("t.u64"), std::nullopt);  // does not fit int64
  EXPECT_EQ(f.find("t.u64")->as_uint(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f.get_int("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.find("t.i64")->as_uint(), std::nullopt);
  EXPECT_EQ(f.get_float("t.f64"), -1e300);
  EXPECT_EQ(f.get_string("t.u8"), std::nullopt);  // wrong type
  EXPECT_EQ(f.get_bool("t.u8"), std::nullopt);
  EXPECT_EQ(f.get_array("t.u8"), nullptr);
  EXPECT_EQ(f.find("missing"), nullptr);

  const Array* strings = f.get_array("t.strings");
  ASSERT_NE(strings, nullptr);
  EXPECT_EQ(strings->strings, (std::vector<std::string>{"", "x", "hello world"}));
  const Array* floats = f.get_array("t.floats");
  ASSERT_NE(floats, nullptr);
  EXPECT_EQ(floats->elem_type, ValueType::FLOAT32);
  EXPECT_EQ(floats->floats, (std::vector<double>{1.5, -0.25, static_cast<double>(3e-8f)}));
  EXPECT_EQ(f.get_array("t.ints")->ints, (std::vector<int64_t>{-1, 0, 2147483647}));
  EXPECT_EQ(f.get_array("t.bools")->uints, (std::vector<uint64_t>{1, 0, 1}));
  const Array* nested = f.get_array("t.nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->size(), 2u);
  EXPECT_EQ(nested->arrays[0].as_array()->uints, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(nested->arrays[1].as_array()->strings, (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(f.get_array("t.empty")->size(), 0u);

  // Writing what we read gives identical bytes.
  Writer again;
  again.copy_metadata(f);
  auto bytes2 = again.write_memory();
  ASSERT_TRUE(bytes2.ok());
  EXPECT_EQ(*bytes2, *bytes);
}

TEST(GgufWriter, ToStringSummarisesArrays) {
  EXPECT_EQ(Value::i32_array({1, 2, 3, 4, 5}).to_string(3), "[1, 2, 3, ... (5 items)]");
  EXPECT_EQ(Value::string_array({"a\nb"}).to_string(), "[\"a\\nb\"]");
  EXPECT_EQ(Value::boolean(false).to_string(), "false");
  EXPECT_EQ(Value::f32(0.5f).to_string(), "0.5");
  EXPECT_EQ(Value::i8(-3).to_string(), "-3");
}

TEST(GgufWriter, TensorsAreAlignedAndReadBack) {
  std::vector<uint8_t> a(4 * 3 * 4), b(34 * 2);  // [3, 4] f32, [64, 1] q8_0
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(200 - i);
  Writer w;
  w.set("general.alignment", Value::u32(64));
  EXPECT_EQ(w.add_tensor("a", TensorType::F32, {3, 4}, a.data()), 0u);
  EXPECT_EQ(w.add_tensor("b", TensorType::Q8_0, {64, 1}), 1u);
  EXPECT_EQ(w.tensors()[1].offset, 64u);  // 48 bytes padded to 64
  auto bytes = w.write_memory([&](size_t i) -> Expected<std::span<const uint8_t>> {
    EXPECT_EQ(i, 1u);
    return std::span<const uint8_t>(b);
  });
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto file = File::parse(*bytes, "mem.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  const File& f = **file;
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(bytes->size(), f.data_offset() + 64 + 128);  // last tensor padded too
  const TensorInfo* ta = f.find_tensor("a");
  const TensorInfo* tb = f.find_tensor("b");
  ASSERT_TRUE(ta && tb);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(ta->n_elements, 12u);
  EXPECT_EQ(ta->n_rows(), 4);
  EXPECT_EQ(tb->type, TensorType::Q8_0);
  EXPECT_EQ(tb->n_bytes, 68u);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), ta->data));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), tb->data));
}

TEST(GgufWriter, RejectsWhatTheReaderWouldReject) {
  std::vector<uint8_t> data(128);
  {
    Writer w;
    w.add_tensor("x", TensorType::Q4_0, {17}, data.data());
    auto r = w.write_memory();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("multiple of the block size"), std::string::npos);
  }
  {
    Writer w;
    w.add_tensor("x", TensorType::F32, {4}, data.data());
    w.add_tensor("x", TensorType::F32, {4}, data.data());
    auto r = w.write_memory();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("duplicate tensor name 'x'"), std::string::npos);
  }
  {
    Writer w;
    w.set("general.alignment", Value::u32(48));
    EXPECT_NE(w.write_memory().error().message.find("power of two"), std::string::npos);
    w.set("general.alignment", Value::u64(64));
    EXPECT_NE(w.write_memory().error().message.find("must be of type u32"), std::string::npos);
    w.remove("general.alignment");
    EXPECT_TRUE(w.write_memory().ok());
  }
  {
    Writer w;
    w.add_tensor("x", TensorType::F32, {4});  // no data, no callback
    EXPECT_NE(w.write_memory().error().message.find("has no data"), std::string::npos);
    auto r = w.write_memory([&](size_t) -> Expected<std::span<const uint8_t>> {
      return std::span<const uint8_t>(data.data(), 3);
    });
    EXPECT_NE(r.error().message.find("gave 3 bytes, expected 16"), std::string::npos);
  }
}

TEST(GgufWriter, SetReplacesInPlaceAndKeepsOrder) {
  Writer w;
  w.set("a", Value::u32(1));
  w.set("b", Value::u32(2));
  w.set("a", Value::string("one"));
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].key, "a");
  EXPECT_EQ(*w.metadata()[0].value.as_string(), "one");
  w.remove("a");
  ASSERT_EQ(w.metadata().size(), 1u);
  EXPECT_EQ(w.metadata()[0].key, "b");
}

TEST(GgufWriter, WriteFileIsAtomicAndCleansUp) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("pagoda_gguf_writer_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "out.gguf").string();
  std::vector<uint8_t> data(16, 7);

  Writer w = writer_with_every_type();
  w.add_tensor("t", TensorType::F32, {4}, data.data());
  ASSERT_TRUE(w.write_file(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto file = File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ((*file)->name(), path);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), (*file)->find_tensor("t")->data));
  const auto good_size = std::filesystem::file_size(path);

  // A failing callback leaves the previous file untouched and no .tmp behind.
  Writer bad;
  bad.add_tensor("t", TensorType::F32, {4});
  auto r = bad.write_file(path, [](size_t) -> Expected<std::span<const uint8_t>> {
    return Error{"source went away"};
  });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("source went away"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(std::filesystem::file_size(path), good_size);

  auto missing = w.write_file((dir / "no/such/dir/x.gguf").string());
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot create"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(GgufReader, OpenMissingFileNamesIt) {
  auto r = File::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/dir/model.gguf"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::gguf
