/*
 * The protocol module: V2 and V1 encoding and decoding, number text,
 * validation of hostile responses, and the shared vectors in proto/vectors.
 */
#include <check.h>
#include <dirent.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/numtext.h"
#include "protocol/proto_int.h"
#include "protocol/protocol.h"

/* ---- helpers ------------------------------------------------------------- */

/* The encoded body as one malloc'd block. */
static char *flatten(const ki_encoded *e, size_t *len) {
  char *p = malloc(e->total + 1);
  size_t off = 0;
  ck_assert_ptr_nonnull(p);
  for (size_t i = 0; i < e->iovcnt; i++) {
    memcpy(p + off, e->iov[i].iov_base, e->iov[i].iov_len);
    off += e->iov[i].iov_len;
  }
  ck_assert_uint_eq(off, e->total);
  p[off] = '\0';
  *len = off;
  return p;
}

/* Encodes |r| as V2 and returns the JSON text (caller frees). */
static char *encode_v2(const kinfer_request *r) {
  ki_encoded e;
  kinfer_error err;
  int rc = ki_encode_request(r, KI_PROTO_V2, &e, &err);
  ck_assert_msg(rc == KINFER_OK, "encode: %s", err.message);
  char *s = strdup(e.json.data);
  ki_encoded_free(&e);
  return s;
}

static int encode_rc(const kinfer_request *r, enum ki_protocol proto,
                     kinfer_error *err) {
  ki_encoded e;
  int rc = ki_encode_request(r, proto, &e, err);
  ki_encoded_free(&e);
  return rc;
}

/* Encodes |r| (no id) as V2 and decodes the same bytes as a response: a V2
 * request body with "inputs" renamed "outputs" is a V2 response body. */
static kinfer_response *echo(const kinfer_request *r) {
  ki_encoded e;
  kinfer_error err;
  int rc = ki_encode_request(r, KI_PROTO_V2, &e, &err);
  ck_assert_msg(rc == KINFER_OK, "encode: %s", err.message);
  size_t len;
  char *body = flatten(&e, &len);
  ck_assert(strncmp(body, "{\"inputs\":", 10) == 0);
  char *resp_body = malloc(len + 2);
  memcpy(resp_body, "{\"outputs\"", 10);
  memcpy(resp_body + 10, body + 9, len - 9);
  len += 1;
  char ihcl[32];
  snprintf(ihcl, sizeof ihcl, "%zu", e.json.len + 1);
  kinfer_response *resp = NULL;
  rc = ki_decode_response(KI_DECODE_V2, resp_body, len, e.binary ? ihcl : NULL,
                          &resp, &err);
  ck_assert_msg(rc == KINFER_OK, "decode: %s (%s)", err.message, body);
  free(body);
  ki_encoded_free(&e);
  return resp;
}

static int decode(enum ki_decode_mode mode, const char *body, size_t len,
                  const char *ihcl, kinfer_response **out, kinfer_error *err) {
  char *copy = malloc(len ? len : 1);
  ck_assert_ptr_nonnull(copy);
  memcpy(copy, body, len);
  return ki_decode_response(mode, copy, len, ihcl, out, err);
}

static kinfer_response *decode_ok(enum ki_decode_mode mode, const char *body) {
  kinfer_response *r = NULL;
  kinfer_error err;
  int rc = decode(mode, body, strlen(body), NULL, &r, &err);
  ck_assert_msg(rc == KINFER_OK, "decode '%s': %s", body, err.message);
  return r;
}

static void expect_bad(enum ki_decode_mode mode, const char *body, size_t len,
                       const char *ihcl, const char *fragment) {
  kinfer_response *r = (kinfer_response *)1;
  kinfer_error err = {0};
  int rc = decode(mode, body, len, ihcl, &r, &err);
  ck_assert_msg(rc == KINFER_EBADRESPONSE, "'%.200s' gave %d", body, rc);
  ck_assert_ptr_null(r);
  ck_assert_int_eq(err.code, KINFER_EBADRESPONSE);
  if (fragment)
    ck_assert_msg(strstr(err.message, fragment), "'%s' lacks '%s'",
                  err.message, fragment);
}

#define BAD(body, fragment) expect_bad(KI_DECODE_V2, body, strlen(body), NULL, fragment)

/* ---- V2 encoding ---------------------------------------------------------- */

START_TEST(v2_encode_json_layout) {
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {2, 2};
  kinfer_input *in = kinfer_request_add_input(r, "x", KINFER_INT32, shape, 2);
  int32_t v[] = {1, -2, 3, 2147483647};
  ck_assert_int_eq(kinfer_input_set_data(in, v, sizeof v), KINFER_OK);
  char *s = encode_v2(r);
  ck_assert_str_eq(s, "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],"
                      "\"datatype\":\"INT32\",\"data\":[1,-2,3,2147483647]}]}");
  free(s);
  ck_assert_int_eq(kinfer_request_set_id(r, "req-\"1\""), KINFER_OK);
  kinfer_params_set_string(kinfer_input_parameters(in), "content_type", "np");
  kinfer_requested_output *o = kinfer_request_add_output(r, "y");
  kinfer_requested_output_set_binary(o, true);
  kinfer_request_add_output(r, "z");
  kinfer_params_set_int(kinfer_request_parameters(r), "priority", 3);
  kinfer_request_set_binary_outputs(r, true);
  s = encode_v2(r);
  ck_assert_str_eq(
      s, "{\"id\":\"req-\\\"1\\\"\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],"
         "\"datatype\":\"INT32\",\"parameters\":{\"content_type\":\"np\"},"
         "\"data\":[1,-2,3,2147483647]}],\"outputs\":[{\"name\":\"y\","
         "\"parameters\":{\"binary_data\":true}},{\"name\":\"z\"}],"
         "\"parameters\":{\"priority\":3,\"binary_data_output\":true}}");
  free(s);
  kinfer_request_free(r);
}
END_TEST

START_TEST(v2_encode_binary_borrowed) {
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {3};
  float f[] = {1.5f, 2.5f, -3.0f};
  uint8_t u[] = {7, 8, 9};
  kinfer_input *a = kinfer_request_add_input(r, "a", KINFER_FP32, shape, 1);
  kinfer_input *b = kinfer_request_add_input(r, "b", KINFER_UINT8, shape, 1);
  kinfer_input *c = kinfer_request_add_input(r, "c", KINFER_UINT8, shape, 1);
  ck_assert_int_eq(kinfer_input_borrow_data(a, f, sizeof f), KINFER_OK);
  ck_assert_int_eq(kinfer_input_borrow_data(b, u, sizeof u), KINFER_OK);
  ck_assert_int_eq(kinfer_input_set_data(c, u, sizeof u), KINFER_OK);
  kinfer_input_set_binary(a, true);
  kinfer_input_set_binary(c, true);
  /* A user binary_data_size is replaced by the real one. */
  kinfer_params_set_int(kinfer_input_parameters(a), "binary_data_size", 99);
  ki_encoded e;
  kinfer_error err;
  ck_assert_int_eq(ki_encode_request(r, KI_PROTO_V2, &e, &err), KINFER_OK);
  ck_assert(e.binary);
  ck_assert_str_eq(e.content_type, "application/octet-stream");
  ck_assert_uint_eq(e.iovcnt, 3);
  ck_assert_ptr_eq(e.iov[0].iov_base, e.json.data);
  ck_assert_uint_eq(e.iov[0].iov_len, e.json.len);
  ck_assert_ptr_eq(e.iov[1].iov_base, f); /* borrowed: no copy */
  ck_assert_uint_eq(e.iov[1].iov_len, sizeof f);
  ck_assert_ptr_ne(e.iov[2].iov_base, u); /* copied by set_data */
  ck_assert_uint_eq(e.total, e.json.len + sizeof f + sizeof u);
  ck_assert_str_eq(e.json.data,
                   "{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":"
                   "\"FP32\",\"parameters\":{\"binary_data_size\":12}},"
                   "{\"name\":\"b\",\"shape\":[3],\"datatype\":\"UINT8\","
                   "\"data\":[7,8,9]},{\"name\":\"c\",\"shape\":[3],"
                   "\"datatype\":\"UINT8\",\"parameters\":"
                   "{\"binary_data_size\":3}}]}");
  ki_encoded_free(&e);
  ki_encoded_free(&e); /* twice is harmless */
  kinfer_request_free(r);
}
END_TEST

