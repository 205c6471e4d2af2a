// The maskeval executable: hands the command line to run_cli.
#include "cli/cli.h"

int main(int argc, char** argv) {
  return maskeval::run_cli(argc, argv);
}
