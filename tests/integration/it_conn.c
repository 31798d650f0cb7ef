/*
 * Connection lifecycle (RELIABILITY.md L-rows) against kinfer-server:
 * keepalive PINGs find a black-holed connection (L7), idle connections with
 * keepalive on keep working, many concurrent calls over one connection
 * with a small stream limit (L3).
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static kinfer_client *h2_client(double ka_interval, double ka_timeout) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  kinfer_config_set_retries(cfg, 2);
  kinfer_config_set_retry_backoff(cfg, 0.01, 0.05);
  kinfer_config_set_keepalive(cfg, ka_interval, ka_timeout);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

static kinfer_request *add_sub_request(void) {
  int64_t shape[] = {1};
  int32_t a = 2, b = 3;
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), &a, sizeof a);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), &b, sizeof b);
  return r;
}

typedef struct outcome {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, status;
  double at;
} outcome;

static void on_done(void *ud, int status, kinfer_response *resp, const kinfer_error *err) {
  outcome *o = ud;
  kinfer_response_free(resp);
  pthread_mutex_lock(&o->mu);
  o->done++;
  o->status = status;
  o->at = now_s();
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

START_TEST(l7_ping_finds_black_hole) {
  test_server s;
  const char *args[] = {"--delay-ms", "3000", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = h2_client(0.2, 0.3);
  outcome o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
  kinfer_request *r = add_sub_request();
  ck_assert_int_eq(kinfer_infer_async(c, s.url, r, "add_sub", NULL, false, 30, on_done, &o), KINFER_OK);
  usleep(150 * 1000);            /* the request is on the wire */
  ck_assert_int_eq(kill(s.pid, SIGSTOP), 0);
  double t0 = now_s();
  pthread_mutex_lock(&o.mu);
  while (!o.done) pthread_cond_wait(&o.cv, &o.mu);
  pthread_mutex_unlock(&o.mu);
  kill(s.pid, SIGCONT);
  /* sent, then the connection went silent: outcome unknown, found by PING
   * long before the 30 s call timeout or the 60 s read timeout */
  ck_assert_int_eq(o.status, KINFER_EUNKNOWN_OUTCOME);
  ck_assert_msg(o.at - t0 < 5, "took %.3f s to notice", o.at - t0);
  /* a healthy connection returns */
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_msg(kinfer_infer(c, s.url, r, "add_sub", NULL, NULL, false, 30, &out, &err) == KINFER_OK,
                "%s", err.message);
  kinfer_response_free(out);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 2);
  ck_assert_uint_eq(st.connections_open, 1);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(keepalive_idle_connection_stays) {
  test_server s;
  ck_assert_int_eq(test_server_start(&s, NULL), 0);
  kinfer_client *c = h2_client(0.05, 1);
  kinfer_request *r = add_sub_request();
  kinfer_response *out = NULL;
  kinfer_error err;
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(kinfer_infer(c, s.url, r, "add_sub", NULL, NULL, false, 10, &out, &err), KINFER_OK);
    kinfer_response_free(out);
    usleep(300 * 1000); /* several PING rounds while idle */
  }
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 1); /* PINGs answered: never dropped */
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* Submits |n| calls at once to a server taking |limit| streams: all must
 * succeed on one connection, never more than |limit| streams open, none
 * refused (the client waits for the server's SETTINGS). */
static void stream_limit(int n, const char *limit, const char *delay_ms) {
  test_server s;
  const char *args[] = {"--max-streams", limit, "--delay-ms", delay_ms, NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = h2_client(30, 10);
  kinfer_cq *q = kinfer_cq_new();
  kinfer_request *r = add_sub_request();
  for (int i = 0; i < n; i++)
    ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "add_sub", NULL, false, 30, q, (uintptr_t)i), KINFER_OK);
  int ok = 0;
  uint64_t max_streams = 0;
  for (int got = 0; got < n;) {
    kinfer_stats st;
    kinfer_client_stats(c, &st);
    if (st.streams_in_flight > max_streams) max_streams = st.streams_in_flight;
    kinfer_completion comp[16];
    int k = kinfer_cq_next(q, comp, 16, 0.005);
    for (int i = 0; i < k; i++) {
      ok += comp[i].status == KINFER_OK;
      kinfer_response_free(comp[i].resp);
    }
    got += k;
  }
  ck_assert_int_eq(ok, n);
  ck_assert_uint_le(max_streams, (uint64_t)atoi(limit));
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 1);
  ck_assert_uint_eq(st.retries, 0); /* nothing was refused */
  kinfer_request_free(r);
  kinfer_cq_free(q);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}