/* A detached encoding outlives its request; borrowed buffers stay shared. */
START_TEST(v2_encode_detach) {
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {2};
  float f[] = {1.5f, -2};
  const char *el[] = {"ab", "c"};
  kinfer_input *a = kinfer_request_add_input(r, "a", KINFER_FP32, shape, 1);
  kinfer_input *b = kinfer_request_add_input(r, "b", KINFER_FP32, shape, 1);
  kinfer_input *s = kinfer_request_add_input(r, "s", KINFER_BYTES, shape, 1);
  kinfer_input_set_data(a, f, sizeof f);
  kinfer_input_borrow_data(b, f, sizeof f);
  kinfer_input_set_bytes(s, el, NULL, 2);
  kinfer_input_set_binary(a, true);
  kinfer_input_set_binary(b, true);
  kinfer_input_set_binary(s, true);
  ki_encoded e;
  kinfer_error err;
  ck_assert_int_eq(ki_encode_request(r, KI_PROTO_V2, &e, &err), KINFER_OK);
  size_t len_before;
  char *before = flatten(&e, &len_before);
  ck_assert_int_eq(ki_encoded_detach(&e, r), KINFER_OK);
  ck_assert_ptr_eq(e.iov[2].iov_base, f);
  kinfer_request_free(r);
  size_t len_after;
  char *after = flatten(&e, &len_after);
  ck_assert_uint_eq(len_before, len_after);
  ck_assert(memcmp(before, after, len_after) == 0);
  free(before);
  free(after);
  ki_encoded_free(&e);
}
END_TEST

START_TEST(v2_encode_errors) {
  kinfer_error err;
  int64_t shape[] = {2};
  kinfer_request *r = kinfer_request_new();
  kinfer_input *in = kinfer_request_add_input(r, "nodata", KINFER_FP32, shape, 1);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  ck_assert(strstr(err.message, "nodata"));
  float f[3] = {1, 2, 3};
  kinfer_input_set_data(in, f, sizeof f); /* 3 elements for shape [2] */
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  ck_assert(strstr(err.message, "nodata"));
  kinfer_input_set_data(in, f, 8);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_OK);
  float bad[2] = {1, NAN};
  kinfer_input_set_data(in, bad, sizeof bad);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  bad[1] = INFINITY;
  kinfer_input_set_data(in, bad, sizeof bad);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_input_set_binary(in, true); /* binary: bits are sent as they are */
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_OK);
  kinfer_request_free(r);

  r = kinfer_request_new();
  uint16_t h[2] = {0x3c00, 0x4000};
  in = kinfer_request_add_input(r, "h", KINFER_FP16, shape, 1);
  kinfer_input_set_data(in, h, sizeof h);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_input_set_binary(in, true);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_OK);
  in = kinfer_request_add_input(r, "bf", KINFER_BF16, shape, 1);
  kinfer_input_set_data(in, h, sizeof h);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_request_free(r);

  r = kinfer_request_new();
  uint8_t b[2] = {1, 2};
  in = kinfer_request_add_input(r, "flag", KINFER_BOOL, shape, 1);
  kinfer_input_set_data(in, b, 2);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  b[1] = 0;
  kinfer_input_set_data(in, b, 2);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_OK);
  kinfer_request_free(r);

  /* Shape product overflow. */
  r = kinfer_request_new();
  int64_t huge[] = {INT64_MAX, INT64_MAX, 4};
  in = kinfer_request_add_input(r, "big", KINFER_INT8, huge, 3);
  kinfer_input_set_data(in, b, 2);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_request_free(r);

  /* BYTES that are not UTF-8 only go binary. */
  r = kinfer_request_new();
  int64_t one[] = {1};
  const char *el[] = {"\xff\xfe"};
  in = kinfer_request_add_input(r, "s", KINFER_BYTES, one, 1);
  kinfer_input_set_bytes(in, el, NULL, 1);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_input_set_binary(in, true);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_OK);
  /* BYTES data given raw whose count does not match the shape. */
  unsigned char raw[] = {1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b'};
  kinfer_input_set_data(in, raw, sizeof raw);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_input_set_data(in, raw, 3); /* prefix runs past the data */
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_EINPUT);
  kinfer_request_free(r);
}
END_TEST

START_TEST(v2_bytes_both_forms) {
  const char *el[] = {"hello", "", "a\"b\\c\n", "\xc3\xa9t\xc3\xa9"};
  size_t lens[] = {5, 0, 6, 6};
  int64_t shape[] = {2, 2};
  for (int binary = 0; binary < 2; binary++) {
    kinfer_request *r = kinfer_request_new();
    kinfer_input *in = kinfer_request_add_input(r, "s", KINFER_BYTES, shape, 2);
    ck_assert_int_eq(kinfer_input_set_bytes(in, el, lens, 4), KINFER_OK);
    kinfer_input_set_binary(in, binary);
    kinfer_response *resp = echo(r);
    const kinfer_tensor *t = kinfer_response_output(resp, 0);
    ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_BYTES);
    ck_assert_uint_eq(kinfer_tensor_element_count(t), 4);
    ck_assert_ptr_null(kinfer_tensor_data(t));
    ck_assert_uint_eq(kinfer_tensor_nbytes(t), 17);
    for (size_t i = 0; i < 4; i++) {
      const char *p;
      size_t n;
      ck_assert_int_eq(kinfer_tensor_bytes_at(t, i, &p, &n), KINFER_OK);
      ck_assert_uint_eq(n, lens[i]);
      ck_assert(memcmp(p, el[i], n) == 0);
    }
    const char *p;
    size_t n;
    ck_assert_int_eq(kinfer_tensor_bytes_at(t, 4, &p, &n), KINFER_EINVAL);
    kinfer_response_free(resp);
    kinfer_request_free(r);
  }
}
END_TEST

/* Every fixed-size datatype, JSON and binary, encoded then decoded. */
START_TEST(v2_all_datatypes_roundtrip) {
  static const kinfer_datatype types[] = {
      KINFER_BOOL, KINFER_UINT8, KINFER_UINT16, KINFER_UINT32, KINFER_UINT64,
      KINFER_INT8, KINFER_INT16, KINFER_INT32, KINFER_INT64, KINFER_FP16,
      KINFER_FP32, KINFER_FP64, KINFER_BF16};
  unsigned char data[6 * 8];
  for (size_t k = 0; k < sizeof data; k++) data[k] = (unsigned char)(k * 37 + 11);
  for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
    kinfer_datatype dt = types[ti];
    size_t size = kinfer_datatype_size(dt);
    if (dt == KINFER_BOOL)
      for (size_t k = 0; k < 6; k++) data[k] = k % 2;
    if (dt == KINFER_FP32)
      for (size_t k = 0; k < 6; k++) {
        float f = (float)k * 0.37f - 1.0f;
        memcpy(data + 4 * k, &f, 4);
      }
    if (dt == KINFER_FP64)
      for (size_t k = 0; k < 6; k++) {
        double d = (double)k * 1e-300 + 0.1 * (double)k;
        memcpy(data + 8 * k, &d, 8);
      }
    for (int binary = 0; binary < 2; binary++) {
      if (!binary && (dt == KINFER_FP16 || dt == KINFER_BF16)) continue;
      kinfer_request *r = kinfer_request_new();
      int64_t shape[] = {2, 3};
      kinfer_input *in = kinfer_request_add_input(r, "t", dt, shape, 2);
      ck_assert_ptr_nonnull(in);
      kinfer_input_set_data(in, data, 6 * size);
      kinfer_input_set_binary(in, binary);
      kinfer_response *resp = echo(r);
      const kinfer_tensor *t = kinfer_response_output_by_name(resp, "t");
      ck_assert_ptr_nonnull(t);
      ck_assert_int_eq(kinfer_tensor_datatype(t), dt);
      ck_assert_uint_eq(kinfer_tensor_ndim(t), 2);
      ck_assert(kinfer_tensor_shape(t)[0] == 2 && kinfer_tensor_shape(t)[1] == 3);
      ck_assert_uint_eq(kinfer_tensor_element_count(t), 6);
      ck_assert_uint_eq(kinfer_tensor_nbytes(t), 6 * size);
      ck_assert_msg(memcmp(kinfer_tensor_data(t), data, 6 * size) == 0,
                    "%s binary=%d", kinfer_datatype_name(dt), binary);
      if (binary) { /* a view into the body */
        size_t jl;
        const char *json = kinfer_response_json(resp, &jl);
        ck_assert_ptr_eq((const char *)kinfer_tensor_data(t), json + jl);
      }
      kinfer_response_free(resp);
      kinfer_request_free(r);
    }
  }
}
END_TEST

