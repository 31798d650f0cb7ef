/*
 * Parity: the behaviours KServe's own client tests cover, run against
 * kinfer-server AND against KServe's Python model server
 * (tests/peers/kserve_server.py, serving an `echo` and a `not_ready` model
 * like kinfer-server's).  Loop index: 0 = kinfer-server, 1 = KServe.
 * Where the two servers answer differently, the test says why.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

static test_server PEERS[2];

static void start_peers(void) {
  ck_assert_int_eq(test_server_start(&PEERS[0], NULL), 0);
  char script[512];
  snprintf(script, sizeof script, "%s/tests/peers/kserve_server.py", getenv("KINFER_SOURCE_DIR"));
  const char *argv[] = {"python3", script, NULL};
  ck_assert_msg(test_peer_start(&PEERS[1], argv, 90) == 0,
                "KServe's model server did not start (pip install kserve)");
}

static void stop_peers(void) {
  ck_assert_int_eq(test_server_stop(&PEERS[0]), 0);
  test_server_stop(&PEERS[1]); /* uvicorn's exit status on SIGTERM is its own */
}

static kinfer_client *client_for(const char *proto, bool http2) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, proto);
  kinfer_config_set_http2(cfg, http2);
  kinfer_config_set_timeout(cfg, 20);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

#define URL (PEERS[_i].url)

