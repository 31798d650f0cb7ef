/*
 * End to end against kinfer-server: every call of the first API slice over
 * HTTP/1.1 and over HTTP/2 (h2c prior knowledge).  Loop index 0 = HTTP/1.1,
 * 1 = HTTP/2.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

static test_server S;

static void start_server(void) {
  ck_assert_int_eq(test_server_start(&S, NULL), 0);
}

static void stop_server(void) {
  ck_assert_int_eq(test_server_stop(&S), 0);
}

static kinfer_client *client_for(const char *proto, bool http2) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, proto);
  kinfer_config_set_http2(cfg, http2);
  kinfer_config_set_timeout(cfg, 20);
  kinfer_error err;
  kinfer_client *c = kinfer_client_new(cfg, &err);
  kinfer_config_free(cfg);
  ck_assert_msg(c != NULL, "%s", err.message);
  return c;
}

static void assert_one_protocol(kinfer_client *c, bool http2) {
  kinfer_stats st;
  ck_assert_int_eq(kinfer_client_stats(c, &st), KINFER_OK);
  if (http2) {
    ck_assert_uint_gt(st.h2_requests, 0);
    ck_assert_uint_eq(st.h1_requests, 0);
  } else {
    ck_assert_uint_gt(st.h1_requests, 0);
    ck_assert_uint_eq(st.h2_requests, 0);
  }
}

START_TEST(test_health) {
  bool h2 = _i;
  kinfer_client *c = client_for("v2", h2);
  kinfer_error err;
  bool b = false;
  ck_assert_int_eq(kinfer_is_server_live(c, S.url, NULL, KINFER_TIMEOUT_DEFAULT, &b, &err), KINFER_OK);
  ck_assert(b);
  b = false;
  ck_assert_int_eq(kinfer_is_server_ready(c, S.url, NULL, KINFER_TIMEOUT_DEFAULT, &b, &err), KINFER_OK);
  ck_assert(b);
  b = false;
  ck_assert_int_eq(kinfer_is_model_ready(c, S.url, "echo", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  b = true;
  ck_assert_int_eq(kinfer_is_model_ready(c, S.url, "not_ready", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  b = true;
  ck_assert_int_eq(kinfer_is_model_ready(c, S.url, "nope", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  assert_one_protocol(c, h2);
  kinfer_client_close(c);

  c = client_for("v1", h2);
  b = false;
  ck_assert_int_eq(kinfer_is_server_live(c, S.url, NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  ck_assert_int_eq(kinfer_is_model_ready(c, S.url, "echo", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  ck_assert_int_eq(kinfer_is_model_ready(c, S.url, "not_ready", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  ck_assert_int_eq(kinfer_is_model_ready(c, S.url, "nope", NULL, 5, &b, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 404);
  kinfer_client_close(c);
}
END_TEST

/* Sends one input through the echo model and checks it comes back intact. */
static void echo_roundtrip(kinfer_client *c, kinfer_datatype dt, const void *data,
                           size_t nbytes, const int64_t *shape, size_t ndim,
                           bool binary_in, bool binary_out) {
  kinfer_request *r = kinfer_request_new();
  kinfer_input *in = kinfer_request_add_input(r, "x", dt, shape, ndim);
  ck_assert_ptr_nonnull(in);
  ck_assert_int_eq(kinfer_input_set_data(in, data, nbytes), KINFER_OK);
  kinfer_input_set_binary(in, binary_in);
  kinfer_request_set_binary_outputs(r, binary_out);
  kinfer_response *out = NULL;
  kinfer_error err;
  int rc = kinfer_infer(c, S.url, r, "echo", NULL, NULL, false, KINFER_TIMEOUT_DEFAULT, &out, &err);
  ck_assert_msg(rc == KINFER_OK, "%s %s: %s", kinfer_datatype_name(dt),
                binary_in ? "binary" : "json", err.message);
  ck_assert_int_eq(kinfer_response_status(out), 200);
  ck_assert_str_eq(kinfer_response_model_name(out), "echo");
  ck_assert_uint_eq(kinfer_response_output_count(out), 1);
  const kinfer_tensor *t = kinfer_response_output_by_name(out, "output-0");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(kinfer_tensor_datatype(t), dt);
  ck_assert_uint_eq(kinfer_tensor_ndim(t), ndim);
  for (size_t i = 0; i < ndim; i++) ck_assert_int_eq(kinfer_tensor_shape(t)[i], shape[i]);
  ck_assert_uint_eq(kinfer_tensor_nbytes(t), nbytes);
  ck_assert_msg(memcmp(kinfer_tensor_data(t), data, nbytes) == 0, "%s data differs",
                kinfer_datatype_name(dt));
  kinfer_response_free(out);
  kinfer_request_free(r);
}

