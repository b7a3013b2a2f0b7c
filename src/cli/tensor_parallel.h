#pragma once
// --tensor-parallel-size / -tp for the commands that evaluate a model: under
// `mpirun -np N pagoda CMD ... -tp N` every rank loads its shard and runs the same forward
// passes in lockstep (the commands are deterministic, so each rank builds the same batches from
// the same arguments); rank 0 prints, the others stay silent.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/expected.h"
#include "dist/communicator.h"
#include "model/model.h"

namespace pagoda::cli {

// Adds --tensor-parallel-size (default 1) to `app`.
void add_tensor_parallel_option(CLI::App& app, int& size);
// argv with llama.cpp-style "-tp" spelled "--tensor-parallel-size" (CLI11 cannot declare a
// two-letter short flag). Keeps the strings alive; use pointers() as the new argv.
class TpArgv {
 public:
  TpArgv(int argc, char** argv);
  int argc() const { return static_cast<int>(pointers_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

// The model (this rank's shard when size > 1) and the communicator it runs with.
struct LoadedModel {
  std::unique_ptr<dist::Communicator> comm;
  std::unique_ptr<model::Model> model;
  bool printing() const { return comm->rank() == 0; }
};
// size 1: the whole model, no MPI. size > 1: MPI (the job must have exactly `size` ranks).
Expected<LoadedModel> load_model_tp(const std::string& path, int size);

// The communicator alone (MPI when size > 1), for commands that load the model later (serve
// loads it on a background thread while its socket already answers).
Expected<std::unique_ptr<dist::Communicator>> make_communicator(int size);
// This rank's shard (size > 1) or the whole model.
Expected<std::unique_ptr<model::Model>> load_model_for(const std::string& path, dist::Communicator& comm);

// A worker rank (rank != 0) of an engine command (serve, run, bench): runs the engine's
// worker loop (engine/tp_step.h) on `threads` threads (0: all cores) until rank 0 stops it.
// An error ends the whole job through MPI_Abort: rank 0 would otherwise wait for this rank in
// its next collective. Returns the command's exit status.
int run_engine_worker(dist::Communicator& comm, model::Model& model, int threads);

}  // namespace pagoda::cli
