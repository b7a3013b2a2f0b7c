#pragma once
// Weights repacked at load time for the decode kernels: every matrix whose type has a
// row-group kernel on this CPU (kernels::decode_interleave: Q4_K, Q5_K, Q6_K on AVX2 and
// AVX-512) is copied once into the interleaved layout, and the file's pages it came from are
// dropped from this process. Every logit keeps its bits: the kernels compute each output
// exactly as on plain rows. PAGODA_REPACK=0 keeps every matrix in the mapped file.
#include <cstddef>
#include <cstdint>

#include "model/weights.h"

namespace pagoda::model {

struct RepackStats {
  int matrices = 0;     // repacked
  uint64_t bytes = 0;   // their size (the same as in the file)
};

// Repacks w's matrices in place (views re-pointed at memory w owns). The output matrix is
// left alone when it is the token embeddings (tied), which are also read by row.
RepackStats repack_weights(Weights& w, bool tied_output);

// True unless PAGODA_REPACK=0.
bool repack_enabled();

// Drops the mapped file's pages of [data, data + bytes) from this process (rounded inward to
// whole pages, so neighbouring tensors keep theirs). The file is mapped read-only: the pages
// stay in the page cache and would fault back in if read again, which nothing does.
void release_file_pages(const void* data, size_t bytes);

}  // namespace pagoda::model