static void int_extreme(kinfer_datatype dt, const void *v, size_t size,
                        const char *text) {
  kinfer_request *r = kinfer_request_new();
  int64_t shape[] = {1};
  kinfer_input *in = kinfer_request_add_input(r, "v", dt, shape, 1);
  kinfer_input_set_data(in, v, size);
  char *s = encode_v2(r);
  char want[128];
  snprintf(want, sizeof want, "\"data\":[%s]", text);
  ck_assert_msg(strstr(s, want), "%s lacks %s", s, want);
  free(s);
  kinfer_response *resp = echo(r);
  ck_assert(memcmp(kinfer_tensor_data(kinfer_response_output(resp, 0)), v, size) == 0);
  kinfer_response_free(resp);
  kinfer_request_free(r);
}

START_TEST(integer_extremes) {
  int8_t i8[] = {INT8_MIN, INT8_MAX};
  int16_t i16[] = {INT16_MIN, INT16_MAX};
  int32_t i32[] = {INT32_MIN, INT32_MAX};
  int64_t i64[] = {INT64_MIN, INT64_MAX};
  uint8_t u8 = UINT8_MAX;
  uint16_t u16 = UINT16_MAX;
  uint32_t u32 = UINT32_MAX;
  uint64_t u64 = UINT64_MAX;
  int_extreme(KINFER_INT8, &i8[0], 1, "-128");
  int_extreme(KINFER_INT8, &i8[1], 1, "127");
  int_extreme(KINFER_INT16, &i16[0], 2, "-32768");
  int_extreme(KINFER_INT16, &i16[1], 2, "32767");
  int_extreme(KINFER_INT32, &i32[0], 4, "-2147483648");
  int_extreme(KINFER_INT32, &i32[1], 4, "2147483647");
  int_extreme(KINFER_INT64, &i64[0], 8, "-9223372036854775808");
  int_extreme(KINFER_INT64, &i64[1], 8, "9223372036854775807");
  int_extreme(KINFER_UINT8, &u8, 1, "255");
  int_extreme(KINFER_UINT16, &u16, 2, "65535");
  int_extreme(KINFER_UINT32, &u32, 4, "4294967295");
  int_extreme(KINFER_UINT64, &u64, 8, "18446744073709551615");
}
END_TEST

/* ---- number text ------------------------------------------------------------ */

static void f32_text(float v, const char *want) {
  char buf[KI_NUM_BUFSIZE];
  size_t n = ki_num_fmt_f32(buf, v);
  ck_assert_msg(strcmp(buf, want) == 0, "%.9g printed as %s, want %s", v, buf, want);
  ck_assert_uint_eq(n, strlen(want));
}

START_TEST(shortest_fp32_text) {
  f32_text(0.1f, "0.1");
  f32_text(1.0f, "1");
  f32_text(-2.5f, "-2.5");
  f32_text(100.0f, "100");
  f32_text(1e30f, "1e+30");
  f32_text(1e-7f, "1e-7");
  f32_text(1.5e-6f, "0.0000015");
  f32_text(3.14159274f, "3.1415927");
  f32_text(16777216.0f, "16777216");
  f32_text(1.43057687e+20f, "1.4305769e+20"); /* not an integer text */
  f32_text(-0.0f, "-0.0");
  f32_text(0.0f, "0");
  f32_text(FLT_MAX, "3.4028235e+38");
  f32_text(FLT_MIN, "1.1754944e-38");
  f32_text(1e-45f, "1e-45"); /* smallest subnormal */
  char buf[KI_NUM_BUFSIZE];
  ck_assert_uint_eq(ki_num_fmt_f32(buf, NAN), 0);
  ck_assert_uint_eq(ki_num_fmt_f64(buf, -INFINITY), 0);
  ki_num_fmt_f64(buf, 0.1);
  ck_assert_str_eq(buf, "0.1");
  ki_num_fmt_f64(buf, DBL_MAX);
  ck_assert_str_eq(buf, "1.7976931348623157e+308");
  ki_num_fmt_f64(buf, 5e-324);
  ck_assert_str_eq(buf, "5e-324");
  ki_num_fmt_f64(buf, 1e21);
  ck_assert_str_eq(buf, "1e+21");
  ki_num_fmt_f64(buf, 123456789012345680000.0);
  ck_assert_str_eq(buf, "1.2345678901234568e+20");
  ki_num_fmt_f64(buf, 999999999999999.0);
  ck_assert_str_eq(buf, "999999999999999");
  ki_num_fmt_f64(buf, 1e15);
  ck_assert_str_eq(buf, "1e+15");
  ki_num_fmt_f64(buf, 1234.5e12);
  ck_assert_str_eq(buf, "1.2345e+15");
  ki_num_fmt_f64(buf, 12345678.875);
  ck_assert_str_eq(buf, "12345678.875");
  ki_num_fmt_f64(buf, 0.000001);
  ck_assert_str_eq(buf, "0.000001");
  ki_num_fmt_f64(buf, 1.5e-7);
  ck_assert_str_eq(buf, "1.5e-7");
}
END_TEST

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

START_TEST(float_roundtrip_random) {
  char buf[KI_NUM_BUFSIZE];
  for (int i = 0; i < 200000; i++) {
    uint32_t bits = (uint32_t)rng();
    float f, back;
    memcpy(&f, &bits, 4);
    if (!isfinite(f)) continue;
    size_t n = ki_num_fmt_f32(buf, f);
    ck_assert(n > 0 && n < KI_NUM_BUFSIZE);
    ck_assert_msg(ki_num_parse_f32(buf, n, &back), "%s", buf);
    ck_assert_msg(memcmp(&f, &back, 4) == 0, "%08x -> %s", bits, buf);
  }
  for (int i = 0; i < 50000; i++) {
    uint64_t bits = rng();
    double d, back;
    memcpy(&d, &bits, 8);
    if (!isfinite(d)) continue;
    size_t n = ki_num_fmt_f64(buf, d);
    ck_assert(ki_num_parse_f64(buf, n, &back));
    ck_assert_msg(memcmp(&d, &back, 8) == 0, "%016llx -> %s",
                  (unsigned long long)bits, buf);
  }
}
END_TEST

START_TEST(float_edges_through_protocol) {
  float f[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, 1.17549421e-38f,
               0.1f, 1.0f / 3.0f};
  double d[] = {0.0, -0.0, DBL_MAX, DBL_MIN, 5e-324, 0.1, 1.0 / 3.0};
  int64_t fs[] = {sizeof f / sizeof f[0]}, ds[] = {sizeof d / sizeof d[0]};
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "f", KINFER_FP32, fs, 1), f,
                        sizeof f);
  kinfer_input_set_data(kinfer_request_add_input(r, "d", KINFER_FP64, ds, 1), d,
                        sizeof d);
  kinfer_response *resp = echo(r);
  ck_assert(memcmp(kinfer_tensor_data(kinfer_response_output(resp, 0)), f, sizeof f) == 0);
  ck_assert(memcmp(kinfer_tensor_data(kinfer_response_output(resp, 1)), d, sizeof d) == 0);
  kinfer_response_free(resp);
  kinfer_request_free(r);
}
END_TEST

START_TEST(comma_locale) {
  /* Number text must not follow a comma-decimal process locale. */
  const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", NULL};
  const char *got = NULL;
  for (int i = 0; names[i] && !got; i++) got = setlocale(LC_ALL, names[i]);
  ck_assert_msg(got != NULL, "no comma-decimal locale installed: run "
                             "tools/scripts/deps.sh --test");
  ck_assert_str_eq(localeconv()->decimal_point, ",");
  char buf[KI_NUM_BUFSIZE];
  ki_num_fmt_f32(buf, 2.5f);
  ck_assert_str_eq(buf, "2.5");
  float f;
  ck_assert(ki_num_parse_f32("2.5", 3, &f) && f == 2.5f);
  kinfer_response *resp = decode_ok(
      KI_DECODE_V2, "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"FP64\","
                    "\"shape\":[1],\"data\":[0.5]}]}");
  ck_assert(((const double *)kinfer_tensor_data(kinfer_response_output(resp, 0)))[0] == 0.5);
  kinfer_response_free(resp);
  setlocale(LC_ALL, "C");
}
END_TEST

