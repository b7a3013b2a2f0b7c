// Matrices moved into the kernels' interleaved layout at load time (weights.h).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "kernels/matmul.h"
#include "model/weights.h"

namespace pagoda::model {

void release_file_pages(const void* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

uint64_t interleave_matrices(Weights& w, bool tied_output) {
  struct Move {
    kernels::WeightView* m;
    size_t bytes;  // a multiple of 64
  };
  std::vector<Move> moves;
  size_t total = 0;
  auto plan = [&](kernels::WeightView& m) {
    const size_t bytes = (kernels::interleaved_weight_bytes(m.type, m.n_cols, m.n_rows) + 63) / 64 * 64;
    if (bytes == 0 || m.data == nullptr || m.interleaved != nullptr) return;
    moves.push_back({&m, bytes});
    total += bytes;
  };
  for (LayerWeights& l : w.layers)
    for (kernels::WeightView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) plan(*m);
  // A tied output stays in file order: token_embd lookups read its rows, and a second copy
  // would cost memory the planner does not count (Llama 3.2 1B: 148 MB).
  if (!tied_output) plan(w.output);
  if (total == 0) return 0;

  // One mapping, 2 MiB-aligned and in transparent huge pages where allowed: 4 KiB pages made
  // the copy of the 1.1B model's 520 MB take 1.9 s, mostly in page faults.
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t mapped = total + kHugePage;
  void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    log::warn("model: no memory for the interleaved weights ({} MiB); matmul reads the rows in file order",
              total >> 20);
    return 0;
  }
  w.interleaved = std::shared_ptr<void>(base, [mapped](void* p) { munmap(p, mapped); });
  auto* out = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) / kHugePage * kHugePage);
  madvise(out, total, MADV_HUGEPAGE);

  std::vector<uint8_t*> targets;  // [moves]: where each matrix goes
  for (const Move& move : moves) {
    targets.push_back(out);
    out += move.bytes;
  }
  // The copies on every core: mostly page faults on the file and on the mapping (1.1B Q8_0,
  // 1 GB: 1.7 s on one thread).
  const size_t n_threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, moves.size());
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(n_threads);  // rethrown on this thread
  auto work = [&](size_t thread) {
    try {
      for (size_t i = next++; i < moves.size(); i = next++) kernels::interleave_weight(*moves[i].m, targets[i]);
    } catch (...) {
      errors[thread] = std::current_exception();
      next = moves.size();
    }
  };
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(work, t);
  work(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);

  for (size_t i = 0; i < moves.size(); ++i) {
    kernels::WeightView& m = *moves[i].m;
    m.interleaved = targets[i];
    bool owned = false;
    for (std::vector<uint8_t>& slice : w.owned)  // a column slice copied out of the file (shard.cpp)
      if (slice.data() == m.data) {
        std::vector<uint8_t>().swap(slice);
        owned = true;
        break;
      }
    if (owned)
      m.data = nullptr;  // freed; matmul reads `interleaved`
    else
      release_file_pages(m.data, static_cast<size_t>(m.n_rows) * m.row_stride);
  }
  return total;
}

}  // namespace pagoda::model
