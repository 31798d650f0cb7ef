/*
 * kinfer(1): a command line client for KServe V1 and V2 (Open Inference
 * Protocol) REST servers.  See kinfer.1 and `kinfer --help`.
 */
#include "cli.h"

int main(int argc, char **argv) {
  struct cli_options o;
  int status = cli_parse_args(argc, argv, &o);
  if (status < 0)
    status = cli_run(&o);
  cli_options_free(&o);
  return status;
}
