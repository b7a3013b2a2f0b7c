#include "cli/tensor_parallel.h"

#include <cstdio>
#include <fmt/format.h>

namespace pagoda::cli {

void add_tensor_parallel_option(CLI::App& app, int& size) {
  app.add_option("--tensor-parallel-size", size,
                 "split the model over N MPI ranks (run under mpirun -np N; also -tp)")
      ->check(CLI::Range(1, 1024));
}

TpArgv::TpArgv(int argc, char** argv) : args_(argv, argv + argc) {
  for (auto& a : args_)
    if (a == "-tp") a = "--tensor-parallel-size";
  for (auto& a : args_) pointers_.push_back(a.data());
}

Expected<LoadedModel> load_model_tp(const std::string& path, int size) {
  LoadedModel out;
  if (size <= 1) {
    out.comm = dist::make_local_communicator();
    auto m = model::Model::load(path);
    if (!m) return m.error();
    out.model = std::move(*m);
    return out;
  }
  auto comm = dist::make_mpi_communicator(size);
  if (!comm) return comm.error();
  out.comm = std::move(*comm);
  // Ranks other than 0 keep quiet on stdout; their errors still reach stderr with their rank.
  if (out.comm->rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return Error{"cannot silence stdout"};
  auto m = model::Model::load_shard(path, *out.comm);
  if (!m) return Error{fmt::format("rank {}: {}", out.comm->rank(), m.error().message)};
  out.model = std::move(*m);
  return out;
}

}  // namespace pagoda::cli
