/*
 * Real gateways in front of kinfer-server, everything on 127.0.0.1, TLS
 * with a certificate made at start-up:
 *
 *  - nghttpx (TLS + h2 to the client, h2 or HTTP/1.1 to kinfer-server):
 *    basic calls, and hot restarts (SIGUSR2, then the old master drains
 *    with GOAWAY and exits) while 50 callers keep calling: zero errors,
 *    nothing run twice, connections replaced, not one per request;
 *  - nginx (TLS + h2, HTTP/1.1 keep-alive upstream) with
 *    keepalive_requests 100, so it sends GOAWAY after every 100 streams
 *    (RELIABILITY.md L2 with a real peer), and HTTP/1.1 through it, where
 *    it answers "Connection: close" every 100 requests;
 *  - R2 with a real peer: a certificate naming another host, or signed by
 *    an authority the client does not trust: KINFER_ETLS at once, one
 *    attempt, nothing run.
 *
 * nghttpx and nginx come from tools/scripts/deps.sh --test ($NGHTTPX and
 * $NGINX override the programs); without them these tests fail.  Set
 * KINFER_KEEP_TMP=1 to keep the gateways' configurations and logs.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

/* Paths of files under |dir| (64 bytes) */
#define FILE_LEN 256

#define DEPS_HINT "run tools/scripts/deps.sh --test to install it"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------------ */
/* One-time set-up: a directory, certificates, the gateway programs.    */

static char dir[64];            /* everything the tests write */
static char cert[FILE_LEN], key[FILE_LEN];             /* for 127.0.0.1 */
static char wrong_cert[FILE_LEN], wrong_key[FILE_LEN]; /* wrong.example */

static void make_cert(const char *stem, const char *san, char *pem, char *keyf) {
  snprintf(pem, FILE_LEN, "%s/%s.pem", dir, stem);
  snprintf(keyf, FILE_LEN, "%s/%s.key", dir, stem);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-days 2 -subj /CN=%s -addext subjectAltName=%s -keyout %s -out %s "
           ">>%s/openssl.log 2>&1",
           stem, san, keyf, pem, dir);
  int rc = system(cmd);
  ck_assert_msg(rc == 0, "openssl could not make a certificate (see %s/openssl.log); " DEPS_HINT,
                dir);
}

/* A call that never returns (its deadline is 30 s) must not hold the run
 * until ctest's 600 s limit: say so and die; the harness's SIGTERM handler
 * kills the gateways and servers. */
static void on_watchdog(int sig) {
  (void)sig;
  static const char msg[] = "it_gateway: still running after the watchdog's limit: "
                            "a call or a gateway hangs\n";
  ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)n;
  raise(SIGTERM);
}

static void prepare(void) {
  if (dir[0]) return;
  /* about 4 s normally, 3x that under sanitizers */
  signal(SIGALRM, on_watchdog);
  alarm(240);
  snprintf(dir, sizeof dir, "/tmp/kinfer-gw-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  /* nginx workers run as another user when started by root: they must
   * reach their temporary directories under this one */
  chmod(dir, 0755);
  make_cert("127.0.0.1", "IP:127.0.0.1", cert, key);
  make_cert("wrong.example", "DNS:wrong.example", wrong_cert, wrong_key);
  /* nghttpx's hot swap leaves the new master without its parent */
  ck_assert_int_eq(test_reap_orphans(), 0);
}

static void remove_dir(void) {
  if (!dir[0] || getenv("KINFER_KEEP_TMP")) return;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* The program |name| (or $|env|), as an absolute path: from PATH, or the
 * sbin directories a non-root PATH lacks.  Fails the test when absent. */
static void find_program(const char *env, const char *name, char *out) {
  const char *e = getenv(env);
  if (e && *e) name = e;
  if (strchr(name, '/')) {
    ck_assert_msg(realpath(name, out) && access(out, X_OK) == 0, "$%s=%s is not a program", env,
                  name);
    return;
  }
  const char *path = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/sbin", path ? path : "/usr/bin:/bin");
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char cand[PATH_MAX + 64];
    snprintf(cand, sizeof cand, "%s/%s", d, name);
    if (access(cand, X_OK) == 0 && realpath(cand, out)) return;
  }
  ck_abort_msg("%s was not found in PATH or /usr/sbin: " DEPS_HINT
               " (nghttpx: package nghttp2-proxy, nginx: nginx-light)",
               name);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
}

/* Prints the last lines of |path| to stderr, to explain a failure. */
static void show_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = buf + n;
  for (int lines = 0; p > buf && lines < 30; p--)
    if (p[-1] == '\n') lines++;
  fprintf(stderr, "---- %s (end) ----\n%s\n----\n", path, p);
}