START_TEST(test_server_health) {
  kinfer_client *v1 = client_for("v1", false), *v2 = client_for("v2", false);
  kinfer_error err;
  bool b = false;
  ck_assert_int_eq(kinfer_is_server_live(v1, URL, NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  b = false;
  ck_assert_int_eq(kinfer_is_server_live(v2, URL, NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  b = false;
  ck_assert_int_eq(kinfer_is_server_ready(v2, URL, NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  ck_assert_int_eq(kinfer_is_server_ready(v1, URL, NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  kinfer_client_close(v1);
  kinfer_client_close(v2);
}
END_TEST

START_TEST(test_model_ready) {
  kinfer_client *v1 = client_for("v1", false), *v2 = client_for("v2", false);
  kinfer_error err;
  bool b = false;
  ck_assert_int_eq(kinfer_is_model_ready(v1, URL, "echo", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  b = false;
  ck_assert_int_eq(kinfer_is_model_ready(v2, URL, "echo", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  b = true;
  ck_assert_int_eq(kinfer_is_model_ready(v1, URL, "not_ready", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  b = true;
  ck_assert_int_eq(kinfer_is_model_ready(v2, URL, "not_ready", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  kinfer_client_close(v1);
  kinfer_client_close(v2);
}
END_TEST

static kinfer_request *json_req(const char *j) {
  kinfer_error err;
  kinfer_request *r = kinfer_request_from_json(j, strlen(j), &err);
  ck_assert_msg(r != NULL, "%s", err.message);
  return r;
}

static void assert_json_is(const kinfer_response *resp, const char *want) {
  size_t n;
  const char *j = kinfer_response_json(resp, &n);
  /* both servers print compact JSON */
  ck_assert_msg(n == strlen(want) && memcmp(j, want, n) == 0, "got %.*s", (int)n, j);
}

START_TEST(test_v1_infer_and_explain) {
  kinfer_client *c = client_for("v1", false);
  kinfer_error err;
  kinfer_response *out = NULL;
  kinfer_request *r = json_req("{\"instances\":[[1,2],[3,4]]}");
  ck_assert_msg(kinfer_infer(c, URL, r, "echo", NULL, NULL, false, 10, &out, &err) == KINFER_OK, "%s", err.message);
  assert_json_is(out, "{\"predictions\":[[1,2],[3,4]]}");
  const kinfer_tensor *t = kinfer_response_output_by_name(out, "predictions");
  ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_INT64);
  ck_assert_int_eq(((const int64_t *)kinfer_tensor_data(t))[3], 4);
  kinfer_response_free(out);
  ck_assert_int_eq(kinfer_explain(c, URL, "echo", r, NULL, 10, &out, &err), KINFER_OK);
  assert_json_is(out, "{\"predictions\":[[1,2],[3,4]]}");
  kinfer_response_free(out);
  kinfer_request_free(r);
  /* a tensor request becomes {"instances": ...} */
  r = kinfer_request_new();
  int64_t shape[] = {2, 2};
  int64_t v[] = {5, 6, 7, 8};
  kinfer_input_set_data(kinfer_request_add_input(r, "x", KINFER_INT64, shape, 2), v, sizeof v);
  ck_assert_int_eq(kinfer_infer(c, URL, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_OK);
  assert_json_is(out, "{\"predictions\":[[5,6],[7,8]]}");
  kinfer_response_free(out);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_v2_infer_json_form) {
  kinfer_client *c = client_for("v2", false);
  kinfer_error err;
  kinfer_response *out = NULL;
  kinfer_request *r = json_req("{\"id\":\"r1\",\"parameters\":{\"t\":\"a\"},\"inputs\":[{\"name\":\"x\","
                               "\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1.5,2,3,4]}]}");
  ck_assert_msg(kinfer_infer(c, URL, r, "echo", NULL, NULL, false, 10, &out, &err) == KINFER_OK, "%s", err.message);
  ck_assert_str_eq(kinfer_response_model_name(out), "echo");
  ck_assert_str_eq(kinfer_response_id(out), "r1");
  const char *s = NULL;
  ck_assert_int_eq(kinfer_params_get_string(kinfer_response_parameters(out), "t", &s), KINFER_OK);
  ck_assert_str_eq(s, "a");
  const kinfer_tensor *t = kinfer_response_output_by_name(out, "output-0");
  ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_FP32);
  ck_assert_int_eq(kinfer_tensor_shape(t)[0], 2);
  ck_assert(((const float *)kinfer_tensor_data(t))[0] == 1.5f);
  kinfer_response_free(out);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

/* Tensor request, JSON or binary inputs, JSON or binary outputs. */
START_TEST(test_v2_tensors_binary) {
  kinfer_client *c = client_for("v2", false);
  for (int mode = 0; mode < 4; mode++) {
    bool bin_in = mode & 1, bin_out = mode & 2;
    kinfer_request *r = kinfer_request_new();
    int64_t shape[] = {1, 3};
    float f[] = {0.1f, -2.5f, 1e30f};
    int64_t i64[] = {INT64_MIN, 0, INT64_MAX};
    kinfer_input *a = kinfer_request_add_input(r, "a", KINFER_FP32, shape, 2);
    kinfer_input *b = kinfer_request_add_input(r, "b", KINFER_INT64, shape, 2);
    kinfer_input_set_data(a, f, sizeof f);
    kinfer_input_set_data(b, i64, sizeof i64);
    kinfer_input_set_binary(a, bin_in);
    kinfer_input_set_binary(b, bin_in);
    kinfer_request_set_binary_outputs(r, bin_out);
    kinfer_response *out = NULL;
    kinfer_error err;
    int rc = kinfer_infer(c, URL, r, "echo", NULL, NULL, false, 10, &out, &err);
    ck_assert_msg(rc == KINFER_OK, "mode %d: %s", mode, err.message);
    const kinfer_tensor *ta = kinfer_response_output_by_name(out, "output-0");
    const kinfer_tensor *tb = kinfer_response_output_by_name(out, "output-1");
    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(tb);
    ck_assert_uint_eq(kinfer_tensor_nbytes(ta), sizeof f);
    ck_assert(memcmp(kinfer_tensor_data(ta), f, sizeof f) == 0);
    ck_assert(memcmp(kinfer_tensor_data(tb), i64, sizeof i64) == 0);
    kinfer_response_free(out);
    kinfer_request_free(r);
  }
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_graph_endpoint) {
  /* a graph endpoint is the URL itself; here a V2 infer URL stands in */
  kinfer_client *c = client_for("v1", false); /* protocol does not matter */
  char url[160];
  snprintf(url, sizeof url, "%s/v2/models/echo/infer", URL);
  kinfer_request *r = json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[9]}]}");
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_int_eq(kinfer_infer(c, url, r, NULL, NULL, NULL, true, 10, &out, &err), KINFER_OK);
  const kinfer_tensor *t = kinfer_response_output(out, 0);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(((const int32_t *)kinfer_tensor_data(t))[0], 9);
  kinfer_response_free(out);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_errors) {
  kinfer_client *c = client_for("v2", false);
  kinfer_request *r = json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1]}]}");
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_int_eq(kinfer_infer(c, URL, r, "nope", NULL, NULL, false, 10, &out, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 404);
  char want[200];
  snprintf(want, sizeof want, "Model with name nope does not exist., '404 Not Found' for url '%s/v2/models/nope/infer'", URL);
  ck_assert_str_eq(err.message, want);
  ck_assert_int_eq(kinfer_infer(c, URL, r, "not_ready", NULL, NULL, false, 10, &out, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 503);
  ck_assert_ptr_nonnull(strstr(err.message, "not_ready"));
  kinfer_request_free(r);
  /* shape and data disagree: kinfer-server validates and answers 400;
   * KServe's server fails inside numpy and answers 500.  Both are errors
   * carrying the server's message. */
  r = json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"INT32\",\"data\":[1,2]}]}");
  ck_assert_int_eq(kinfer_infer(c, URL, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, _i == 0 ? 400 : 500);
  kinfer_request_free(r);
  /* client-side checks, the same whatever the server */
  r = json_req("{}");
  ck_assert_int_eq(kinfer_infer(c, URL, r, NULL, NULL, NULL, false, 10, &out, &err), KINFER_EINVAL);
  ck_assert_str_eq(err.message, "model_name should not be 'None'");
  char noscheme[96];
  snprintf(noscheme, sizeof noscheme, "127.0.0.1:%d", PEERS[_i].port);
  ck_assert_int_eq(kinfer_infer(c, noscheme, r, "echo", NULL, NULL, false, 10, &out, &err), KINFER_EURL);
  ck_assert_str_eq(err.message, "Base url should have 'http://' or 'https://' protocol");
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_unsupported_protocol_everywhere) {
  kinfer_client *c = client_for("v3", false);
  kinfer_request *r = json_req("{}");
  kinfer_response *out = NULL;
  kinfer_error err;
  bool b;
  ck_assert_int_eq(kinfer_infer(c, URL, r, "echo", NULL, NULL, false, 5, &out, &err), KINFER_EUNSUPPORTED);
  ck_assert_str_eq(err.message, "Unsupported protocol v3.");
  ck_assert_int_eq(kinfer_explain(c, URL, "echo", r, NULL, 5, &out, &err), KINFER_EUNSUPPORTED);
  ck_assert_int_eq(kinfer_is_server_ready(c, URL, NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  ck_assert_int_eq(kinfer_is_server_live(c, URL, NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  ck_assert_int_eq(kinfer_is_model_ready(c, URL, "echo", NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.bytes_sent, 0);
  kinfer_request_free(r);
  kinfer_client_close(c);
}
END_TEST

START_TEST(test_http2_on_either_server) {
  /* kinfer-server speaks h2c; KServe's (uvicorn) speaks only HTTP/1.1, so
   * the client falls back to it and remembers that for the origin. */
  kinfer_client *c = client_for("v2", true);
  kinfer_error err;
  for (int i = 0; i < 3; i++) {
    bool b = false;
    ck_assert_msg(kinfer_is_server_live(c, URL, NULL, 10, &b, &err) == KINFER_OK, "%s", err.message);
    ck_assert(b);
  }
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  if (_i == 0) {
    ck_assert_uint_eq(st.h2_requests, 3);
    ck_assert_uint_eq(st.h1_requests, 0);
  } else {
    ck_assert_uint_eq(st.h1_requests, 3);
  }
  kinfer_client_close(c);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("parity");
  TCase *tc = tcase_create("kinfer-server and KServe");
  tcase_add_unchecked_fixture(tc, start_peers, stop_peers);
  tcase_set_timeout(tc, 180);
  tcase_add_loop_test(tc, test_server_health, 0, 2);
  tcase_add_loop_test(tc, test_model_ready, 0, 2);
  tcase_add_loop_test(tc, test_v1_infer_and_explain, 0, 2);
  tcase_add_loop_test(tc, test_v2_infer_json_form, 0, 2);
  tcase_add_loop_test(tc, test_v2_tensors_binary, 0, 2);
  tcase_add_loop_test(tc, test_graph_endpoint, 0, 2);
  tcase_add_loop_test(tc, test_errors, 0, 2);
  tcase_add_loop_test(tc, test_unsupported_protocol_everywhere, 0, 2);
  tcase_add_loop_test(tc, test_http2_on_either_server, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
