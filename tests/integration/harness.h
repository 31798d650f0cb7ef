/* Starting and stopping kinfer-server (and other peers) for tests. */
#ifndef KINFER_TEST_HARNESS_H
#define KINFER_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct test_server {
  pid_t pid;
  int port;
  char dir[64];  /* temporary directory for the port file */
  char url[96];  /* http://127.0.0.1:PORT (https:// with TLS) */
} test_server;

/* Starts $KINFER_SERVER --listen 127.0.0.1:0 --port-file ... plus |args|
 * (NULL-terminated, may be NULL) and waits until it listens.  Returns 0, or
 * -1 with a message on stderr. */
int test_server_start(test_server *s, const char *const *args);

/* Starts any peer program that takes "--port-file FILE" (appended to
 * |argv|, which is NULL-terminated, argv[0] the program) and writes its
 * port there once it serves.  Waits up to |wait_s| seconds.  The URL is
 * http://127.0.0.1:PORT.  Returns 0 or -1. */
int test_peer_start(test_server *s, const char *const *argv, int wait_s);

/* Reads kinfer-server's GET /_executions: how many times a model ran and
 * how many request ids ran more than once.  Returns 0 or -1. */
int test_server_executions(const test_server *s, long *executions,
                           long *duplicates);

/* SIGTERM, then waits.  Returns the server's exit status (0 = clean exit,
 * which under sanitizers also means no leak report). */
int test_server_stop(test_server *s);

#endif