/* ------------------------------------------------------------------ */
/* Gateways.  One at a time, with one backend: both static, so that the */
/* teardown stops them when a check failed half-way.                    */

typedef struct gateway {
  pid_t pid;          /* the (current) master */
  pid_t old[8];       /* masters replaced by a hot swap, until they exit */
  int port;
  char url[64];
  char pid_file[FILE_LEN];
  char out[FILE_LEN];   /* stdout and stderr, error log */
  char access[FILE_LEN];
} gateway;

static gateway G;
static test_server B;
static kinfer_client *C;

static void show_gateway_logs(void) {
  show_file(G.out);
  show_file(G.access);
}

/* ck_assert_msg that first shows the gateway's logs. */
#define gw_assert(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      show_gateway_logs();                                                     \
      ck_abort_msg(__VA_ARGS__);                                               \
    }                                                                          \
  } while (0)

static void teardown(void) {
  if (C) kinfer_client_close(C);
  C = NULL;
  for (size_t i = 0; i < sizeof G.old / sizeof G.old[0]; i++)
    if (G.old[i] > 0) test_proc_stop(G.old[i], SIGKILL, 5);
  if (G.pid > 0) test_proc_stop(G.pid, SIGTERM, 5);
  memset(&G, 0, sizeof G);
  if (B.pid > 0) test_server_stop(&B);
  memset(&B, 0, sizeof B);
}

static void start_backend(void) {
  const char *args[] = {"--quiet", NULL};
  ck_assert_int_eq(test_server_start(&B, args), 0);
}

/* Starts |argv| on G.port, trying a few free ports in case one was taken
 * between test_free_port and the gateway's bind.  |argv| is rebuilt for
 * each port by |build|. */
static void start_gateway(const char *what, void (*build)(const char **argv, void *ud), void *ud) {
  for (int attempt = 0; attempt < 5; attempt++) {
    G.port = test_free_port();
    ck_assert_int_gt(G.port, 0);
    const char *argv[32];
    build(argv, ud);
    unlink(G.pid_file);
    pid_t pid = test_proc_start(argv, G.out, G.port, 15);
    if (pid > 0) {
      G.pid = pid;
      snprintf(G.url, sizeof G.url, "https://127.0.0.1:%d", G.port);
      return;
    }
    gw_assert(pid == 0, "%s did not start", what);
  }
  gw_assert(0, "%s exited at start-up 5 times, each on a fresh port (see %s)", what, G.out);
}

/* Stops the gateway gracefully (SIGQUIT for both nghttpx and nginx) and
 * checks it exited cleanly. */
static void stop_gateway(void) {
  int st = test_proc_stop(G.pid, SIGQUIT, 15);
  G.pid = 0;
  gw_assert(st == 0, "the gateway exited with status %d", st);
}

static char nghttpx_bin[PATH_MAX], nginx_bin[PATH_MAX];

typedef struct nghttpx_opts {
  const char *cert, *key;
  bool h2_backend;
  char frontend[64], backend[64], conf[FILE_LEN + 16], pidf[FILE_LEN + 16];
  char errlog[FILE_LEN + 32], acclog[FILE_LEN + 32];
} nghttpx_opts;

