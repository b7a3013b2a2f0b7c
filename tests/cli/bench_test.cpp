// `pagoda bench`: llama-bench's JSON and table shapes, --parallel, the decode GB/s and the
// memory-read roof it measures, and its errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/fixtures.h"
#include "common/run_binary.h"

namespace pagoda::test {
namespace {

using nlohmann::json;

// `pagoda bench <args>` fails and says `message` on stderr.
void expect_refused(const std::string& args, const std::string& message) {
  const auto r = run_pagoda("bench" + args);
  EXPECT_NE(r.status, 0) << args;
  EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
}

TEST(Bench, JsonHasLlamaBenchFieldsAndDecodeBandwidth) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const auto r = run_pagoda("bench -m '" + fixture("models/stories260K.gguf") +
                            "' -p 16 -n 8 -r 2 -t 1 --parallel 1,3 -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  ASSERT_EQ(j.size(), 4u);  // pp16 and tg8, at 1 and 3 sequences
  const int parallel[] = {1, 1, 3, 3};
  for (size_t i = 0; i < j.size(); ++i) {
    const json& t = j[i];
    const bool pp = i % 2 == 0;
    EXPECT_EQ(t["n_prompt"], pp ? 16 : 0);
    EXPECT_EQ(t["n_gen"], pp ? 0 : 8);
    EXPECT_EQ(t["n_parallel"], parallel[i]);
    EXPECT_EQ(t["n_threads"], 1);
    EXPECT_EQ(t["n_tensor_parallel"], 1);
    ASSERT_EQ(t["samples_ts"].size(), 2u);
    const double a = t["samples_ts"][0], b = t["samples_ts"][1];
    EXPECT_NEAR(t["avg_ts"].get<double>(), (a + b) / 2, 1e-6 * (a + b));
    EXPECT_GE(t["stddev_ts"].get<double>(), 0.0);
    EXPECT_GT(t["memory_roof_gb_s"].get<double>(), 0.1);
    EXPECT_GT(t["weight_bytes_per_rank"].get<uint64_t>(), 100000u);
    if (pp) {
      EXPECT_TRUE(t["weights_gb_s"].is_null());
    } else {
      // One step streams every weight once for all sequences of the step.
      const double expected = t["avg_ts"].get<double>() / parallel[i] * t["weight_bytes_per_rank"].get<double>() / 1e9;
      EXPECT_NEAR(t["weights_gb_s"].get<double>(), expected, 1e-6 * expected);
    }
  }
}

TEST(Bench, MarkdownTableAndRoofLine) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const auto r = run_pagoda("bench -m '" + fixture("models/stories260K.gguf") + "' -p 8 -n 4 -r 1 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| model | size | params | threads | n_parallel | test | t/s | weights GB/s |"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| pp8 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg4 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("% of roof)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory-read roof: "), std::string::npos) << r.out;
  const auto quiet = run_pagoda("bench -m '" + fixture("models/stories260K.gguf") + "' -p 8 -n 4 -r 1 -t 1 --no-roof");
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(quiet.out.find("roof"), std::string::npos) << quiet.out;
  // llama-bench's --no-warmup: the tests run without their untimed first run, same table.
  const auto cold =
      run_pagoda("bench -m '" + fixture("models/stories260K.gguf") + "' -p 8 -n 4 -r 1 -t 1 --no-roof --no-warmup");
  ASSERT_EQ(cold.status, 0) << cold.err;
  EXPECT_NE(cold.out.find("| pp8 |"), std::string::npos) << cold.out;
  EXPECT_NE(cold.out.find("| tg4 |"), std::string::npos) << cold.out;
}

// -d: each test runs on top of that many tokens of context, named as llama-bench names them.
TEST(Bench, DepthPutsContextUnderEachTest) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string m = " -m '" + fixture("models/stories260K.gguf") + "'";
  auto r = run_pagoda("bench" + m + " -d 64 -p 8 -n 4 -r 1 -t 1 --parallel 1,2 -o json --no-roof");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 4u) << r.out;
  for (const json& t : j) {
    EXPECT_EQ(t["n_depth"], 64);
    EXPECT_GT(t["avg_ts"].get<double>(), 0.0);
  }
  r = run_pagoda("bench" + m + " -d 64 -p 8 -n 4 -r 1 -t 1 --no-roof");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| pp8 @ d64 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg4 @ d64 |"), std::string::npos) << r.out;
  // The context is kept out of the timing by the prefix cache, which -d therefore needs.
  expect_refused(m + " -d 64 --no-prefix-caching", "-d needs the prefix cache");
  // Deeper than the model's context: refused with a message, not a crash.
  expect_refused(m + " -d 100000 -p 8 -n 4 -r 1 -t 1 --no-roof", "more than the model's training context of 2048");
}

// A prompt test as long as the training context (llama-bench's pp2048 on a 2048-token model) needs
// one more token for the one it samples: refused with the longest prompt that fits.
TEST(Bench, PromptAtTheTrainingContextSaysWhatFits) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string m = " -m '" + fixture("models/stories260K.gguf") + "'";
  expect_refused(m + " -p 2048 -n 0 -r 1 -t 1 --no-roof", "(pp2047 fits)");
  const auto r = run_pagoda("bench" + m + " -p 2047 -n 0 -r 1 -t 1 --no-roof --no-warmup -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at(0).at("n_prompt"), 2047);
}

TEST(Bench, BadArgumentsAreRefused) {
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string m = " -m '" + fixture("models/stories260K.gguf") + "'";
  expect_refused(m + " --parallel 0", "--parallel values must be in [1, 4096]");
  expect_refused(m + " --parallel 2x", "not a comma-separated list");
  expect_refused(m + " -p 0 -n 0", "nothing to measure");
  const auto r = run_pagoda("bench -m /nonexistent.gguf");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
}

}  // namespace
}  // namespace pagoda::test
