#include "model/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <cstring>
#include <string_view>

#include "kernels/matmul.h"

namespace pagoda::model {
namespace {

// Memory for a repacked matrix, cache-line aligned.
uint8_t* allocate_packed(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, bytes) != 0) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

// The view's source, once copied: a column slice w owns (tensor parallelism) is freed, file
// pages are released.
void drop_source(Weights& w, const kernels::WeightView& m) {
  for (auto& owned : w.owned)
    if (owned.data() == m.data) {
      std::vector<uint8_t>().swap(owned);
      return;
    }
  release_file_pages(m.data, static_cast<size_t>(m.n_rows) * m.row_stride);
}

}  // namespace

bool repack_enabled() {
  const char* v = std::getenv("PAGODA_REPACK");
  return v == nullptr || std::string_view(v) != "0";
}

void release_file_pages(const void* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

RepackStats repack_weights(Weights& w, bool tied_output) {
  RepackStats stats;
  auto repack = [&](kernels::WeightView& m) {
    if (!kernels::can_interleave(m)) return;
    const size_t bytes = static_cast<size_t>(m.n_rows) * m.row_stride;
    uint8_t* dst = allocate_packed(bytes);
    w.packed.emplace_back(dst);
    const kernels::WeightView source = m;
    m = kernels::interleave_rows(source, dst);
    drop_source(w, source);
    ++stats.matrices;
    stats.bytes += bytes;
  };
  for (LayerWeights& l : w.layers)
    for (kernels::WeightView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) repack(*m);
  if (!tied_output) repack(w.output);
  return stats;
}

}  // namespace pagoda::model
