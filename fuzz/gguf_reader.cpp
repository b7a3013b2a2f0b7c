// libFuzzer target for the GGUF reader: parse arbitrary bytes, touch every
// value and every tensor byte range, then check that writing what was read
// gives a file that reads back and rewrites to the same bytes.
//
// `fuzz_gguf_reader --make-corpus DIR` writes the seed files (gguf_seeds.h) and exits.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gguf/gguf.h"
#include "gguf_seeds.h"

namespace {

using pagoda::gguf::Array;
using pagoda::gguf::File;
using pagoda::gguf::Value;
using pagoda::gguf::ValueType;

// Folds everything a value holds into `acc` so nothing is optimised away.
void touch(const Value& v, uint64_t& acc) {
  acc += v.to_string(4).size();
  acc += v.as_int().value_or(0) + v.as_uint().value_or(0) + static_cast<uint64_t>(v.as_bool().value_or(false));
  if (const std::string* s = v.as_string()) acc += s->size();
  if (const Array* a = v.as_array()) {
    acc += a->size();
    for (const auto& s : a->strings) acc += s.size();
    for (uint64_t u : a->uints) acc += u;
    for (int64_t i : a->ints) acc += static_cast<uint64_t>(i);
    for (const auto& inner : a->arrays) touch(inner, acc);
  }
}

[[noreturn]] void die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_gguf_reader: %s: %s\n", what, detail.c_str());
  std::abort();
}

std::vector<uint8_t> rewrite(const File& f) {
  pagoda::gguf::Writer w;
  w.copy_metadata(f);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.data);
  auto bytes = w.write_memory();
  if (!bytes) die("writing a file the reader accepted failed", bytes.error().message);
  return std::move(*bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (*argc >= 2 && std::strcmp((*argv)[1], "--make-corpus") == 0) {
    if (*argc != 3) {
      std::fprintf(stderr, "usage: %s --make-corpus DIR\n", (*argv)[0]);
      std::exit(2);
    }
    std::exit(pagoda::fuzz::write_gguf_seeds((*argv)[2]) ? 0 : 1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = File::parse({data, size}, "fuzz.gguf");
  if (!parsed) {
    if (parsed.error().message.find(" at byte ") == std::string::npos)
      die("error without a byte offset", parsed.error().message);
    return 0;
  }
  const File& f = **parsed;
  uint64_t acc = f.version() + f.alignment() + f.data_offset();
  for (const auto& kv : f.metadata()) {
    acc += kv.key.size();
    touch(kv.value, acc);
    if (f.find(kv.key) != &kv.value) die("find() missed a key", kv.key);
  }
  for (const auto& t : f.tensors()) {
    // First and last byte: ASan reports any tensor range outside the input.
    acc += t.data[0] + t.data[t.n_bytes - 1] + t.n_rows();
    if (f.find_tensor(t.name) != &t) die("find_tensor() missed a tensor", t.name);
  }

  // Our writer's output is canonical: it must parse and rewrite to itself.
  const auto once = rewrite(f);
  auto reparsed = File::parse(once, "rewritten.gguf");
  if (!reparsed) die("rewritten file does not parse", reparsed.error().message);
  if (rewrite(**reparsed) != once) die("rewrite is not stable", "bytes differ");
  return static_cast<int>(acc & 0);
}
