/*
 * V2 inference request decoding and response encoding, JSON and binary
 * tensor extension. json-c parses the request; `data` arrays are converted
 * straight into the wire form, and response `data` is printed by hand so
 * floats read back exactly and nothing allocates per element.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tensor.h"

static const struct {
  const char *name;
  size_t size;
} dtypes[KS_DTYPE_COUNT] = {
  [KS_BOOL] = {"BOOL", 1},     [KS_UINT8] = {"UINT8", 1},
  [KS_UINT16] = {"UINT16", 2}, [KS_UINT32] = {"UINT32", 4},
  [KS_UINT64] = {"UINT64", 8}, [KS_INT8] = {"INT8", 1},
  [KS_INT16] = {"INT16", 2},   [KS_INT32] = {"INT32", 4},
  [KS_INT64] = {"INT64", 8},   [KS_FP16] = {"FP16", 2},
  [KS_FP32] = {"FP32", 4},     [KS_FP64] = {"FP64", 8},
  [KS_BYTES] = {"BYTES", 0},   [KS_BF16] = {"BF16", 2},
};

int ks_dtype_parse(const char *name, ks_dtype *out)
{
  for (int i = 0; i < KS_DTYPE_COUNT; i++) {
    if (strcmp(dtypes[i].name, name) == 0) {
      *out = (ks_dtype)i;
      return 0;
    }
  }
  return -1;
}

const char *ks_dtype_name(ks_dtype t)
{
  return dtypes[t].name;
}

size_t ks_dtype_size(ks_dtype t)
{
  return dtypes[t].size;
}

void ks_tensor_free(ks_tensor *t)
{
  free(t->name);
  ks_buf_free(&t->data);
  json_object_put(t->parameters);
  memset(t, 0, sizeof *t);
}

#define FAIL(...)                                                             \
  do {                                                                        \
    snprintf(err, errlen, __VA_ARGS__);                                       \
    return -1;                                                                \
  } while (0)

/* ---- JSON ----------------------------------------------------------------- */

/* True if the integer literal at p (n bytes, optional '-') fits an int64 or,
 * when not negative, a uint64. */
static bool integer_fits(const char *p, size_t n)
{
  bool neg = *p == '-';
  p += neg;
  n -= neg;
  while (n > 1 && *p == '0') {
    p++;
    n--;
  }
  const char *max = neg ? "9223372036854775808" : "18446744073709551615";
  size_t mlen = strlen(max);
  return n < mlen || (n == mlen && memcmp(p, max, n) <= 0);
}

/* json-c 0.16 silently clamps integers beyond 64 bits; find them first. */
static bool has_oversized_integer(const char *text, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (ch == '"') {
      for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\')
          i++;
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
      size_t start = i, end = i + 1;
      while (end < len && text[end] >= '0' && text[end] <= '9')
        end++;
      bool fraction = end < len && strchr(".eE", text[end]) && text[end];
      if (!fraction && !integer_fits(text + start, end - start))
        return true;
      while (end < len && text[end] && strchr("0123456789.eE+-", text[end]))
        end++;
      i = end - 1;
    }
  }
  return false;
}

json_object *ks_json_parse(const char *text, size_t len, const char **err)
{
  if (has_oversized_integer(text, len)) {
    *err = "integer out of the 64-bit range";
    return NULL;
  }
  if (len > INT_MAX) {
    *err = "JSON document too large";
    return NULL;
  }
  json_tokener *tok = json_tokener_new_ex(KS_JSON_MAX_DEPTH);
  if (!tok) {
    *err = "out of memory";
    return NULL;
  }
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
  enum json_tokener_error e = json_tokener_get_error(tok);
  size_t end = json_tokener_get_parse_end(tok);
  json_tokener_free(tok);
  if (e == json_tokener_continue || (!obj && e == json_tokener_success)) {
    json_object_put(obj);
    *err = len ? "truncated JSON" : "empty body";
    return NULL;
  }
  if (e != json_tokener_success) {
    json_object_put(obj);
    *err = json_tokener_error_desc(e);
    return NULL;
  }
  for (size_t i = end; i < len; i++) {
    if (!strchr(" \t\r\n", text[i]) || text[i] == '\0') {
      json_object_put(obj);
      *err = "unexpected data after the JSON document";
      return NULL;
    }
  }
  return obj;
}