START_TEST(test_echo_every_numeric_type) {
  bool h2 = _i;
  kinfer_client *c = client_for("v2", h2);
  int64_t s4[] = {2, 2}, s3[] = {3}, s5[] = {5};
  int32_t i32[] = {1, 2, 3, 4};
  echo_roundtrip(c, KINFER_INT32, i32, sizeof i32, s4, 2, false, false);
  int8_t i8[] = {-128, 0, 127};
  echo_roundtrip(c, KINFER_INT8, i8, sizeof i8, s3, 1, false, false);
  uint8_t u8[] = {0, 1, 255};
  echo_roundtrip(c, KINFER_UINT8, u8, sizeof u8, s3, 1, false, false);
  int16_t i16[] = {-32768, 1, 32767};
  echo_roundtrip(c, KINFER_INT16, i16, sizeof i16, s3, 1, false, false);
  uint16_t u16[] = {0, 1, 65535};
  echo_roundtrip(c, KINFER_UINT16, u16, sizeof u16, s3, 1, false, false);
  uint32_t u32[] = {0, 1, 4294967295u};
  echo_roundtrip(c, KINFER_UINT32, u32, sizeof u32, s3, 1, false, false);
  int64_t i64[] = {INT64_MIN, -1, INT64_MAX};
  echo_roundtrip(c, KINFER_INT64, i64, sizeof i64, s3, 1, false, false);
  uint64_t u64[] = {0, 1ull << 53 | 1, UINT64_MAX};
  echo_roundtrip(c, KINFER_UINT64, u64, sizeof u64, s3, 1, false, false);
  float f32[] = {0.1f, -0.0f, FLT_MAX, FLT_MIN, 1e-45f};
  echo_roundtrip(c, KINFER_FP32, f32, sizeof f32, s5, 1, false, false);
  double f64[] = {0.1, -2.5e-308, DBL_MAX, 4.9e-324, 1.0 / 3};
  echo_roundtrip(c, KINFER_FP64, f64, sizeof f64, s5, 1, false, false);
  uint8_t bools[] = {1, 0, 1};
  echo_roundtrip(c, KINFER_BOOL, bools, sizeof bools, s3, 1, false, false);
  /* binary tensor extension, both ways */
  echo_roundtrip(c, KINFER_FP32, f32, sizeof f32, s5, 1, true, true);
  echo_roundtrip(c, KINFER_INT64, i64, sizeof i64, s3, 1, true, false);
  echo_roundtrip(c, KINFER_UINT64, u64, sizeof u64, s3, 1, false, true);
  assert_one_protocol(c, h2);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_add_sub) {
  kinfer_client *c = client_for("v2", _i);
  int64_t shape[] = {1, 16};
  int32_t a[16], b[16];
  float fa[16], fb[16];
  for (int i = 0; i < 16; i++) {
    a[i] = i * 1000 - 7;
    b[i] = 3 - i;
    fa[i] = (float)i * 0.25f;
    fb[i] = 1.5f;
  }
  for (int fp = 0; fp < 2; fp++) {
    kinfer_request *r = kinfer_request_new();
    kinfer_datatype dt = fp ? KINFER_FP32 : KINFER_INT32;
    kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", dt, shape, 2), fp ? (void *)fa : (void *)a, sizeof a);
    kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", dt, shape, 2), fp ? (void *)fb : (void *)b, sizeof b);
    kinfer_response *out = NULL;
    kinfer_error err;
    int rc = kinfer_infer(c, S.url, r, "add_sub", NULL, NULL, false, 10, &out, &err);
    ck_assert_msg(rc == KINFER_OK, "%s", err.message);
    const kinfer_tensor *sum = kinfer_response_output_by_name(out, "OUTPUT0");
    const kinfer_tensor *diff = kinfer_response_output_by_name(out, "OUTPUT1");
    ck_assert_ptr_nonnull(sum);
    ck_assert_ptr_nonnull(diff);
    ck_assert_uint_eq(kinfer_tensor_element_count(sum), 16);
    for (int i = 0; i < 16; i++) {
      if (fp) {
        ck_assert(((const float *)kinfer_tensor_data(sum))[i] == fa[i] + fb[i]);
        ck_assert(((const float *)kinfer_tensor_data(diff))[i] == fa[i] - fb[i]);
      } else {
        ck_assert_int_eq(((const int32_t *)kinfer_tensor_data(sum))[i], a[i] + b[i]);
        ck_assert_int_eq(((const int32_t *)kinfer_tensor_data(diff))[i], a[i] - b[i]);
      }
    }
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_id_and_parameters) {
  kinfer_client *c = client_for("v2", _i);
  kinfer_request *r = kinfer_request_new();
  kinfer_request_set_id(r, "req-77");
  kinfer_params_set_string(kinfer_request_parameters(r), "trace", "abc");
  int64_t shape[] = {1};
  kinfer_input *in = kinfer_request_add_input(r, "x", KINFER_INT32, shape, 1);
  int32_t v = 5;
  kinfer_input_set_data(in, &v, sizeof v);
  kinfer_params_set_int(kinfer_input_parameters(in), "scale", 3);
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_int_eq(kinfer_infer(c, S.url, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_OK);
  ck_assert_str_eq(kinfer_response_id(out), "req-77");
  const char *s = NULL;
  ck_assert_int_eq(kinfer_params_get_string(kinfer_response_parameters(out), "trace", &s), KINFER_OK);
  ck_assert_str_eq(s, "abc");
  int64_t scale = 0;
  ck_assert_int_eq(kinfer_params_get_int(kinfer_tensor_parameters(kinfer_response_output(out, 0)), "scale", &scale), KINFER_OK);
  ck_assert_int_eq(scale, 3);
  kinfer_response_free(out);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_json_form_and_response_headers) {
  kinfer_client *c = client_for("v2", _i);
  const char *j = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"INT32\",\"data\":[[1,2],[3,4]]}]}";
  kinfer_error err;
  kinfer_request *r = kinfer_request_from_json(j, strlen(j), &err);
  ck_assert_ptr_nonnull(r);
  kinfer_headers *rh = kinfer_headers_new();
  kinfer_response *out = NULL;
  ck_assert_int_eq(kinfer_infer(c, S.url, r, "echo", NULL, rh, false, 10, &out, &err), KINFER_OK);
  const kinfer_tensor *t = kinfer_response_output(out, 0);
  const int32_t *d = kinfer_tensor_data(t);
  ck_assert(d[0] == 1 && d[1] == 2 && d[2] == 3 && d[3] == 4);
  ck_assert_ptr_nonnull(kinfer_headers_get(rh, "content-type"));
  for (size_t i = 0; i < kinfer_headers_count(rh); i++)
    for (const char *p = kinfer_headers_name(rh, i); *p; p++)
      ck_assert_msg(!(*p >= 'A' && *p <= 'Z'), "header names are lower-cased");
  kinfer_response_free(out);
  kinfer_headers_free(rh);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_server_errors) {
  kinfer_client *c = client_for("v2", _i);
  kinfer_error err;
  kinfer_response *out = NULL;
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {1};
  int32_t v = 1;
  kinfer_input_set_data(kinfer_request_add_input(r, "x", KINFER_INT32, shape, 1), &v, sizeof v);
  ck_assert_int_eq(kinfer_infer(c, S.url, r, "nope", NULL, NULL, false, 10, &out, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 404);
  char want[256];
  snprintf(want, sizeof want, "Model with name nope does not exist., '404 Not Found' for url '%s/v2/models/nope/infer'", S.url);
  ck_assert_str_eq(err.message, want);
  ck_assert_ptr_null(out);
  ck_assert_int_eq(kinfer_infer(c, S.url, r, "not_ready", NULL, NULL, false, 10, &out, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 503);
  kinfer_request_free(r);

  /* malformed input reaches the server as a JSON form and is refused there */
  const char *bad[] = {
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"INT32\",\"data\":[1,2]}]}",
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[\"a\"]}]}",
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[-1],\"datatype\":\"INT32\",\"data\":[]}]}",
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT33\",\"data\":[1]}]}",
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[300]}]}",
      "{\"inputs\":7}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = kinfer_request_from_json(bad[i], strlen(bad[i]), &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(kinfer_infer(c, S.url, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_EHTTP);
    ck_assert_msg(err.http_status == 400, "case %zu: %d %s", i, err.http_status, err.message);
    kinfer_request_free(r);
  }
  /* a tensor whose data does not match its shape is refused before sending */
  kinfer_stats before, after;
  kinfer_client_stats(c, &before);
  r = kinfer_request_new();
  int64_t s2[] = {2};
  kinfer_input_set_data(kinfer_request_add_input(r, "x", KINFER_INT32, s2, 1), &v, sizeof v);
  ck_assert_int_eq(kinfer_infer(c, S.url, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_EINPUT);
  kinfer_client_stats(c, &after);
  ck_assert_uint_eq(after.bytes_sent, before.bytes_sent);
  kinfer_request_free(r);
  /* the server is still fine */
  bool live = false;
  ck_assert_int_eq(kinfer_is_server_live(c, S.url, NULL, 5, &live, &err), KINFER_OK);
  ck_assert(live);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_v1_predict_and_explain) {
  kinfer_client *c = client_for("v1", _i);
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {2, 3};
  double d[] = {1, 2, 3, 4, 5, 6.5};
  kinfer_input_set_data(kinfer_request_add_input(r, "x", KINFER_FP64, shape, 2), d, sizeof d);
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_int_eq(kinfer_infer(c, S.url, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_OK);
  const kinfer_tensor *t = kinfer_response_output_by_name(out, "predictions");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_FP64);
  ck_assert_uint_eq(kinfer_tensor_ndim(t), 2);
  ck_assert_int_eq(kinfer_tensor_shape(t)[0], 2);
  ck_assert_int_eq(kinfer_tensor_shape(t)[1], 3);
  ck_assert(memcmp(kinfer_tensor_data(t), d, sizeof d) == 0);
  kinfer_response_free(out);
  ck_assert_int_eq(kinfer_explain(c, S.url, "echo", r, NULL, 10, &out, &err), KINFER_OK);
  size_t n = 0;
  const char *j = kinfer_response_json(out, &n);
  ck_assert_ptr_nonnull(j);
  ck_assert_ptr_nonnull(memmem(j, n, "predictions", 11));
  kinfer_response_free(out);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_connection_reuse) {
  bool h2 = _i;
  kinfer_client *c = client_for("v2", h2);
  kinfer_error err;
  for (int i = 0; i < 50; i++) {
    bool b = false;
    ck_assert_int_eq(kinfer_is_server_live(c, S.url, NULL, 5, &b, &err), KINFER_OK);
    ck_assert(b);
  }
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.requests, 50);
  ck_assert_uint_eq(st.successes, 50);
  ck_assert_uint_eq(st.failures, 0);
  ck_assert_uint_eq(st.connections_opened, 1);
  ck_assert_uint_eq(st.connections_open, 1);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
  ck_assert_uint_gt(st.bytes_sent, 0);
  ck_assert_uint_gt(st.bytes_received, 0);
  kinfer_client_close(c);
}
END_TEST

typedef struct worker {
  kinfer_client *c;
  int id, calls, failures;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  int64_t shape[] = {1, 16};
  for (int n = 0; n < w->calls; n++) {
    int32_t a[16], b[16];
    for (int i = 0; i < 16; i++) {
      a[i] = w->id * 100000 + n * 100 + i;
      b[i] = i;
    }
    kinfer_request *r = kinfer_request_new();
    kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 2), a, sizeof a);
    kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 2), b, sizeof b);
    kinfer_response *out = NULL;
    kinfer_error err;
    int rc = kinfer_infer(w->c, S.url, r, "add_sub", NULL, NULL, false, 20, &out, &err);
    const kinfer_tensor *t = rc ? NULL : kinfer_response_output_by_name(out, "OUTPUT0");
    if (!t || kinfer_tensor_element_count(t) != 16) {
      w->failures++;
    } else {
      for (int i = 0; i < 16; i++)
        if (((const int32_t *)kinfer_tensor_data(t))[i] != a[i] + b[i]) {
          w->failures++;
          break;
        }
    }
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  return NULL;
}

