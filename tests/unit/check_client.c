/*
 * The client's rules (URLs, headers, health answers, HTTP errors), driven
 * through a custom transport that records each request and plays back a
 * scripted answer: no network involved.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinfer/kinfer.h>
#include "check_main.h"

typedef struct mock {
  /* what the client sent */
  int calls;
  char method[16];
  char url[512];
  kinfer_headers *sent;
  char body[4096];
  size_t body_len;
  /* what to answer */
  int status;
  const char *answer;
  const char *answer_ctype;
  const char *answer_header; /* "Name: value" */
  int fail_with;             /* a transport error instead of an answer */
} mock;

static int mock_rt(void *ud, const kinfer_transport_request *req,
                   kinfer_transport_response *resp, kinfer_error *err) {
  mock *m = ud;
  m->calls++;
  snprintf(m->method, sizeof m->method, "%s", kinfer_transport_request_method(req));
  snprintf(m->url, sizeof m->url, "%s", kinfer_transport_request_url(req));
  const kinfer_headers *h = kinfer_transport_request_headers(req);
  kinfer_headers_clear(m->sent);
  for (size_t i = 0; i < kinfer_headers_count(h); i++)
    kinfer_headers_add(m->sent, kinfer_headers_name(h, i), kinfer_headers_value(h, i));
  size_t len = 0;
  const void *b = kinfer_transport_request_body(req, &len);
  m->body_len = len < sizeof m->body ? len : sizeof m->body - 1;
  if (b) memcpy(m->body, b, m->body_len);
  m->body[m->body_len] = 0;
  if (m->fail_with) {
    snprintf(err->message, sizeof err->message, "mock transport failure");
    return m->fail_with;
  }
  kinfer_transport_response_set_status(resp, m->status);
  if (m->answer_ctype)
    kinfer_headers_add(kinfer_transport_response_headers(resp), "Content-Type", m->answer_ctype);
  if (m->answer_header) {
    char name[64];
    const char *colon = strchr(m->answer_header, ':');
    snprintf(name, sizeof name, "%.*s", (int)(colon - m->answer_header), m->answer_header);
    kinfer_headers_add(kinfer_transport_response_headers(resp), name, colon + 2);
  }
  if (m->answer) kinfer_transport_response_set_body(resp, m->answer, strlen(m->answer));
  return KINFER_OK;
}

static mock M;
static kinfer_client *C;

static void setup_proto(const char *proto) {
  memset(&M, 0, sizeof M);
  M.sent = kinfer_headers_new();
  M.status = 200;
  M.answer_ctype = "application/json";
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, proto);
  kinfer_transport t = {mock_rt};
  kinfer_config_set_transport(cfg, &t, &M);
  kinfer_error err;
  C = kinfer_client_new(cfg, &err);
  ck_assert_ptr_nonnull(C);
  kinfer_config_free(cfg); /* the client keeps its own copy */
}

static void teardown(void) {
  kinfer_client_close(C);
  C = NULL;
  kinfer_headers_free(M.sent);
}

static kinfer_request *json_req(const char *j) {
  kinfer_error err;
  kinfer_request *r = kinfer_request_from_json(j, strlen(j), &err);
  ck_assert_msg(r != NULL, "%s", err.message);
  return r;
}

static const char *V2_ANSWER =
    "{\"model_name\":\"m\",\"id\":\"1\",\"outputs\":[{\"name\":\"o\",\"shape\":[2],"
    "\"datatype\":\"INT32\",\"data\":[7,8]}]}";

