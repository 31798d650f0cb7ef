/*
 * The tensor data codec (src/protocol/datacodec.c) through the response
 * decoder: the cut-out data values, the fallback to json-c when the
 * envelope is not plain, and the typed parser's checks.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto_int.h"
#include "protocol/protocol.h"

static kinfer_response *decode(enum ki_decode_mode mode, const char *body,
                               int *rc) {
  size_t n = strlen(body);
  char *b = malloc(n + 1);
  memcpy(b, body, n + 1);
  kinfer_response *r = NULL;
  kinfer_error err;
  *rc = ki_decode_response(mode, b, n, NULL, &r, &err);
  return r;
}

static kinfer_response *ok(enum ki_decode_mode mode, const char *body) {
  int rc;
  kinfer_response *r = decode(mode, body, &rc);
  ck_assert_msg(rc == KINFER_OK, "refused: %s", body);
  return r;
}

static void refused(const char *body) {
  int rc;
  kinfer_response *r = decode(KI_DECODE_V2, body, &rc);
  ck_assert_msg(rc == KINFER_EBADRESPONSE && r == NULL, "accepted: %s", body);
}

#define OUT(dt, shape, data)                                                   \
  "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"" dt "\",\"shape\":" shape   \
  ",\"data\":" data "}]}"

START_TEST(envelope_shapes) {
  /* data before datatype and shape; white space everywhere; two outputs. */
  kinfer_response *r = ok(KI_DECODE_V2,
      " { \"id\" : \"x\" , \"outputs\" : [ { \"data\" : [ [1 , 2] , [3,4] ] ,"
      " \"name\":\"a\", \"shape\":[2,2], \"datatype\":\"INT32\" } ,"
      "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5],"
      "\"parameters\":{\"k\":[1,{\"data\":7}]}} ] , \"model_name\":\"m\" } ");
  ck_assert_uint_eq(kinfer_response_output_count(r), 2);
  const int32_t *a = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(a[0] == 1 && a[1] == 2 && a[2] == 3 && a[3] == 4);
  const float *b = kinfer_tensor_data(kinfer_response_output(r, 1));
  ck_assert(b[0] == 0.5f);
  ck_assert_str_eq(kinfer_response_model_name(r), "m");
  kinfer_response_free(r);
}
END_TEST

START_TEST(fallback_cases) {
  int rc;
  /* A duplicate data member: json-c keeps the last one, so does the
   * decoder (through the json-c path). */
  kinfer_response *r = ok(KI_DECODE_V2,
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"data\":[1],\"data\":[2]}]}");
  ck_assert_int_eq(((const int8_t *)kinfer_tensor_data(kinfer_response_output(r, 0)))[0], 2);
  kinfer_response_free(r);
  /* A key written with escapes. */
  r = ok(KI_DECODE_V2,
         "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
         "\"d\\u0061ta\":[3]}]}");
  ck_assert_int_eq(((const int8_t *)kinfer_tensor_data(kinfer_response_output(r, 0)))[0], 3);
  kinfer_response_free(r);
  /* Duplicate outputs members: the last one counts. */
  r = ok(KI_DECODE_V2,
         "{\"outputs\":[{\"name\":\"x\",\"datatype\":\"INT8\",\"shape\":[1],"
         "\"data\":[\"bad\"]}],\"outputs\":[{\"name\":\"o\",\"datatype\":"
         "\"INT8\",\"shape\":[1],\"data\":[4]}]}");
  ck_assert_str_eq(kinfer_tensor_name(kinfer_response_output(r, 0)), "o");
  kinfer_response_free(r);
  /* Auto mode deciding on V1 never leaves a cut value unchecked. */
  r = decode(KI_DECODE_AUTO,
             "{\"outputs\":[{\"data\":[1,]}],\"outputs\":5}", &rc);
  ck_assert_int_eq(rc, KINFER_EBADRESPONSE);
  ck_assert(r == NULL);
  r = ok(KI_DECODE_AUTO, "{\"outputs\":[{\"data\":[1]}],\"outputs\":5}");
  ck_assert_uint_eq(kinfer_response_output_count(r), 0);
  kinfer_response_free(r);
  /* Invalid JSON around the data value. */
  refused("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
          "\"data\":[1]]}");
  refused("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
          "\"data\":[1]}]");
  refused("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
          "\"data\":[1]}]} x");
  refused("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
          "\"data\":}]}");
  refused("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
          "\"data\":[1}]}");
  refused("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
          "\"data\":[\"]}]}");
}
END_TEST

