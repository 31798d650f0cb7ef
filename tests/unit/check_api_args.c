/*
 * Every public function given NULLs, empty strings, huge or negative sizes,
 * or objects in the wrong state: an error code (or a NULL / 0 answer for
 * getters), never a crash.  The list of functions is checked against the
 * header, so a new function without a case here fails this test.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinfer/kinfer.h>
#include "check_main.h"

/* Every public function this file exercises. */
static const char *const covered[] = {
    "kinfer_client_close", "kinfer_client_new", "kinfer_client_stats",
    "kinfer_config_free", "kinfer_config_new", "kinfer_config_set_auth_basic",
    "kinfer_config_set_auth_bearer", "kinfer_config_set_ca_file",
    "kinfer_config_set_ca_path", "kinfer_config_set_cert", "kinfer_config_set_http2",
    "kinfer_config_set_log", "kinfer_config_set_max_concurrent_streams",
    "kinfer_config_set_max_connections", "kinfer_config_set_max_header_bytes",
    "kinfer_config_set_max_response_bytes", "kinfer_config_set_protocol",
    "kinfer_config_set_retries", "kinfer_config_set_retry_backoff",
    "kinfer_config_set_retry_on_status", "kinfer_config_set_idempotent",
    "kinfer_config_set_keepalive", "kinfer_config_set_max_h2_connections",
    "kinfer_config_set_max_queued", "kinfer_config_set_h2_windows",
    "kinfer_config_set_retry_budget", "kinfer_request_set_idempotent",
    "kinfer_config_set_ssl_ctx", "kinfer_config_set_timeout",
    "kinfer_config_set_timeouts", "kinfer_config_set_transport",
    "kinfer_config_set_unix_socket", "kinfer_config_set_verbose",
    "kinfer_config_set_verify", "kinfer_cq_free", "kinfer_cq_new", "kinfer_cq_next",
    "kinfer_cq_wakeup", "kinfer_datatype_from_name", "kinfer_datatype_name",
    "kinfer_datatype_size", "kinfer_error_is_retriable", "kinfer_explain",
    "kinfer_headers_add", "kinfer_headers_clear", "kinfer_headers_count",
    "kinfer_headers_free", "kinfer_headers_get", "kinfer_headers_name",
    "kinfer_headers_new", "kinfer_headers_value", "kinfer_infer", "kinfer_infer_async",
    "kinfer_infer_cq", "kinfer_input_borrow_data", "kinfer_input_parameters",
    "kinfer_input_set_binary", "kinfer_input_set_bytes", "kinfer_input_set_data",
    "kinfer_is_model_ready", "kinfer_is_server_live", "kinfer_is_server_ready",
    "kinfer_params_count", "kinfer_params_get_bool", "kinfer_params_get_double",
    "kinfer_params_get_int", "kinfer_params_get_string", "kinfer_params_key",
    "kinfer_params_set_bool", "kinfer_params_set_double", "kinfer_params_set_int",
    "kinfer_params_set_string", "kinfer_request_add_input", "kinfer_request_add_output",
    "kinfer_request_free", "kinfer_request_from_json", "kinfer_request_new",
    "kinfer_request_parameters", "kinfer_request_set_binary_outputs",
    "kinfer_request_set_id", "kinfer_requested_output_parameters",
    "kinfer_requested_output_set_binary", "kinfer_response_free", "kinfer_response_id",
    "kinfer_response_json", "kinfer_response_model_name",
    "kinfer_response_model_version", "kinfer_response_output",
    "kinfer_response_output_by_name", "kinfer_response_output_count",
    "kinfer_response_parameters", "kinfer_response_status", "kinfer_strerror",
    "kinfer_tensor_bytes_at", "kinfer_tensor_data", "kinfer_tensor_datatype",
    "kinfer_tensor_element_count", "kinfer_tensor_name", "kinfer_tensor_nbytes",
    "kinfer_tensor_ndim", "kinfer_tensor_parameters", "kinfer_tensor_shape",
    "kinfer_transport_request_body", "kinfer_transport_request_headers",
    "kinfer_transport_request_method", "kinfer_transport_request_url",
    "kinfer_transport_response_headers", "kinfer_transport_response_set_body",
    "kinfer_transport_response_set_status", "kinfer_version"};

static bool is_covered(const char *name) {
  for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++)
    if (strcmp(covered[i], name) == 0) return true;
  return false;
}