static json_object *get(json_object *obj, const char *key)
{
  json_object *v = NULL;
  return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

/* ---- request elements ----------------------------------------------------- */

static size_t count_leaves(json_object *v)
{
  if (!json_object_is_type(v, json_type_array))
    return 1;
  size_t n = 0, len = json_object_array_length(v);
  for (size_t i = 0; i < len; i++)
    n += count_leaves(json_object_array_get_idx(v, i));
  return n;
}

/* Reads a JSON integer, telling int64 and larger uint64 values apart. */
static int json_integer(json_object *v, int64_t *s, uint64_t *u, bool *is_u)
{
  if (!json_object_is_type(v, json_type_int))
    return -1;
  errno = 0;
  *s = json_object_get_int64(v);
  *is_u = false;
  if (*s == INT64_MAX) {
    *u = json_object_get_uint64(v);
    *is_u = *u > (uint64_t)INT64_MAX;
  }
  return 0;
}

static int put_integer(ks_tensor *t, json_object *v)
{
  int64_t s;
  uint64_t u = 0;
  bool is_u;
  if (json_integer(v, &s, &u, &is_u) < 0)
    return -1;
  static const int64_t smin[] = {[KS_INT8] = INT8_MIN, [KS_INT16] = INT16_MIN,
                                 [KS_INT32] = INT32_MIN, [KS_INT64] = INT64_MIN};
  static const int64_t smax[] = {[KS_INT8] = INT8_MAX, [KS_INT16] = INT16_MAX,
                                 [KS_INT32] = INT32_MAX, [KS_INT64] = INT64_MAX};
  static const uint64_t umax[] = {[KS_UINT8] = UINT8_MAX, [KS_UINT16] = UINT16_MAX,
                                  [KS_UINT32] = UINT32_MAX, [KS_UINT64] = UINT64_MAX};
  size_t size = ks_dtype_size(t->dtype);
  char bytes[8];
  switch (t->dtype) {
  case KS_INT8: case KS_INT16: case KS_INT32: case KS_INT64:
    if (is_u || s < smin[t->dtype] || s > smax[t->dtype])
      return -1;
    memcpy(bytes, &s, sizeof s);  /* little-endian: low bytes first */
    break;
  default:
    if (!is_u) {
      if (s < 0)
        return -1;
      u = (uint64_t)s;
    }
    if (u > umax[t->dtype])
      return -1;
    memcpy(bytes, &u, sizeof u);
  }
  return ks_buf_append(&t->data, bytes, size);
}

static int put_element(ks_tensor *t, json_object *v)
{
  switch (t->dtype) {
  case KS_BOOL: {
    if (!json_object_is_type(v, json_type_boolean))
      return -1;
    uint8_t b = json_object_get_boolean(v) ? 1 : 0;
    return ks_buf_append(&t->data, &b, 1);
  }
  case KS_FP32:
  case KS_FP64: {
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
      return -1;
    double d = json_object_get_double(v);
    if (!isfinite(d))
      return -1;
    if (t->dtype == KS_FP64)
      return ks_buf_append(&t->data, &d, sizeof d);
    /* A decimal text may read as a double a little above FLT_MAX yet round
     * to it as a float ("3.4028235e+38" is FLT_MAX's shortest text).  Only
     * values at or past the midpoint to 2^128 round to infinity. */
    if (fabs(d) >= 0x1.ffffffp+127)
      return -1;
    float f = (float)d;
    return ks_buf_append(&t->data, &f, sizeof f);
  }
  case KS_BYTES: {
    if (!json_object_is_type(v, json_type_string))
      return -1;
    int len = json_object_get_string_len(v);
    uint32_t n = (uint32_t)len;
    if (ks_buf_append(&t->data, &n, 4) < 0)
      return -1;
    return ks_buf_append(&t->data, json_object_get_string(v), n);
  }
  case KS_FP16:
  case KS_BF16:
    return -1;
  default:
    return put_integer(t, v);
  }
}

static int put_data(ks_tensor *t, json_object *v, size_t *index)
{
  if (json_object_is_type(v, json_type_array)) {
    size_t len = json_object_array_length(v);
    for (size_t i = 0; i < len; i++)
      if (put_data(t, json_object_array_get_idx(v, i), index) < 0)
        return -1;
    return 0;
  }
  if (put_element(t, v) < 0)
    return -1;
  (*index)++;
  return 0;
}

/* ---- request tensors ------------------------------------------------------ */

static int decode_shape(json_object *shape, ks_tensor *t, char *err, size_t errlen)
{
  if (!shape || !json_object_is_type(shape, json_type_array))
    FAIL("input '%s': shape must be an array of integers", t->name);
  size_t n = json_object_array_length(shape);
  if (n > KS_MAX_DIMS)
    FAIL("input '%s': shape has more than %d dimensions", t->name, KS_MAX_DIMS);
  size_t count = 1;
  /* Bound element counts so that count * 8 bytes can never overflow. */
  const size_t limit = SIZE_MAX / 16;
  for (size_t i = 0; i < n; i++) {
    json_object *d = json_object_array_get_idx(shape, i);
    if (!json_object_is_type(d, json_type_int))
      FAIL("input '%s': shape must be an array of integers", t->name);
    int64_t v = json_object_get_int64(d);
    if (v < 0)
      FAIL("input '%s': shape has a negative dimension", t->name);
    if (v > 0 && count > limit / (uint64_t)v)
      FAIL("input '%s': shape is too large", t->name);
    count *= (size_t)v;
    t->shape[i] = v;
  }
  t->ndim = n;
  t->count = count;
  return 0;
}

/* Checks that a binary BYTES buffer holds exactly `count` length-prefixed
 * elements. */
static int check_bytes_layout(const char *p, size_t size, size_t count)
{
  size_t off = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t n;
    if (size - off < 4)
      return -1;
    memcpy(&n, p + off, 4);
    off += 4;
    if (n > size - off)
      return -1;
    off += n;
  }
  return off == size ? 0 : -1;
}

