#pragma once
// One function per `pagoda` subcommand, each in its own cmd_<name>.cpp.
// argv[0] is the subcommand name; the return value is the exit status.
namespace pagoda::cli {

int cmd_info(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_make_model(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_render_template(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_estimate(int argc, char** argv);

}  // namespace pagoda::cli
