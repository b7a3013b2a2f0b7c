#pragma once
// Starting the built `pagoda` under OpenMPI's mpirun from a test (tensor parallelism).
#include <cstdlib>
#include <string>
#include <vector>

#include "common/run_binary.h"

namespace pagoda::test {

inline bool have_mpirun() {
  return std::system("command -v mpirun >/dev/null 2>&1") == 0;
}

#define PAGODA_REQUIRE_MPIRUN() \
  if (!::pagoda::test::have_mpirun()) GTEST_SKIP() << "mpirun not found (apt-get install openmpi-bin): skipped"

// What every mpirun here needs: root allowed (a container). Under the sanitizers, no leak
// check: OpenMPI's plugins allocate until exit and are unloaded before LeakSanitizer looks, so
// their frames cannot even be named for a suppression. Leaks stay checked in every test without
// mpirun (the same forward pass at TP = 1); address and UB errors stay checked here.
inline void mpi_environment() {
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
#ifdef PAGODA_SANITIZED
  ::setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
#endif
}

// `mpirun -np N --oversubscribe` (more ranks than cores allowed), as argv words, with the
// environment set.
inline std::vector<std::string> mpirun_words(int np) {
  mpi_environment();
  return {"mpirun", "-np", std::to_string(np), "--oversubscribe"};
}

// Runs `mpirun -np N pagoda <args>`, capturing stdout and stderr.
inline CommandResult run_mpi(int np, const std::string& args) {
  std::string cmd;
  for (const std::string& w : mpirun_words(np)) cmd += w + " ";
  return run_captured(cmd + "'" + PAGODA_BINARY + "' " + args);
}

}  // namespace pagoda::test
