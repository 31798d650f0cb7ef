#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Every peer started and not yet stopped: a failed check skips the test's
 * own stop, so whatever is left is killed when the program exits.  A
 * process started in a group of its own (test_proc_start) is killed with
 * its whole group, workers included. */
static struct {
  pid_t pid;
  pid_t pgid; /* 0: the process alone */
} live[64];

static void kill_tracked(size_t i) {
  if (live[i].pgid > 0) kill(-live[i].pgid, SIGKILL);
  kill(live[i].pid, SIGKILL);
  waitpid(live[i].pid, NULL, 0);
  live[i].pid = 0;
  live[i].pgid = 0;
}

static void kill_leftovers(void) {
  for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
    if (live[i].pid > 0) kill_tracked(i);
}

/* Interrupted (Ctrl-C, a runner's SIGTERM): no atexit, so kill here, with
 * async-signal-safe calls only, then die of the signal. */
static void on_fatal_signal(int sig) {
  for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
    if (live[i].pgid > 0) kill(-live[i].pgid, SIGKILL);
    if (live[i].pid > 0) kill(live[i].pid, SIGKILL);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void track_group(pid_t pid, pid_t pgid, pid_t replace) {
  static bool registered;
  if (!registered) {
    atexit(kill_leftovers);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    registered = true;
  }
  for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
    if (live[i].pid == replace) {
      live[i].pid = pid;
      live[i].pgid = pid ? pgid : 0;
      return;
    }
}

static void track(pid_t pid, pid_t replace) { track_group(pid, 0, replace); }

static pid_t tracked_group(pid_t pid) {
  for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
    if (live[i].pid == pid) return live[i].pgid;
  return 0;
}

static int spawn_and_wait(test_server *s, const char *const *argv, bool tls,
                          int wait_s) {
  char portfile[128];
  snprintf(portfile, sizeof portfile, "%s/port", s->dir);
  const char *full[64];
  int n = 0;
  for (; argv[n] && n < 60; n++) full[n] = argv[n];
  full[n++] = "--port-file";
  full[n++] = portfile;
  full[n] = NULL;
  /* A test program killed outright (a sanitizer abort) must not leave its
   * server running, holding ctest's output pipe open.  The death signal
   * follows the thread that forks, so only for the main thread (a test
   * may start a server from a short-lived thread). */
  bool main_thread = gettid() == getpid();
  pid_t parent = getpid();
  s->pid = fork();
  if (s->pid < 0) return -1;
  if (s->pid == 0) {
    if (main_thread) {
      prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
      if (getppid() != parent) _exit(127); /* it died already */
    }
    execvp(full[0], (char *const *)full);
    _exit(127);
  }
  track(s->pid, 0);
  for (int waited = 0; waited < wait_s * 1000; waited += 10) {
    FILE *f = fopen(portfile, "r");
    if (f) {
      int ok = fscanf(f, "%d", &s->port) == 1;
      fclose(f);
      if (ok && s->port > 0) {
        snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", tls ? "https" : "http",
                 s->port);
        return 0;
      }
    }
    int st;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
      fprintf(stderr, "%s exited early (status %d)\n", full[0], st);
      s->pid = 0;
      return -1;
    }
    sleep_ms(10);
  }
  fprintf(stderr, "%s did not write its port file\n", full[0]);
  test_server_stop(s);
  return -1;
}

static int make_dir(test_server *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "/tmp/kinfer-it-XXXXXX");
  if (!mkdtemp(s->dir)) {
    perror("mkdtemp");
    return -1;
  }
  return 0;
}