START_TEST(test_every_public_function_has_a_case) {
  char path[1024];
  const char *src = getenv("KINFER_SOURCE_DIR");
  ck_assert_ptr_nonnull(src);
  snprintf(path, sizeof path, "%s/include/kinfer/kinfer.h", src);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    /* declarations: "KINFER_API <type> <name>(" possibly with the name on
     * the next line */
    for (char *p = strstr(line, "kinfer_"); p; p = strstr(p + 1, "kinfer_")) {
      size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
      if (p[n] != '(' || (p > line && (p[-1] == '*' && p[-2] == '(')))
        continue;
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)n, p);
      if (strncmp(name, "kinfer_callback", 15) == 0) continue;
      found++;
      ck_assert_msg(is_covered(name), "no bad-argument case for %s", name);
    }
  }
  fclose(f);
  ck_assert_int_ge(found, 100);
}
END_TEST

START_TEST(test_config_and_headers) {
  kinfer_config_free(NULL);
  ck_assert_int_eq(kinfer_config_set_protocol(NULL, "v1"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retries(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retries(NULL, INT_MIN), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_http2(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeout(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeouts(NULL, 1, 1, 1, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_cert(NULL, "c", "k", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_verify(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_ca_file(NULL, "x"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_ca_path(NULL, "x"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_ssl_ctx(NULL, NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_basic(NULL, "u", "p"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_bearer(NULL, "t"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_verbose(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_log(NULL, NULL, NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_transport(NULL, NULL, NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_unix_socket(NULL, "/x"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_response_bytes(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_header_bytes(NULL, 4096), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_connections(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_concurrent_streams(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_backoff(NULL, 0, 1), KINFER_EINVAL);
  const int codes[] = {503, 200};
  ck_assert_int_eq(kinfer_config_set_retry_on_status(NULL, codes, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_idempotent(NULL, true), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_keepalive(NULL, 1, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_h2_connections(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_queued(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_h2_windows(NULL, 1 << 20, 1 << 20), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_budget(NULL, 0.2, 10), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_request_set_idempotent(NULL, true), KINFER_EINVAL);
  kinfer_config *c = kinfer_config_new();
  ck_assert_int_eq(kinfer_config_set_max_h2_connections(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_h2_connections(c, 1025), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_h2_connections(c, 4), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_max_queued(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_h2_windows(c, 1000, 1 << 20), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_h2_windows(c, 1 << 20, 0x80000000u), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_h2_windows(c, 0x7fffffff, 65535), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_retry_budget(c, NAN, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_budget(c, 0.1, -1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_budget(c, 0.1, INFINITY), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_budget(c, -1, 0), KINFER_OK); /* off */
  ck_assert_int_eq(kinfer_config_set_auth_basic(c, NULL, "p"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_bearer(c, NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeouts(c, NAN, 1, 1, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_backoff(c, NAN, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_backoff(c, 0, INFINITY), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_header_bytes(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_connections(c, UINT_MAX), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_keepalive(c, 0, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_keepalive(c, 1, NAN), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_keepalive(c, KINFER_TIMEOUT_NONE, 1), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_retry_on_status(c, NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_on_status(c, codes, 2), KINFER_EINVAL); /* 200 */
  ck_assert_int_eq(kinfer_config_set_retry_on_status(c, codes, SIZE_MAX), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_on_status(c, codes, 1), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_retry_on_status(c, NULL, 0), KINFER_OK); /* clears */
  ck_assert_int_eq(kinfer_config_set_ssl_ctx(c, NULL), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_log(c, NULL, (void *)1), KINFER_OK);
  kinfer_config_free(c);

  kinfer_headers_free(NULL);
  kinfer_headers_clear(NULL);
  ck_assert_int_eq(kinfer_headers_add(NULL, "a", "b"), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_headers_get(NULL, "a"));
  ck_assert_uint_eq(kinfer_headers_count(NULL), 0);
  ck_assert_ptr_null(kinfer_headers_name(NULL, 0));
  ck_assert_ptr_null(kinfer_headers_value(NULL, SIZE_MAX));
  kinfer_headers *h = kinfer_headers_new();
  ck_assert_ptr_null(kinfer_headers_get(h, NULL));
  kinfer_headers_free(h);

  ck_assert_ptr_nonnull(kinfer_strerror(INT_MIN));
  ck_assert_ptr_nonnull(kinfer_strerror(INT_MAX));
  ck_assert(!kinfer_error_is_retriable(INT_MIN));
  ck_assert_ptr_nonnull(kinfer_version());
}
END_TEST

START_TEST(test_datatypes_and_params) {
  ck_assert_ptr_null(kinfer_datatype_name((kinfer_datatype)-1));
  ck_assert_ptr_null(kinfer_datatype_name((kinfer_datatype)999));
  ck_assert_uint_eq(kinfer_datatype_size((kinfer_datatype)999), 0);
  kinfer_datatype dt;
  ck_assert_int_eq(kinfer_datatype_from_name(NULL, &dt), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name("FP32", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name("", &dt), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name("fp32", &dt), KINFER_EINVAL);

  ck_assert_int_eq(kinfer_params_set_string(NULL, "k", "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_int(NULL, "k", 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_bool(NULL, "k", 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_double(NULL, "k", 1), KINFER_EINVAL);
  const char *s;
  int64_t i;
  bool b;
  double d;
  ck_assert_int_eq(kinfer_params_get_string(NULL, "k", &s), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_int(NULL, "k", &i), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_bool(NULL, "k", &b), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_double(NULL, "k", &d), KINFER_EINVAL);
  ck_assert_uint_eq(kinfer_params_count(NULL), 0);
  ck_assert_ptr_null(kinfer_params_key(NULL, 0));

  kinfer_request *r = kinfer_request_new();
  kinfer_params *p = kinfer_request_parameters(r);
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(kinfer_params_set_string(p, NULL, "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_string(p, "k", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_double(p, "nan", NAN), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_double(p, "inf", INFINITY), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_int(p, "k", 1), KINFER_OK);
  ck_assert_int_eq(kinfer_params_get_string(p, "k", &s), KINFER_EINVAL); /* other type */
  ck_assert_int_eq(kinfer_params_get_int(p, "k", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_int(p, NULL, &i), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_bool(p, "missing", &b), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_params_key(p, 1));
  kinfer_request_free(r);
}
END_TEST

START_TEST(test_requests) {
  kinfer_request_free(NULL);
  ck_assert_int_eq(kinfer_request_set_id(NULL, "x"), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_request_parameters(NULL));
  int64_t shape[] = {2};
  ck_assert_ptr_null(kinfer_request_add_input(NULL, "x", KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_output(NULL, "y"));
  ck_assert_int_eq(kinfer_request_set_binary_outputs(NULL, true), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_data(NULL, "", 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_borrow_data(NULL, "", 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_bytes(NULL, NULL, NULL, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_binary(NULL, true), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_input_parameters(NULL));
  ck_assert_int_eq(kinfer_requested_output_set_binary(NULL, true), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_requested_output_parameters(NULL));

  kinfer_request *r = kinfer_request_new();
  ck_assert_ptr_null(kinfer_request_add_input(r, NULL, KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "", KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", (kinfer_datatype)99, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", KINFER_FP32, NULL, 1));
  int64_t neg[] = {-1};
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", KINFER_FP32, neg, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", KINFER_FP32, shape, SIZE_MAX));
  ck_assert_ptr_null(kinfer_request_add_output(r, NULL));
  ck_assert_ptr_null(kinfer_request_add_output(r, ""));
  kinfer_input *in = kinfer_request_add_input(r, "x", KINFER_FP32, shape, 1);
  ck_assert_ptr_nonnull(in);
  ck_assert_int_eq(kinfer_input_set_data(in, NULL, 8), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_borrow_data(in, NULL, 8), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_data(in, "", SIZE_MAX), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_bytes(in, NULL, NULL, 1), KINFER_EINVAL); /* not BYTES */
  kinfer_input *bi = kinfer_request_add_input(r, "s", KINFER_BYTES, shape, 1);
  const char *el[] = {"a", NULL};
  size_t lens[] = {1, 1};
  ck_assert_int_eq(kinfer_input_set_bytes(bi, el, lens, 2), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_bytes(bi, el, NULL, 2), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_bytes(bi, el, NULL, 1), KINFER_OK); /* NUL-terminated */
  ck_assert_int_eq(kinfer_input_set_bytes(bi, el, lens, 1), KINFER_OK);
  ck_assert_int_eq(kinfer_input_borrow_data(in, "", SIZE_MAX), KINFER_EINVAL);
  /* a JSON-form request has no tensors to add */
  kinfer_request *jf = kinfer_request_from_json("{}", 2, NULL);
  ck_assert_ptr_null(kinfer_request_add_input(jf, "x", KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_output(jf, "y"));
  ck_assert_int_eq(kinfer_request_set_binary_outputs(jf, true), KINFER_EINVAL);
  kinfer_request_free(jf);
  ck_assert_int_eq(kinfer_request_set_id(r, NULL), KINFER_OK); /* clears */
  kinfer_request_free(r);

  kinfer_error err;
  ck_assert_ptr_null(kinfer_request_from_json(NULL, 3, &err));
  ck_assert_int_eq(err.code, KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_request_from_json("[1,2]", 5, &err));
  ck_assert_ptr_null(kinfer_request_from_json("{\"a\":", 5, NULL));
  ck_assert_ptr_null(kinfer_request_from_json("{} x", 4, &err));
  ck_assert_ptr_null(kinfer_request_from_json("", 0, &err));
  kinfer_request *ok = kinfer_request_from_json("{}xyz", 2, &err); /* len bounds the text */
  ck_assert_ptr_nonnull(ok);
  kinfer_request_free(ok);
}
END_TEST

START_TEST(test_responses_and_tensors) {
  kinfer_response_free(NULL);
  ck_assert_int_eq(kinfer_response_status(NULL), 0);
  ck_assert_ptr_null(kinfer_response_model_name(NULL));
  ck_assert_ptr_null(kinfer_response_model_version(NULL));
  ck_assert_ptr_null(kinfer_response_id(NULL));
  ck_assert_ptr_null(kinfer_response_parameters(NULL));
  ck_assert_uint_eq(kinfer_response_output_count(NULL), 0);
  ck_assert_ptr_null(kinfer_response_output(NULL, 0));
  ck_assert_ptr_null(kinfer_response_output_by_name(NULL, "x"));
  size_t n = 7;
  ck_assert_ptr_null(kinfer_response_json(NULL, &n));
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_null(kinfer_tensor_name(NULL));
  (void)kinfer_tensor_datatype(NULL);
  ck_assert_uint_eq(kinfer_tensor_ndim(NULL), 0);
  ck_assert_ptr_null(kinfer_tensor_shape(NULL));
  ck_assert_uint_eq(kinfer_tensor_element_count(NULL), 0);
  ck_assert_ptr_null(kinfer_tensor_data(NULL));
  ck_assert_uint_eq(kinfer_tensor_nbytes(NULL), 0);
  const char *p;
  size_t len;
  ck_assert_int_eq(kinfer_tensor_bytes_at(NULL, 0, &p, &len), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_tensor_parameters(NULL));
}
END_TEST

START_TEST(test_client_calls) {
  kinfer_client_close(NULL);
  kinfer_stats st;
  ck_assert_int_eq(kinfer_client_stats(NULL, &st), KINFER_EINVAL);
  kinfer_client *c = kinfer_client_new(NULL, NULL); /* defaults */
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(kinfer_client_stats(c, NULL), KINFER_EINVAL);
  kinfer_request *r = kinfer_request_new();
  kinfer_response *out;
  bool b;
  kinfer_error err;
  ck_assert_int_eq(kinfer_infer(c, "", r, "m", NULL, NULL, false, 1, &out, &err), KINFER_EURL);
  ck_assert_int_eq(kinfer_infer(c, "http://", r, "m", NULL, NULL, false, 1, &out, &err), KINFER_EURL);
  ck_assert_int_eq(kinfer_infer(c, "http://h:99999", r, "m", NULL, NULL, false, 1, &out, &err), KINFER_EURL);
  ck_assert_int_eq(kinfer_infer(c, "http://h", r, "m", NULL, NULL, false, NAN, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_explain(NULL, "http://h", "m", r, NULL, 1, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_explain(c, "http://h", NULL, r, NULL, 1, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_explain(c, "http://h", "m", NULL, NULL, 1, &out, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_is_server_ready(NULL, "http://h", NULL, 1, &b, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_is_server_live(c, NULL, NULL, 1, &b, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_is_model_ready(c, "http://h", "m", NULL, 1, NULL, &err), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer_async(NULL, "http://h", r, "m", NULL, false, 1, NULL, NULL), KINFER_EINVAL);
  kinfer_cq *q = kinfer_cq_new();
  ck_assert_int_eq(kinfer_infer_cq(c, "http://h", r, "m", NULL, false, 1, NULL, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_infer_cq(c, NULL, r, "m", NULL, false, 1, q, 0), KINFER_EINVAL);
  kinfer_completion comp;
  ck_assert_int_eq(kinfer_cq_next(q, &comp, 1, -5), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_cq_next(q, &comp, 1, NAN), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_cq_next(q, NULL, 1, 0), KINFER_EINVAL);
  kinfer_cq_wakeup(NULL);
  kinfer_cq_free(NULL);
  kinfer_cq_free(q);
  kinfer_request_free(r);
  kinfer_client_close(c);

  ck_assert_ptr_null(kinfer_transport_request_method(NULL));
  ck_assert_ptr_null(kinfer_transport_request_url(NULL));
  ck_assert_ptr_null(kinfer_transport_request_headers(NULL));
  size_t blen = 9;
  ck_assert_ptr_null(kinfer_transport_request_body(NULL, &blen));
  ck_assert_uint_eq(blen, 0);
  ck_assert_int_eq(kinfer_transport_response_set_status(NULL, 200), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_transport_response_headers(NULL));
  ck_assert_int_eq(kinfer_transport_response_set_body(NULL, "x", 1), KINFER_EINVAL);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("api_args");
  TCase *tc = tcase_create("bad arguments");
  tcase_add_test(tc, test_every_public_function_has_a_case);
  tcase_add_test(tc, test_config_and_headers);
  tcase_add_test(tc, test_datatypes_and_params);
  tcase_add_test(tc, test_requests);
  tcase_add_test(tc, test_responses_and_tensors);
  tcase_add_test(tc, test_client_calls);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