static void nghttpx_argv(const char **argv, void *ud) {
  nghttpx_opts *o = ud;
  snprintf(o->frontend, sizeof o->frontend, "--frontend=127.0.0.1,%d", G.port);
  snprintf(o->backend, sizeof o->backend, "--backend=127.0.0.1,%d%s", B.port,
           o->h2_backend ? ";;proto=h2" : "");
  int n = 0;
  argv[n++] = nghttpx_bin; /* absolute: the hot swap re-executes argv[0] */
  argv[n++] = o->conf;     /* an empty file, not /etc/nghttpx/nghttpx.conf */
  argv[n++] = "--no-ocsp";
  argv[n++] = o->frontend; /* TLS, h2 and http/1.1 by ALPN */
  argv[n++] = o->backend;
  argv[n++] = "--workers=1";
  argv[n++] = o->pidf;
  argv[n++] = o->errlog;
  argv[n++] = o->acclog;
  argv[n++] = o->key;
  argv[n++] = o->cert;
  argv[n] = NULL;
}

/* nghttpx: TLS frontend on a free port, kinfer-server (B) behind it. */
static void start_nghttpx(const char *certf, const char *keyf, bool h2_backend) {
  find_program("NGHTTPX", "nghttpx", nghttpx_bin);
  static nghttpx_opts o;
  memset(&o, 0, sizeof o);
  o.cert = certf;
  o.key = keyf;
  o.h2_backend = h2_backend;
  char conf[FILE_LEN];
  snprintf(conf, sizeof conf, "%s/nghttpx.conf", dir);
  write_file(conf, "");
  snprintf(o.conf, sizeof o.conf, "--conf=%s", conf);
  snprintf(G.pid_file, sizeof G.pid_file, "%s/nghttpx.pid", dir);
  snprintf(G.out, sizeof G.out, "%s/nghttpx.log", dir);
  snprintf(G.access, sizeof G.access, "%s/nghttpx-access.log", dir);
  snprintf(o.pidf, sizeof o.pidf, "--pid-file=%s", G.pid_file);
  snprintf(o.errlog, sizeof o.errlog, "--errorlog-file=%s", G.out);
  snprintf(o.acclog, sizeof o.acclog, "--accesslog-file=%s", G.access);
  start_gateway("nghttpx", nghttpx_argv, &o);
}

static pid_t read_pid(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  long v = 0;
  if (fscanf(f, "%ld", &v) != 1) v = 0;
  fclose(f);
  return (pid_t)v;
}

/* nghttpx's hot swap: SIGUSR2 makes the master re-execute itself; the new
 * master inherits the listening socket, writes the pid file and, once it
 * serves, sends SIGQUIT to the old master, which sends GOAWAY on its
 * connections and exits when they are done.  The old master is kept in
 * G.old until drain_old().  Returns NULL or what went wrong (no check
 * here: callers are running). */
static const char *nghttpx_hot_swap(void) {
  pid_t old = G.pid;
  if (kill(old, SIGUSR2) != 0) return "kill(SIGUSR2) failed";
  pid_t fresh = 0;
  for (int waited = 0; waited < 10000; waited += 5) {
    fresh = read_pid(G.pid_file);
    if (fresh > 0 && fresh != old) break;
    fresh = 0;
    sleep_s(0.005);
  }
  if (fresh <= 0) return "no new nghttpx master wrote the pid file after SIGUSR2";
  test_proc_track(fresh, 0);
  G.pid = fresh;
  for (size_t i = 0; i < sizeof G.old / sizeof G.old[0]; i++)
    if (G.old[i] == 0) {
      G.old[i] = old;
      return NULL;
    }
  return "too many old masters";
}

/* Waits for the old masters to finish draining.  nghttpx since 1.20 has
 * the new master send them SIGQUIT; older ones need it from us.  Returns
 * NULL or what went wrong. */
