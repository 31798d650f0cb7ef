/*
 * Retries (RELIABILITY.md R1, R3, R4, R6-R10) against kinfer-server's fault
 * options, with the server's execution counter as the oracle for "never an
 * unsafe duplicate".  Each test starts its own server with the fault it
 * needs, so counters start at zero.
 */
#include <check.h>
#include <pthread.h>
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

typedef struct opts {
  bool http2;
  int retries;
  double timeout;
  const int *statuses;
  size_t nstatuses;
  bool idempotent;
} opts;

static kinfer_client *make_client(opts o) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, o.http2);
  kinfer_config_set_retries(cfg, o.retries);
  kinfer_config_set_retry_backoff(cfg, 0.01, 0.1);
  if (o.timeout > 0) kinfer_config_set_timeout(cfg, o.timeout);
  if (o.nstatuses) kinfer_config_set_retry_on_status(cfg, o.statuses, o.nstatuses);
  kinfer_config_set_idempotent(cfg, o.idempotent);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* One add_sub call with request id |id|; returns the status. */
static int call(kinfer_client *c, const char *url, const char *id, kinfer_error *err) {
  int64_t shape[] = {2};
  int32_t a[] = {1, 2}, b[] = {3, 4};
  kinfer_request *r = kinfer_request_new();
  kinfer_request_set_id(r, id);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), a, sizeof a);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), b, sizeof b);
  kinfer_response *out = NULL;
  int rc = kinfer_infer(c, url, r, "add_sub", NULL, NULL, false, KINFER_TIMEOUT_DEFAULT, &out, err);
  if (rc == KINFER_OK) {
    const int32_t *s = kinfer_tensor_data(kinfer_response_output_by_name(out, "OUTPUT0"));
    ck_assert(s[0] == 4 && s[1] == 6); /* never a wrong or partial answer */
  } else {
    ck_assert_ptr_null(out);
  }
  kinfer_response_free(out);
  kinfer_request_free(r);
  return rc;
}

static void assert_executions(const test_server *s, long want, long dups) {
  long e = -1, d = -1;
  ck_assert_int_eq(test_server_executions(s, &e, &d), 0);
  ck_assert_int_eq(e, want);
  ck_assert_int_eq(d, dups);
}

static void assert_idle(kinfer_client *c) {
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
}

