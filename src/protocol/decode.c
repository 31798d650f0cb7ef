/*
 * Response decoding: splitting a binary-extension body, choosing V1 or V2,
 * and turning JSON "data" arrays (flat or nested) into typed buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "numtext.h"
#include "proto_int.h"

static int bad(kinfer_error *err, const struct kinfer_tensor *t,
               const char *what, size_t i) {
  return ki_error_set(err, KINFER_EBADRESPONSE,
                      "output '%s': element %zu: %s", t->name, i, what);
}

/* ---- counting pass ------------------------------------------------------ */

typedef struct walk {
  const struct kinfer_tensor *t;
  size_t max_depth;  /* arrays may nest this deep                          */
  size_t n;          /* leaves seen                                        */
  size_t text;       /* BYTES: total string bytes                          */
} walk;

static int count_leaves(walk *w, json_object *arr, size_t depth,
                        kinfer_error *err) {
  size_t len = json_object_array_length(arr);
  for (size_t i = 0; i < len; i++) {
    json_object *v = json_object_array_get_idx(arr, i);
    if (json_object_is_type(v, json_type_array)) {
      if (depth + 1 > w->max_depth)
        return ki_error_set(err, KINFER_EBADRESPONSE,
                            "output '%s': data nested deeper than its shape",
                            w->t->name);
      int rc = count_leaves(w, v, depth + 1, err);
      if (rc) return rc;
      continue;
    }
    if (++w->n > w->t->count) break;
    if (w->t->dt == KINFER_BYTES) {
      if (!json_object_is_type(v, json_type_string))
        return bad(err, w->t, "expected a string", w->n - 1);
      size_t sl = (size_t)json_object_get_string_len(v);
      if (!ki_add_size(w->text, sl, &w->text))
        return bad(err, w->t, "too much text", w->n - 1);
    }
  }
  return KINFER_OK;
}

/* ---- storing elements ----------------------------------------------------- */

typedef struct fill {
  struct kinfer_tensor *t;
  size_t i;          /* next element                                       */
  char *text;        /* BYTES: next free byte of the owned text buffer     */
} fill;

/* The value of a JSON integer as a sign and magnitude. */
static void int_value(json_object *v, bool *neg, uint64_t *mag) {
  int64_t s = json_object_get_int64(v);
  *neg = s < 0;
  if (s < 0) *mag = (uint64_t)(-(s + 1)) + 1;
  else if (s == INT64_MAX) *mag = json_object_get_uint64(v);
  else *mag = (uint64_t)s;
}

static bool store_int(fill *f, json_object *v) {
  static const struct { uint64_t pos; uint64_t neg; } lim[] = {
      [KINFER_UINT8] = {UINT8_MAX, 0},   [KINFER_UINT16] = {UINT16_MAX, 0},
      [KINFER_UINT32] = {UINT32_MAX, 0}, [KINFER_UINT64] = {UINT64_MAX, 0},
      [KINFER_INT8] = {INT8_MAX, 128},   [KINFER_INT16] = {INT16_MAX, 32768},
      [KINFER_INT32] = {INT32_MAX, 2147483648u},
      [KINFER_INT64] = {INT64_MAX, (uint64_t)INT64_MAX + 1},
  };
  if (!json_object_is_type(v, json_type_int)) return false;
  bool neg;
  uint64_t mag;
  int_value(v, &neg, &mag);
  if (mag > (neg ? lim[f->t->dt].neg : lim[f->t->dt].pos)) return false;
  uint64_t u = neg ? (uint64_t)0 - mag : mag; /* two's complement bits */
  size_t size = kinfer_datatype_size(f->t->dt);
  memcpy((char *)f->t->owned + f->i * size, &u, size);
  return true;
}

/* A JSON number as double or float, read from its text when json-c kept it
 * (exact), else from the parsed value. */
static bool number_value(json_object *v, bool single, double *d, float *fl) {
  if (json_object_is_type(v, json_type_int)) {
    bool neg;
    uint64_t mag;
    int_value(v, &neg, &mag);
    *d = neg ? -(double)mag : (double)mag;
    *fl = neg ? -(float)mag : (float)mag;
    return true;
  }
  if (!json_object_is_type(v, json_type_double)) return false;
  const char *s = json_object_get_string(v);
  size_t n = s ? strlen(s) : 0;
  return single ? ki_num_parse_f32(s, n, fl) : ki_num_parse_f64(s, n, d);
}

