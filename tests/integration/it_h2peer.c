/*
 * HTTP/2 faults kinfer-server cannot produce (RELIABILITY.md R5, R11, R12,
 * L5, L8-L10, L12, L13, L16, S1-S7), against the scripted peer
 * tests/peers/h2peer.c over h2c with prior knowledge; L5 also against
 * kinfer-server --stall-window.  Each test starts its own peer, whose
 * GET /_executions counters (model runs, duplicated request ids,
 * connections, PING ACKs, body bytes) are the server-side oracle.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole test process (every thread, the client's I/O
 * thread included). */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Check's per-test timeout does nothing without fork (CK_FORK=no): a call
 * that never returns would hold the run until ctest's 600 s limit.  Each
 * test arms this watchdog, which names the test and ends the program (the
 * harness's SIGTERM handler kills the peers). */
static const char *running_test = "";

static void on_watchdog(int sig) {
  (void)sig;
  static const char msg[] = "it_h2peer: still running after the watchdog's limit: ";
  ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
  n = write(STDERR_FILENO, running_test, strlen(running_test));
  n = write(STDERR_FILENO, "\n", 1);
  (void)n;
  raise(SIGTERM);
}

/* About 1 s per test normally (L12 about 2 s), 3x that under sanitizers. */
static void watchdog(const char *test) {
  running_test = test;
  signal(SIGALRM, on_watchdog);
  alarm(60);
}

/* Starts peer_h2peer with --scenario |scenario| and |extra| (NULL or
 * NULL-terminated). */
static void peer_start(test_server *s, const char *scenario, const char *const *extra) {
  static char bin[512];
  const char *dir = getenv("KINFER_PEER_DIR");
  ck_assert_msg(dir != NULL, "KINFER_PEER_DIR is not set");
  snprintf(bin, sizeof bin, "%s/peer_h2peer", dir);
  const char *argv[16] = {bin, "--scenario", scenario};
  int n = 3;
  for (int i = 0; extra && extra[i] && n < 15; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  ck_assert_int_eq(test_peer_start(s, argv, 10), 0);
}

/* The peer's GET /_executions line, into |buf|. */
static void peer_stats(const test_server *s, char *buf, size_t n) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char req[] = "GET /_executions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  size_t len = 0;
  for (ssize_t r; len + 1 < n && (r = read(fd, buf + len, n - 1 - len)) > 0;)
    len += (size_t)r;
  close(fd);
  buf[len] = '\0';
}

static long peer_stat(const test_server *s, const char *key) {
  char buf[2048], pat[64];
  peer_stats(s, buf, sizeof buf);
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(buf, pat);
  ck_assert_msg(p != NULL, "no %s in %s", key, buf);
  return strtol(p + strlen(pat), NULL, 10);
}

static void assert_executions(const test_server *s, long want) {
  long e = -1, d = -1;
  ck_assert_int_eq(test_server_executions(s, &e, &d), 0);
  ck_assert_int_eq(e, want);
  ck_assert_int_eq(d, 0); /* nothing ran twice */
}

typedef struct opts {
  int retries;
  double timeout;
  double backoff_base, backoff_cap;
  size_t max_response, max_header;
} opts;

static kinfer_client *h2_client(opts o) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  kinfer_config_set_retries(cfg, o.retries);
  kinfer_config_set_retry_backoff(cfg, o.backoff_base > 0 ? o.backoff_base : 0.01,
                                  o.backoff_cap > 0 ? o.backoff_cap : 0.05);
  kinfer_config_set_timeout(cfg, o.timeout > 0 ? o.timeout : 10);
  if (o.max_response)
    kinfer_config_set_max_response_bytes(cfg, o.max_response);
  if (o.max_header)
    kinfer_config_set_max_header_bytes(cfg, o.max_header);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* One INT32 input; |id| (may be NULL) as the request id. */
static kinfer_request *small_request(const char *id) {
  int64_t shape[] = {1};
  int32_t v = 1;
  kinfer_request *r = kinfer_request_new();
  if (id)
    kinfer_request_set_id(r, id);
  kinfer_input_set_data(kinfer_request_add_input(r, "i", KINFER_INT32, shape, 1), &v, sizeof v);
  return r;
}

/* |nbytes| of INT32 input sent with the binary extension. */
static kinfer_request *big_request(size_t nbytes) {
  int64_t shape[] = {(int64_t)(nbytes / 4)};
  int32_t *data = calloc(nbytes / 4, 4);
  ck_assert_ptr_nonnull(data);
  kinfer_request *r = kinfer_request_new();
  kinfer_input *in = kinfer_request_add_input(r, "i", KINFER_INT32, shape, 1);
  kinfer_input_set_data(in, data, nbytes / 4 * 4);
  kinfer_input_set_binary(in, true);
  free(data);
  return r;
}

/* Every successful answer of the peer is output "o" = [7]: never a partial
 * or different tensor. */
static void check_answer(const kinfer_response *resp) {
  const kinfer_tensor *t = kinfer_response_output_by_name(resp, "o");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_INT32);
  ck_assert_uint_eq(kinfer_tensor_element_count(t), 1);
  int32_t v; /* a binary output is a view into the body: maybe unaligned */
  memcpy(&v, kinfer_tensor_data(t), sizeof v);
  ck_assert_int_eq(v, 7);
}