int test_server_start(test_server *s, const char *const *args) {
  const char *bin = getenv("KINFER_SERVER");
  if (!bin) {
    fprintf(stderr, "KINFER_SERVER is not set\n");
    return -1;
  }
  if (make_dir(s)) return -1;
  const char *argv[64] = {bin, "--listen", "127.0.0.1:0"};
  int n = 3;
  bool tls = false;
  for (int i = 0; args && args[i] && n < 60; i++) {
    if (strcmp(args[i], "--tls-cert") == 0) tls = true;
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  return spawn_and_wait(s, argv, tls, 15);
}

int test_peer_start(test_server *s, const char *const *argv, int wait_s) {
  if (make_dir(s)) return -1;
  return spawn_and_wait(s, argv, false, wait_s);
}

int test_server_stop(test_server *s) {
  int status = -1;
  if (s->pid > 0) {
    track(0, s->pid);
    kill(s->pid, SIGTERM);
    int st = 0;
    for (int waited = 0; waited < 10000; waited += 10) {
      pid_t r = waitpid(s->pid, &st, WNOHANG);
      if (r == s->pid) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      sleep_ms(10);
    }
    if (status == -1) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &st, 0);
    }
    s->pid = 0;
  }
  char portfile[128];
  snprintf(portfile, sizeof portfile, "%s/port", s->dir);
  unlink(portfile);
  rmdir(s->dir);
  return status;
}

int test_server_executions(const test_server *s, long *executions,
                           long *duplicates) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char req[] = "GET /_executions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  char buf[4096];
  size_t n = 0;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
    close(fd);
    return -1;
  }
  for (ssize_t r; n + 1 < sizeof buf && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0;)
    n += (size_t)r;
  close(fd);
  buf[n] = '\0';
  const char *e = strstr(buf, "\"executions\":");
  const char *d = strstr(buf, "\"duplicates\":");
  if (!e || !d) return -1;
  *executions = strtol(e + 13, NULL, 10);
  *duplicates = strtol(d + 13, NULL, 10);
  return 0;
}

int test_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool test_port_accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* The exit status as test_server_stop reports it. */
static int exit_status(int st) {
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

pid_t test_proc_start(const char *const *argv, const char *log, int port,
                      int wait_s) {
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
#ifdef PR_SET_PDEATHSIG
    /* should this process die without cleaning up */
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
#endif
    if (log) {
      FILE *f = freopen(log, "a", stdout);
      if (!f || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(126);
    }
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid); /* also here: no race with the checks below */
  track_group(pid, pid, 0);
  for (int waited = 0; waited < wait_s * 1000; waited += 10) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      fprintf(stderr, "%s exited before listening on port %d (status %d)%s%s\n",
              argv[0], port, exit_status(st), log ? ", see " : "", log ? log : "");
      kill(-pid, SIGKILL); /* workers it may have left */
      track_group(0, 0, pid);
      return 0;
    }
    if (test_port_accepts(port)) return pid;
    sleep_ms(10);
  }
  fprintf(stderr, "%s did not listen on port %d within %d s\n", argv[0], port, wait_s);
  test_proc_stop(pid, SIGKILL, 5);
  return -1;
}

int test_reap_orphans(void) {
#ifdef PR_SET_CHILD_SUBREAPER
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0) return 0;
  perror("prctl(PR_SET_CHILD_SUBREAPER)");
#endif
  return -1;
}

void test_proc_track(pid_t pid, pid_t replaces) {
  pid_t pgid = getpgid(pid);
  if (pgid < 0) pgid = 0;
  if (replaces > 0)
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
      if (live[i].pid == replaces) {
        live[i].pid = pid;
        live[i].pgid = pgid;
        return;
      }
  track_group(pid, pgid, 0);
}

int test_proc_wait(pid_t pid, int wait_s) {
  for (int waited = 0; waited < wait_s * 1000; waited += 10) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      track_group(0, 0, pid);
      return exit_status(st);
    }
    if (r < 0 && errno == ECHILD && kill(pid, 0) != 0) {
      /* not a child (no subreaper): gone, status unknown */
      track_group(0, 0, pid);
      return 0;
    }
    sleep_ms(10);
  }
  return -1;
}

int test_proc_stop(pid_t pid, int sig, int wait_s) {
  if (pid <= 0) return -1;
  pid_t pgid = tracked_group(pid);
  kill(pid, sig);
  int status = test_proc_wait(pid, wait_s);
  if (status == -1) {
    if (pgid > 0) kill(-pgid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    track_group(0, 0, pid);
  }
  /* workers that outlived their master and came to this process */
  if (pgid > 0)
    while (waitpid(-pgid, NULL, WNOHANG) > 0) {
    }
  return status;
}
