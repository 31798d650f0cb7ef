/*
 * Asynchronous calls and completion queues against kinfer-server: every
 * accepted call completes exactly once, requests may be freed right after
 * submission, closing the client cancels what is in flight.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

static test_server S;      /* answers at once */
static test_server SLOW;   /* every model run takes 1 s */

static void start_servers(void) {
  ck_assert_int_eq(test_server_start(&S, NULL), 0);
  const char *slow[] = {"--delay-ms", "1000", NULL};
  ck_assert_int_eq(test_server_start(&SLOW, slow), 0);
}

static void stop_servers(void) {
  ck_assert_int_eq(test_server_stop(&S), 0);
  ck_assert_int_eq(test_server_stop(&SLOW), 0);
}

static kinfer_client *client_for(bool http2) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, http2);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* add_sub with INPUT0 = {n, n+1, n+2, n+3}, INPUT1 = 1. */
static kinfer_request *make_request(int n) {
  int64_t shape[] = {4};
  int32_t a[4] = {n, n + 1, n + 2, n + 3}, b[4] = {1, 1, 1, 1};
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), a, sizeof a);
  kinfer_input *in = kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1);
  kinfer_input_set_data(in, b, sizeof b);
  kinfer_input_set_binary(in, n % 2 == 0); /* half of them binary */
  return r;
}

static bool check_sum(const kinfer_response *resp, int n) {
  const kinfer_tensor *t = kinfer_response_output_by_name(resp, "OUTPUT0");
  if (!t || kinfer_tensor_element_count(t) != 4) return false;
  const int32_t *v = kinfer_tensor_data(t);
  return v[0] == n + 1 && v[3] == n + 4;
}

typedef struct tally {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, ok, bad, cancelled;
  unsigned char *seen; /* how often each call completed */
  pthread_t main_thread;
  bool on_main_thread;
} tally;

typedef struct job {
  tally *t;
  int n;
} job;

static void on_done(void *ud, int status, kinfer_response *resp, const kinfer_error *err) {
  job *j = ud;
  tally *t = j->t;
  pthread_mutex_lock(&t->mu);
  t->seen[j->n]++;
  if (pthread_equal(pthread_self(), t->main_thread)) t->on_main_thread = true;
  if (status == KINFER_OK && check_sum(resp, j->n))
    t->ok++;
  else if (status == KINFER_ECANCELLED && !resp && err->code == KINFER_ECANCELLED)
    t->cancelled++;
  else
    t->bad++;
  t->done++;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  kinfer_response_free(resp);
}

static void tally_init(tally *t, int n) {
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  t->seen = calloc((size_t)n, 1);
  t->main_thread = pthread_self();
}

static void tally_wait(tally *t, int n) {
  pthread_mutex_lock(&t->mu);
  while (t->done < n) pthread_cond_wait(&t->cv, &t->mu);
  pthread_mutex_unlock(&t->mu);
}

static void tally_free(tally *t) {
  free(t->seen);
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
}

START_TEST(test_callbacks_exactly_once) {
  enum { N = 300 };
  kinfer_client *c = client_for(_i);
  tally t;
  tally_init(&t, N);
  job jobs[N];
  for (int n = 0; n < N; n++) {
    jobs[n] = (job){&t, n};
    kinfer_request *r = make_request(n);
    ck_assert_int_eq(kinfer_infer_async(c, S.url, r, "add_sub", NULL, false, 20, on_done, &jobs[n]), KINFER_OK);
    kinfer_request_free(r); /* allowed: nothing borrowed */
  }
  tally_wait(&t, N);
  ck_assert_int_eq(t.ok, N);
  ck_assert_int_eq(t.bad, 0);
  ck_assert(!t.on_main_thread);
  for (int n = 0; n < N; n++) ck_assert_int_eq(t.seen[n], 1);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.successes, N);
  if (_i) ck_assert_uint_eq(st.connections_opened, 1);
  kinfer_client_close(c);
  tally_free(&t);
}
END_TEST

