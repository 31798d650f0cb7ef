#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int test_server_start(test_server *s, const char *const *args) {
  memset(s, 0, sizeof *s);
  const char *bin = getenv("KINFER_SERVER");
  if (!bin) {
    fprintf(stderr, "KINFER_SERVER is not set\n");
    return -1;
  }
  snprintf(s->dir, sizeof s->dir, "/tmp/kinfer-it-XXXXXX");
  if (!mkdtemp(s->dir)) {
    perror("mkdtemp");
    return -1;
  }
  char portfile[128];
  snprintf(portfile, sizeof portfile, "%s/port", s->dir);
  const char *argv[64] = {bin, "--listen", "127.0.0.1:0", "--port-file", portfile};
  int n = 5;
  for (int i = 0; args && args[i] && n < 62; i++) argv[n++] = args[i];
  argv[n] = NULL;
  s->pid = fork();
  if (s->pid < 0) return -1;
  if (s->pid == 0) {
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  bool tls = false;
  for (int i = 0; args && args[i]; i++)
    if (strcmp(args[i], "--tls-cert") == 0) tls = true;
  for (int waited = 0; waited < 15000; waited += 10) {
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
      fprintf(stderr, "kinfer-server exited early (status %d)\n", st);
      s->pid = 0;
      return -1;
    }
    sleep_ms(10);
  }
  fprintf(stderr, "kinfer-server did not write its port file\n");
  test_server_stop(s);
  return -1;
}

int test_server_stop(test_server *s) {
  int status = -1;
  if (s->pid > 0) {
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
