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

/* ------------------------------------------------------------------ */
/* Any other program (gateways such as nghttpx and nginx).               */

/* A loopback TCP port that was free a moment ago (bound to port 0, then
 * closed).  Another process may take it before the caller binds it: retry
 * with a new port when the start fails.  Returns the port or -1. */
int test_free_port(void);

/* True when 127.0.0.1:|port| accepts a TCP connection now. */
bool test_port_accepts(int port);

/* Starts |argv| (NULL-terminated; argv[0] a path, or a name looked up in
 * PATH) in a process group of its own, its stdout and stderr appended to
 * the file |log| (NULL: inherited), and waits up to |wait_s| seconds until
 * 127.0.0.1:|port| accepts connections.  Returns the pid; 0 when the
 * program exited first (typically: the port was taken, so pick another
 * and retry); -1 when it did not listen in time (it is killed) or could
 * not be started.  Says why on stderr.  The group is killed at exit unless
 * stopped with test_proc_stop. */
pid_t test_proc_start(const char *const *argv, const char *log, int port,
                      int wait_s);

/* Makes this process the parent of its orphaned descendants (Linux
 * PR_SET_CHILD_SUBREAPER), so that a program that re-executes itself and
 * lets the original exit (nghttpx's hot swap) can still be waited for.
 * Call before the re-execution.  Returns 0 or -1. */
int test_reap_orphans(void);

/* Adds |pid| (not started by test_proc_start, e.g. a re-executed master)
 * to the processes killed at exit, with its process group, taking the
 * place of |replaces| (0: none). */
void test_proc_track(pid_t pid, pid_t replaces);

/* Waits up to |wait_s| seconds for |pid| to exit.  Returns its exit status
 * (as test_server_stop; 0 when it was not a child and is gone), or -1 when
 * it still runs. */
int test_proc_wait(pid_t pid, int wait_s);

/* Sends |sig| to |pid| and waits up to |wait_s| seconds for it to exit;
 * past that kills its process group.  Returns the exit status as
 * test_proc_wait, -1 when it had to be killed. */
int test_proc_stop(pid_t pid, int sig, int wait_s);

#endif