/* ---- V2 decoding -------------------------------------------------------------- */

START_TEST(v2_decode_envelope) {
  kinfer_response *r = decode_ok(
      KI_DECODE_V2,
      "{\"model_name\":\"m\",\"model_version\":\"3\",\"id\":\"42\","
      "\"parameters\":{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":0.5,\"n\":null,"
      "\"o\":{}},\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT64\","
      "\"shape\":[],\"parameters\":{\"k\":\"v\"},\"data\":[5]}],\"extra\":[1]}");
  ck_assert_str_eq(kinfer_response_model_name(r), "m");
  ck_assert_str_eq(kinfer_response_model_version(r), "3");
  ck_assert_str_eq(kinfer_response_id(r), "42");
  const kinfer_params *p = kinfer_response_parameters(r);
  ck_assert_uint_eq(kinfer_params_count(p), 4);
  int64_t i;
  ck_assert_int_eq(kinfer_params_get_int(p, "a", &i), KINFER_OK);
  ck_assert(i == 1);
  const kinfer_tensor *t = kinfer_response_output(r, 0);
  ck_assert_uint_eq(kinfer_tensor_ndim(t), 0);
  ck_assert_uint_eq(kinfer_tensor_element_count(t), 1);
  ck_assert(*(const int64_t *)kinfer_tensor_data(t) == 5);
  const char *s;
  ck_assert_int_eq(kinfer_params_get_string(kinfer_tensor_parameters(t), "k", &s), KINFER_OK);
  ck_assert_str_eq(s, "v");
  ck_assert_ptr_null(kinfer_response_output(r, 1));
  ck_assert_ptr_null(kinfer_response_output_by_name(r, "nope"));
  size_t len;
  ck_assert_ptr_nonnull(kinfer_response_json(r, &len));
  ck_assert_uint_gt(len, 10);
  ki_response_set_status(r, 200);
  ck_assert_int_eq(kinfer_response_status(r), 200);
  kinfer_response_free(r);
}
END_TEST

START_TEST(v2_decode_nested) {
  kinfer_response *r = decode_ok(
      KI_DECODE_V2,
      "{\"outputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2,2,2],"
      "\"data\":[[[1,2],[3,4]],[[5,6],[7,8.5]]]},"
      "{\"name\":\"b\",\"datatype\":\"INT16\",\"shape\":[2,2],"
      "\"data\":[1,2,3,4]},{\"name\":\"e\",\"datatype\":\"FP32\","
      "\"shape\":[0,3],\"data\":[]},{\"name\":\"s\",\"datatype\":\"BYTES\","
      "\"shape\":[2,1],\"data\":[[\"x\\u0000y\"],[\"\"]]}]}");
  const float *a = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(a[0] == 1 && a[6] == 7 && a[7] == 8.5f);
  const int16_t *b = kinfer_tensor_data(kinfer_response_output(r, 1));
  ck_assert(b[3] == 4);
  const kinfer_tensor *e = kinfer_response_output(r, 2);
  ck_assert_uint_eq(kinfer_tensor_element_count(e), 0);
  ck_assert_ptr_null(kinfer_tensor_data(e));
  const char *p;
  size_t n;
  ck_assert_int_eq(kinfer_tensor_bytes_at(kinfer_response_output(r, 3), 0, &p, &n), KINFER_OK);
  ck_assert_uint_eq(n, 3);
  ck_assert(memcmp(p, "x\0y", 3) == 0);
  kinfer_response_free(r);
}
END_TEST

static const char *out1(const char *dt, const char *shape, const char *data,
                        char *buf, size_t size) {
  int n = snprintf(buf, size,
                   "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"%s\","
                   "\"shape\":%s,\"data\":%s}]}",
                   dt, shape, data);
  ck_assert(n > 0 && (size_t)n < size);
  return buf;
}

START_TEST(v2_decode_value_validation) {
  static const struct {
    const char *dt, *shape, *data, *fragment;
  } cases[] = {
      {"UINT8", "[1]", "[300]", "element 0"},
      {"UINT8", "[1]", "[-1]", "element 0"},
      {"INT8", "[1]", "[128]", NULL},
      {"INT8", "[2]", "[-128,-129]", "element 1"},
      {"INT16", "[1]", "[32768]", NULL},
      {"UINT16", "[1]", "[65536]", NULL},
      {"INT32", "[1]", "[1.5]", NULL},
      {"INT32", "[1]", "[1.0]", NULL},
      {"INT32", "[1]", "[2147483648]", NULL},
      {"INT32", "[1]", "[\"1\"]", NULL},
      {"UINT32", "[1]", "[4294967296]", NULL},
      {"INT64", "[1]", "[9223372036854775808]", NULL},
      {"UINT64", "[1]", "[-1]", NULL},
      {"BOOL", "[1]", "[1]", NULL},
      {"BOOL", "[1]", "[null]", NULL},
      {"FP32", "[1]", "[1e39]", NULL},
      {"FP32", "[1]", "[\"1\"]", NULL},
      {"FP32", "[1]", "[NaN]", NULL},
      {"FP64", "[1]", "[1e400]", NULL},
      {"FP64", "[1]", "[Infinity]", NULL},
      {"FP64", "[1]", "[true]", NULL},
      {"BYTES", "[1]", "[1]", NULL},
      {"FP16", "[1]", "[65520]", "FP16 range"},
      {"FP16", "[1]", "[1e10]", "FP16 range"},
      {"FP16", "[1]", "[true]", NULL},
      {"BF16", "[1]", "[3.4e38]", "BF16 range"},
      {"BF16", "[1]", "[\"1\"]", NULL},
      {"INT32", "[2]", "[1]", "shape needs 2"},
      {"INT32", "[2]", "[1,2,3]", "more than"},
      {"INT32", "[2]", "[[1,2]]", "deeper"},
      {"INT32", "[2,1]", "[[[1]],[[2]]]", "deeper"},
      {"INT32", "[1]", "5", "not an array"},
      {"INT32", "[-1]", "[]", "negative"},
      {"INT32", "[1.0]", "[1]", "not an integer"},
      {"INT32", "[4294967296,4294967296,4294967296]", "[]", "overflow"},
      {"INT64", "[9223372036854775807,3]", "[]", "overflow"},
      {"FP33", "[1]", "[1]", "unknown datatype"},
      {"fp32", "[1]", "[1]", "unknown datatype"},
  };
  char buf[512];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    BAD(out1(cases[i].dt, cases[i].shape, cases[i].data, buf, sizeof buf),
        cases[i].fragment);
  /* And what is fine. */
  kinfer_response *r = decode_ok(KI_DECODE_V2, out1("UINT64", "[2]",
      "[18446744073709551615,0]", buf, sizeof buf));
  ck_assert(((const uint64_t *)kinfer_tensor_data(kinfer_response_output(r, 0)))[0] == UINT64_MAX);
  kinfer_response_free(r);
  r = decode_ok(KI_DECODE_V2, out1("FP32", "[2]", "[16777217, 1e-46]", buf, sizeof buf));
  const float *f = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(f[0] == 16777216.0f && f[1] == 0.0f);
  kinfer_response_free(r);
}
END_TEST

/* FP16 / BF16 sent as JSON numbers (KServe's Python server does this):
 * rounded to nearest-even. */
START_TEST(v2_decode_half_json) {
  char buf[512];
  kinfer_response *r = decode_ok(KI_DECODE_V2, out1("FP16", "[9]",
      "[1,-2,65504,5.960464477539063e-8,0.5,-0.0,65519,2.98e-8,0.333333]",
      buf, sizeof buf));
  static const uint16_t want16[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x3800,
                                    0x8000, 0x7bff, 0x0000, 0x3555};
  ck_assert(memcmp(kinfer_tensor_data(kinfer_response_output(r, 0)), want16,
                   sizeof want16) == 0);
  kinfer_response_free(r);
  r = decode_ok(KI_DECODE_V2, out1("BF16", "[6]",
      "[1,-2.5,3.3895314e38,1e-40,0.1,9.2e-41]", buf, sizeof buf));
  static const uint16_t want_bf[] = {0x3f80, 0xc020, 0x7f7f, 0x0001, 0x3dcd,
                                     0x0001};
  const uint16_t *got = kinfer_tensor_data(kinfer_response_output(r, 0));
  for (size_t i = 0; i < 6; i++)
    ck_assert_msg(got[i] == want_bf[i], "bf16 %zu: %04x, want %04x", i, got[i],
                  want_bf[i]);
  kinfer_response_free(r);
  /* Every FP16 value: its shortest text reads back to the same bits. */
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00) continue; /* Inf, NaN */
    int e = (int)(h >> 10 & 31), m = (int)(h & 0x3ff);
    double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    if (h & 0x8000) v = -v;
    char num[KI_NUM_BUFSIZE];
    ki_num_fmt_f64(num, v);
    char data[64];
    snprintf(data, sizeof data, "[%s]", num);
    r = decode_ok(KI_DECODE_V2, out1("FP16", "[1]", data, buf, sizeof buf));
    uint16_t back;
    memcpy(&back, kinfer_tensor_data(kinfer_response_output(r, 0)), 2);
    ck_assert_msg(back == h, "%04x -> %s -> %04x", h, num, back);
    kinfer_response_free(r);
  }
}
END_TEST