/* L3: MAX_CONCURRENT_STREAMS 1 and 10 concurrent calls. */
START_TEST(l3_one_stream_at_a_time) { stream_limit(10, "1", "20"); }
END_TEST

/* L4: 200 calls submitted before the server's SETTINGS arrive, limit 5. */
START_TEST(l4_calls_before_settings) { stream_limit(200, "5", "1"); }
END_TEST

/* Drains |n| completions from |q|; returns how many had |status|. */
static int drain(kinfer_cq *q, int n, int status) {
  int hits = 0;
  for (int got = 0; got < n;) {
    kinfer_completion comp[16];
    int k = kinfer_cq_next(q, comp, 16, 5);
    ck_assert_int_gt(k, 0);
    for (int i = 0; i < k; i++) {
      hits += comp[i].status == status;
      kinfer_response_free(comp[i].resp);
    }
    got += k;
  }
  return hits;
}

/* The wait queue is bounded: with one stream busy and two requests
 * waiting, further calls fail at once with KINFER_ELIMIT instead of
 * queueing; the queued ones still complete. */
START_TEST(bounded_wait_queue) {
  test_server s;
  const char *args[] = {"--max-streams", "1", "--delay-ms", "400", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  ck_assert_int_eq(kinfer_config_set_max_queued(cfg, 2), KINFER_OK);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  bool live = false;
  ck_assert_int_eq(kinfer_is_server_live(c, s.url, NULL, 10, &live, NULL), KINFER_OK);
  ck_assert(live); /* connected, the server's SETTINGS known */
  kinfer_cq *q = kinfer_cq_new();
  kinfer_request *r = add_sub_request();
  ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "add_sub", NULL, false, 30, q, 0), KINFER_OK);
  usleep(100 * 1000); /* on the connection, its model running */
  for (int i = 1; i <= 4; i++)
    ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "add_sub", NULL, false, 30, q, (uintptr_t)i), KINFER_OK);
  /* two refused at once, long before the first answer */
  double t0 = now_s();
  ck_assert_int_eq(drain(q, 2, KINFER_ELIMIT), 2);
  ck_assert_msg(now_s() - t0 < 0.3, "ELIMIT took %.3f s", now_s() - t0);
  ck_assert_int_eq(drain(q, 3, KINFER_OK), 3);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.requests_queued, 0);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  long e = -1, d = -1;
  ck_assert_int_eq(test_server_executions(&s, &e, &d), 0);
  ck_assert_int_eq(e, 3);
  kinfer_request_free(r);
  kinfer_cq_free(q);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* More HTTP/2 connections when configured: every connection takes one
 * stream, so 4 concurrent calls open 4 connections with 4 allowed, and
 * share 1 by default. */
START_TEST(h2_connections_when_streams_run_out) {
  for (unsigned max = 1; max <= 4; max += 3) {
    test_server s;
    const char *args[] = {"--max-streams", "1", "--delay-ms", "200", NULL};
    ck_assert_int_eq(test_server_start(&s, args), 0);
    kinfer_config *cfg = kinfer_config_new();
    kinfer_config_set_protocol(cfg, "v2");
    kinfer_config_set_http2(cfg, true);
    ck_assert_int_eq(kinfer_config_set_max_h2_connections(cfg, max), KINFER_OK);
    kinfer_client *c = kinfer_client_new(cfg, NULL);
    kinfer_config_free(cfg);
    ck_assert_ptr_nonnull(c);
    bool live = false;
    ck_assert_int_eq(kinfer_is_server_live(c, s.url, NULL, 10, &live, NULL), KINFER_OK);
    ck_assert(live);
    kinfer_cq *q = kinfer_cq_new();
    kinfer_request *r = add_sub_request();
    for (int i = 0; i < 4; i++)
      ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "add_sub", NULL, false, 30, q, (uintptr_t)i), KINFER_OK);
    ck_assert_int_eq(drain(q, 4, KINFER_OK), 4);
    kinfer_stats st;
    kinfer_client_stats(c, &st);
    ck_assert_uint_eq(st.connections_opened, max);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.streams_in_flight, 0);
    kinfer_request_free(r);
    kinfer_cq_free(q);
    kinfer_client_close(c);
    ck_assert_int_eq(test_server_stop(&s), 0);
  }
}
END_TEST