START_TEST(test_threads_share_one_client) {
  bool h2 = _i;
  kinfer_client *c = client_for("v2", h2);
  enum { N = 8, CALLS = 40 };
  pthread_t th[N];
  worker w[N];
  for (int i = 0; i < N; i++) {
    w[i] = (worker){c, i, CALLS, 0};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  int failures = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    failures += w[i].failures;
  }
  ck_assert_int_eq(failures, 0);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.successes, N * CALLS);
  if (h2)
    ck_assert_uint_eq(st.connections_opened, 1); /* all streams on one connection */
  else
    ck_assert_uint_le(st.connections_opened, 8); /* the keep-alive pool bound */
  ck_assert_uint_eq(st.streams_in_flight, 0);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_connection_refused) {
  /* a port that was just free: nothing listens there */
  test_server tmp;
  ck_assert_int_eq(test_server_start(&tmp, NULL), 0);
  char url[96];
  snprintf(url, sizeof url, "%s", tmp.url);
  ck_assert_int_eq(test_server_stop(&tmp), 0);
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, _i);
  kinfer_config_set_retries(cfg, 2);
  kinfer_config_set_retry_backoff(cfg, 0.01, 0.05);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  bool b = true;
  kinfer_error err;
  ck_assert_int_eq(kinfer_is_server_live(c, url, NULL, 10, &b, &err), KINFER_ECONNECT);
  ck_assert_int_eq(err.attempts, 3);
  ck_assert(kinfer_error_is_retriable(err.code));
  kinfer_client_close(c);
}
END_TEST