typedef struct bin_cursor {
  const char *p;
  size_t left;
} bin_cursor;

static int decode_binary(ks_tensor *t, json_object *size_obj, bin_cursor *bin,
                         char *err, size_t errlen)
{
  if (!json_object_is_type(size_obj, json_type_int) || json_object_get_int64(size_obj) < 0)
    FAIL("input '%s': binary_data_size must be a non-negative integer", t->name);
  uint64_t size = (uint64_t)json_object_get_int64(size_obj);
  if (size > bin->left)
    FAIL("input '%s': binary_data_size %" PRIu64 " exceeds the %zu bytes left in the body",
         t->name, size, bin->left);
  size_t elsize = ks_dtype_size(t->dtype);
  if (elsize && size != (uint64_t)t->count * elsize)
    FAIL("input '%s': binary_data_size %" PRIu64 " does not match shape and datatype "
         "(%zu bytes expected)", t->name, size, t->count * elsize);
  if (!elsize && check_bytes_layout(bin->p, (size_t)size, t->count) < 0)
    FAIL("input '%s': BYTES data does not hold %zu length-prefixed elements in %" PRIu64
         " bytes", t->name, t->count, size);
  if (ks_buf_append(&t->data, bin->p, (size_t)size) < 0)
    FAIL("out of memory");
  bin->p += size;
  bin->left -= (size_t)size;
  return 0;
}

static int decode_json_data(ks_tensor *t, json_object *data, char *err, size_t errlen)
{
  if (!data)
    FAIL("input '%s': no data and no binary_data_size", t->name);
  if (t->dtype == KS_FP16 || t->dtype == KS_BF16)
    FAIL("input '%s': datatype %s can only be sent as binary data", t->name,
         ks_dtype_name(t->dtype));
  size_t n = count_leaves(data);
  if (n != t->count)
    FAIL("input '%s': shape expects %zu elements but data has %zu", t->name, t->count, n);
  size_t elsize = ks_dtype_size(t->dtype);
  if (elsize && ks_buf_reserve(&t->data, n * elsize) < 0)
    FAIL("out of memory");
  size_t index = 0;
  if (put_data(t, data, &index) < 0)
    FAIL("input '%s': element %zu is not a valid %s value", t->name, index,
         ks_dtype_name(t->dtype));
  return 0;
}

/* Keeps the input's parameters for echoing, without the transport-level
 * binary_data_size. */
static void keep_parameters(ks_tensor *t, json_object *params)
{
  if (!params)
    return;
  json_object_object_del(params, "binary_data_size");
  if (json_object_object_length(params) > 0)
    t->parameters = json_object_get(params);
}