START_TEST(typed_checks) {
  refused(OUT("FP32", "[1]", "[1.]"));
  refused(OUT("FP32", "[1]", "[.5]"));
  refused(OUT("FP32", "[1]", "[01]"));
  refused(OUT("FP32", "[1]", "[+1]"));
  refused(OUT("FP32", "[1]", "[-]"));
  refused(OUT("FP32", "[1]", "[1e]"));
  refused(OUT("FP32", "[1]", "[NaN]"));
  refused(OUT("FP32", "[1]", "[-Infinity]"));
  refused(OUT("FP32", "[1]", "[null]"));
  refused(OUT("FP32", "[1]", "[{}]"));
  refused(OUT("FP32", "[2]", "[1,]"));
  refused(OUT("FP32", "[2]", "[,1]"));
  refused(OUT("FP32", "[2]", "[1 2]"));
  refused(OUT("FP32", "[1]", "[1]x"));
  refused(OUT("FP32", "[1]", "[1"));
  refused(OUT("INT64", "[1]", "[-9223372036854775809]"));
  refused(OUT("UINT64", "[1]", "[18446744073709551616]"));
  refused(OUT("UINT64", "[1]", "[1e3]"));
  refused(OUT("BOOL", "[1]", "[tru]"));
  refused(OUT("BOOL", "[1]", "[truex]"));
  refused(OUT("BYTES", "[1]", "[\"a\\x\"]"));
  refused(OUT("BYTES", "[1]", "[\"\\u12\"]"));
  refused(OUT("BYTES", "[1]", "[\"\xff\"]"));
  refused(OUT("BYTES", "[1]", "[\"abc]"));
  /* A shape far beyond the text is refused before any allocation. */
  refused(OUT("FP64", "[1000000000000]", "[1]"));
  refused(OUT("INT8", "[1]", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"));

  kinfer_response *r = ok(KI_DECODE_V2, OUT("FP32", "[4]", "[-0, -0.0, 1E2, 3e-2]"));
  const float *f = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(f[0] == 0 && signbit(f[0]) && signbit(f[1]) && f[2] == 100.0f &&
            f[3] == 0.03f);
  kinfer_response_free(r);

  r = ok(KI_DECODE_V2, OUT("INT64", "[2,2]", "[[-9223372036854775808, 9223372036854775807],[],[0,-0]]"));
  const int64_t *i = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(i[0] == INT64_MIN && i[1] == INT64_MAX && i[2] == 0 && i[3] == 0);
  kinfer_response_free(r);

  r = ok(KI_DECODE_V2, OUT("BYTES", "[4]",
         "[\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\ud83d\\ude00\", \"\\ud800x\", \"\"]"));
  const kinfer_tensor *t = kinfer_response_output(r, 0);
  const char *s;
  size_t n;
  ck_assert_int_eq(kinfer_tensor_bytes_at(t, 0, &s, &n), KINFER_OK);
  ck_assert(n == 11 && memcmp(s, "a\"b\\c/\b\f\n\r\t", 11) == 0);
  ck_assert_int_eq(kinfer_tensor_bytes_at(t, 1, &s, &n), KINFER_OK);
  ck_assert(n == 6 && memcmp(s, "\xc3\xa9\xf0\x9f\x98\x80", 6) == 0);
  ck_assert_int_eq(kinfer_tensor_bytes_at(t, 2, &s, &n), KINFER_OK);
  ck_assert(n == 4 && memcmp(s, "\xef\xbf\xbdx", 4) == 0);
  ck_assert_int_eq(kinfer_tensor_bytes_at(t, 3, &s, &n), KINFER_OK);
  ck_assert_uint_eq(n, 0);
  ck_assert_uint_eq(kinfer_tensor_nbytes(t), 21);
  kinfer_response_free(r);

  r = ok(KI_DECODE_V2, OUT("BOOL", "[3]", "[true,false , true]"));
  const unsigned char *bo = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(bo[0] == 1 && bo[1] == 0 && bo[2] == 1);
  kinfer_response_free(r);
}
END_TEST

/* Every float32 sampled through the real encoder and decoder. */
START_TEST(f32_through_protocol) {
  enum { N = 1 << 16 };
  float *v = malloc(N * sizeof *v);
  uint32_t bits = 1;
  for (size_t i = 0; i < N; i++) {
    do {
      bits = bits * 1664525u + 1013904223u;
      memcpy(&v[i], &bits, 4);
    } while (!isfinite(v[i]));
  }
  int64_t shape[1] = {N};
  kinfer_request *req = kinfer_request_new();
  kinfer_input_borrow_data(kinfer_request_add_input(req, "x", KINFER_FP32, shape, 1),
                           v, N * sizeof *v);
  ki_encoded e = {0};
  kinfer_error err;
  ck_assert_int_eq(ki_encode_request(req, KI_PROTO_V2, &e, &err), KINFER_OK);
  /* Turn the request into a response: "inputs" becomes "outputs". */
  char *p = strstr(e.json.data, "\"inputs\"");
  ck_assert(p != NULL);
  size_t len = e.json.len + 1;
  char *body = malloc(len + 1);
  size_t head = (size_t)(p - e.json.data);
  memcpy(body, e.json.data, head);
  memcpy(body + head, "\"outputs\"", 9);
  memcpy(body + head + 9, p + 8, e.json.len - head - 8 + 1);
  kinfer_response *r;
  int rc = ki_decode_response(KI_DECODE_V2, body, len, NULL, &r, &err);
  ck_assert_msg(rc == KINFER_OK, "%s", err.message);
  ck_assert(memcmp(kinfer_tensor_data(kinfer_response_output(r, 0)), v,
                   N * sizeof *v) == 0);
  kinfer_response_free(r);
  ki_encoded_free(&e);
  kinfer_request_free(req);
  free(v);
}
END_TEST

int main(void) {
  Suite *s = suite_create("numtext_data");
  TCase *tc = tcase_create("data");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, envelope_shapes);
  tcase_add_test(tc, fallback_cases);
  tcase_add_test(tc, typed_checks);
  tcase_add_test(tc, f32_through_protocol);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