START_TEST(r8_status_not_retried_without_opt_in) {
  test_server s;
  const char *args[] = {"--status", "503", "--status-every", "1", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = make_client((opts){.http2 = _i, .retries = 3});
  kinfer_error err;
  ck_assert_int_eq(call(c, s.url, "r8", &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 503);
  ck_assert_int_eq(err.attempts, 1);
  assert_idle(c);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(r9_retry_after_honoured) {
  test_server s;
  const char *args[] = {"--status", "503", "--status-every", "2", "--retry-after", "1", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  const int codes[] = {503};
  kinfer_client *c = make_client((opts){.http2 = _i, .retries = 3, .timeout = 10,
                                        .statuses = codes, .nstatuses = 1});
  kinfer_error err;
  ck_assert_int_eq(call(c, s.url, "r9-a", &err), KINFER_OK); /* 1st request: fine */
  double t0 = now_s();
  ck_assert_msg(call(c, s.url, "r9-b", &err) == KINFER_OK, "%s", err.message); /* 503, then fine */
  double waited = now_s() - t0;
  ck_assert_int_eq(err.attempts, 2);
  ck_assert_msg(waited >= 0.95, "Retry-After: 1 was not honoured (%.3f s)", waited);
  ck_assert_msg(waited < 8, "waited %.3f s", waited);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.retries, 1);
  assert_idle(c);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(r9_retry_after_beyond_deadline_returns_the_answer) {
  test_server s;
  const char *args[] = {"--status", "503", "--status-every", "1", "--retry-after", "30", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  const int codes[] = {503};
  kinfer_client *c = make_client((opts){.http2 = _i, .retries = 5, .timeout = 2,
                                        .statuses = codes, .nstatuses = 1});
  kinfer_error err;
  double t0 = now_s();
  ck_assert_int_eq(call(c, s.url, "r9-c", &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 503);
  ck_assert_int_eq(err.attempts, 1); /* a 30 s wait cannot fit in 2 s */
  ck_assert(now_s() - t0 < 1.5);    /* and no sleeping first */
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(r9_status_retries_bounded) {
  test_server s;
  const char *args[] = {"--status", "503", "--status-every", "1", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  const int codes[] = {502, 503};
  kinfer_client *c = make_client((opts){.http2 = _i, .retries = 2, .timeout = 10,
                                        .statuses = codes, .nstatuses = 2});
  kinfer_error err;
  ck_assert_int_eq(call(c, s.url, "r9-d", &err), KINFER_EHTTP);
  ck_assert_int_eq(err.attempts, 3);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(r3_refused_once_retried) {
  test_server s;
  const char *args[] = {"--refuse-every", "2", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = make_client((opts){.http2 = true, .retries = 3, .timeout = 10});
  kinfer_error err;
  ck_assert_int_eq(call(c, s.url, "r3-a", &err), KINFER_OK);
  ck_assert_int_eq(err.attempts, 1);
  ck_assert_int_eq(call(c, s.url, "r3-b", &err), KINFER_OK); /* refused, then run */
  ck_assert_int_eq(err.attempts, 2);
  assert_executions(&s, 2, 0);
  assert_idle(c);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(r4_refused_every_time) {
  test_server s;
  const char *args[] = {"--refuse-every", "1", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = make_client((opts){.http2 = true, .retries = 4, .timeout = 10});
  kinfer_error err;
  ck_assert_int_eq(call(c, s.url, "r4", &err), KINFER_EREFUSED);
  ck_assert_int_eq(err.attempts, 5);
  ck_assert(kinfer_error_is_retriable(err.code));
  assert_executions(&s, 0, 0);
  assert_idle(c);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* R6/R7: the connection is cut right after the second request's model ran. */
START_TEST(r6_r7_lost_after_sending) {
  for (int idem = 0; idem < 2; idem++) {
    test_server s;
    const char *args[] = {"--drop-after", "2", NULL};
    ck_assert_int_eq(test_server_start(&s, args), 0);
    kinfer_client *c = make_client((opts){.http2 = _i, .retries = 3, .timeout = 10,
                                          .idempotent = idem});
    kinfer_error err;
    ck_assert_int_eq(call(c, s.url, "r6-a", &err), KINFER_OK);
    int rc = call(c, s.url, "r6-b", &err);
    if (!idem) {
      /* it ran once; the client cannot know, and must not resend it */
      ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc, err.message);
      ck_assert_int_eq(err.attempts, 1);
      ck_assert(!kinfer_error_is_retriable(rc));
      assert_executions(&s, 2, 0);
    } else {
      /* declared idempotent: resent on a new connection */
      ck_assert_msg(rc == KINFER_OK, "%d %s", rc, err.message);
      ck_assert_int_eq(err.attempts, 2);
      assert_executions(&s, 3, 1);
    }
    assert_idle(c);
    kinfer_client_close(c);
    ck_assert_int_eq(test_server_stop(&s), 0);
  }
}
END_TEST

/* R7 with the request, not the client, declared idempotent. */
START_TEST(r7_request_declared_idempotent) {
  test_server s;
  const char *args[] = {"--drop-after", "1", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = make_client((opts){.http2 = _i, .retries = 3, .timeout = 10});
  /* The server's reset discards its SETTINGS unread: once the origin is
   * known to speak HTTP/2, a silent close is no reason to try HTTP/1.1. */
  bool live = false;
  ck_assert_int_eq(kinfer_is_server_live(c, s.url, NULL, 10, &live, NULL), KINFER_OK);
  ck_assert(live);
  int64_t shape[] = {1};
  int32_t a = 5, b = 2;
  for (int idem = 0; idem < 2; idem++) {
    kinfer_request *r = kinfer_request_new();
    kinfer_request_set_id(r, idem ? "r7-idem" : "r7-plain");
    ck_assert_int_eq(kinfer_request_set_idempotent(r, idem), KINFER_OK);
    kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), &a, sizeof a);
    kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), &b, sizeof b);
    kinfer_response *out = NULL;
    kinfer_error err;
    int rc = kinfer_infer(c, s.url, r, "add_sub", NULL, NULL, false, KINFER_TIMEOUT_DEFAULT, &out, &err);
    if (idem) {
      /* every connection drops after its first execution: the resend runs
       * on a new connection and its answer is lost again, until retries
       * run out -- but each attempt after the first was allowed */
      ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc, err.message);
      ck_assert_int_eq(err.attempts, 4);
    } else {
      ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc, err.message);
      ck_assert_msg(err.attempts == 1, "%d attempts: %s", err.attempts, err.message);
    }
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  assert_executions(&s, 5, 1);
  assert_idle(c);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* The retry budget: with every stream refused, retries stop when the
 * bucket is empty rather than multiplying the load by retries+1. */
START_TEST(retry_budget_bounds_retries) {
  test_server s;
  const char *args[] = {"--refuse-every", "1", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  kinfer_config_set_retries(cfg, 3);
  kinfer_config_set_retry_backoff(cfg, 0.001, 0.002);
  /* no refill: the bucket's 10 tokens are all there is */
  ck_assert_int_eq(kinfer_config_set_retry_budget(cfg, 0, 0), KINFER_OK);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  int total_attempts = 0;
  kinfer_error err;
  for (int i = 0; i < 6; i++) {
    char id[16];
    snprintf(id, sizeof id, "b%d", i);
    ck_assert_int_eq(call(c, s.url, id, &err), KINFER_EREFUSED);
    total_attempts += err.attempts;
    if (i < 3) ck_assert_int_eq(err.attempts, 4);   /* 3 retries each: 9 tokens */
    if (i == 3) ck_assert_int_eq(err.attempts, 2);  /* the 10th token */
    if (i > 3) {
      ck_assert_int_eq(err.attempts, 1);
      ck_assert_msg(strstr(err.message, "retry budget"), "%s", err.message);
    }
  }
  ck_assert_int_eq(total_attempts, 6 + 10);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.retries, 10);
  assert_executions(&s, 0, 0);
  assert_idle(c);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(r10_every_attempt_hangs) {
  test_server s;
  const char *args[] = {"--delay-ms", "6000", NULL};
  ck_assert_int_eq(test_server_start(&s, args), 0);
  kinfer_client *c = make_client((opts){.http2 = _i, .retries = 5, .timeout = 1});
  kinfer_error err;
  double t0 = now_s();
  ck_assert_int_eq(call(c, s.url, "r10", &err), KINFER_ETIMEOUT);
  double took = now_s() - t0;
  ck_assert_msg(took >= 0.9 && took < 4, "took %.3f s", took);
  ck_assert_int_eq(err.attempts, 1); /* sent, so never resent */
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* R1: nothing listens at first; the server appears while the client backs
 * off, and the call succeeds, run once. */
typedef struct late_start {
  test_server *s;
  char listen[32];
  int rc;
} late_start;

static void *start_later(void *arg) {
  late_start *ls = arg;
  usleep(400 * 1000);
  const char *args[] = {"--listen", ls->listen, NULL};
  ls->rc = test_server_start(ls->s, args);
  return NULL;
}

START_TEST(r1_refused_then_accepted) {
  test_server probe, s;
  ck_assert_int_eq(test_server_start(&probe, NULL), 0);
  int port = probe.port;
  ck_assert_int_eq(test_server_stop(&probe), 0);
  late_start ls = {.s = &s};
  snprintf(ls.listen, sizeof ls.listen, "127.0.0.1:%d", port);
  pthread_t th;
  pthread_create(&th, NULL, start_later, &ls);
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, _i);
  kinfer_config_set_retries(cfg, 20);
  kinfer_config_set_retry_backoff(cfg, 0.05, 0.2);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  kinfer_error err;
  int rc = call(c, url, "r1", &err);
  pthread_join(th, NULL);
  ck_assert_int_eq(ls.rc, 0);
  ck_assert_msg(rc == KINFER_OK, "%s", err.message);
  ck_assert_int_gt(err.attempts, 1);
  assert_executions(&s, 1, 0);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 1); /* no storm of connections */
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("retry");
  TCase *tc = tcase_create("fault matrix R");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, r8_status_not_retried_without_opt_in, 0, 2);
  tcase_add_loop_test(tc, r9_retry_after_honoured, 0, 2);
  tcase_add_loop_test(tc, r9_retry_after_beyond_deadline_returns_the_answer, 0, 2);
  tcase_add_loop_test(tc, r9_status_retries_bounded, 0, 2);
  tcase_add_test(tc, r3_refused_once_retried);
  tcase_add_test(tc, r4_refused_every_time);
  tcase_add_loop_test(tc, r6_r7_lost_after_sending, 0, 2);
  tcase_add_loop_test(tc, r10_every_attempt_hangs, 0, 2);
  tcase_add_loop_test(tc, r7_request_declared_idempotent, 0, 2);
  tcase_add_test(tc, retry_budget_bounds_retries);
  tcase_add_loop_test(tc, r1_refused_then_accepted, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
