#pragma once
// The collectives tensor parallelism needs, behind one interface: a single-process communicator
// (TP = 1, no MPI) and an MPI one (`mpirun -np N pagoda ... --tensor-parallel-size N`).
//
// Determinism: all_reduce_sum gathers every rank's values and adds them on every rank in rank
// order ((r0 + r1) + r2 ...), never in whatever order the MPI library picks, so every rank
// holds the same bits and a run reproduces them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/expected.h"

namespace pagoda::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data [n] ← Σ over ranks in rank order of each rank's data [n]; the same bits on every rank.
  virtual void all_reduce_sum(float* data, size_t n) = 0;
  // How a rank waits for a broadcast: spinning (inside a forward pass, where the root is
  // microseconds away) or idle (a worker waiting for the next engine step, which may be hours
  // away: it polls with short sleeps instead of burning a core).
  enum class Wait { spin, idle };
  // bytes ← root's bytes on every rank (resized to match).
  virtual void broadcast(std::vector<uint8_t>& bytes, int root, Wait wait = Wait::spin) = 0;
  // all [size * n] ← every rank's mine [n] concatenated in rank order, on every rank.
  virtual void all_gather(const float* mine, size_t n, float* all) = 0;
  // On root: all ← every rank's `mine` concatenated in rank order (lengths may differ); other
  // ranks' `all` is left empty.
  virtual void gather(const float* mine, size_t n, std::vector<float>& all, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with `message` (a rank that cannot go on must not leave the
  // others waiting in a collective).
  [[noreturn]] virtual void abort(const std::string& message) = 0;
  // Seconds spent inside all_reduce_sum and all_gather so far (the benchmark's per-token figure).
  double all_reduce_seconds() const { return all_reduce_seconds_; }

 protected:
  double all_reduce_seconds_ = 0.0;
};

// One process: every collective is the identity.
std::unique_ptr<Communicator> make_local_communicator();

// True when this binary was built with MPI.
bool mpi_built();
// True when this process was started by mpirun / mpiexec (OpenMPI's or PMIx's environment).
bool launched_by_mpi();
// MPI_COMM_WORLD, initialized on first use (MPI_THREAD_SERIALIZED: any thread may talk MPI, one
// at a time — the server's loader thread, then its engine thread). Errors: built without MPI, or a world size other than `expected_size`.
Expected<std::unique_ptr<Communicator>> make_mpi_communicator(int expected_size);

}  // namespace pagoda::dist