START_TEST(v2_decode_structure_validation) {
  BAD("", "not valid JSON");
  BAD("   ", NULL);
  BAD("{\"outputs\":[]", "not valid JSON");
  BAD("{\"outputs\":[]} x", "unexpected text");
  BAD("{\"outputs\":[]}{}", NULL);
  BAD("[]", "not a JSON object");
  BAD("{}", "outputs");
  BAD("{\"outputs\":{}}", "outputs");
  BAD("{\"outputs\":[1]}", "not an object");
  BAD("{\"outputs\":[{\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", "name");
  BAD("{\"outputs\":[{\"name\":1,\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", "name");
  BAD("{\"outputs\":[{\"name\":\"o\",\"shape\":[1],\"data\":[1]}]}", "datatype");
  BAD("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"FP32\",\"data\":[1]}]}", "shape");
  BAD("{\"outputs\":[{\"name\":\"o\",\"datatype\":\"FP32\",\"shape\":[1]}]}", "no data");
  BAD("{\"outputs\":[{\"name\":\"\xff\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", "utf-8");
  /* Deep nesting: far beyond the bound. */
  size_t depth = 10000;
  char *deep = malloc(2 * depth + 64);
  size_t n = 0;
  n += (size_t)sprintf(deep, "{\"outputs\":");
  for (size_t i = 0; i < depth; i++) deep[n++] = '[';
  for (size_t i = 0; i < depth; i++) deep[n++] = ']';
  deep[n++] = '}';
  expect_bad(KI_DECODE_V2, deep, n, NULL, "nesting");
  expect_bad(KI_DECODE_V1, deep, n, NULL, "nesting");
  free(deep);
}
END_TEST

/* A binary body: JSON text then |bin|. */
static void binary_bad(const char *json, const void *bin, size_t binlen,
                       const char *ihcl_override, const char *fragment) {
  size_t jl = strlen(json);
  char *body = malloc(jl + binlen + 1);
  memcpy(body, json, jl);
  memcpy(body + jl, bin, binlen);
  char ihcl[32];
  snprintf(ihcl, sizeof ihcl, "%zu", jl);
  expect_bad(KI_DECODE_V2, body, jl + binlen, ihcl_override ? ihcl_override : ihcl,
             fragment);
  free(body);
}

START_TEST(v2_decode_binary_validation) {
  const char *j4 = "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","
                   "\"shape\":[1],\"parameters\":{\"binary_data_size\":4}}]}";
  const char bin[8] = {1, 0, 0, 0, 2, 0, 0, 0};
  binary_bad(j4, bin, 3, NULL, "runs past");
  binary_bad(j4, bin, 8, NULL, "not described");
  binary_bad(j4, bin, 4, "9999", "Inference-Header-Content-Length");
  binary_bad(j4, bin, 4, "-5", "Inference-Header-Content-Length");
  binary_bad(j4, bin, 4, "", "Inference-Header-Content-Length");
  binary_bad(j4, bin, 4, "12a", "Inference-Header-Content-Length");
  binary_bad(j4, bin, 4, " 12", "Inference-Header-Content-Length");
  binary_bad(j4, bin, 4, "99999999999999999999999", "Inference-Header-Content-Length");
  binary_bad(j4, bin, 4, "10", "JSON");
  const char *j8 = "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","
                   "\"shape\":[1],\"parameters\":{\"binary_data_size\":8}}]}";
  binary_bad(j8, bin, 8, NULL, "need 4");
  const char *jneg = "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","
                     "\"shape\":[1],\"parameters\":{\"binary_data_size\":-4}}]}";
  binary_bad(jneg, bin, 4, NULL, "runs past");
  const char *jboth = "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","
                      "\"shape\":[1],\"data\":[1],\"parameters\":{\"binary_data_size\":4}}]}";
  binary_bad(jboth, bin, 4, NULL, "both");
  /* binary_data_size in a body without a binary part. */
  BAD(j4, "no binary part");
  /* BYTES: a length prefix beyond the buffer, and a count mismatch. */
  const char *jb = "{\"outputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\","
                   "\"shape\":[2],\"parameters\":{\"binary_data_size\":7}}]}";
  const unsigned char b1[7] = {1, 0, 0, 0, 'a', 9, 0};
  binary_bad(jb, b1, 7, NULL, "runs past");
  const unsigned char b2[7] = {2, 0, 0, 0, 'a', 'b', 0};
  binary_bad(jb, b2, 7, NULL, NULL);
  const unsigned char b3[7] = {0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c'};
  binary_bad(jb, b3, 7, NULL, "runs past");
  const char *jbool = "{\"outputs\":[{\"name\":\"b\",\"datatype\":\"BOOL\","
                      "\"shape\":[2],\"parameters\":{\"binary_data_size\":2}}]}";
  const unsigned char bb[2] = {1, 2};
  binary_bad(jbool, bb, 2, NULL, "BOOL");
  /* Sums of sizes beyond the body. */
  const char *j2 = "{\"outputs\":[{\"name\":\"a\",\"datatype\":\"INT32\","
                   "\"shape\":[1],\"parameters\":{\"binary_data_size\":4}},"
                   "{\"name\":\"b\",\"datatype\":\"INT32\",\"shape\":[1],"
                   "\"parameters\":{\"binary_data_size\":4}}]}";
  binary_bad(j2, bin, 6, NULL, "runs past");
}
END_TEST

START_TEST(v2_decode_binary_mixed) {
  const char *json = "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"a\","
                     "\"datatype\":\"INT32\",\"shape\":[2],\"parameters\":"
                     "{\"binary_data_size\":8}},{\"name\":\"j\",\"datatype\":"
                     "\"FP32\",\"shape\":[1],\"data\":[0.5]},{\"name\":\"s\","
                     "\"datatype\":\"BYTES\",\"shape\":[1],\"parameters\":"
                     "{\"binary_data_size\":6}}]}";
  size_t jl = strlen(json);
  char *body = malloc(jl + 14);
  memcpy(body, json, jl);
  memcpy(body + jl, "\x07\0\0\0\xf9\xff\xff\xff\x02\0\0\0hi", 14);
  char ihcl[24];
  snprintf(ihcl, sizeof ihcl, "%zu", jl);
  kinfer_response *r;
  kinfer_error err;
  ck_assert_int_eq(ki_decode_response(KI_DECODE_AUTO, body, jl + 14, ihcl, &r, &err), KINFER_OK);
  const int32_t *a = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert_ptr_eq((const char *)a, body + jl);
  int32_t v[2];
  memcpy(v, a, 8);
  ck_assert(v[0] == 7 && v[1] == -7);
  const char *p;
  size_t n;
  ck_assert_int_eq(kinfer_tensor_bytes_at(kinfer_response_output(r, 2), 0, &p, &n), KINFER_OK);
  ck_assert(n == 2 && p == body + jl + 12);
  size_t len;
  ck_assert_ptr_eq(kinfer_response_json(r, &len), body);
  ck_assert_uint_eq(len, jl);
  kinfer_response_free(r);
}
END_TEST

/* ---- V1 ----------------------------------------------------------------------- */

static char *encode_v1(const kinfer_request *r) {
  ki_encoded e;
  kinfer_error err;
  int rc = ki_encode_request(r, KI_PROTO_V1, &e, &err);
  ck_assert_msg(rc == KINFER_OK, "%s", err.message);
  ck_assert(!e.binary);
  ck_assert_str_eq(e.content_type, "application/json");
  char *s = strdup(e.json.data);
  ki_encoded_free(&e);
  return s;
}

START_TEST(v1_encode) {
  kinfer_request *r = kinfer_request_new();
  int64_t s23[] = {2, 3};
  float f[] = {1, 2, 3, 4.5f, 5, 6};
  kinfer_input *a = kinfer_request_add_input(r, "a", KINFER_FP32, s23, 2);
  kinfer_input_set_data(a, f, sizeof f);
  kinfer_input_set_binary(a, true); /* no meaning in V1 */
  char *s = encode_v1(r);
  ck_assert_str_eq(s, "{\"instances\":[[1,2,3],[4.5,5,6]]}");
  free(s);
  int64_t s1[] = {1};
  const char *el[] = {"hi \"you\""};
  kinfer_input *b = kinfer_request_add_input(r, "b", KINFER_BYTES, s1, 1);
  kinfer_input_set_bytes(b, el, NULL, 1);
  kinfer_input *c = kinfer_request_add_input(r, "c", KINFER_BOOL, NULL, 0);
  uint8_t t = 1;
  kinfer_input_set_data(c, &t, 1);
  int64_t s20[] = {2, 0};
  kinfer_input *d = kinfer_request_add_input(r, "d", KINFER_INT64, s20, 2);
  kinfer_input_set_data(d, NULL, 0);
  s = encode_v1(r);
  ck_assert_str_eq(s, "{\"inputs\":{\"a\":[[1,2,3],[4.5,5,6]],\"b\":"
                      "[\"hi \\\"you\\\"\"],\"c\":true,\"d\":[[],[]]}}");
  free(s);
  kinfer_request_free(r);

  kinfer_error err;
  r = kinfer_request_new();
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V1, &err), KINFER_EINPUT);
  uint16_t h = 0;
  kinfer_input_set_data(kinfer_request_add_input(r, "h", KINFER_FP16, s1, 1), &h, 2);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V1, &err), KINFER_EINPUT);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_UNSUPPORTED, &err), KINFER_EUNSUPPORTED);
  kinfer_request_free(r);
  /* No elements, but 2^40 empty arrays: refused rather than built. */
  r = kinfer_request_new();
  int64_t wide[] = {(int64_t)1 << 40, 0};
  kinfer_input_set_data(kinfer_request_add_input(r, "w", KINFER_INT8, wide, 2), NULL, 0);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V1, &err), KINFER_EINPUT);
  ck_assert_int_eq(encode_rc(r, KI_PROTO_V2, &err), KINFER_OK);
  kinfer_request_free(r);
}
END_TEST