bool ki_to_small_float(double d, int mbits, int bias, uint16_t *out) {
  uint64_t bits;
  memcpy(&bits, &d, 8);
  uint16_t sign = (uint16_t)((bits >> 63) << 15);
  int e = (int)((bits >> 52) & 0x7ff);
  uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
  if (e == 0x7ff) return false;
  if (e == 0 && m == 0) {
    *out = sign;
    return true;
  }
  if (e == 0) e = 1; /* double subnormal: far below any small float */
  else m |= UINT64_C(1) << 52;
  e -= 1023;
  int emin = 1 - bias;
  int shift = e >= emin ? 52 - mbits : 52 - mbits + (emin - e);
  if (shift > 63) {
    *out = sign;
    return true;
  }
  uint64_t q = m >> shift, rem = m & ((UINT64_C(1) << shift) - 1);
  uint64_t half = UINT64_C(1) << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) q++;
  int be = e >= emin ? e + bias : 0; /* biased exponent */
  if (e >= emin) {
    if (q >> (mbits + 1)) { /* rounding carried into a new bit */
      q >>= 1;
      be++;
    }
    q &= (UINT64_C(1) << mbits) - 1;
  }
  /* A subnormal that rounds up to the smallest normal carries into the
   * exponent field by itself. */
  if (be >= 2 * bias + 1) return false;
  *out = (uint16_t)(sign | (uint16_t)be << mbits | (uint16_t)q);
  return true;
}

static int store_elem(fill *f, json_object *v, kinfer_error *err) {
  struct kinfer_tensor *t = f->t;
  double d = 0;
  float fl = 0;
  switch (t->dt) {
  case KINFER_BOOL:
    if (!json_object_is_type(v, json_type_boolean))
      return bad(err, t, "expected true or false", f->i);
    ((unsigned char *)t->owned)[f->i] = json_object_get_boolean(v) ? 1 : 0;
    return KINFER_OK;
  case KINFER_FP32:
    if (!number_value(v, true, &d, &fl))
      return bad(err, t, "expected a number in FP32 range", f->i);
    memcpy((char *)t->owned + f->i * 4, &fl, 4);
    return KINFER_OK;
  case KINFER_FP64:
    if (!number_value(v, false, &d, &fl))
      return bad(err, t, "expected a number in FP64 range", f->i);
    memcpy((char *)t->owned + f->i * 8, &d, 8);
    return KINFER_OK;
  case KINFER_FP16:
  case KINFER_BF16: {
    uint16_t h;
    bool fp16 = t->dt == KINFER_FP16;
    if (!number_value(v, false, &d, &fl) ||
        !ki_to_small_float(d, fp16 ? 10 : 7, fp16 ? 15 : 127, &h))
      return bad(err, t, fp16 ? "expected a number in FP16 range"
                              : "expected a number in BF16 range",
                 f->i);
    memcpy((char *)t->owned + f->i * 2, &h, 2);
    return KINFER_OK;
  }
  case KINFER_BYTES: {
    size_t n = (size_t)json_object_get_string_len(v);
    if (n) memcpy(f->text, json_object_get_string(v), n);
    t->elems[f->i].p = f->text;
    t->elems[f->i].n = n;
    f->text += n;
    return KINFER_OK;
  }
  default:
    if (!store_int(f, v))
      return bad(err, t, t->dt <= KINFER_UINT64
                             ? "expected an unsigned integer in range"
                             : "expected an integer in range",
                 f->i);
    return KINFER_OK;
  }
}

static int fill_leaves(fill *f, json_object *arr, kinfer_error *err) {
  size_t len = json_object_array_length(arr);
  for (size_t i = 0; i < len; i++) {
    json_object *v = json_object_array_get_idx(arr, i);
    int rc = json_object_is_type(v, json_type_array) ? fill_leaves(f, v, err)
                                                    : store_elem(f, v, err);
    if (rc) return rc;
    if (!json_object_is_type(v, json_type_array)) f->i++;
  }
  return KINFER_OK;
}

static int alloc_storage(struct kinfer_tensor *t, size_t text,
                         kinfer_error *err) {
  if (t->dt == KINFER_BYTES) {
    t->elems = calloc(t->count ? t->count : 1, sizeof *t->elems);
    t->owned = malloc(text ? text : 1);
    t->nbytes = text;
    if (!t->elems || !t->owned) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
    return KINFER_OK;
  }
  if (t->count == 0) return KINFER_OK;
  if (!(t->owned = malloc(t->nbytes)))
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  t->data = t->owned;
  return KINFER_OK;
}

int ki_tensor_from_json(struct kinfer_tensor *t, json_object *data,
                        kinfer_error *err) {
  if (!json_object_is_type(data, json_type_array))
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': data is not an array", t->name);
  walk w = {t, t->ndim > 1 ? t->ndim : 1, 0, 0};
  int rc = count_leaves(&w, data, 1, err);
  if (rc) return rc;
  if (w.n != t->count)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s' has %s%zu elements, its shape needs %zu",
                        t->name, w.n > t->count ? "more than " : "",
                        w.n > t->count ? t->count : w.n, t->count);
  if ((rc = alloc_storage(t, w.text, err))) return rc;
  fill f = {t, 0, t->owned};
  return fill_leaves(&f, data, err);
}