static int infer(kinfer_client *c, const char *url, const char *model,
                 const kinfer_request *r, double timeout, kinfer_error *err) {
  kinfer_response *out = NULL;
  int rc = kinfer_infer(c, url, r, model, NULL, NULL, false, timeout, &out, err);
  if (rc == KINFER_OK)
    check_answer(out);
  else
    ck_assert_ptr_null(out);
  kinfer_response_free(out);
  return rc;
}

/* I4: nothing left on the wire or queued once the calls are done. */
static void assert_idle(kinfer_client *c) {
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
}

static uint64_t client_stat_connections(kinfer_client *c) {
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  return st.connections_opened;
}

/* Takes |n| completions from |q| (10 s at most), counting statuses:
 * ok and unknown-outcome counts, sum of attempts, and checks that nothing
 * more arrives. */
typedef struct tally {
  int ok, unknown, other, attempts, max_attempts;
} tally;

static tally drain(kinfer_cq *q, int n) {
  tally t = {0};
  double end = now_s() + 10;
  for (int got = 0; got < n;) {
    double left = end - now_s();
    ck_assert_msg(left > 0, "only %d of %d calls completed", got, n);
    kinfer_completion comp[16];
    int k = kinfer_cq_next(q, comp, 16, left);
    for (int i = 0; i < k; i++) {
      if (comp[i].status == KINFER_OK) {
        check_answer(comp[i].resp);
        t.ok++;
      } else {
        ck_assert_ptr_null(comp[i].resp);
        if (comp[i].status == KINFER_EUNKNOWN_OUTCOME)
          t.unknown++;
        else
          t.other++;
      }
      t.attempts += comp[i].err.attempts;
      if (comp[i].err.attempts > t.max_attempts)
        t.max_attempts = comp[i].err.attempts;
      kinfer_response_free(comp[i].resp);
    }
    got += k;
  }
  /* I1: exactly once, never a second completion */
  kinfer_completion extra;
  ck_assert_int_eq(kinfer_cq_next(q, &extra, 1, 0.3), 0);
  return t;
}

