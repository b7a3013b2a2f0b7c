// Tensor parallelism over MPI: `mpirun -np 2 pagoda logits ... -tp 2` against llama.cpp's traces
// (the forward tolerances of tests/model/trace_test.cpp) and against TP = 1, and its invariance
// (a prefix's logits do not depend on what follows in the batch; thread counts change no bits).
// Skipped with a message where mpirun or the fixtures are missing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/mpi_run.h"
#include "common/run_binary.h"

namespace pagoda::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ids_arg(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// `pagoda logits` lines → per position, id → logit (its --top entries).
std::vector<std::map<int32_t, double>> parse_logits(const std::string& out) {
  std::vector<std::map<int32_t, double>> rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    std::map<int32_t, double> row;
    for (const auto& e : j["top"]) row[e[0].get<int32_t>()] = e[1].get<double>();
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Trace {
  std::string model;
  std::vector<int32_t> ids;                                      // prompt then the greedy steps
  size_t n_prompt = 0;
  std::vector<std::vector<std::pair<int32_t, double>>> top;      // [step] llama.cpp's top-5
};

Trace first_trace(const std::string& ref) {
  std::ifstream in(fixture("refs/" + ref));
  std::string line;
  std::getline(in, line);
  const json j = json::parse(line);
  Trace t;
  t.model = j["model"].get<std::string>();
  t.ids = j["prompt_ids"].get<std::vector<int32_t>>();
  t.n_prompt = t.ids.size();
  for (const auto& step : j["steps"]) {
    std::vector<std::pair<int32_t, double>> top;
    for (const auto& e : step["top"]) top.emplace_back(e[0].get<int32_t>(), e[1].get<double>());
    t.top.push_back(std::move(top));
    t.ids.push_back(step["id"].get<int32_t>());
  }
  t.ids.pop_back();  // the last step's token is never fed
  return t;
}

// trace_test.cpp's tolerance classes: float weights, q8_0, 4..6-bit.
double tolerance(const std::string& model, double v) {
  double abs = 0.02, rel = 0.002;
  if (model.find("q8_0") != std::string::npos) abs = 0.05, rel = 0.005;
  if (model.find("q4") != std::string::npos) abs = 0.1, rel = 0.01;
  return abs + rel * std::abs(v);
}

class TensorParallelTraces : public ::testing::TestWithParam<std::string> {};

TEST_P(TensorParallelTraces, Tp2MatchesLlamaCppAndTp1) {
  PAGODA_REQUIRE_MPIRUN();
  PAGODA_REQUIRE_FIXTURE("refs/" + GetParam());
  const Trace t = first_trace(GetParam());
  const std::string model = fixture("models/" + t.model);
  const std::string args = "logits -m '" + model + "' --ids " + ids_arg(t.ids) + " --top 64 -t 1";
  const CommandResult tp2 = run_mpi(2, args + " -tp 2");
  ASSERT_EQ(tp2.status, 0) << tp2.err;
  const CommandResult tp1 = run_pagoda(args);
  ASSERT_EQ(tp1.status, 0) << tp1.err;
  const auto rows2 = parse_logits(tp2.out), rows1 = parse_logits(tp1.out);
  ASSERT_EQ(rows2.size(), t.ids.size());
  ASSERT_EQ(rows1.size(), t.ids.size());
  double worst = 0.0;
  for (size_t s = 0; s < t.top.size(); ++s) {
    const size_t pos = t.n_prompt - 1 + s;
    for (const auto& [id, ref] : t.top[s]) {
      auto it = rows2[pos].find(id);
      ASSERT_NE(it, rows2[pos].end()) << "position " << pos << ": llama.cpp's token " << id
                                      << " is not in TP = 2's top 64";
      EXPECT_NEAR(it->second, ref, tolerance(t.model, ref)) << "position " << pos << " token " << id;
      worst = std::max(worst, std::abs(it->second - ref) / tolerance(t.model, ref));
      // And TP = 2 against TP = 1 (pagoda's own), with the float tolerance.
      auto one = rows1[pos].find(id);
      ASSERT_NE(one, rows1[pos].end());
      EXPECT_NEAR(it->second, one->second, 0.02 + 0.002 * std::abs(one->second));
    }
  }
  std::cout << "[ tp=2     ] " << GetParam() << ": max |diff|/tol vs llama.cpp " << worst << "\n";
}

std::vector<std::string> kv_f16_traces() {
  std::vector<std::string> names;
  const fs::path dir = fixture("refs");
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.ends_with(".kv-f16.jsonl")) names.push_back(name);
    }
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("absent.kv-f16.jsonl");  // skipped with a message
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TensorParallelTraces, ::testing::ValuesIn(kv_f16_traces()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find(".kv-"));
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(TensorParallel, PrefixAndThreadCountChangeNoBits) {
  PAGODA_REQUIRE_MPIRUN();
  PAGODA_REQUIRE_FIXTURE("models/qwen2-gpt2-f16.gguf");
  const std::string model = fixture("models/qwen2-gpt2-f16.gguf");
  const std::vector<int32_t> ids = {15496, 11, 995, 0, 314, 716, 257, 3290, 286, 1110, 13, 383};
  const std::vector<int32_t> prefix(ids.begin(), ids.begin() + 5);
  const std::string base = "logits -m '" + model + "' --top 8 -tp 2";
  const CommandResult whole = run_mpi(2, base + " -t 1 --ids " + ids_arg(ids));
  const CommandResult head = run_mpi(2, base + " -t 1 --ids " + ids_arg(prefix));
  const CommandResult threads = run_mpi(2, base + " -t 2 --ids " + ids_arg(ids));
  ASSERT_EQ(whole.status, 0) << whole.err;
  ASSERT_EQ(head.status, 0) << head.err;
  ASSERT_EQ(threads.status, 0) << threads.err;
  // The printed floats round-trip, so equal text is equal bits.
  EXPECT_EQ(threads.out, whole.out);
  EXPECT_EQ(whole.out.substr(0, head.out.size()), head.out);
}

TEST(TensorParallel, ClearErrors) {
  PAGODA_REQUIRE_MPIRUN();
  PAGODA_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string model = fixture("models/stories260K.gguf");
  // Three ranks cannot split 8 heads.
  const CommandResult three = run_mpi(3, "logits -m '" + model + "' --ids 1,2 -tp 3");
  EXPECT_NE(three.status, 0);
  EXPECT_NE(three.err.find("does not divide the model's 8 attention heads"), std::string::npos) << three.err;
  // -tp 2 in a job of one rank says how to start it.
  const CommandResult alone = run_pagoda("logits -m '" + model + "' --ids 1,2 -tp 2");
  EXPECT_NE(alone.status, 0);
  EXPECT_NE(alone.err.find("mpirun -np 2"), std::string::npos) << alone.err;
}

}  // namespace
}  // namespace pagoda::test
