#include "cli/cli.h"

int main(int argc, char** argv) {
  return maskeval::run_cli(argc, argv);
}