/* R11: response headers and part of the body, then RST_STREAM. */
START_TEST(r11_reset_mid_body) {
  watchdog(__func__);
  test_server s;
  peer_start(&s, "r11", NULL);
  kinfer_client *c = h2_client((opts){.retries = 3});
  kinfer_request *r = small_request("r11");
  kinfer_error err;
  int rc = infer(c, s.url, "m", r, 5, &err);
  /* cut short after the headers: an error, never a retry */
  ck_assert_msg(rc == KINFER_EBADRESPONSE || rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc,
                err.message);
  ck_assert_int_eq(err.attempts, 1);
  ck_assert(!kinfer_error_is_retriable(rc));
  assert_executions(&s, 1);
  /* a stream reset leaves the connection usable */
  bool live = false;
  ck_assert_msg(kinfer_is_server_live(c, s.url, NULL, 5, &live, &err) == KINFER_OK, "%s",
                err.message);
  ck_assert(live);
  ck_assert_uint_eq(client_stat_connections(c), 1);
  ck_assert_int_eq(peer_stat(&s, "connections"), 1);
  assert_idle(c);
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* R12: GOAWAY(0, ENHANCE_YOUR_CALM) on the first stream of every
 * connection: retries+1 connections, each after a backoff. */
START_TEST(r12_goaway_calm_every_connection) {
  watchdog(__func__);
  test_server s;
  peer_start(&s, "r12", NULL);
  kinfer_client *c = h2_client((opts){.retries = 4, .backoff_base = 0.05, .backoff_cap = 0.2});
  kinfer_request *r = small_request("r12");
  kinfer_error err;
  double t0 = now_s();
  int rc = infer(c, s.url, "m", r, 10, &err);
  double took = now_s() - t0;
  ck_assert_msg(rc == KINFER_EREFUSED, "%d %s", rc, err.message);
  ck_assert(kinfer_error_is_retriable(rc));
  ck_assert_int_eq(err.attempts, 5);
  /* the backoffs are at least 25+50+100+100 ms (jitter takes half at
   * most): not a tight reconnect loop, and far from the 10 s deadline */
  ck_assert_msg(took >= 0.27 && took < 6, "took %.3f s", took);
  ck_assert_int_eq(peer_stat(&s, "connections"), 5); /* one per attempt, no storm */
  ck_assert_uint_eq(client_stat_connections(c), 5);
  assert_executions(&s, 0); /* last_stream_id 0: nothing was processed */
  assert_idle(c);
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L5 against |s| (the peer, or kinfer-server --stall-window): a 1 MB
 * upload into a zero window ends ETIMEOUT at its deadline without spinning,
 * and the connection then serves a bodiless call. */
static void stalled_upload(const test_server *s, const char *model) {
  kinfer_client *c = h2_client((opts){.retries = 2});
  kinfer_request *r = big_request(1 << 20);
  kinfer_error err;
  double t0 = now_s(), cpu0 = cpu_s();
  int rc = infer(c, s->url, model, r, 1.0, &err);
  double wall = now_s() - t0, cpu = cpu_s() - cpu0;
  ck_assert_msg(rc == KINFER_ETIMEOUT, "%d %s", rc, err.message);
  ck_assert_int_eq(err.attempts, 1);
  ck_assert_msg(wall >= 0.8 && wall < 5, "ended after %.3f s", wall);
  /* a spinning I/O thread burns about one CPU second per second */
  ck_assert_msg(cpu < 0.5 * wall, "%.3f s CPU in %.3f s", cpu, wall);
  bool live = false;
  ck_assert_msg(kinfer_is_server_live(c, s->url, NULL, 5, &live, &err) == KINFER_OK, "%s",
                err.message);
  ck_assert(live);
  ck_assert_uint_eq(client_stat_connections(c), 1); /* the same connection */
  assert_idle(c);
  kinfer_request_free(r);
  kinfer_client_close(c);
}

START_TEST(l5_zero_window_peer) {
  watchdog(__func__);
  test_server s;
  peer_start(&s, "l5", NULL);
  stalled_upload(&s, "m");
  ck_assert_int_eq(peer_stat(&s, "connections"), 1);
  assert_executions(&s, 0);
  ck_assert_int_le(peer_stat(&s, "body_bytes"), 65535); /* the window was respected */
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(l5_zero_window_kinfer_server) {
  watchdog(__func__);
  test_server s;
  const char *args[] = {"--stall-window", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  stalled_upload(&s, "echo");
  assert_executions(&s, 0);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L8: 50 PINGs while a request waits for its answer. */
START_TEST(l8_many_pings) {
  watchdog(__func__);
  test_server s;
  const char *extra[] = {"--pings", "50", NULL};
  peer_start(&s, "l8", extra);
  kinfer_client *c = h2_client((opts){.retries = 2});
  kinfer_request *r = small_request("l8");
  kinfer_error err;
  double t0 = now_s();
  ck_assert_msg(infer(c, s.url, "m", r, 10, &err) == KINFER_OK, "%s", err.message);
  /* the peer answers at once when every PING is acknowledged, else after 3 s */
  ck_assert_msg(now_s() - t0 < 2.5, "took %.3f s", now_s() - t0);
  ck_assert_int_eq(peer_stat(&s, "ping_acks"), 50);
  assert_executions(&s, 1);
  ck_assert_uint_eq(client_stat_connections(c), 1);
  assert_idle(c);
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L9: a TCP reset before the answer (_i 0) or in the middle of it (_i 1);
 * the next call reconnects and succeeds. */
START_TEST(l9_tcp_reset) {
  watchdog(__func__);
  test_server s;
  peer_start(&s, _i ? "l9" : "l9-early", NULL);
  kinfer_client *c = h2_client((opts){.retries = 3});
  kinfer_request *a = small_request("l9-a"), *b = small_request("l9-b");
  kinfer_error err;
  int rc = infer(c, s.url, "m", a, 5, &err);
  if (_i == 0)
    ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc, err.message);
  else /* headers had arrived: cut short */
    ck_assert_msg(rc == KINFER_EBADRESPONSE || rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc,
                  err.message);
  ck_assert_int_eq(err.attempts, 1); /* a POST that may have run is not resent */
  ck_assert_msg(infer(c, s.url, "m", b, 5, &err) == KINFER_OK, "%s", err.message);
  ck_assert_int_eq(err.attempts, 1);
  assert_executions(&s, 2);
  ck_assert_int_eq(peer_stat(&s, "connections"), 2);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 2);
  ck_assert_uint_eq(st.connections_open, 1);
  assert_idle(c);
  kinfer_request_free(a);
  kinfer_request_free(b);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L10: 3 calls on the wire (MAX_CONCURRENT_STREAMS 3) and 5 queued when
 * the connection closes: 8 completions; the 3 sent ones are unknown, the
 * queued ones go to a new connection. */
START_TEST(l10_in_flight_and_queued) {
  watchdog(__func__);
  enum { N = 3, M = 5 };
  test_server s;
  const char *extra[] = {"--max-streams", "3", "--hold", "3", NULL};
  peer_start(&s, "close", extra);
  kinfer_client *c = h2_client((opts){.retries = 3});
  kinfer_cq *q = kinfer_cq_new();
  for (int i = 0; i < N + M; i++) {
    char id[16];
    snprintf(id, sizeof id, "l10-%d", i);
    kinfer_request *r = small_request(id);
    ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "m", NULL, false, 10, q, (uintptr_t)i), KINFER_OK);
    kinfer_request_free(r);
  }
  tally t = drain(q, N + M);
  ck_assert_int_eq(t.unknown, N);
  ck_assert_int_eq(t.ok, M);
  ck_assert_int_eq(t.other, 0);
  ck_assert_int_eq(t.attempts, N + M); /* nothing resent: the queued calls were never
                                         on the lost connection */
  assert_executions(&s, N + M);
  ck_assert_int_eq(peer_stat(&s, "connections"), 2);
  assert_idle(c);
  kinfer_client_close(c);
  kinfer_cq_free(q);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L13: the peer closes (FIN, no GOAWAY) with 3 calls in flight. */
START_TEST(l13_close_without_goaway) {
  watchdog(__func__);
  test_server s;
  const char *extra[] = {"--hold", "3", NULL};
  peer_start(&s, "close", extra);
  kinfer_client *c = h2_client((opts){.retries = 3});
  kinfer_cq *q = kinfer_cq_new();
  for (int i = 0; i < 3; i++) {
    char id[16];
    snprintf(id, sizeof id, "l13-%d", i);
    kinfer_request *r = small_request(id);
    ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "m", NULL, false, 10, q, (uintptr_t)i), KINFER_OK);
    kinfer_request_free(r);
  }
  tally t = drain(q, 3);
  ck_assert_int_eq(t.unknown, 3);
  ck_assert_int_eq(t.attempts, 3); /* none resent */
  kinfer_request *r = small_request("l13-after");
  kinfer_error err;
  ck_assert_msg(infer(c, s.url, "m", r, 5, &err) == KINFER_OK, "%s", err.message);
  assert_executions(&s, 4);
  ck_assert_int_eq(peer_stat(&s, "connections"), 2);
  assert_idle(c);
  kinfer_request_free(r);
  kinfer_client_close(c);
  kinfer_cq_free(q);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L12: the answer cut after k bytes, for every k over its full length. */
START_TEST(l12_cut_after_every_k) {
  watchdog(__func__);
  test_server s;
  peer_start(&s, "cut", NULL);
  long full = peer_stat(&s, "cut_len");
  ck_assert_int_gt(full, 50);
  ck_assert_int_lt(full, 1000);
  kinfer_request *r = small_request(NULL);
  for (long k = 0; k <= full; k++) {
    kinfer_client *c = h2_client((opts){.retries = 2, .timeout = 3});
    char model[32];
    snprintf(model, sizeof model, "cut-%ld", k);
    kinfer_error err;
    double t0 = now_s();
    int rc = infer(c, s.url, model, r, 3, &err);
    double took = now_s() - t0;
    /* never a hang: every cut is noticed long before the deadline */
    ck_assert_msg(took < 2.5, "k=%ld: %.3f s (%d %s)", k, took, rc, err.message);
    if (k == full) {
      ck_assert_msg(rc == KINFER_OK, "k=%ld: %d %s", k, rc, err.message);
    } else {
      /* the request was sent (k = 0 too: a close without a byte is no
       * proof the server ignored it): outcome unknown, or cut short once
       * the response began; never a success made of part of an answer,
       * never resent */
      ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME || rc == KINFER_EBADRESPONSE,
                    "k=%ld: %d %s", k, rc, err.message);
      ck_assert_int_eq(err.attempts, 1);
    }
    assert_idle(c);
    kinfer_client_close(c);
  }
  kinfer_request_free(r);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L16: an 8 MB upload; the peer answers in full after the first DATA frame
 * and resets the stream with NO_ERROR. */
START_TEST(l16_early_response_large_upload) {
  watchdog(__func__);
  test_server s;
  peer_start(&s, "l16", NULL);
  kinfer_client *c = h2_client((opts){.retries = 2});
  kinfer_request *big = big_request(8 << 20), *small = small_request("l16-b");
  kinfer_error err;
  double t0 = now_s();
  ck_assert_msg(infer(c, s.url, "m", big, 10, &err) == KINFER_OK, "%d %s", err.code,
                err.message);
  ck_assert_msg(now_s() - t0 < 5, "took %.3f s", now_s() - t0);
  ck_assert_int_eq(err.attempts, 1);
  /* the upload stopped: at most the 65535-byte stream window went out */
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_msg(st.bytes_sent < (1u << 20), "%llu bytes sent",
                (unsigned long long)st.bytes_sent);
  ck_assert_int_le(peer_stat(&s, "body_bytes"), 65535);
  /* and the connection goes on */
  ck_assert_msg(infer(c, s.url, "m", small, 5, &err) == KINFER_OK, "%s", err.message);
  ck_assert_uint_eq(client_stat_connections(c), 1);
  assert_executions(&s, 2);
  assert_idle(c);
  kinfer_request_free(big);
  kinfer_request_free(small);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* R5: streams 1, 3, 5 open; GOAWAY(last_stream_id 3): 1 and 3 are answered
 * on the old connection, 5 is resent on a new one. */
START_TEST(r5_goaway_below_in_flight) {
  watchdog(__func__);
  test_server s;
  const char *extra[] = {"--hold", "3", NULL};
  peer_start(&s, "r5", extra);
  kinfer_client *c = h2_client((opts){.retries = 3});
  kinfer_cq *q = kinfer_cq_new();
  for (int i = 0; i < 3; i++) {
    char id[16];
    snprintf(id, sizeof id, "r5-%d", i);
    kinfer_request *r = small_request(id);
    ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "m", NULL, false, 10, q, (uintptr_t)i), KINFER_OK);
    kinfer_request_free(r);
  }
  tally t = drain(q, 3);
  ck_assert_int_eq(t.ok, 3);
  ck_assert_int_eq(t.attempts, 4);     /* one call took a second attempt */
  ck_assert_int_eq(t.max_attempts, 2);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.retries, 1);
  ck_assert_uint_eq(st.connections_opened, 2);
  char buf[2048];
  peer_stats(&s, buf, sizeof buf);
  ck_assert_msg(strstr(buf, "\"connections\":2,") && strstr(buf, "\"answers\":[2,1]"), "%s", buf);
  assert_executions(&s, 3);
  assert_idle(c);
  kinfer_client_close(c);
  kinfer_cq_free(q);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* S1-S7: hostile or broken answers, each followed by a good call. */
START_TEST(s_hostile_responses) {
  watchdog(__func__);
  static const struct {
    const char *model;
    int want;
  } cases[] = {
      {"ok", KINFER_OK},
      {"binary_ok", KINFER_OK},
      {"big_body", KINFER_ELIMIT},             /* S1 */
      {"huge_header", KINFER_ELIMIT},          /* S2 */
      {"many_headers", KINFER_ELIMIT},         /* S2 */
      {"deep_array", KINFER_EBADRESPONSE},     /* S3 */
      {"deep_object", KINFER_EBADRESPONSE},
      {"truncated", KINFER_EBADRESPONSE},
      {"trailing_garbage", KINFER_EBADRESPONSE},
      {"bad_utf8_name", KINFER_EBADRESPONSE},
      {"bad_utf8_key", KINFER_EBADRESPONSE},
      {"shape_overflow", KINFER_EBADRESPONSE}, /* S4 */
      {"shape_overflow_bytes", KINFER_EBADRESPONSE},
      {"negative_dim", KINFER_EBADRESPONSE},
      {"count_short", KINFER_EBADRESPONSE},
      {"count_long", KINFER_EBADRESPONSE},
      {"ihcl_too_big", KINFER_EBADRESPONSE},   /* S5 */
      {"ihcl_negative", KINFER_EBADRESPONSE},
      {"ihcl_nan", KINFER_EBADRESPONSE},
      {"binary_beyond", KINFER_EBADRESPONSE},  /* S6 */
      {"bytes_prefix_beyond", KINFER_EBADRESPONSE},
      {"unknown_datatype", KINFER_EBADRESPONSE}, /* S7 */
      {"string_in_int32", KINFER_EBADRESPONSE},
  };
  enum { NCASES = sizeof cases / sizeof cases[0] };
  test_server s;
  peer_start(&s, "canned", NULL);
  kinfer_client *c = h2_client((opts){.retries = 3, .max_response = 128 * 1024, .max_header = 8192});
  kinfer_request *r = small_request(NULL);
  for (int i = 0; i < NCASES; i++) {
    kinfer_error err;
    int rc = infer(c, s.url, cases[i].model, r, 5, &err);
    ck_assert_msg(rc == cases[i].want, "%s: %d (%s), want %d", cases[i].model, rc,
                  err.message, cases[i].want);
    ck_assert_int_eq(err.attempts, 1); /* a bad answer is never retried */
    /* the connection is reused or replaced cleanly: the next call works */
    ck_assert_msg(infer(c, s.url, "ok", r, 5, &err) == KINFER_OK, "after %s: %s",
                  cases[i].model, err.message);
    assert_idle(c);
  }
  long execs = -1, dups = -1;
  ck_assert_int_eq(test_server_executions(&s, &execs, &dups), 0);
  ck_assert_int_eq(execs, 2 * NCASES);
  uint64_t conns = client_stat_connections(c);
  ck_assert_int_eq(peer_stat(&s, "connections"), (long)conns);
  ck_assert_uint_le(conns, 4); /* at most the limit cases cost a connection */
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("h2peer");
  TCase *tc = tcase_create("scripted HTTP/2 faults");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, r11_reset_mid_body);
  tcase_add_test(tc, r12_goaway_calm_every_connection);
  tcase_add_test(tc, l5_zero_window_peer);
  tcase_add_test(tc, l5_zero_window_kinfer_server);
  tcase_add_test(tc, l8_many_pings);
  tcase_add_loop_test(tc, l9_tcp_reset, 0, 2);
  tcase_add_test(tc, l10_in_flight_and_queued);
  tcase_add_test(tc, l13_close_without_goaway);
  tcase_add_test(tc, l12_cut_after_every_k);
  tcase_add_test(tc, l16_early_response_large_upload);
  tcase_add_test(tc, r5_goaway_below_in_flight);
  tcase_add_test(tc, s_hostile_responses);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