START_TEST(test_v2_infer_url_and_headers) {
  setup_proto("v2");
  M.answer = V2_ANSWER;
  M.answer_header = "X-Served-By: unit";
  kinfer_request *r = json_req("{\"inputs\":[]}");
  kinfer_headers *h = kinfer_headers_new();
  kinfer_headers_add(h, "X-Req", "42");
  kinfer_headers *rh = kinfer_headers_new();
  kinfer_headers_add(rh, "stale", "1");
  kinfer_response *out = NULL;
  kinfer_error err;
  int rc = kinfer_infer(C, "http://gw.local:8080/serving/ns?tenant=a", r, "my model/1",
                        h, rh, false, KINFER_TIMEOUT_DEFAULT, &out, &err);
  ck_assert_msg(rc == KINFER_OK, "%s", err.message);
  ck_assert_str_eq(M.method, "POST");
  ck_assert_str_eq(M.url, "http://gw.local:8080/serving/ns/v2/models/my%20model%2F1/infer?tenant=a");
  ck_assert_str_eq(M.body, "{\"inputs\":[]}");
  ck_assert_str_eq(kinfer_headers_get(M.sent, "content-type"), "application/json");
  ck_assert_str_eq(kinfer_headers_get(M.sent, "x-req"), "42");
  ck_assert_str_eq(kinfer_headers_get(M.sent, "host"), "gw.local:8080");
  ck_assert_str_eq(kinfer_headers_get(M.sent, "x-kinfer-attempt"), "1");
  ck_assert_ptr_null(kinfer_headers_get(M.sent, "authorization"));
  /* response headers: cleared, filled, lower-cased */
  ck_assert_ptr_null(kinfer_headers_get(rh, "stale"));
  ck_assert_str_eq(kinfer_headers_get(rh, "x-served-by"), "unit");
  ck_assert_str_eq(kinfer_headers_name(rh, 1), "x-served-by");
  ck_assert_int_eq(kinfer_response_status(out), 200);
  ck_assert_str_eq(kinfer_response_model_name(out), "m");
  const kinfer_tensor *t = kinfer_response_output_by_name(out, "o");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_INT32);
  ck_assert_int_eq(((const int32_t *)kinfer_tensor_data(t))[1], 8);
  kinfer_response_free(out);
  kinfer_headers_free(h);
  kinfer_headers_free(rh);
  kinfer_request_free(r);
  teardown();
}
END_TEST