static int decode_input(json_object *in, ks_tensor *t, bin_cursor *bin,
                        char *err, size_t errlen)
{
  if (!json_object_is_type(in, json_type_object))
    FAIL("each input must be a JSON object");
  json_object *name = get(in, "name"), *dt = get(in, "datatype");
  if (!name || !json_object_is_type(name, json_type_string))
    FAIL("input name must be a string");
  t->name = strdup(json_object_get_string(name));
  if (!t->name)
    FAIL("out of memory");
  if (!dt || !json_object_is_type(dt, json_type_string) ||
      ks_dtype_parse(json_object_get_string(dt), &t->dtype) < 0)
    FAIL("input '%s': unsupported datatype", t->name);
  if (decode_shape(get(in, "shape"), t, err, errlen) < 0)
    return -1;
  json_object *params = get(in, "parameters"), *data = get(in, "data");
  if (params && !json_object_is_type(params, json_type_object))
    FAIL("input '%s': parameters must be an object", t->name);
  json_object *size = params ? get(params, "binary_data_size") : NULL;
  int rc;
  if (size && data)
    FAIL("input '%s': has both data and binary_data_size", t->name);
  else if (size)
    rc = decode_binary(t, size, bin, err, errlen);
  else
    rc = decode_json_data(t, data, err, errlen);
  if (rc == 0)
    keep_parameters(t, params);
  return rc;
}

static int decode_outputs(json_object *outs, ks_infer_request *req, char *err, size_t errlen)
{
  if (!json_object_is_type(outs, json_type_array))
    FAIL("outputs must be an array");
  size_t n = json_object_array_length(outs);
  if (n == 0)
    return 0;
  req->outputs = calloc(n, sizeof *req->outputs);
  if (!req->outputs)
    FAIL("out of memory");
  for (size_t i = 0; i < n; i++) {
    json_object *o = json_object_array_get_idx(outs, i);
    json_object *name = json_object_is_type(o, json_type_object) ? get(o, "name") : NULL;
    if (!name || !json_object_is_type(name, json_type_string))
      FAIL("each requested output needs a name");
    ks_requested_output *ro = &req->outputs[req->noutputs++];
    ro->binary = -1;
    ro->name = strdup(json_object_get_string(name));
    if (!ro->name)
      FAIL("out of memory");
    json_object *params = get(o, "parameters"), *bd;
    if (params && !json_object_is_type(params, json_type_object))
      FAIL("output '%s': parameters must be an object", ro->name);
    if (params && (bd = get(params, "binary_data"))) {
      if (!json_object_is_type(bd, json_type_boolean))
        FAIL("output '%s': binary_data must be a boolean", ro->name);
      ro->binary = json_object_get_boolean(bd);
    }
  }
  return 0;
}

static int decode_envelope(json_object *root, ks_infer_request *req, char *err, size_t errlen)
{
  if (!json_object_is_type(root, json_type_object))
    FAIL("the request must be a JSON object");
  json_object *id = get(root, "id"), *params = get(root, "parameters");
  if (id && !json_object_is_type(id, json_type_string))
    FAIL("id must be a string");
  req->id = id ? json_object_get_string(id) : NULL;
  if (params && !json_object_is_type(params, json_type_object))
    FAIL("parameters must be an object");
  if (params) {
    json_object *bdo = get(params, "binary_data_output");
    if (bdo && !json_object_is_type(bdo, json_type_boolean))
      FAIL("binary_data_output must be a boolean");
    req->binary_outputs = bdo && json_object_get_boolean(bdo);
    if (json_object_object_length(params) > 0)
      req->parameters = params;
  }
  json_object *outs = get(root, "outputs");
  return outs ? decode_outputs(outs, req, err, errlen) : 0;
}