/* Small receive windows still carry a large answer whole (the client
 * returns WINDOW_UPDATEs as it reads). */
START_TEST(h2_small_windows_large_answer) {
  test_server s;
  ck_assert_int_eq(test_server_start(&s, NULL), 0);
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  ck_assert_int_eq(kinfer_config_set_h2_windows(cfg, 65535, 65535), KINFER_OK);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  size_t n = 1 << 20;
  float *v = malloc(n * sizeof *v);
  ck_assert_ptr_nonnull(v);
  for (size_t i = 0; i < n; i++) v[i] = (float)i * 0.5f;
  int64_t shape[] = {(int64_t)n};
  kinfer_request *r = kinfer_request_new();
  kinfer_input *in = kinfer_request_add_input(r, "INPUT0", KINFER_FP32, shape, 1);
  kinfer_input_set_data(in, v, n * sizeof *v);
  kinfer_input_set_binary(in, true);
  kinfer_request_set_binary_outputs(r, true);
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_msg(kinfer_infer(c, s.url, r, "echo", NULL, NULL, false, 30, &out, &err) == KINFER_OK,
                "%s", err.message);
  const kinfer_tensor *t = kinfer_response_output(out, 0);
  ck_assert_uint_eq(kinfer_tensor_nbytes(t), n * sizeof *v);
  ck_assert(memcmp(kinfer_tensor_data(t), v, n * sizeof *v) == 0);
  kinfer_response_free(out);
  kinfer_request_free(r);
  free(v);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* L1/L2: the server drains every connection with a two-phase GOAWAY after
 * 50 streams (nginx does so after 1000); 50 callers keep calling.  No caller
 * sees an error, nothing runs twice, and connections are replaced one at a
 * time, not one per request. */
START_TEST(l1_l2_goaway_under_load) {
  enum { CALLERS = 50, EACH = 20, TOTAL = CALLERS * EACH };
  test_server s;
  const char *args[] = {"--goaway-after", "50", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = h2_client(30, 10);
  kinfer_cq *q = kinfer_cq_new();
  kinfer_request *r = add_sub_request();
  int in_flight = 0, ok = 0, done = 0, submitted = 0;
  char id[32];
  while (done < TOTAL) {
    /* keep CALLERS calls in flight, each with its own request id */
    while (in_flight < CALLERS && submitted < TOTAL) {
      snprintf(id, sizeof id, "l2-%d", submitted);
      kinfer_request_set_id(r, id);
      ck_assert_int_eq(kinfer_infer_cq(c, s.url, r, "add_sub", NULL, false, 30, q, (uintptr_t)submitted), KINFER_OK);
      submitted++;
      in_flight++;
    }
    kinfer_completion comp[64];
    int k = kinfer_cq_next(q, comp, 64, 30);
    ck_assert_int_gt(k, 0);
    for (int i = 0; i < k; i++) {
      ck_assert_msg(comp[i].status == KINFER_OK, "call %lu: %s", (unsigned long)comp[i].tag,
                    comp[i].err.message);
      ok++;
      kinfer_response_free(comp[i].resp);
    }
    in_flight -= k;
    done += k;
  }
  ck_assert_int_eq(ok, TOTAL);
  long execs = 0, dups = -1;
  ck_assert_int_eq(test_server_executions(&s, &execs, &dups), 0);
  ck_assert_int_eq(execs, TOTAL); /* every call ran exactly once */
  ck_assert_int_eq(dups, 0);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  /* connections were drained and replaced (a connection may finish more
   * than 50 streams: those opened before the final GOAWAY complete), one
   * at a time, never anything like one per request */
  ck_assert_uint_gt(st.connections_opened, 1);
  ck_assert_uint_le(st.connections_opened, TOTAL / 50 * 2);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  kinfer_request_free(r);
  kinfer_cq_free(q);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("connections");
  TCase *tc = tcase_create("lifecycle");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, l7_ping_finds_black_hole);
  tcase_add_test(tc, keepalive_idle_connection_stays);
  tcase_add_test(tc, l3_one_stream_at_a_time);
  tcase_add_test(tc, l4_calls_before_settings);
  tcase_add_test(tc, l1_l2_goaway_under_load);
  tcase_add_test(tc, bounded_wait_queue);
  tcase_add_test(tc, h2_connections_when_streams_run_out);
  tcase_add_test(tc, h2_small_windows_large_answer);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
