/*
 * libFuzzer target for the tensor data codec: the typed parser
 * (ki_tensor_from_text) against the json-c path (ki_tensor_from_json) on
 * the same text, and the number printer against the parser.
 *
 * Input layout: datatype byte (mod 14), ndim byte (mod 4), one byte per
 * dimension (mod 8), then the JSON text of the data value.  Both decoders
 * must accept or refuse the same texts and, when they accept, produce the
 * same elements.  Deliberate differences, not compared: the typed parser
 * reads "-0" in a float tensor as negative zero (json-c reads it as the
 * integer 0); it refuses what JSON does not allow and json-c takes ("1.",
 * "1.e5", "-.5", "00", "00.5"); and it reads
 * integers beyond the int64 / uint64 range exactly (json-c clamps them:
 * -9223372036854775809 would be INT64_MIN); texts with runs of 19 digits
 * or more are not compared.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/numtext.h"
#include "protocol/proto_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_elements(const struct kinfer_tensor *a,
                          const struct kinfer_tensor *b) {
  if (a->nbytes != b->nbytes || a->count != b->count) return false;
  if (a->dt == KINFER_BYTES) {
    for (size_t i = 0; i < a->count; i++)
      if (a->elems[i].n != b->elems[i].n ||
          (a->elems[i].n &&
           memcmp(a->elems[i].p, b->elems[i].p, a->elems[i].n) != 0))
        return false;
    return true;
  }
  const unsigned char *p = a->data, *q = b->data;
  size_t size = kinfer_datatype_size(a->dt);
  for (size_t i = 0; i < a->count; i++, p += size, q += size) {
    if (memcmp(p, q, size) == 0) continue;
    /* Zeros of either sign (see above). */
    if (a->dt == KINFER_FP32) {
      float x, y;
      memcpy(&x, p, 4);
      memcpy(&y, q, 4);
      if (x == 0 && y == 0) continue;
    } else if (a->dt == KINFER_FP64) {
      double x, y;
      memcpy(&x, p, 8);
      memcpy(&y, q, 8);
      if (x == 0 && y == 0) continue;
    } else if (a->dt == KINFER_FP16 || a->dt == KINFER_BF16) {
      uint16_t x, y;
      memcpy(&x, p, 2);
      memcpy(&y, q, 2);
      if (((x | y) & 0x7fff) == 0) continue;
    }
    return false;
  }
  return true;
}

/* Texts where the two decoders differ on purpose (see above). */
static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Texts where the two decoders differ on purpose (see above). */
static bool deliberate(const uint8_t *s, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t next = i + 1 < n ? s[i + 1] : 0;
    if (s[i] == '.' && !is_digit(next)) return true;
    if (s[i] == '-' && next == '.') return true;
    if (s[i] == '0' && is_digit(next)) {
      uint8_t prev = i ? s[i - 1] : ' ', prev2 = i > 1 ? s[i - 2] : ' ';
      bool in_exp = prev == 'e' || prev == 'E' || prev == '+' ||
                    (prev == '-' && (prev2 == 'e' || prev2 == 'E'));
      if (!is_digit(prev) && prev != '.' && !in_exp) return true;
    }
    run = is_digit(s[i]) ? run + 1 : 0;
    if (run >= 19) return true;
  }
  return false;
}

static void numbers(const uint8_t *data, size_t size) {
  /* Printing any bits reads back to the same bits. */
  char buf[KI_NUM_BUFSIZE];
  if (size >= 8) {
    double d, back;
    memcpy(&d, data, 8);
    size_t n = ki_num_fmt_f64(buf, d);
    if (isfinite(d) && (!ki_num_parse_f64(buf, n, &back) || memcmp(&d, &back, 8)))
      abort();
  }
  if (size >= 4) {
    float f, back;
    memcpy(&f, data, 4);
    size_t n = ki_num_fmt_f32(buf, f);
    if (isfinite(f) && (!ki_num_parse_f32(buf, n, &back) || memcmp(&f, &back, 4)))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  numbers(data, size);
  if (size < 2) return 0;
  struct kinfer_tensor a, b;
  memset(&a, 0, sizeof a);
  a.dt = (kinfer_datatype)(data[0] % 14);
  a.ndim = data[1] % 4;
  data += 2;
  size -= 2;
  if (size < a.ndim) return 0;
  int64_t shape[4];
  for (size_t d = 0; d < a.ndim; d++) shape[d] = data[d] % 8;
  data += a.ndim;
  size -= a.ndim;
  a.shape = shape;
  a.name = (char *)"t";
  ki_shape_count(shape, a.ndim, &a.count);
  a.nbytes = a.count * kinfer_datatype_size(a.dt);
  b = a;

  kinfer_error err;
  int rc1 = ki_tensor_from_text(&a, (const char *)data, size, &err);
  json_object *root;
  int rc2 = ki_json_parse((const char *)data, size, KI_JSON_MAX_DEPTH, "data",
                          KINFER_EBADRESPONSE, &root, &err);
  if (rc2 == KINFER_OK) {
    rc2 = ki_tensor_from_json(&b, root, &err);
    json_object_put(root);
  }
  if (rc1 != KINFER_OK && rc1 != KINFER_EBADRESPONSE && rc1 != KINFER_ENOMEM)
    abort();
  if (rc1 == KINFER_ENOMEM || rc2 == KINFER_ENOMEM) goto out;
  if (deliberate(data, size)) goto out;
  if ((rc1 == KINFER_OK) != (rc2 == KINFER_OK)) abort();
  if (rc1 == KINFER_OK && !same_elements(&a, &b)) abort();
out:
  free(a.owned);
  free(a.elems);
  free(b.owned);
  free(b.elems);
  return 0;
}