int ks_v2_decode(const ks_buf *body, int64_t header_length, ks_infer_request *req,
                 char *err, size_t errlen)
{
  memset(req, 0, sizeof *req);
  size_t jlen = body->len;
  if (header_length >= 0) {
    if ((uint64_t)header_length > body->len)
      FAIL("Inference-Header-Content-Length %" PRId64 " exceeds the body length %zu",
           header_length, body->len);
    jlen = (size_t)header_length;
  }
  const char *text = body->data ? body->data : "";
  const char *jerr = NULL;
  req->root = ks_json_parse(text, jlen, &jerr);
  if (!req->root)
    FAIL("Unrecognized request format: %s", jerr);
  if (decode_envelope(req->root, req, err, errlen) < 0)
    return -1;
  json_object *inputs = get(req->root, "inputs");
  if (!inputs || !json_object_is_type(inputs, json_type_array) ||
      json_object_array_length(inputs) == 0)
    FAIL("inputs must be a non-empty array");
  size_t n = json_object_array_length(inputs);
  req->inputs = calloc(n, sizeof *req->inputs);
  if (!req->inputs)
    FAIL("out of memory");
  bin_cursor bin = {text + jlen, body->len - jlen};
  for (size_t i = 0; i < n; i++) {
    req->ninputs++;
    if (decode_input(json_object_array_get_idx(inputs, i), &req->inputs[i], &bin,
                     err, errlen) < 0)
      return -1;
  }
  if (bin.left)
    FAIL("%zu bytes of binary data are not claimed by any input", bin.left);
  return 0;
}

void ks_v2_request_free(ks_infer_request *req)
{
  for (size_t i = 0; i < req->ninputs; i++)
    ks_tensor_free(&req->inputs[i]);
  for (size_t i = 0; i < req->noutputs; i++)
    free(req->outputs[i].name);
  free(req->inputs);
  free(req->outputs);
  json_object_put(req->root);
  memset(req, 0, sizeof *req);
}

/* ---- response ------------------------------------------------------------- */

ks_tensor *ks_v2_add_output(ks_infer_response *res, const char *name, ks_dtype dtype,
                            const int64_t *shape, size_t ndim)
{
  if (res->noutputs == res->cap) {
    size_t cap = res->cap ? res->cap * 2 : 4;
    ks_tensor *p = realloc(res->outputs, cap * sizeof *p);
    if (!p)
      return NULL;
    res->outputs = p;
    res->cap = cap;
  }
  ks_tensor *t = &res->outputs[res->noutputs];
  memset(t, 0, sizeof *t);
  t->name = strdup(name);
  if (!t->name)
    return NULL;
  res->noutputs++;
  t->dtype = dtype;
  t->ndim = ndim;
  t->count = 1;
  for (size_t i = 0; i < ndim; i++) {
    t->shape[i] = shape[i];
    t->count *= (size_t)shape[i];
  }
  return t;
}

void ks_v2_response_free(ks_infer_response *res)
{
  for (size_t i = 0; i < res->noutputs; i++)
    ks_tensor_free(&res->outputs[i]);
  free(res->outputs);
  memset(res, 0, sizeof *res);
}

/* Floats always look like floats, as Python's json prints them ("1.0",
 * "-0.0"): a reader that parses "-0" as an integer would lose the sign. */
static int mark_float(char *s, size_t n, int len)
{
  if (len > 0 && (size_t)len + 2 < n && !strpbrk(s, ".eE")) {
    memcpy(s + len, ".0", 3);
    len += 2;
  }
  return len;
}

/* Prints the shortest text that reads back as the same float. */
static int print_fp32(char *s, size_t n, float f)
{
  int len = 0;
  for (int prec = 6; prec <= 9; prec++) {
    len = snprintf(s, n, "%.*g", prec, (double)f);
    if (strtof(s, NULL) == f)
      break;
  }
  return mark_float(s, n, len);
}

static int print_fp64(char *s, size_t n, double d)
{
  int len = 0;
  for (int prec = 15; prec <= 17; prec++) {
    len = snprintf(s, n, "%.*g", prec, d);
    if (strtod(s, NULL) == d)
      break;
  }
  return mark_float(s, n, len);
}

