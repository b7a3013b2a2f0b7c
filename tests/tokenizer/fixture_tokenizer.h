#pragma once
// Loads a tokenizer from a GGUF under ../shared/fixtures (a test failure, and null, when it
// does not load; callers skip first when fixtures are absent).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer::test_support {

inline std::unique_ptr<Tokenizer> load(const std::string& rel) {
  auto file = gguf::File::open(test::fixture(rel));
  EXPECT_TRUE(file.ok()) << file.error().message;
  if (!file.ok()) return nullptr;
  auto tok = Tokenizer::from_gguf(**file);
  EXPECT_TRUE(tok.ok()) << tok.error().message;
  return tok.ok() ? std::move(*tok) : nullptr;
}

}  // namespace pagoda::tokenizer::test_support