static const char *drain_old(double *longest) {
  for (size_t i = 0; i < sizeof G.old / sizeof G.old[0]; i++) {
    if (G.old[i] <= 0) continue;
    double t0 = now_s();
    int st = test_proc_wait(G.old[i], 5);
    if (st == -1) {
      kill(G.old[i], SIGQUIT);
      st = test_proc_wait(G.old[i], 20);
    }
    if (now_s() - t0 > *longest) *longest = now_s() - t0;
    if (st != 0) return st == -1 ? "an old nghttpx master did not exit after SIGQUIT"
                                 : "an old nghttpx master exited with an error";
    G.old[i] = 0;
  }
  return NULL;
}

typedef struct nginx_opts {
  char conf[FILE_LEN], prefix[128];
} nginx_opts;

static void nginx_argv(const char **argv, void *ud) {
  nginx_opts *o = ud;
  char text[4096];
  int n = snprintf(text, sizeof text,
    "worker_processes 1;\n"
    "pid %s;\n"
    "error_log %s info;\n"
    "events { worker_connections 1024; }\n"
    "http {\n"
    "  access_log %s;\n"
    "  client_body_temp_path %s/body;\n"
    "  proxy_temp_path %s/proxy;\n"
    "  fastcgi_temp_path %s/fastcgi;\n"
    "  uwsgi_temp_path %s/uwsgi;\n"
    "  scgi_temp_path %s/scgi;\n"
    "  upstream kinfer { server 127.0.0.1:%d; keepalive 64; }\n"
    "  server {\n"
    "    listen 127.0.0.1:%d ssl http2;\n"
    "    ssl_certificate %s;\n"
    "    ssl_certificate_key %s;\n"
    "    keepalive_requests 100;\n"
    "    location / {\n"
    "      proxy_pass http://kinfer;\n"
    "      proxy_http_version 1.1;\n"
    "      proxy_set_header Connection \"\";\n"
    "    }\n"
    "  }\n"
    "}\n",
    G.pid_file, G.out, G.access, o->prefix, o->prefix, o->prefix, o->prefix, o->prefix, B.port,
    G.port, cert, key);
  ck_assert(n > 0 && (size_t)n < sizeof text);
  write_file(o->conf, text);
  int k = 0;
  argv[k++] = nginx_bin;
  argv[k++] = "-p";
  argv[k++] = o->prefix;
  argv[k++] = "-c";
  argv[k++] = o->conf;
  argv[k++] = "-g";
  argv[k++] = "daemon off; master_process on;";
  argv[k] = NULL;
}

/* nginx: TLS + h2 on a free port, kinfer-server (B) as its upstream over
 * HTTP/1.1 keep-alive, GOAWAY (or Connection: close) every 100 requests. */
static void start_nginx(void) {
  find_program("NGINX", "nginx", nginx_bin);
  static nginx_opts o;
  snprintf(o.prefix, sizeof o.prefix, "%s/nginx", dir);
  mkdir(o.prefix, 0755);
  snprintf(o.conf, sizeof o.conf, "%s/nginx.conf", o.prefix);
  snprintf(G.pid_file, sizeof G.pid_file, "%s/nginx.pid", o.prefix);
  snprintf(G.out, sizeof G.out, "%s/error.log", o.prefix);
  snprintf(G.access, sizeof G.access, "%s/access.log", o.prefix);
  start_gateway("nginx", nginx_argv, &o);
}

/* ------------------------------------------------------------------ */
/* Calls.                                                               */

static kinfer_client *make_client(bool h2, const char *ca, int retries) {
  kinfer_config *cfg = kinfer_config_new();
  ck_assert_ptr_nonnull(cfg);
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, h2);
  ck_assert_int_eq(kinfer_config_set_ca_file(cfg, ca), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_retries(cfg, retries), KINFER_OK);
  kinfer_config_set_retry_backoff(cfg, 0.01, 0.1);
  kinfer_config_set_timeout(cfg, 30);
  kinfer_error err;
  kinfer_client *c = kinfer_client_new(cfg, &err);
  kinfer_config_free(cfg);
  ck_assert_msg(c != NULL, "%s", err.message);
  return c;
}