START_TEST(test_base_url_joining) {
  setup_proto("v2");
  M.answer = "{\"live\": true}";
  bool live = false;
  kinfer_error err;
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h", NULL, KINFER_TIMEOUT_DEFAULT, &live, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h/v2/health/live");
  ck_assert(live);
  ck_assert_int_eq(kinfer_is_server_live(C, "https://h:8443/a/b/", NULL, 5, &live, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "https://h:8443/a/b/v2/health/live");
  ck_assert_int_eq(kinfer_is_server_live(C, "HTTP://[::1]:9/x", NULL, 5, &live, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://[::1]:9/x/v2/health/live");
  teardown();
}
END_TEST

START_TEST(test_bad_base_url) {
  setup_proto("v2");
  bool b;
  kinfer_error err;
  ck_assert_int_eq(kinfer_is_server_live(C, "localhost:8080", NULL, 5, &b, &err), KINFER_EURL);
  ck_assert_str_eq(err.message, "Base url should have 'http://' or 'https://' protocol");
  ck_assert_int_eq(kinfer_is_server_live(C, "ftp://h/", NULL, 5, &b, &err), KINFER_EURL);
  ck_assert_int_eq(M.calls, 0);
  teardown();
}
END_TEST

START_TEST(test_missing_model_and_protocols) {
  setup_proto("v3");
  kinfer_request *r = json_req("{}");
  kinfer_response *out = (kinfer_response *)1;
  kinfer_error err;
  bool b;
  /* model_name is checked before the protocol */
  ck_assert_int_eq(kinfer_infer(C, "http://h", r, NULL, NULL, NULL, false, 5, &out, &err), KINFER_EINVAL);
  ck_assert_str_eq(err.message, "model_name should not be 'None'");
  ck_assert_ptr_null(out);
  ck_assert_int_eq(kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, 5, &out, &err), KINFER_EUNSUPPORTED);
  ck_assert_str_eq(err.message, "Unsupported protocol v3.");
  ck_assert_int_eq(kinfer_explain(C, "http://h", "m", r, NULL, 5, &out, &err), KINFER_EUNSUPPORTED);
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h", NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  ck_assert_int_eq(kinfer_is_model_ready(C, "http://h", "m", NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  ck_assert_str_eq(err.message, "Unsupported protocol v3.");
  ck_assert_int_eq(M.calls, 0);
  /* a graph endpoint is posted to whatever the protocol */
  M.answer = "{\"predictions\": [1, 2]}";
  ck_assert_int_eq(kinfer_infer(C, "http://h/graph?x=1", r, NULL, NULL, NULL, true, 5, &out, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h/graph?x=1");
  kinfer_response_free(out);
  kinfer_request_free(r);
  teardown();
}
END_TEST

START_TEST(test_v1_paths) {
  setup_proto("v1");
  kinfer_error err;
  bool b = false;
  M.answer = "{\"status\": \"alive\"}";
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h:1", NULL, 5, &b, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h:1/");
  ck_assert_str_eq(M.method, "GET");
  ck_assert(b);
  M.answer = "{\"status\": \"dead\"}";
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h:1/p", NULL, 5, &b, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h:1/p/");
  ck_assert(!b);
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h:1", NULL, 5, &b, &err), KINFER_EUNSUPPORTED);
  M.answer = "{\"name\": \"m\", \"ready\": true}";
  ck_assert_int_eq(kinfer_is_model_ready(C, "http://h:1", "m", NULL, 5, &b, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h:1/v1/models/m");
  ck_assert(b);
  kinfer_request *r = json_req("{\"instances\": [[1, 2]]}");
  kinfer_response *out = NULL;
  M.answer = "{\"predictions\": [[1, 2]]}";
  ck_assert_int_eq(kinfer_infer(C, "http://h:1", r, "m", NULL, NULL, false, 5, &out, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h:1/v1/models/m:predict");
  size_t n;
  const char *j = kinfer_response_json(out, &n);
  ck_assert_int_eq((int)n, (int)strlen(M.answer));
  ck_assert(memcmp(j, M.answer, n) == 0);
  kinfer_response_free(out);
  ck_assert_int_eq(kinfer_explain(C, "http://h:1", "m", r, NULL, 5, &out, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h:1/v1/models/m:explain");
  kinfer_response_free(out);
  kinfer_request_free(r);
  teardown();
}
END_TEST

START_TEST(test_health_semantics) {
  setup_proto("v2");
  kinfer_error err;
  bool b;
  M.answer = "{\"ready\": false}";
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  M.answer = "";
  b = false;
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_OK);
  ck_assert_msg(b, "an empty 2xx body means ready");
  M.status = 503;
  M.answer = "{\"error\": \"starting\"}";
  b = true;
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(!b);
  M.status = 500;
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_EHTTP);
  ck_assert_int_eq(err.http_status, 500);
  ck_assert_str_eq(err.message, "starting, '500 Internal Server Error' for url 'http://h/v2/health/ready'");
  /* v2 model ready: any non-2xx is "not ready" (Triton answers 400) */
  M.status = 400;
  b = true;
  ck_assert_int_eq(kinfer_is_model_ready(C, "http://h", "m", NULL, 5, &b, &err), KINFER_OK);
  ck_assert_str_eq(M.url, "http://h/v2/models/m/ready");
  ck_assert(!b);
  M.status = 200;
  M.answer = "";
  ck_assert_int_eq(kinfer_is_model_ready(C, "http://h", "m", NULL, 5, &b, &err), KINFER_OK);
  ck_assert(b);
  M.answer = "not json";
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_EBADRESPONSE);
  M.answer = "{\"ready\": \"yes\"}";
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_EBADRESPONSE);
  /* transport failures are errors, never false */
  M.fail_with = KINFER_ECONNECT;
  ck_assert_int_eq(kinfer_is_server_ready(C, "http://h", NULL, 5, &b, &err), KINFER_ECONNECT);
  ck_assert_ptr_nonnull(strstr(err.message, "mock transport failure"));
  teardown();
}
END_TEST

START_TEST(test_http_error_message) {
  setup_proto("v2");
  kinfer_request *r = json_req("{\"inputs\":[]}");
  kinfer_response *out = NULL;
  kinfer_headers *rh = kinfer_headers_new();
  kinfer_headers_add(rh, "keep", "1");
  kinfer_error err;
  M.status = 404;
  M.answer = "{\"error\": \"Model with name nope does not exist.\"}";
  ck_assert_int_eq(kinfer_infer(C, "http://h:8000", r, "nope", NULL, rh, false, 5, &out, &err), KINFER_EHTTP);
  ck_assert_str_eq(err.message, "Model with name nope does not exist., '404 Not Found' for url "
                                "'http://h:8000/v2/models/nope/infer'");
  ck_assert_int_eq(err.http_status, 404);
  ck_assert_int_eq(err.code, KINFER_EHTTP);
  ck_assert_ptr_null(out);
  ck_assert_str_eq(kinfer_headers_get(rh, "keep"), "1"); /* untouched on failure */
  M.status = 422;
  M.answer = "{\"detail\": \"bad\"}";
  kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, 5, &out, &err);
  ck_assert_str_eq(err.message, "bad, '422 Unprocessable Entity' for url 'http://h/v2/models/m/infer'");
  M.status = 502;
  M.answer = "upstream\r\nconnect error";
  M.answer_ctype = "text/plain";
  kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, 5, &out, &err);
  ck_assert_str_eq(err.message, "upstream  connect error, '502 Bad Gateway' for url 'http://h/v2/models/m/infer'");
  kinfer_headers_free(rh);
  kinfer_request_free(r);
  teardown();
}
END_TEST

START_TEST(test_auth_and_host_headers) {
  memset(&M, 0, sizeof M);
  M.sent = kinfer_headers_new();
  M.status = 200;
  M.answer = "{\"live\": true}";
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_auth_bearer(cfg, "T0KEN");
  kinfer_transport t = {mock_rt};
  kinfer_config_set_transport(cfg, &t, &M);
  C = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  bool b;
  kinfer_error err;
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h", NULL, 5, &b, &err), KINFER_OK);
  ck_assert_str_eq(kinfer_headers_get(M.sent, "authorization"), "Bearer T0KEN");
  kinfer_headers *h = kinfer_headers_new();
  kinfer_headers_add(h, "Authorization", "Bearer other");
  kinfer_headers_add(h, "Host", "model.ns.example.com");
  kinfer_headers_add(h, "Connection", "close");
  ck_assert_int_eq(kinfer_is_server_live(C, "http://10.0.0.1", h, 5, &b, &err), KINFER_OK);
  ck_assert_str_eq(kinfer_headers_get(M.sent, "authorization"), "Bearer other");
  ck_assert_str_eq(kinfer_headers_get(M.sent, "host"), "model.ns.example.com");
  ck_assert_ptr_null(kinfer_headers_get(M.sent, "connection"));
  kinfer_headers_add(h, "Content-Length", "5");
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h", h, 5, &b, &err), KINFER_EINVAL);
  kinfer_headers_free(h);
  teardown();
}
END_TEST

START_TEST(test_binary_request_headers) {
  setup_proto("v2");
  M.answer = V2_ANSWER;
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {2};
  kinfer_input *in = kinfer_request_add_input(r, "x", KINFER_INT32, shape, 1);
  int32_t v[] = {1, 2};
  kinfer_input_set_data(in, v, sizeof v);
  kinfer_input_set_binary(in, true);
  kinfer_response *out = NULL;
  kinfer_error err;
  ck_assert_int_eq(kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, 5, &out, &err), KINFER_OK);
  ck_assert_str_eq(kinfer_headers_get(M.sent, "content-type"), "application/octet-stream");
  const char *ihcl = kinfer_headers_get(M.sent, "inference-header-content-length");
  ck_assert_ptr_nonnull(ihcl);
  size_t json_len = (size_t)atol(ihcl);
  ck_assert_uint_eq(M.body_len, json_len + sizeof v);
  ck_assert(memcmp(M.body + json_len, v, sizeof v) == 0);
  kinfer_response_free(out);
  kinfer_request_free(r);
  teardown();
}
END_TEST