START_TEST(test_rejected_calls_never_call_back) {
  kinfer_client *c = client_for(_i);
  tally t;
  tally_init(&t, 1);
  job j = {&t, 0};
  kinfer_request *r = make_request(0);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, r, NULL, NULL, false, 5, on_done, &j), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer_async(c, "localhost:1", r, "m", NULL, false, 5, on_done, &j), KINFER_EURL);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, r, "m", NULL, false, -3, on_done, &j), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, r, "m", NULL, false, 5, NULL, &j), KINFER_EINVAL);
  kinfer_request *bad = kinfer_request_new();
  int64_t shape[] = {3};
  int32_t v = 1;
  kinfer_input_set_data(kinfer_request_add_input(bad, "x", KINFER_INT32, shape, 1), &v, sizeof v);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, bad, "echo", NULL, false, 5, on_done, &j), KINFER_EINPUT);
  kinfer_request_free(bad);
  kinfer_request_free(r);
  kinfer_client_close(c);
  ck_assert_int_eq(t.done, 0);
  tally_free(&t);
}
END_TEST

START_TEST(test_close_cancels_in_flight) {
  enum { N = 20 };
  kinfer_client *c = client_for(_i);
  tally t;
  tally_init(&t, N);
  job jobs[N];
  for (int n = 0; n < N; n++) {
    jobs[n] = (job){&t, n};
    kinfer_request *r = make_request(n);
    ck_assert_int_eq(kinfer_infer_async(c, SLOW.url, r, "add_sub", NULL, false, 30, on_done, &jobs[n]), KINFER_OK);
    kinfer_request_free(r);
  }
  usleep(100 * 1000); /* let them reach the server */
  kinfer_client_close(c); /* returns after every callback ran */
  ck_assert_int_eq(t.done, N);
  ck_assert_int_eq(t.cancelled, N);
  for (int n = 0; n < N; n++) ck_assert_int_eq(t.seen[n], 1);
  tally_free(&t);
}
END_TEST