/* add_sub of {a} and {b} with request id |id|. */
static kinfer_request *make_request(const char *id, int32_t a, int32_t b) {
  int64_t shape[] = {1};
  kinfer_request *r = kinfer_request_new();
  if (!r) return NULL;
  kinfer_request_set_id(r, id);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), &a, sizeof a);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), &b, sizeof b);
  return r;
}

static bool right(const kinfer_response *resp, int32_t a, int32_t b) {
  const kinfer_tensor *sum = kinfer_response_output_by_name(resp, "OUTPUT0");
  const kinfer_tensor *diff = kinfer_response_output_by_name(resp, "OUTPUT1");
  if (!sum || !diff || kinfer_tensor_element_count(sum) != 1 ||
      kinfer_tensor_element_count(diff) != 1)
    return false;
  int32_t s, d;
  memcpy(&s, kinfer_tensor_data(sum), sizeof s);
  memcpy(&d, kinfer_tensor_data(diff), sizeof d);
  return s == a + b && d == a - b;
}

/* One checked call; returns the response headers' |header| value in
 * |hv| (empty when absent). */
static void one_call(const char *url, const char *id, const char *header, char *hv, size_t hvlen) {
  kinfer_request *r = make_request(id, 40, 2);
  kinfer_headers *rh = kinfer_headers_new();
  kinfer_response *out = NULL;
  kinfer_error err;
  int rc = kinfer_infer(C, url, r, "add_sub", NULL, rh, false, 30, &out, &err);
  gw_assert(rc == KINFER_OK, "call through the gateway: %s", err.message);
  ck_assert_msg(right(out, 40, 2), "wrong outputs through the gateway");
  ck_assert_str_eq(kinfer_response_id(out), id);
  const char *v = kinfer_headers_get(rh, header);
  snprintf(hv, hvlen, "%s", v ? v : "");
  kinfer_response_free(out);
  kinfer_headers_free(rh);
  kinfer_request_free(r);
}

static void assert_executions(long want) {
  long execs = -1, dups = -1;
  ck_assert_int_eq(test_server_executions(&B, &execs, &dups), 0);
  ck_assert_int_eq(execs, want);
  ck_assert_int_eq(dups, 0);
}

static void assert_idle(void) {
  kinfer_stats st;
  ck_assert_int_eq(kinfer_client_stats(C, &st), KINFER_OK);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
}

static void close_client(void) {
  kinfer_client_close(C);
  C = NULL;
}

static void stop_backend(void) { ck_assert_int_eq(test_server_stop(&B), 0); }

/* Many synchronous callers on C, each request with its own id.  They run
 * |each| calls, or until |stop| when each is 0. */
typedef struct load {
  const char *url, *tag;
  int each;
  atomic_bool stop;
  atomic_long calls, ok, bad;
  atomic_long by_attempts[6]; /* calls by attempts made, the last 5 or more */
  pthread_mutex_t mu;
  char first_error[1024];
} load;

typedef struct caller {
  load *l;
  int index;
} caller;