START_TEST(test_bad_arguments) {
  setup_proto("v2");
  kinfer_error err;
  kinfer_response *out;
  bool b;
  kinfer_request *r = json_req("{}");
  ck_assert_int_eq(kinfer_infer(NULL, "http://h", r, "m", NULL, NULL, false, 5, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer(C, NULL, r, "m", NULL, NULL, false, 5, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer(C, "http://h", NULL, "m", NULL, NULL, false, 5, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, 5, NULL, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, -7, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer(C, "http://h", r, "m", NULL, NULL, false, 0, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_is_server_live(C, "http://h", NULL, 5, NULL, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_is_model_ready(C, "http://h", NULL, NULL, 5, &b, &err), KINFER_EINVAL);
  ck_assert_int_eq(M.calls, 0);
  kinfer_request_free(r);
  kinfer_client_close(NULL);
  teardown();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("client");
  TCase *tc = tcase_create("transport");
  tcase_add_test(tc, test_v2_infer_url_and_headers);
  tcase_add_test(tc, test_base_url_joining);
  tcase_add_test(tc, test_bad_base_url);
  tcase_add_test(tc, test_missing_model_and_protocols);
  tcase_add_test(tc, test_v1_paths);
  tcase_add_test(tc, test_health_semantics);
  tcase_add_test(tc, test_http_error_message);
  tcase_add_test(tc, test_auth_and_host_headers);
  tcase_add_test(tc, test_binary_request_headers);
  tcase_add_test(tc, test_bad_arguments);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