START_TEST(test_completion_queue) {
  enum { N = 200 };
  kinfer_client *c = client_for(_i);
  kinfer_cq *q = kinfer_cq_new();
  kinfer_completion got[16];
  ck_assert_int_eq(kinfer_cq_next(q, got, 16, 0), 0); /* empty: no wait */
  for (int n = 0; n < N; n++) {
    kinfer_request *r = make_request(n);
    ck_assert_int_eq(kinfer_infer_cq(c, S.url, r, "add_sub", NULL, false, 20, q, (uintptr_t)n + 1000), KINFER_OK);
    kinfer_request_free(r);
  }
  unsigned char seen[N] = {0};
  int total = 0, batches = 0;
  while (total < N) {
    int k = kinfer_cq_next(q, got, 16, 10);
    ck_assert_int_gt(k, 0);
    ck_assert_int_le(k, 16);
    batches++;
    for (int i = 0; i < k; i++) {
      int n = (int)got[i].tag - 1000;
      ck_assert(n >= 0 && n < N);
      ck_assert_msg(got[i].status == KINFER_OK, "%s", got[i].err.message);
      ck_assert(check_sum(got[i].resp, n));
      seen[n]++;
      kinfer_response_free(got[i].resp);
    }
    total += k;
  }
  for (int n = 0; n < N; n++) ck_assert_int_eq(seen[n], 1);
  ck_assert_int_eq(kinfer_cq_next(q, got, 16, 0.05), 0); /* nothing more */
  ck_assert_int_eq(kinfer_cq_next(q, got, 0, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_cq_next(NULL, got, 1, 0), KINFER_EINVAL);
  kinfer_client_close(c);
  kinfer_cq_free(q);
}
END_TEST

static void *wake_later(void *q) {
  usleep(100 * 1000);
  kinfer_cq_wakeup(q);
  return NULL;
}

START_TEST(test_cq_wakeup_and_errors) {
  kinfer_cq *q = kinfer_cq_new();
  pthread_t th;
  pthread_create(&th, NULL, wake_later, q);
  kinfer_completion got[4];
  ck_assert_int_eq(kinfer_cq_next(q, got, 4, KINFER_TIMEOUT_NONE), 0); /* woken */
  pthread_join(th, NULL);
  /* an HTTP error arrives as a completion with its details */
  kinfer_client *c = client_for(false);
  kinfer_request *r = make_request(1);
  ck_assert_int_eq(kinfer_infer_cq(c, S.url, r, "nope", NULL, false, 10, q, 7), KINFER_OK);
  kinfer_request_free(r);
  ck_assert_int_eq(kinfer_cq_next(q, got, 4, 10), 1);
  ck_assert_uint_eq(got[0].tag, 7);
  ck_assert_int_eq(got[0].status, KINFER_EHTTP);
  ck_assert_int_eq(got[0].err.http_status, 404);
  ck_assert_ptr_nonnull(strstr(got[0].err.message, "Model with name nope does not exist."));
  ck_assert_ptr_null(got[0].resp);
  /* completions nobody took are freed with the queue */
  r = make_request(2);
  ck_assert_int_eq(kinfer_infer_cq(c, S.url, r, "add_sub", NULL, false, 10, q, 8), KINFER_OK);
  kinfer_request_free(r);
  kinfer_client_close(c);
  kinfer_cq_free(q);
}
END_TEST

/* A callback that chains a second call from the completion thread. */
typedef struct chain {
  kinfer_client *c;
  tally *t;
  job second;
} chain;

static void on_first(void *ud, int status, kinfer_response *resp, const kinfer_error *err) {
  chain *ch = ud;
  kinfer_response_free(resp);
  kinfer_request *r = make_request(5);
  int rc = kinfer_infer_async(ch->c, S.url, r, "add_sub", NULL, false, 10, on_done, &ch->second);
  kinfer_request_free(r);
  if (rc) on_done(&ch->second, rc, NULL, err);
}

START_TEST(test_callback_may_submit) {
  kinfer_client *c = client_for(_i);
  tally t;
  tally_init(&t, 6);
  chain ch = {c, &t, {&t, 5}};
  kinfer_request *r = make_request(1);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, r, "add_sub", NULL, false, 10, on_first, &ch), KINFER_OK);
  kinfer_request_free(r);
  tally_wait(&t, 1);
  ck_assert_int_eq(t.ok, 1);
  kinfer_client_close(c);
  tally_free(&t);
}
END_TEST

START_TEST(test_borrowed_input_async) {
  kinfer_client *c = client_for(_i);
  tally t;
  tally_init(&t, 10);
  job j = {&t, 9};
  int64_t shape[] = {4};
  static int32_t a[4] = {9, 10, 11, 12}, b[4] = {1, 1, 1, 1};
  kinfer_request *r = kinfer_request_new();
  kinfer_input *in0 = kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1);
  kinfer_input_borrow_data(in0, a, sizeof a);
  kinfer_input_set_binary(in0, true);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), b, sizeof b);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, r, "add_sub", NULL, false, 10, on_done, &j), KINFER_OK);
  kinfer_request_free(r); /* the borrowed buffer `a` stays valid */
  tally_wait(&t, 1);
  ck_assert_int_eq(t.ok, 1);
  kinfer_client_close(c);
  tally_free(&t);
}
END_TEST

/* L6: one consumer slow to take its completions (a completion queue left
 * undrained, a callback that blocks) does not hold up the others: their
 * calls keep completing meanwhile, and nothing of the slow one is lost. */
typedef struct blocker {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool entered, release;
  int status;
} blocker;

static void blocking_cb(void *ud, int status, kinfer_response *resp,
                        const kinfer_error *err) {
  (void)err;
  blocker *b = ud;
  kinfer_response_free(resp);
  pthread_mutex_lock(&b->mu);
  b->entered = true;
  b->status = status;
  pthread_cond_broadcast(&b->cv);
  while (!b->release) pthread_cond_wait(&b->cv, &b->mu);
  pthread_mutex_unlock(&b->mu);
}

