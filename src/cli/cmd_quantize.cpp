// Placeholder until the owning work lands; replaced by the real command.
#include <cstdio>

#include "cli/commands.h"

namespace pagoda::cli {
int cmd_quantize(int, char**) {
  std::fprintf(stderr, "pagoda: this command is not built yet\n");
  return 1;
}
}  // namespace pagoda::cli
