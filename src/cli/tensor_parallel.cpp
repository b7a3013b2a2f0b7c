#include "cli/tensor_parallel.h"

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

#include "base/log.h"
#include "base/thread_pool.h"
#include "engine/config.h"
#include "engine/tp_step.h"

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

Expected<std::unique_ptr<dist::Communicator>> make_communicator(int size) {
  if (size <= 1) return dist::make_local_communicator();
  auto comm = dist::make_mpi_communicator(size);
  if (!comm) return comm.error();
  // Ranks other than 0 keep quiet on stdout; their errors still reach stderr with their rank.
  if ((*comm)->rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return Error{"cannot silence stdout"};
  return std::move(*comm);
}

Expected<std::unique_ptr<model::Model>> load_model_for(const std::string& path, dist::Communicator& comm) {
  if (comm.size() <= 1) return model::Model::load(path);
  auto m = model::Model::load_shard(path, comm);
  if (!m) return Error{fmt::format("rank {}: {}", comm.rank(), m.error().message)};
  return m;
}

Expected<LoadedModel> load_model_tp(const std::string& path, int size) {
  LoadedModel out;
  auto comm = make_communicator(size);
  if (!comm) return comm.error();
  out.comm = std::move(*comm);
  auto m = load_model_for(path, *out.comm);
  if (!m) return m.error();
  out.model = std::move(*m);
  return out;
}

int run_engine_worker(dist::Communicator& comm, model::Model& model, int threads) {
  ThreadPool pool(threads);
  log::info("rank {} (pid {}): shard loaded: {} of weights ({} query heads, {} KV heads, {} FFN features); {} threads; "
            "waiting for rank 0",
            comm.rank(), ::getpid(), engine::format_bytes(model.weight_bytes()), model.hparams().n_head,
            model.hparams().n_kv_head, model.hparams().n_ff, pool.size());
  if (auto ok = engine::run_tp_worker(model, comm, pool); !ok) comm.abort(ok.error().message);
  return 0;
}

}  // namespace pagoda::cli