START_TEST(test_slow_consumer_others_flow) {
  kinfer_client *c = client_for(_i);
  /* a callback that blocks the completion thread */
  blocker b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0};
  kinfer_request *r0 = make_request(0);
  ck_assert_int_eq(kinfer_infer_async(c, S.url, r0, "add_sub", NULL, false, 30, blocking_cb, &b),
                   KINFER_OK);
  kinfer_request_free(r0);
  pthread_mutex_lock(&b.mu);
  while (!b.entered) pthread_cond_wait(&b.cv, &b.mu);
  pthread_mutex_unlock(&b.mu);
  ck_assert_int_eq(b.status, KINFER_OK);
  /* a completion queue nobody drains yet */
  kinfer_cq *slow = kinfer_cq_new(), *fast = kinfer_cq_new();
  enum { SLOW_N = 100, FAST_N = 300 };
  for (int i = 0; i < SLOW_N; i++) {
    kinfer_request *r = make_request(i);
    ck_assert_int_eq(kinfer_infer_cq(c, S.url, r, "add_sub", NULL, false, 30, slow, (uintptr_t)i),
                     KINFER_OK);
    kinfer_request_free(r);
  }
  /* meanwhile the others: blocking calls and another queue, all complete */
  for (int i = 0; i < 20; i++) {
    kinfer_request *r = make_request(i);
    kinfer_response *out = NULL;
    kinfer_error err;
    ck_assert_msg(kinfer_infer(c, S.url, r, "add_sub", NULL, NULL, false, 10, &out, &err) == KINFER_OK,
                  "%s", err.message);
    ck_assert(check_sum(out, i));
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  int got = 0;
  for (int i = 0; i < FAST_N; i++) {
    kinfer_request *r = make_request(i);
    ck_assert_int_eq(kinfer_infer_cq(c, S.url, r, "add_sub", NULL, false, 30, fast, (uintptr_t)i),
                     KINFER_OK);
    kinfer_request_free(r);
  }
  while (got < FAST_N) {
    kinfer_completion comp[32];
    int k = kinfer_cq_next(fast, comp, 32, 10);
    ck_assert_int_gt(k, 0); /* never stuck behind the slow consumers */
    for (int j = 0; j < k; j++) {
      ck_assert_int_eq(comp[j].status, KINFER_OK);
      ck_assert(check_sum(comp[j].resp, (int)comp[j].tag));
      kinfer_response_free(comp[j].resp);
    }
    got += k;
  }
  /* the slow ones lost nothing */
  pthread_mutex_lock(&b.mu);
  b.release = true;
  pthread_cond_broadcast(&b.cv);
  pthread_mutex_unlock(&b.mu);
  got = 0;
  while (got < SLOW_N) {
    kinfer_completion comp[32];
    int k = kinfer_cq_next(slow, comp, 32, 10);
    ck_assert_int_gt(k, 0);
    for (int j = 0; j < k; j++) {
      ck_assert_int_eq(comp[j].status, KINFER_OK);
      ck_assert(check_sum(comp[j].resp, (int)comp[j].tag));
      kinfer_response_free(comp[j].resp);
    }
    got += k;
  }
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
  kinfer_client_close(c);
  kinfer_cq_free(slow);
  kinfer_cq_free(fast);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("async");
  TCase *tc = tcase_create("kinfer-server");
  tcase_add_unchecked_fixture(tc, start_servers, stop_servers);
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_callbacks_exactly_once, 0, 2);
  tcase_add_loop_test(tc, test_rejected_calls_never_call_back, 0, 2);
  tcase_add_loop_test(tc, test_close_cancels_in_flight, 0, 2);
  tcase_add_loop_test(tc, test_completion_queue, 0, 2);
  tcase_add_test(tc, test_cq_wakeup_and_errors);
  tcase_add_loop_test(tc, test_callback_may_submit, 0, 2);
  tcase_add_loop_test(tc, test_borrowed_input_async, 0, 2);
  tcase_add_loop_test(tc, test_slow_consumer_others_flow, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