/* Path-based routing: the server answers only under /serving/ns (as a
 * gateway routing by path would); the base URL's path is kept, joined with
 * one '/', and its query string is kept. */
START_TEST(test_path_based_routing) {
  test_server gw;
  const char *args[] = {"--path-prefix", "/serving/ns", NULL};
  ck_assert_int_eq(test_server_start(&gw, args), 0);
  const char *suffixes[] = {"/serving/ns", "/serving/ns/", "/serving/ns?tenant=a"};
  for (size_t i = 0; i < 3; i++) {
    char base[160];
    snprintf(base, sizeof base, "%s%s", gw.url, suffixes[i]);
    kinfer_client *c = client_for("v2", _i);
    kinfer_error err;
    bool b = false;
    ck_assert_msg(kinfer_is_server_live(c, base, NULL, 5, &b, &err) == KINFER_OK, "%s: %s", base, err.message);
    ck_assert(b);
    b = false;
    ck_assert_int_eq(kinfer_is_server_ready(c, base, NULL, 5, &b, &err), KINFER_OK);
    ck_assert(b);
    b = false;
    ck_assert_int_eq(kinfer_is_model_ready(c, base, "echo", NULL, 5, &b, &err), KINFER_OK);
    ck_assert(b);
    int64_t shape[] = {2};
    int32_t v[] = {7, 8};
    kinfer_request *r = kinfer_request_new();
    kinfer_input_set_data(kinfer_request_add_input(r, "x", KINFER_INT32, shape, 1), v, sizeof v);
    kinfer_response *out = NULL;
    ck_assert_msg(kinfer_infer(c, base, r, "echo", NULL, NULL, false, 5, &out, &err) == KINFER_OK, "%s", err.message);
    ck_assert(memcmp(kinfer_tensor_data(kinfer_response_output(out, 0)), v, sizeof v) == 0);
    kinfer_response_free(out);
    kinfer_client_close(c);
    c = client_for("v1", _i);
    b = false;
    ck_assert_int_eq(kinfer_is_server_live(c, base, NULL, 5, &b, &err), KINFER_OK);
    ck_assert(b);
    ck_assert_int_eq(kinfer_infer(c, base, r, "echo", NULL, NULL, false, 5, &out, &err), KINFER_OK);
    ck_assert_ptr_nonnull(kinfer_response_output_by_name(out, "predictions"));
    kinfer_response_free(out);
    kinfer_request_free(r);
    kinfer_client_close(c);
  }
  /* without the path the server has nothing there */
  kinfer_client *c = client_for("v2", _i);
  bool b;
  kinfer_error err;
  ck_assert_int_eq(kinfer_is_server_live(c, gw.url, NULL, 5, &b, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 404);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&gw), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("basic");
  TCase *tc = tcase_create("kinfer-server");
  tcase_add_unchecked_fixture(tc, start_server, stop_server);
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_health, 0, 2);
  tcase_add_loop_test(tc, test_echo_every_numeric_type, 0, 2);
  tcase_add_loop_test(tc, test_add_sub, 0, 2);
  tcase_add_loop_test(tc, test_id_and_parameters, 0, 2);
  tcase_add_loop_test(tc, test_json_form_and_response_headers, 0, 2);
  tcase_add_loop_test(tc, test_server_errors, 0, 2);
  tcase_add_loop_test(tc, test_v1_predict_and_explain, 0, 2);
  tcase_add_loop_test(tc, test_connection_reuse, 0, 2);
  tcase_add_loop_test(tc, test_threads_share_one_client, 0, 2);
  tcase_add_loop_test(tc, test_connection_refused, 0, 2);
  tcase_add_loop_test(tc, test_path_based_routing, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
