/*
 * One client shared by 32 threads making 2,000 calls each, mixing
 * synchronous inference, callbacks, a completion queue and health checks,
 * every answer checked.  Run under ThreadSanitizer in CI.
 * Loop index: 0 = HTTP/1.1, 1 = HTTP/2.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

enum { THREADS = 32, CALLS = 2000, WINDOW = 8 };

static test_server S;
static kinfer_client *C;

static void start_server(void) { ck_assert_int_eq(test_server_start(&S, NULL), 0); }
static void stop_server(void) { ck_assert_int_eq(test_server_stop(&S), 0); }

/* add_sub on {id, n} + {n, 1}: the sum tells which call it answers. */
static kinfer_request *make(int id, int n) {
  int64_t shape[] = {2};
  int32_t a[2] = {id, n}, b[2] = {n, 1};
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), a, sizeof a);
  kinfer_input *in = kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1);
  kinfer_input_set_data(in, b, sizeof b);
  kinfer_input_set_binary(in, (n & 1) != 0);
  return r;
}

static bool right(const kinfer_response *resp, int id, int n) {
  const kinfer_tensor *t = kinfer_response_output_by_name(resp, "OUTPUT0");
  if (!t || kinfer_tensor_element_count(t) != 2) return false;
  int32_t v[2];
  memcpy(v, kinfer_tensor_data(t), sizeof v);
  return v[0] == id + n && v[1] == n + 1;
}

typedef struct worker {
  int id;
  atomic_int good, bad, pending; /* async answers arrive on another thread */
  kinfer_cq *q;
} worker;

typedef struct async_job {
  worker *w;
  int n;
} async_job;

static void on_done(void *ud, int status, kinfer_response *resp, const kinfer_error *err) {
  async_job *j = ud;
  if (status == KINFER_OK && right(resp, j->w->id, j->n))
    atomic_fetch_add(&j->w->good, 1);
  else
    atomic_fetch_add(&j->w->bad, 1);
  atomic_fetch_sub(&j->w->pending, 1);
  kinfer_response_free(resp);
  free(j);
}

/* Takes completions until at most |keep| calls are outstanding. */
static void drain_cq(worker *w, int *outstanding, int keep) {
  kinfer_completion comp[WINDOW];
  while (*outstanding > keep) {
    int k = kinfer_cq_next(w->q, comp, WINDOW, 30);
    if (k <= 0) {
      w->bad += *outstanding;
      *outstanding = 0;
      return;
    }
    for (int i = 0; i < k; i++) {
      int n = (int)comp[i].tag;
      if (comp[i].status == KINFER_OK && right(comp[i].resp, w->id, n))
        atomic_fetch_add(&w->good, 1);
      else
        atomic_fetch_add(&w->bad, 1);
      kinfer_response_free(comp[i].resp);
    }
    *outstanding -= k;
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  w->q = kinfer_cq_new();
  int cq_outstanding = 0;
  for (int n = 0; n < CALLS; n++) {
    kinfer_error err;
    switch ((n + w->id) % 4) {
    case 0: { /* synchronous */
      kinfer_request *r = make(w->id, n);
      kinfer_response *out = NULL;
      if (kinfer_infer(C, S.url, r, "add_sub", NULL, NULL, false, 30, &out, &err) == KINFER_OK &&
          right(out, w->id, n))
        atomic_fetch_add(&w->good, 1);
      else
        atomic_fetch_add(&w->bad, 1);
      kinfer_response_free(out);
      kinfer_request_free(r);
      break;
    }
    case 1: { /* callback */
      async_job *j = malloc(sizeof *j);
      *j = (async_job){w, n};
      kinfer_request *r = make(w->id, n);
      atomic_fetch_add(&w->pending, 1);
      if (kinfer_infer_async(C, S.url, r, "add_sub", NULL, false, 30, on_done, j) != KINFER_OK) {
        atomic_fetch_sub(&w->pending, 1);
        atomic_fetch_add(&w->bad, 1);
        free(j);
      }
      kinfer_request_free(r);
      break;
    }
    case 2: { /* completion queue, a few in flight */
      kinfer_request *r = make(w->id, n);
      if (kinfer_infer_cq(C, S.url, r, "add_sub", NULL, false, 30, w->q, (uintptr_t)n) == KINFER_OK)
        cq_outstanding++;
      else
        atomic_fetch_add(&w->bad, 1);
      kinfer_request_free(r);
      drain_cq(w, &cq_outstanding, WINDOW);
      break;
    }
    default: { /* health */
      bool b = false;
      if ((n & 4 ? kinfer_is_server_live(C, S.url, NULL, 30, &b, &err)
                 : kinfer_is_model_ready(C, S.url, "add_sub", NULL, 30, &b, &err)) == KINFER_OK && b)
        atomic_fetch_add(&w->good, 1);
      else
        atomic_fetch_add(&w->bad, 1);
      break;
    }
    }
  }
  drain_cq(w, &cq_outstanding, 0);
  return NULL;
}

START_TEST(test_32_threads_one_client) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, _i);
  C = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(C);
  static worker w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].id = i * 100000;
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  /* callbacks may still be running: wait for every one */
  for (int i = 0; i < THREADS; i++)
    while (atomic_load(&w[i].pending) > 0) sched_yield();
  long good = 0, bad = 0;
  for (int i = 0; i < THREADS; i++) {
    good += atomic_load(&w[i].good);
    bad += atomic_load(&w[i].bad);
    kinfer_cq_free(w[i].q);
  }
  ck_assert_int_eq(bad, 0);
  ck_assert_int_eq(good, (long)THREADS * CALLS);
  kinfer_stats st;
  kinfer_client_stats(C, &st);
  ck_assert_uint_eq(st.successes, (uint64_t)THREADS * CALLS);
  ck_assert_uint_eq(st.failures, 0);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
  if (_i) ck_assert_uint_eq(st.connections_opened, 1);
  kinfer_client_close(C);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("kinfer-server");
  tcase_add_unchecked_fixture(tc, start_server, stop_server);
  tcase_set_timeout(tc, 900);
  tcase_add_loop_test(tc, test_32_threads_one_client, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