/* True if s holds well-formed UTF-8 (no overlongs, surrogates or values
 * beyond U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n - i || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
      return false;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
    if ((len == 3 && c == 0xe0 && s[i + 1] < 0xa0) || (len == 3 && c == 0xed && s[i + 1] > 0x9f) ||
        (len == 4 && c == 0xf0 && s[i + 1] < 0x90) || (len == 4 && c == 0xf4 && s[i + 1] > 0x8f))
      return false;
    i += len;
  }
  return true;
}

static int print_bytes_elements(ks_buf *b, const ks_tensor *t, char *err, size_t errlen)
{
  size_t off = 0;
  for (size_t i = 0; i < t->count; i++) {
    uint32_t n;
    memcpy(&n, t->data.data + off, 4);
    const char *p = t->data.data + off + 4;
    if (!valid_utf8((const unsigned char *)p, n))
      FAIL("output '%s': BYTES element %zu is not UTF-8; ask for binary_data", t->name, i);
    if ((i && ks_buf_append(b, ",", 1) < 0) || ks_buf_json_str(b, p, n) < 0)
      FAIL("out of memory");
    off += 4 + (size_t)n;
  }
  return 0;
}

/* Prints one fixed-size element at p into s; returns its length or -1. */
static int print_element(char *s, size_t n, ks_dtype dtype, const char *p)
{
  union { uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; int8_t i8;
          int16_t i16; int32_t i32; int64_t i64; float f; double d; } v;
  memcpy(&v, p, ks_dtype_size(dtype));
  switch (dtype) {
  case KS_BOOL: return snprintf(s, n, "%s", v.u8 ? "true" : "false");
  case KS_UINT8: return snprintf(s, n, "%u", (unsigned)v.u8);
  case KS_UINT16: return snprintf(s, n, "%u", (unsigned)v.u16);
  case KS_UINT32: return snprintf(s, n, "%" PRIu32, v.u32);
  case KS_UINT64: return snprintf(s, n, "%" PRIu64, v.u64);
  case KS_INT8: return snprintf(s, n, "%d", (int)v.i8);
  case KS_INT16: return snprintf(s, n, "%d", (int)v.i16);
  case KS_INT32: return snprintf(s, n, "%" PRId32, v.i32);
  case KS_INT64: return snprintf(s, n, "%" PRId64, v.i64);
  case KS_FP32: return isfinite(v.f) ? print_fp32(s, n, v.f) : -1;
  case KS_FP64: return isfinite(v.d) ? print_fp64(s, n, v.d) : -1;
  default: return -1;
  }
}

static int print_data(ks_buf *b, const ks_tensor *t, char *err, size_t errlen)
{
  if (t->dtype == KS_FP16 || t->dtype == KS_BF16)
    FAIL("output '%s': datatype %s can only be returned as binary data", t->name,
         ks_dtype_name(t->dtype));
  if (ks_buf_puts(b, ",\"data\":[") < 0)
    FAIL("out of memory");
  if (t->dtype == KS_BYTES) {
    if (print_bytes_elements(b, t, err, errlen) < 0)
      return -1;
    if (ks_buf_puts(b, "]") < 0)
      FAIL("out of memory");
    return 0;
  }
  size_t elsize = ks_dtype_size(t->dtype);
  for (size_t i = 0; i < t->count; i++) {
    if (ks_buf_reserve(b, 40) < 0)
      FAIL("out of memory");
    char *s = b->data + b->len;
    if (i)
      *s++ = ',';
    int n = print_element(s, 32, t->dtype, t->data.data + i * elsize);
    if (n < 0)
      FAIL("output '%s': element %zu is not finite and cannot be sent as JSON", t->name, i);
    b->len += (size_t)n + (i ? 1 : 0);
  }
  if (ks_buf_puts(b, "]") < 0)
    FAIL("out of memory");
  return 0;
}

static int print_parameters(ks_buf *b, const ks_tensor *t)
{
  if (!t->parameters && !t->binary)
    return 0;
  int rc = ks_buf_puts(b, ",\"parameters\":{");
  bool first = true;
  if (t->parameters) {
    json_object_object_foreach(t->parameters, key, val) {
      rc |= ks_buf_puts(b, first ? "" : ",");
      rc |= ks_buf_json_str(b, key, strlen(key));
      rc |= ks_buf_printf(b, ":%s", json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
      first = false;
    }
  }
  if (t->binary)
    rc |= ks_buf_printf(b, "%s\"binary_data_size\":%zu", first ? "" : ",", t->data.len);
  rc |= ks_buf_puts(b, "}");
  return rc;
}

static int print_output(ks_buf *b, const ks_tensor *t, char *err, size_t errlen)
{
  int rc = ks_buf_puts(b, "{\"name\":");
  rc |= ks_buf_json_str(b, t->name, strlen(t->name));
  rc |= ks_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", ks_dtype_name(t->dtype));
  for (size_t i = 0; i < t->ndim; i++)
    rc |= ks_buf_printf(b, "%s%" PRId64, i ? "," : "", t->shape[i]);
  rc |= ks_buf_puts(b, "]");
  rc |= print_parameters(b, t);
  if (rc)
    FAIL("out of memory");
  if (!t->binary && print_data(b, t, err, errlen) < 0)
    return -1;
  if (ks_buf_puts(b, "}") < 0)
    FAIL("out of memory");
  return 0;
}

static void generate_id(char out[37])
{
  static _Thread_local uint64_t state;
  while (state == 0 && getrandom(&state, sizeof state, 0) != sizeof state)
    ;
  uint64_t w[2];
  for (int i = 0; i < 2; i++) {  /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    w[i] = state * 2685821657736338717ull;
  }
  unsigned char r[16];
  memcpy(r, w, 16);
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);  /* UUID version 4 */
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
           r[12], r[13], r[14], r[15]);
}

