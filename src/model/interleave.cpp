// Matrices moved into the kernels' interleaved layout at load time (weights.h).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
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

  for (const Move& move : moves) {
    kernels::WeightView& m = *move.m;
    kernels::interleave_weight(m, out);
    m.interleaved = out;
    out += move.bytes;
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
