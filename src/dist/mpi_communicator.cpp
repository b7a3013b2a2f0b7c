// MPI_COMM_WORLD as a Communicator (only when the build found MPI). Errors return instead of
// aborting inside the library, so a failed collective ends the job with pagoda's message.
#include <fmt/format.h>

#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "base/log.h"
#include "dist/communicator.h"

#ifdef PAGODA_HAVE_MPI
// The C API only: OpenMPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace pagoda::dist {

#ifdef PAGODA_HAVE_MPI

namespace {

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<size_t>(len));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int rank, int size) : rank_(rank), size_(size) {}
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(float* data, size_t n) override {
    const auto start = std::chrono::steady_clock::now();
    gathered_.resize(n * static_cast<size_t>(size_));  // [size][n]
    check(MPI_Allgather(data, static_cast<int>(n), MPI_FLOAT, gathered_.data(), static_cast<int>(n),
                        MPI_FLOAT, MPI_COMM_WORLD),
          "all-reduce");
    // Rank order, the same on every rank: (r0 + r1) + r2 + ...
    for (size_t i = 0; i < n; ++i) {
      float sum = gathered_[i];
      for (int r = 1; r < size_; ++r) sum += gathered_[static_cast<size_t>(r) * n + i];
      data[i] = sum;
    }
    all_reduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  void all_gather(const float* mine, size_t n, float* all) override {
    const auto start = std::chrono::steady_clock::now();
    check(MPI_Allgather(mine, static_cast<int>(n), MPI_FLOAT, all, static_cast<int>(n), MPI_FLOAT, MPI_COMM_WORLD),
          "all-gather");
    all_reduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  void broadcast(std::vector<uint8_t>& bytes, int root, Wait wait) override {
    // The size goes first, non-blocking on every rank (blocking and non-blocking collectives
    // never match each other), so that an idle rank can sleep between polls.
    uint64_t n = bytes.size();
    MPI_Request request;
    check(MPI_Ibcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD, &request), "broadcast");
    if (wait == Wait::idle && rank_ != root) {
      wait_idle(request);
    } else {
      check(MPI_Wait(&request, MPI_STATUS_IGNORE), "broadcast");
    }
    bytes.resize(n);
    if (n > 0) check(MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  }

  void gather(const float* mine, size_t n, std::vector<float>& all, int root) override {
    const int count = static_cast<int>(n);
    std::vector<int> counts(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "gather");
    all.clear();
    if (rank_ == root) {
      int total = 0;
      for (int r = 0; r < size_; ++r) {
        offsets[static_cast<size_t>(r)] = total;
        total += counts[static_cast<size_t>(r)];
      }
      all.resize(static_cast<size_t>(total));
    }
    check(MPI_Gatherv(mine, count, MPI_FLOAT, all.data(), counts.data(), offsets.data(), MPI_FLOAT, root,
                      MPI_COMM_WORLD),
          "gather");
  }

  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }

  // Polls `request` to completion: spinning for the first millisecond (steps follow each other
  // closely while requests run), then sleeping a little longer between polls, up to 2 ms.
  void wait_idle(MPI_Request& request) {
    const auto start = std::chrono::steady_clock::now();
    auto nap = std::chrono::microseconds(50);
    while (true) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "broadcast");
      if (done) return;
      if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1)) continue;
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds(2000));
    }
  }

  [[noreturn]] void abort(const std::string& message) override {
    log::error("rank {}: {}", rank_, message);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::exit(1);
  }

 private:
  void check(int code, const char* what) {
    if (code != MPI_SUCCESS)
      abort(fmt::format("tensor parallelism: {} failed ({}); another rank probably died", what,
                        mpi_error(code)));
  }

  int rank_, size_;
  std::vector<float> gathered_;  // [size, n] all_reduce_sum's staging
};

}  // namespace

bool mpi_built() {
  return true;
}

Expected<std::unique_ptr<Communicator>> make_mpi_communicator(int expected_size) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      return Error{"MPI_Init_thread failed"};
    if (provided < MPI_THREAD_SERIALIZED) {
      MPI_Finalize();
      return Error{"this MPI library cannot be called from more than one thread (MPI_THREAD_SERIALIZED)"};
    }
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != expected_size) {
    MPI_Finalize();
    return Error{fmt::format(
        "--tensor-parallel-size {} needs {} MPI ranks, this job has {} (start it with mpirun -np {})",
        expected_size, expected_size, size, expected_size)};
  }
  return std::unique_ptr<Communicator>(std::make_unique<MpiCommunicator>(rank, size));
}

#else

bool mpi_built() {
  return false;
}

Expected<std::unique_ptr<Communicator>> make_mpi_communicator(int expected_size) {
  return Error{fmt::format(
      "--tensor-parallel-size {} needs MPI, and this pagoda was built without it "
      "(apt-get install libopenmpi-dev openmpi-bin, then rebuild)",
      expected_size)};
}

#endif

}  // namespace pagoda::dist