/* Applies the request's `outputs` selection and binary flags; returns the
 * index list of outputs to send, in order. */
static int select_outputs(const ks_infer_request *req, ks_infer_response *res,
                          size_t *order, size_t *n, char *err, size_t errlen)
{
  *n = 0;
  if (req->noutputs == 0) {
    for (size_t i = 0; i < res->noutputs; i++) {
      res->outputs[i].binary = req->binary_outputs;
      order[(*n)++] = i;
    }
    return 0;
  }
  for (size_t r = 0; r < req->noutputs; r++) {
    const ks_requested_output *ro = &req->outputs[r];
    size_t i = 0;
    while (i < res->noutputs && strcmp(res->outputs[i].name, ro->name) != 0)
      i++;
    if (i == res->noutputs)
      FAIL("requested output '%s' is not produced by the model", ro->name);
    res->outputs[i].binary = ro->binary >= 0 ? ro->binary : req->binary_outputs;
    order[(*n)++] = i;
  }
  return 0;
}

static int print_envelope(ks_buf *b, const char *model, const ks_infer_request *req)
{
  char idbuf[37];
  const char *id = req->id;
  if (!id) {
    generate_id(idbuf);
    id = idbuf;
  }
  int rc = ks_buf_puts(b, "{\"model_name\":");
  rc |= ks_buf_json_str(b, model, strlen(model));
  rc |= ks_buf_puts(b, ",\"id\":");
  rc |= ks_buf_json_str(b, id, strlen(id));
  if (req->parameters)
    rc |= ks_buf_printf(b, ",\"parameters\":%s",
                        json_object_to_json_string_ext(req->parameters, JSON_C_TO_STRING_PLAIN));
  rc |= ks_buf_puts(b, ",\"outputs\":[");
  return rc;
}

/* Writes the JSON document, then (binary extension) the binary outputs. */
static int print_response(ks_response *resp, const char *model, const ks_infer_request *req,
                          const ks_infer_response *res, const size_t *order, size_t n,
                          char *err, size_t errlen)
{
  ks_buf *b = &resp->body;
  if (print_envelope(b, model, req) < 0)
    FAIL("out of memory");
  bool binary = false;
  for (size_t k = 0; k < n; k++) {
    const ks_tensor *t = &res->outputs[order[k]];
    binary |= t->binary;
    if (k && ks_buf_puts(b, ",") < 0)
      FAIL("out of memory");
    if (print_output(b, t, err, errlen) < 0)
      return -1;
  }
  if (ks_buf_puts(b, "]}") < 0)
    FAIL("out of memory");
  if (!binary)
    return 0;
  resp->header_length = (int64_t)b->len;
  resp->content_type = "application/octet-stream";
  for (size_t k = 0; k < n; k++) {
    const ks_tensor *t = &res->outputs[order[k]];
    if (t->binary && ks_buf_append(b, t->data.data, t->data.len) < 0)
      FAIL("out of memory");
  }
  return 0;
}

int ks_v2_encode(const char *model, const ks_infer_request *req, ks_infer_response *res,
                 ks_response *resp, char *err, size_t errlen)
{
  size_t n = 0, cap = req->noutputs > res->noutputs ? req->noutputs : res->noutputs;
  size_t *order = malloc((cap ? cap : 1) * sizeof *order);
  if (!order)
    FAIL("out of memory");
  int rc = select_outputs(req, res, order, &n, err, errlen);
  if (rc == 0)
    rc = print_response(resp, model, req, res, order, n, err, errlen);
  free(order);
  return rc;
}