START_TEST(v1_predictions) {
  static const struct {
    const char *body;
    int outputs;
    kinfer_datatype dt;
    size_t ndim;
    int64_t shape0, shape1;
  } cases[] = {
      {"{\"predictions\":[1,2,3]}", 1, KINFER_INT64, 1, 3, 0},
      {"{\"predictions\":[[1,2.5],[3,4]]}", 1, KINFER_FP64, 2, 2, 2},
      {"{\"predictions\":[[1e2,2],[3,4]]}", 1, KINFER_FP64, 2, 2, 2},
      {"{\"predictions\":[true,false]}", 1, KINFER_BOOL, 1, 2, 0},
      {"{\"predictions\":[[\"a\"],[\"b\"]]}", 1, KINFER_BYTES, 2, 2, 1},
      {"{\"predictions\":[[],[]]}", 1, KINFER_FP64, 2, 2, 0},
      {"{\"predictions\":[18446744073709551615]}", 1, KINFER_FP64, 1, 1, 0},
      {"{\"predictions\":[[1,2],[3]]}", 0, 0, 0, 0, 0},
      {"{\"predictions\":[[1,2],3]}", 0, 0, 0, 0, 0},
      {"{\"predictions\":[1,\"a\"]}", 0, 0, 0, 0, 0},
      {"{\"predictions\":[1,true]}", 0, 0, 0, 0, 0},
      {"{\"predictions\":[null]}", 0, 0, 0, 0, 0},
      {"{\"predictions\":[{\"a\":1}]}", 0, 0, 0, 0, 0},
      {"{\"predictions\":5}", 0, 0, 0, 0, 0},
      {"{\"explanations\":[1,2]}", 0, 0, 0, 0, 0},
      {"[1,2]", 0, 0, 0, 0, 0},
      {"\"text\"", 0, 0, 0, 0, 0},
      {"42", 0, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kinfer_response *r = decode_ok(KI_DECODE_V1, cases[i].body);
    size_t len;
    const char *json = kinfer_response_json(r, &len);
    ck_assert_uint_eq(len, strlen(cases[i].body));
    ck_assert(memcmp(json, cases[i].body, len) == 0);
    ck_assert_ptr_null(kinfer_response_model_name(r));
    ck_assert_msg(kinfer_response_output_count(r) == (size_t)cases[i].outputs,
                  "%s", cases[i].body);
    if (cases[i].outputs) {
      const kinfer_tensor *t = kinfer_response_output_by_name(r, "predictions");
      ck_assert_ptr_nonnull(t);
      ck_assert_int_eq(kinfer_tensor_datatype(t), cases[i].dt);
      ck_assert_uint_eq(kinfer_tensor_ndim(t), cases[i].ndim);
      ck_assert(kinfer_tensor_shape(t)[0] == cases[i].shape0);
      if (cases[i].ndim > 1) ck_assert(kinfer_tensor_shape(t)[1] == cases[i].shape1);
    }
    kinfer_response_free(r);
  }
  kinfer_response *r = decode_ok(KI_DECODE_V1, "{\"predictions\":[[1,2.5],[-3,4]]}");
  const double *d = kinfer_tensor_data(kinfer_response_output(r, 0));
  ck_assert(d[0] == 1 && d[1] == 2.5 && d[2] == -3 && d[3] == 4);
  kinfer_response_free(r);
  expect_bad(KI_DECODE_V1, "not json", 8, NULL, "JSON");
  expect_bad(KI_DECODE_V1, "{\"predictions\":[1]} x", 21, NULL, NULL);
}
END_TEST

START_TEST(auto_mode) {
  kinfer_response *r = decode_ok(KI_DECODE_AUTO, "{\"predictions\":[1]}");
  ck_assert_uint_eq(kinfer_response_output_count(r), 1);
  ck_assert_int_eq(kinfer_tensor_datatype(kinfer_response_output(r, 0)), KINFER_INT64);
  kinfer_response_free(r);
  r = decode_ok(KI_DECODE_AUTO, "{\"model_name\":\"g\",\"outputs\":[{\"name\":\"o\","
                "\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}");
  ck_assert_str_eq(kinfer_response_model_name(r), "g");
  ck_assert_int_eq(kinfer_tensor_datatype(kinfer_response_output(r, 0)), KINFER_FP32);
  kinfer_response_free(r);
  r = decode_ok(KI_DECODE_AUTO, "{\"outputs\":5}");
  ck_assert_uint_eq(kinfer_response_output_count(r), 0);
  kinfer_response_free(r);
}
END_TEST

/* ---- objects -------------------------------------------------------------------- */

START_TEST(json_form) {
  kinfer_error err;
  const char *txt = " {\"instances\": [[1, 2]]} \n";
  kinfer_request *r = kinfer_request_from_json(txt, strlen(txt), &err);
  ck_assert_ptr_nonnull(r);
  ck_assert(ki_request_is_json_form(r));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", KINFER_FP32, NULL, 0));
  ck_assert_int_eq(kinfer_request_set_id(r, "x"), KINFER_EINVAL);
  for (int proto = KI_PROTO_V1; proto <= KI_PROTO_V2; proto++) {
    ki_encoded e;
    ck_assert_int_eq(ki_encode_request(r, proto, &e, &err), KINFER_OK);
    ck_assert(!e.binary);
    ck_assert_uint_eq(e.iovcnt, 1);
    ck_assert_uint_eq(e.total, strlen(txt));
    ck_assert(memcmp(e.iov[0].iov_base, txt, e.total) == 0);
    ki_encoded_free(&e);
  }
  kinfer_request_free(r);
  static const char *bad[] = {"[1,2]", "", "{", "{} {}", "{\"a\":1} x", "3", "\"s\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err.code = 0;
    ck_assert_ptr_null(kinfer_request_from_json(bad[i], strlen(bad[i]), &err));
    ck_assert_int_eq(err.code, KINFER_EINVAL);
  }
  ck_assert_ptr_null(kinfer_request_from_json(NULL, 0, &err));
  r = kinfer_request_from_json("{}", 2, NULL); /* err may be NULL */
  ck_assert_ptr_nonnull(r);
  kinfer_request_free(r);
  ck_assert_ptr_null(kinfer_request_from_json("[]", 2, NULL));
  ck_assert(!ki_request_is_json_form(NULL));
}
END_TEST

START_TEST(null_robustness) {
  int64_t shape[] = {1, -1};
  kinfer_request *r = kinfer_request_new();
  ck_assert_ptr_null(kinfer_request_add_input(NULL, "x", KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, NULL, KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "", KINFER_FP32, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", (kinfer_datatype)77, shape, 1));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", KINFER_FP32, shape, 2));
  ck_assert_ptr_null(kinfer_request_add_input(r, "x", KINFER_FP32, NULL, 1));
  ck_assert_ptr_null(kinfer_request_add_output(r, NULL));
  ck_assert_ptr_null(kinfer_request_add_output(NULL, "y"));
  ck_assert_int_eq(kinfer_input_set_data(NULL, "", 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_borrow_data(NULL, "", 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_bytes(NULL, NULL, NULL, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_binary(NULL, true), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_input_parameters(NULL));
  ck_assert_int_eq(kinfer_requested_output_set_binary(NULL, true), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_requested_output_parameters(NULL));
  ck_assert_int_eq(kinfer_request_set_binary_outputs(NULL, true), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_request_set_id(NULL, "x"), KINFER_EINVAL);
  ck_assert_ptr_null(kinfer_request_parameters(NULL));
  kinfer_input *in = kinfer_request_add_input(r, "x", KINFER_FP32, shape, 1);
  ck_assert_int_eq(kinfer_input_set_data(in, NULL, 4), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_input_set_bytes(in, NULL, NULL, 0), KINFER_EINVAL); /* not BYTES */
  ck_assert_int_eq(kinfer_request_set_id(r, "a"), KINFER_OK);
  ck_assert_int_eq(kinfer_request_set_id(r, NULL), KINFER_OK);
  kinfer_request_free(r);
  kinfer_request_free(NULL);
  kinfer_response_free(NULL);
  ck_assert_int_eq(kinfer_response_status(NULL), 0);
  ck_assert_ptr_null(kinfer_response_model_name(NULL));
  ck_assert_ptr_null(kinfer_response_model_version(NULL));
  ck_assert_ptr_null(kinfer_response_id(NULL));
  ck_assert_ptr_null(kinfer_response_parameters(NULL));
  ck_assert_uint_eq(kinfer_response_output_count(NULL), 0);
  ck_assert_ptr_null(kinfer_response_output(NULL, 0));
  ck_assert_ptr_null(kinfer_response_output_by_name(NULL, "x"));
  size_t len = 5;
  ck_assert_ptr_null(kinfer_response_json(NULL, &len));
  ck_assert_uint_eq(len, 0);
  ck_assert_ptr_null(kinfer_tensor_name(NULL));
  ck_assert_uint_eq(kinfer_tensor_ndim(NULL), 0);
  ck_assert_ptr_null(kinfer_tensor_shape(NULL));
  ck_assert_uint_eq(kinfer_tensor_element_count(NULL), 0);
  ck_assert_ptr_null(kinfer_tensor_data(NULL));
  ck_assert_uint_eq(kinfer_tensor_nbytes(NULL), 0);
  ck_assert_ptr_null(kinfer_tensor_parameters(NULL));
  const char *p;
  ck_assert_int_eq(kinfer_tensor_bytes_at(NULL, 0, &p, &len), KINFER_EINVAL);
  kinfer_error err;
  ck_assert_int_eq(ki_encode_request(NULL, KI_PROTO_V2, NULL, &err), KINFER_EINVAL);
  ki_encoded e;
  ck_assert_int_eq(ki_encode_request(NULL, KI_PROTO_V2, &e, &err), KINFER_EINVAL);
  ki_encoded_free(&e);
  ki_encoded_free(NULL);
  ck_assert_int_eq(ki_decode_response(KI_DECODE_V2, NULL, 0, NULL, NULL, &err), KINFER_EINVAL);
  kinfer_response *resp;
  ck_assert_int_eq(ki_decode_response((enum ki_decode_mode)9, NULL, 0, NULL, &resp, &err), KINFER_EINVAL);
  ki_response_set_status(NULL, 200);
}
END_TEST

/* ---- shared vectors (proto/vectors) ----------------------------------------------- */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
  p[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return p;
}


static json_object *get(json_object *o, const char *key) {
  json_object *v = NULL;
  json_object_object_get_ex(o, key, &v);
  return v;
}

/* Fills a scratch tensor from an expected "data" (flat JSON) or "data_hex"
 * (little-endian bytes) description. */
static void expected_tensor(struct kinfer_tensor *t, json_object *desc) {
  memset(t, 0, sizeof *t);
  t->name = strdup(json_object_get_string(get(desc, "name")));
  ck_assert_int_eq(kinfer_datatype_from_name(json_object_get_string(get(desc, "datatype")), &t->dt), KINFER_OK);
  json_object *shape = get(desc, "shape");
  t->ndim = json_object_array_length(shape);
  t->shape = calloc(t->ndim + 1, sizeof(int64_t));
  for (size_t i = 0; i < t->ndim; i++)
    t->shape[i] = json_object_get_int64(json_object_array_get_idx(shape, i));
  ck_assert(ki_shape_count(t->shape, t->ndim, &t->count));
  t->nbytes = t->count * kinfer_datatype_size(t->dt);
  json_object *hexel = get(desc, "data_hex_elements");
  if (hexel) { /* BYTES elements that are not text */
    ck_assert_uint_eq(json_object_array_length(hexel), t->count);
    t->elems = calloc(t->count + 1, sizeof *t->elems);
    char *text = malloc(strlen(json_object_to_json_string(hexel)) + 1);
    t->owned = text;
    for (size_t k = 0; k < t->count; k++) {
      const char *h = json_object_get_string(json_object_array_get_idx(hexel, k));
      t->elems[k].p = text;
      t->elems[k].n = strlen(h) / 2;
      for (size_t i = 0; i < t->elems[k].n; i++) {
        unsigned v;
        ck_assert(sscanf(h + 2 * i, "%2x", &v) == 1);
        *text++ = (char)v;
      }
      t->nbytes += t->elems[k].n;
    }
    return;
  }
  json_object *hex = get(desc, "data_hex");
  if (hex) {
    const char *h = json_object_get_string(hex);
    size_t n = strlen(h) / 2;
    ck_assert_uint_eq(n, t->nbytes);
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
      unsigned v;
      ck_assert(sscanf(h + 2 * i, "%2x", &v) == 1);
      b[i] = (unsigned char)v;
    }
    t->owned = b;
    t->data = n ? b : NULL;
    return;
  }
  kinfer_error err;
  int rc = ki_tensor_from_json(t, get(desc, "data"), &err);
  ck_assert_msg(rc == KINFER_OK, "expected data: %s", err.message);
}

static void same_tensor(const kinfer_tensor *got, const struct kinfer_tensor *want,
                        const char *vcase) {
  ck_assert_msg(got != NULL, "%s: missing output %s", vcase, want->name);
  ck_assert_str_eq(kinfer_tensor_name(got), want->name);
  ck_assert_int_eq(kinfer_tensor_datatype(got), want->dt);
  ck_assert_uint_eq(kinfer_tensor_ndim(got), want->ndim);
  for (size_t i = 0; i < want->ndim; i++)
    ck_assert(kinfer_tensor_shape(got)[i] == want->shape[i]);
  ck_assert_uint_eq(kinfer_tensor_element_count(got), want->count);
  ck_assert_uint_eq(kinfer_tensor_nbytes(got), want->nbytes);
  if (want->dt != KINFER_BYTES) {
    ck_assert_msg(want->nbytes == 0 ||
                  memcmp(kinfer_tensor_data(got), want->data, want->nbytes) == 0,
                  "%s: output %s differs", vcase, want->name);
    return;
  }
  for (size_t i = 0; i < want->count; i++) {
    const char *p;
    size_t n;
    ck_assert_int_eq(kinfer_tensor_bytes_at(got, i, &p, &n), KINFER_OK);
    ck_assert_uint_eq(n, want->elems[i].n);
    ck_assert(memcmp(p, want->elems[i].p, n) == 0);
  }
}

static void check_strings(const kinfer_response *r, json_object *exp) {
  json_object *v;
  if ((v = get(exp, "model_name")))
    ck_assert_str_eq(kinfer_response_model_name(r), json_object_get_string(v));
  if ((v = get(exp, "model_version")))
    ck_assert_str_eq(kinfer_response_model_version(r), json_object_get_string(v));
  if ((v = get(exp, "id")))
    ck_assert_str_eq(kinfer_response_id(r), json_object_get_string(v));
}

static void run_response_vector(const char *dir, json_object *exp, const char *vcase) {
  char path[1024];
  ck_assert(snprintf(path, sizeof path, "%s/%s", dir,
                     json_object_get_string(get(exp, "body"))) < (int)sizeof path);
  size_t len;
  char *body = slurp(path, &len);
  const char *mode = json_object_get_string(get(exp, "mode"));
  enum ki_decode_mode m = strcmp(mode, "v1") == 0   ? KI_DECODE_V1
                          : strcmp(mode, "v2") == 0 ? KI_DECODE_V2
                                                    : KI_DECODE_AUTO;
  char ihcl[32];
  json_object *hl = get(exp, "header_length");
  if (hl) snprintf(ihcl, sizeof ihcl, "%lld", (long long)json_object_get_int64(hl));
  kinfer_response *r = NULL;
  kinfer_error err;
  int rc = ki_decode_response(m, body, len, hl ? ihcl : NULL, &r, &err);
  json_object *want_err = get(exp, "error");
  if (want_err) {
    ck_assert_msg(rc == KINFER_EBADRESPONSE, "%s: decoded, expected an error", vcase);
    return;
  }
  ck_assert_msg(rc == KINFER_OK, "%s: %s", vcase, err.message);
  check_strings(r, exp);
  json_object *outs = get(exp, "outputs");
  ck_assert_uint_eq(kinfer_response_output_count(r), json_object_array_length(outs));
  for (size_t i = 0; i < json_object_array_length(outs); i++) {
    struct kinfer_tensor want;
    expected_tensor(&want, json_object_array_get_idx(outs, i));
    same_tensor(kinfer_response_output(r, i), &want, vcase);
    ki_tensor_clear(&want);
  }
  kinfer_response_free(r);
}

static void add_params(kinfer_params *p, json_object *obj) {
  if (obj) ck_assert_int_eq(ki_params_from_json(p, obj), KINFER_OK);
}

static kinfer_request *build_request(json_object *exp) {
  kinfer_request *r = kinfer_request_new();
  json_object *v;
  if ((v = get(exp, "id"))) kinfer_request_set_id(r, json_object_get_string(v));
  add_params(kinfer_request_parameters(r), get(exp, "parameters"));
  if ((v = get(exp, "binary_data_output")))
    kinfer_request_set_binary_outputs(r, json_object_get_boolean(v));
  json_object *ins = get(exp, "inputs");
  for (size_t i = 0; i < json_object_array_length(ins); i++) {
    json_object *d = json_object_array_get_idx(ins, i);
    struct kinfer_tensor t;
    expected_tensor(&t, d);
    kinfer_input *in = kinfer_request_add_input(r, t.name, t.dt, t.shape, t.ndim);
    ck_assert_ptr_nonnull(in);
    if (t.dt == KINFER_BYTES) {
      const char **el = calloc(t.count + 1, sizeof *el);
      size_t *lens = calloc(t.count + 1, sizeof *lens);
      for (size_t k = 0; k < t.count; k++) {
        el[k] = t.elems[k].p;
        lens[k] = t.elems[k].n;
      }
      ck_assert_int_eq(kinfer_input_set_bytes(in, el, lens, t.count), KINFER_OK);
      free(el);
      free(lens);
    } else {
      ck_assert_int_eq(kinfer_input_set_data(in, t.data, t.nbytes), KINFER_OK);
    }
    if ((v = get(d, "binary"))) kinfer_input_set_binary(in, json_object_get_boolean(v));
    add_params(kinfer_input_parameters(in), get(d, "parameters"));
    ki_tensor_clear(&t);
  }
  json_object *outs = get(exp, "outputs");
  for (size_t i = 0; outs && i < json_object_array_length(outs); i++) {
    json_object *d = json_object_array_get_idx(outs, i);
    kinfer_requested_output *o =
        kinfer_request_add_output(r, json_object_get_string(get(d, "name")));
    if ((v = get(d, "binary"))) kinfer_requested_output_set_binary(o, json_object_get_boolean(v));
    add_params(kinfer_requested_output_parameters(o), get(d, "parameters"));
  }
  return r;
}

static void run_request_vector(const char *dir, json_object *exp, const char *vcase) {
  kinfer_request *r = build_request(exp);
  const char *proto = json_object_get_string(get(exp, "protocol"));
  ki_encoded e;
  kinfer_error err;
  int rc = ki_encode_request(r, strcmp(proto, "v1") == 0 ? KI_PROTO_V1 : KI_PROTO_V2,
                             &e, &err);
  ck_assert_msg(rc == KINFER_OK, "%s: %s", vcase, err.message);
  char path[1024];
  ck_assert(snprintf(path, sizeof path, "%s/%s", dir,
                     json_object_get_string(get(exp, "body"))) < (int)sizeof path);
  size_t len, got_len;
  char *want = slurp(path, &len);
  char *got = flatten(&e, &got_len);
  ck_assert_msg(got_len == len && memcmp(got, want, len) == 0,
                "%s: encoded\n%s\nexpected\n%s", vcase, got, want);
  json_object *hl = get(exp, "header_length");
  ck_assert(e.binary == (hl != NULL));
  if (hl) ck_assert_uint_eq(e.json.len, (size_t)json_object_get_int64(hl));
  ck_assert_str_eq(e.content_type, json_object_get_string(get(exp, "content_type")));
  free(got);
  free(want);
  ki_encoded_free(&e);
  kinfer_request_free(r);
}

static int run_vector_dir(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_msg(d != NULL, "cannot open %s", dir);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    const char *suffix = ".expected.json";
    if (l <= strlen(suffix) || strcmp(de->d_name + l - strlen(suffix), suffix)) continue;
    char path[1024];
    ck_assert(snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path);
    json_object *exp = json_object_from_file(path);
    ck_assert_msg(exp != NULL, "cannot parse %s", path);
    if (get(exp, "protocol"))
      run_request_vector(dir, exp, de->d_name);
    else
      run_response_vector(dir, exp, de->d_name);
    json_object_put(exp);
    n++;
  }
  closedir(d);
  return n;
}

START_TEST(vectors) {
  const char *src = getenv("KINFER_SOURCE_DIR");
  if (!src) src = ".";
  static const char *dirs[] = {"v2", "v1", "requests"};
  int total = 0;
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char dir[1024];
    ck_assert(snprintf(dir, sizeof dir, "%s/proto/vectors/%s", src, dirs[i]) <
              (int)sizeof dir);
    total += run_vector_dir(dir);
  }
  ck_assert_int_gt(total, 10);
}
END_TEST

int main(void) {
  Suite *s = suite_create("protocol");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, v2_encode_json_layout);
  tcase_add_test(tc, v2_encode_binary_borrowed);
  tcase_add_test(tc, v2_encode_detach);
  tcase_add_test(tc, v2_encode_errors);
  tcase_add_test(tc, v2_bytes_both_forms);
  tcase_add_test(tc, v2_all_datatypes_roundtrip);
  tcase_add_test(tc, integer_extremes);
  tcase_add_test(tc, shortest_fp32_text);
  tcase_add_test(tc, float_roundtrip_random);
  tcase_add_test(tc, float_edges_through_protocol);
  tcase_add_test(tc, comma_locale);
  tcase_add_test(tc, v2_decode_envelope);
  tcase_add_test(tc, v2_decode_nested);
  tcase_add_test(tc, v2_decode_value_validation);
  tcase_add_test(tc, v2_decode_half_json);
  tcase_add_test(tc, v2_decode_structure_validation);
  tcase_add_test(tc, v2_decode_binary_validation);
  tcase_add_test(tc, v2_decode_binary_mixed);
  tcase_add_test(tc, v1_encode);
  tcase_add_test(tc, v1_predictions);
  tcase_add_test(tc, auto_mode);
  tcase_add_test(tc, json_form);
  tcase_add_test(tc, null_robustness);
  tcase_add_test(tc, vectors);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