static void *caller_main(void *arg) {
  caller *me = arg;
  load *l = me->l;
  for (int n = 0; l->each ? n < l->each : !atomic_load(&l->stop); n++) {
    char id[64];
    snprintf(id, sizeof id, "%s-%d-%d", l->tag, me->index, n);
    int32_t a = me->index * 100000 + n, b = 7;
    kinfer_request *r = make_request(id, a, b);
    kinfer_response *out = NULL;
    kinfer_error err;
    memset(&err, 0, sizeof err);
    int rc = r ? kinfer_infer(C, l->url, r, "add_sub", NULL, NULL, false, 30, &out, &err)
               : KINFER_ENOMEM;
    atomic_fetch_add(&l->calls, 1);
    atomic_fetch_add(&l->by_attempts[err.attempts < 0 ? 0 : err.attempts > 5 ? 5 : err.attempts], 1);
    if (rc == KINFER_OK && right(out, a, b) && strcmp(kinfer_response_id(out), id) == 0) {
      atomic_fetch_add(&l->ok, 1);
    } else {
      atomic_fetch_add(&l->bad, 1);
      pthread_mutex_lock(&l->mu);
      if (!l->first_error[0])
        snprintf(l->first_error, sizeof l->first_error, "call %s: %s (%s, attempts %d)", id,
                 rc == KINFER_OK ? "wrong answer" : kinfer_strerror(rc), err.message,
                 err.attempts);
      pthread_mutex_unlock(&l->mu);
    }
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  return NULL;
}

enum { CALLERS = 50 };

static void load_start(load *l, pthread_t *th, caller *cs) {
  pthread_mutex_init(&l->mu, NULL);
  for (int i = 0; i < CALLERS; i++) {
    cs[i] = (caller){l, i};
    ck_assert_int_eq(pthread_create(&th[i], NULL, caller_main, &cs[i]), 0);
  }
}

static void load_join(load *l, pthread_t *th) {
  atomic_store(&l->stop, true);
  for (int i = 0; i < CALLERS; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&l->mu);
  fprintf(stderr, "%s: %ld calls; by attempts 1: %ld, 2: %ld, 3: %ld, 4: %ld, 5+: %ld\n", l->tag,
          atomic_load(&l->calls), atomic_load(&l->by_attempts[1]), atomic_load(&l->by_attempts[2]),
          atomic_load(&l->by_attempts[3]), atomic_load(&l->by_attempts[4]),
          atomic_load(&l->by_attempts[5]));
}

/* ------------------------------------------------------------------ */
/* nghttpx                                                              */

/* TLS + h2 to nghttpx, h2 (loop 0) or HTTP/1.1 (loop 1) to the backend. */
START_TEST(nghttpx_basic) {
  prepare();
  start_backend();
  start_nghttpx(cert, key, _i == 0);
  C = make_client(true, cert, 3);
  char via[128];
  one_call(G.url, "nghttpx-basic", "via", via, sizeof via);
  /* the answer came through nghttpx, over h2 */
  ck_assert_msg(strstr(via, "nghttpx") != NULL, "no via: nghttpx header (\"%s\")", via);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  ck_assert_uint_eq(st.h2_requests, 1);
  ck_assert_uint_eq(st.h1_requests, 0);
  ck_assert_uint_eq(st.connections_opened, 1);
  assert_idle();
  assert_executions(1);
  close_client();
  stop_gateway();
  stop_backend();
}
END_TEST

/* nghttpx restarted gracefully 3 times while 50 callers call: no caller
 * sees an error, every call runs once, a few connections in all. */
START_TEST(nghttpx_hot_restart_under_load) {
  enum { RESTARTS = 3 };
  prepare();
  start_backend();
  start_nghttpx(cert, key, true);
  C = make_client(true, cert, 3);
  char via[128];
  one_call(G.url, "warm-up", "via", via, sizeof via); /* the connection is up */

  static load l;
  memset(&l, 0, sizeof l);
  l.url = G.url;
  l.tag = "restart";
  pthread_t th[CALLERS];
  caller cs[CALLERS];
  load_start(&l, th, cs);
  /* no check may fail while the callers run: they use C */
  const char *failed = NULL;
  double longest_drain = 0;
  long calls_at_restart[RESTARTS];
  for (int r = 0; r < RESTARTS && !failed; r++) {
    sleep_s(0.6);
    calls_at_restart[r] = atomic_load(&l.calls);
    failed = nghttpx_hot_swap();
    if (!failed) failed = drain_old(&longest_drain);
  }
  sleep_s(0.6);
  load_join(&l, th);
  gw_assert(failed == NULL, "%s", failed);

  long calls = atomic_load(&l.calls), ok = atomic_load(&l.ok);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  fprintf(stderr,
          "nghttpx hot restart: %ld calls, %llu connections, %llu retries, longest drain %.2f s\n",
          calls, (unsigned long long)st.connections_opened, (unsigned long long)st.retries,
          longest_drain);
  gw_assert(atomic_load(&l.bad) == 0, "%ld of %ld calls failed, first: %s", atomic_load(&l.bad),
            calls, l.first_error);
  ck_assert_int_eq(ok, calls);
  /* the load ran through every restart */
  ck_assert_int_gt(calls_at_restart[0], 0);
  ck_assert_int_gt(calls, calls_at_restart[RESTARTS - 1]);
  assert_executions(calls + 1);
  ck_assert_uint_eq(st.successes, (uint64_t)calls + 1);
  ck_assert_uint_eq(st.failures, 0);
  ck_assert_uint_eq(st.requests, (uint64_t)calls + 1);
  /* each old nghttpx closed its connection: at least one new connection
   * per restart, and never anything like one per request */
  ck_assert_uint_ge(st.connections_opened, RESTARTS + 1);
  ck_assert_uint_le(st.connections_opened, 2 * (RESTARTS + 1));
  assert_idle();

  /* the last master still serves */
  one_call(G.url, "after-restarts", "via", via, sizeof via);
  assert_executions(calls + 2);
  close_client();
  stop_gateway();
  stop_backend();
}
END_TEST

/* ------------------------------------------------------------------ */
/* nginx                                                                */

/* TLS + h2 (loop 0) or HTTP/1.1 (loop 1) to nginx. */
START_TEST(nginx_basic) {
  prepare();
  start_backend();
  start_nginx();
  bool h2 = _i == 0;
  C = make_client(h2, cert, 3);
  char server[128];
  one_call(G.url, "nginx-basic", "server", server, sizeof server);
  /* nginx answers with its own Server header */
  ck_assert_msg(strncmp(server, "nginx", 5) == 0, "server: \"%s\"", server);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  ck_assert_uint_eq(st.h2_requests, h2 ? 1 : 0);
  ck_assert_uint_eq(st.h1_requests, h2 ? 0 : 1);
  ck_assert_uint_eq(st.connections_opened, 1);
  assert_idle();
  assert_executions(1);
  close_client();
  stop_gateway();
  stop_backend();
}
END_TEST

/* L2: nginx ends every h2 connection with GOAWAY after 100 streams;
 * streams the client opened beyond its last id are ignored and must be
 * sent again on a new connection.  50 callers, 2000 calls. */
START_TEST(nginx_goaway_every_100_requests) {
  enum { EACH = 40, TOTAL = CALLERS * EACH };
  prepare();
  start_backend();
  start_nginx();
  /* Streams beyond the GOAWAY's last id come back refused (about 1 call
   * in 10, some several times) and go to the next connection at once:
   * a graceful GOAWAY spends no retry, so the default 3 must do, with no
   * retry at all. */
  C = make_client(true, cert, 3);
  static load l;
  memset(&l, 0, sizeof l);
  l.url = G.url;
  l.tag = "l2";
  l.each = EACH;
  pthread_t th[CALLERS];
  caller cs[CALLERS];
  load_start(&l, th, cs);
  load_join(&l, th);
  gw_assert(atomic_load(&l.bad) == 0, "%ld of %d calls failed, first: %s", atomic_load(&l.bad),
            TOTAL, l.first_error);
  ck_assert_int_eq(atomic_load(&l.ok), TOTAL);
  assert_executions(TOTAL);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  fprintf(stderr, "nginx L2: %d calls, %llu connections, %llu retries\n", TOTAL,
          (unsigned long long)st.connections_opened, (unsigned long long)st.retries);
  ck_assert_uint_eq(st.successes, TOTAL);
  ck_assert_uint_eq(st.failures, 0);
  ck_assert_uint_eq(st.retries, 0);
  /* nginx serves at most 100 streams per connection: at least 20
   * connections; replaced one at a time, about TOTAL / 100 */
  ck_assert_uint_ge(st.connections_opened, TOTAL / 100);
  ck_assert_uint_le(st.connections_opened, TOTAL / 100 * 2);
  assert_idle();
  close_client();
  stop_gateway();
  stop_backend();
}
END_TEST

/* HTTP/1.1 through nginx, which closes a keep-alive connection after 100
 * requests ("Connection: close" on the last answer): 250 calls in a row,
 * each connection used to its end, none lost. */
START_TEST(nginx_http1_keepalive_limit) {
  enum { TOTAL = 250 };
  prepare();
  start_backend();
  start_nginx();
  C = make_client(false, cert, 3);
  for (int i = 0; i < TOTAL; i++) {
    char id[32];
    snprintf(id, sizeof id, "h1-%d", i);
    kinfer_request *r = make_request(id, i, 3);
    kinfer_response *out = NULL;
    kinfer_error err;
    int rc = kinfer_infer(C, G.url, r, "add_sub", NULL, NULL, false, 30, &out, &err);
    gw_assert(rc == KINFER_OK, "call %d: %s", i, err.message);
    ck_assert(right(out, i, 3));
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  assert_executions(TOTAL);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  ck_assert_uint_eq(st.h1_requests, TOTAL);
  ck_assert_uint_eq(st.retries, 0);
  ck_assert_uint_ge(st.connections_opened, (TOTAL + 99) / 100);
  ck_assert_uint_le(st.connections_opened, (TOTAL + 99) / 100 + 1);
  assert_idle();
  close_client();
  stop_gateway();
  stop_backend();
}
END_TEST

/* ------------------------------------------------------------------ */
/* R2: certificate for another host (loop 0), or from an authority the  */
/* client does not trust (loop 1): KINFER_ETLS, one attempt, not run.   */

START_TEST(r2_bad_certificate) {
  prepare();
  start_backend();
  bool wrong_host = _i == 0;
  /* loop 0: nghttpx shows wrong.example, which the client trusts;
   * loop 1: nghttpx shows 127.0.0.1, which the client does not trust */
  start_nghttpx(wrong_host ? wrong_cert : cert, wrong_host ? wrong_key : key, true);
  C = make_client(true, wrong_cert, 3);
  kinfer_request *r = make_request("r2", 1, 1);
  kinfer_response *out = NULL;
  kinfer_error err;
  double t0 = now_s();
  int rc = kinfer_infer(C, G.url, r, "add_sub", NULL, NULL, false, 30, &out, &err);
  double took = now_s() - t0;
  gw_assert(rc == KINFER_ETLS, "got %s: %s", kinfer_strerror(rc), err.message);
  ck_assert_ptr_null(out);
  ck_assert_int_eq(err.code, KINFER_ETLS);
  ck_assert_int_eq(err.attempts, 1); /* no retry */
  ck_assert_msg(took < 2.0, "took %.2f s", took);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  ck_assert_uint_eq(st.retries, 0);
  ck_assert_uint_eq(st.failures, 1);
  assert_idle();
  assert_executions(0);
  kinfer_request_free(r);
  close_client();
  stop_gateway();
  stop_backend();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("gateways");
  TCase *tc = tcase_create("nghttpx-nginx");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, NULL, teardown);
  tcase_add_unchecked_fixture(tc, NULL, remove_dir);
  tcase_add_loop_test(tc, nghttpx_basic, 0, 2);
  tcase_add_test(tc, nghttpx_hot_restart_under_load);
  tcase_add_loop_test(tc, nginx_basic, 0, 2);
  tcase_add_test(tc, nginx_goaway_every_100_requests);
  tcase_add_test(tc, nginx_http1_keepalive_limit);
  tcase_add_loop_test(tc, r2_bad_certificate, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
