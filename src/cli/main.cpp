// The maskeval executable: sets the heap policy and hands the command line to run_cli.
#include "cli/cli.h"
#include "util/heap_policy.h"

int main(int argc, char** argv) {
  maskeval::keep_freed_buffers();
  return maskeval::run_cli(argc, argv);
}
