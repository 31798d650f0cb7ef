/*
 * Tensor helpers shared by the encoders and decoders: shape products,
 * serialized BYTES, and element text.
 */
#include <stdlib.h>
#include <string.h>

#include "numtext.h"
#include "proto_int.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kinfer assumes a little-endian host (tensor data is little-endian)"
#endif

bool ki_shape_count(const int64_t *shape, size_t ndim, size_t *count) {
  size_t n = 1;
  for (size_t i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX) return false;
    if (!ki_mul_size(n, (size_t)shape[i], &n)) return false;
  }
  *count = n;
  return true;
}

int ki_bytes_next(const unsigned char *buf, size_t len, size_t *off,
                  ki_span *el) {
  if (*off == len) return 0;
  if (len - *off < 4) return -1;
  uint32_t n = ki_load_le32(buf + *off);
  if (len - *off - 4 < n) return -1;
  el->p = (const char *)buf + *off + 4;
  el->n = n;
  *off += 4 + (size_t)n;
  return 1;
}

static int check_bytes(const struct kinfer_input *in, size_t count,
                       kinfer_error *err) {
  size_t off = 0, n = 0;
  ki_span el;
  int rc;
  while ((rc = ki_bytes_next(in->data, in->nbytes, &off, &el)) == 1) n++;
  if (rc < 0)
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': BYTES element %zu runs past the data",
                        in->name, n);
  if (n != count)
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s' has %zu BYTES elements, its shape needs %zu",
                        in->name, n, count);
  return KINFER_OK;
}

static int check_bool(const struct kinfer_input *in, kinfer_error *err) {
  for (size_t i = 0; i < in->nbytes; i++)
    if (in->data[i] > 1)
      return ki_error_set(err, KINFER_EINPUT,
                          "input '%s': BOOL element %zu is %u, not 0 or 1",
                          in->name, i, in->data[i]);
  return KINFER_OK;
}

int ki_input_check(const struct kinfer_input *in, size_t *count,
                   kinfer_error *err) {
  if (!in->has_data)
    return ki_error_set(err, KINFER_EINPUT, "input '%s' has no data", in->name);
  if (!ki_shape_count(in->shape, in->ndim, count))
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': shape product overflows", in->name);
  if (in->dt == KINFER_BYTES) return check_bytes(in, *count, err);
  size_t need;
  if (!ki_mul_size(*count, kinfer_datatype_size(in->dt), &need))
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': data size overflows", in->name);
  if (need != in->nbytes)
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s' has %zu bytes of data, its shape and "
                        "datatype need %zu",
                        in->name, in->nbytes, need);
  return in->dt == KINFER_BOOL ? check_bool(in, err) : KINFER_OK;
}

static uint16_t ld16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t ld32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t ld64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static float ldf32(const unsigned char *p) { float v; memcpy(&v, p, 4); return v; }
static double ldf64(const unsigned char *p) { double v; memcpy(&v, p, 8); return v; }

/* Writes a number into |b|, reserving room for it first. */
static int write_number(ki_buf *b, const struct kinfer_input *in,
                        const unsigned char *p, size_t i, kinfer_error *err) {
  if (ki_buf_reserve(b, KI_NUM_BUFSIZE)) return KINFER_ENOMEM;
  char *o = b->data + b->len;
  size_t n = 0;
  switch (in->dt) {
  case KINFER_UINT8: n = ki_num_fmt_u64(o, *p); break;
  case KINFER_UINT16: n = ki_num_fmt_u64(o, ld16(p)); break;
  case KINFER_UINT32: n = ki_num_fmt_u64(o, ld32(p)); break;
  case KINFER_UINT64: n = ki_num_fmt_u64(o, ld64(p)); break;
  case KINFER_INT8: n = ki_num_fmt_i64(o, (int8_t)*p); break;
  case KINFER_INT16: n = ki_num_fmt_i64(o, (int16_t)ld16(p)); break;
  case KINFER_INT32: n = ki_num_fmt_i64(o, (int32_t)ld32(p)); break;
  case KINFER_INT64: n = ki_num_fmt_i64(o, (int64_t)ld64(p)); break;
  case KINFER_FP32: n = ki_num_fmt_f32(o, ldf32(p)); break;
  case KINFER_FP64: n = ki_num_fmt_f64(o, ldf64(p)); break;
  default: break;
  }
  if (n == 0)
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': element %zu is NaN or infinite", in->name,
                        i);
  b->len += n;
  b->data[b->len] = '\0';
  return KINFER_OK;
}

static int write_bytes_elem(ki_buf *b, const struct kinfer_input *in,
                            size_t i, size_t *off, kinfer_error *err) {
  ki_span el;
  if (ki_bytes_next(in->data, in->nbytes, off, &el) != 1)
    return ki_error_set(err, KINFER_EINPUT, "input '%s': bad BYTES data",
                        in->name);
  if (!ki_utf8_valid(el.p, el.n))
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': BYTES element %zu is not UTF-8 text; "
                        "send it as binary data",
                        in->name, i);
  return ki_json_write_string(b, el.p, el.n);
}

int ki_input_write_elem(ki_buf *b, const struct kinfer_input *in, size_t i,
                        size_t *off, kinfer_error *err) {
  switch (in->dt) {
  case KINFER_BOOL:
    return in->data[i] ? ki_buf_append(b, "true", 4)
                       : ki_buf_append(b, "false", 5);
  case KINFER_BYTES:
    return write_bytes_elem(b, in, i, off, err);
  case KINFER_FP16:
  case KINFER_BF16:
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': %s data can only be sent as binary data",
                        in->name, kinfer_datatype_name(in->dt));
  default:
    return write_number(b, in, in->data + i * kinfer_datatype_size(in->dt), i,
                        err);
  }
}

void ki_tensor_clear(struct kinfer_tensor *t) {
  free(t->name);
  free(t->shape);
  free(t->owned);
  free(t->elems);
  ki_params_clear(&t->params);
  memset(t, 0, sizeof *t);
}