/* ---- the body ------------------------------------------------------------- */

/* Inference-Header-Content-Length: a plain decimal no larger than |len|. */
static int parse_ihcl(const char *s, size_t len, size_t *out,
                      kinfer_error *err) {
  size_t v = 0;
  if (!*s) goto fail;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') goto fail;
    if (!ki_mul_size(v, 10, &v) || !ki_add_size(v, (size_t)(*p - '0'), &v))
      goto fail;
  }
  if (v > len) goto fail;
  *out = v;
  return KINFER_OK;
fail:
  return ki_error_set(err, KINFER_EBADRESPONSE,
                      "Inference-Header-Content-Length '%.40s' is not a "
                      "length within the %zu-byte body",
                      s, len);
}

static bool has_outputs_array(json_object *root) {
  json_object *o;
  return json_object_is_type(root, json_type_object) &&
         json_object_object_get_ex(root, "outputs", &o) &&
         json_object_is_type(o, json_type_array);
}

/* Parses and decodes the JSON part; with |fast|, V2 data arrays go through
 * the data codec (see datacodec.c).  Sets *redo when the fast path was not
 * sure of its result and the response must be decoded without it. */
static int decode_json(kinfer_response *resp, enum ki_decode_mode mode,
                       bool binary, bool fast, bool *redo,
                       kinfer_error *err) {
  const char *text = resp->json;
  size_t len = resp->json_len;
  ki_buf masked = {0};
  ki_data_spans spans = {0};
  int rc;
  if (fast && mode != KI_DECODE_V1) {
    rc = ki_v2_mask_data(text, len, &masked, &spans);
    if (rc < 0) {
      rc = ki_error_set(err, KINFER_ENOMEM, "out of memory");
      goto out;
    }
    if (rc == 1) {
      text = masked.data;
      len = masked.len;
    }
  }
  json_object *root;
  rc = ki_json_parse(text, len, KI_JSON_MAX_DEPTH, "response",
                     KINFER_EBADRESPONSE, &root, err);
  if (rc) {
    /* The error must not depend on what was cut out. */
    *redo = spans.count > 0;
    goto out;
  }
  if (mode == KI_DECODE_AUTO)
    mode = (binary || has_outputs_array(root)) ? KI_DECODE_V2 : KI_DECODE_V1;
  if (mode == KI_DECODE_V2)
    rc = ki_v2_decode(resp, root, binary ? resp->json + resp->json_len : NULL,
                      resp->len - resp->json_len, spans.count ? &spans : NULL,
                      err);
  else
    rc = ki_v1_decode(resp, root, err);
  json_object_put(root);
  /* A cut value the decoder did not claim (a duplicate key, a document
   * decoded as V1, an error before it) was never checked. */
  for (size_t i = 0; i < spans.count; i++)
    if (!spans.used[i]) *redo = true;
out:
  ki_buf_free(&masked);
  ki_data_spans_free(&spans);
  return rc;
}

static int decode_body(kinfer_response *resp, enum ki_decode_mode mode,
                       const char *ihcl, kinfer_error *err) {
  size_t json_len = resp->len;
  bool binary = ihcl && mode != KI_DECODE_V1;
  if (binary) {
    int rc = parse_ihcl(ihcl, resp->len, &json_len, err);
    if (rc) return rc;
  }
  resp->json = resp->body ? resp->body : "";
  resp->json_len = json_len;
  /* The one-pass V2 decoder first: it declines whatever it is not sure of,
   * errors included, and the json-c path below then decides. */
  if (mode != KI_DECODE_V1 && ki_v2_fast_enabled()) {
    int rc = ki_v2_decode_fast(resp, binary, err);
    if (rc != KI_DECLINED) return rc;
  }
  bool redo = false;
  int rc = decode_json(resp, mode, binary, true, &redo, err);
  if (rc == KINFER_ENOMEM || !redo) return rc;
  ki_response_clear(resp);
  return decode_json(resp, mode, binary, false, &redo, err);
}

int ki_decode_response(enum ki_decode_mode mode, char *body, size_t len,
                       const char *ihcl, kinfer_response **out,
                       kinfer_error *err) {
  if (out) *out = NULL;
  kinfer_response *resp = calloc(1, sizeof *resp);
  if (!resp) {
    free(body);
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  }
  resp->body = body;
  resp->len = body ? len : 0;
  int rc = KINFER_OK;
  if (!out)
    rc = ki_error_set(err, KINFER_EINVAL, "no output given");
  else if (mode != KI_DECODE_V1 && mode != KI_DECODE_V2 && mode != KI_DECODE_AUTO)
    rc = ki_error_set(err, KINFER_EINVAL, "unknown decode mode");
  else
    rc = decode_body(resp, mode, ihcl, err);
  if (rc) {
    kinfer_response_free(resp);
    return rc;
  }
  *out = resp;
  return KINFER_OK;
}
