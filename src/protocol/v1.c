/*
 * V1 (KServe "predict" protocol): {"instances": ...} / {"inputs": {...}}
 * requests, and {"predictions": ...} responses.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define TRY(expr)                 \
  do {                            \
    int rc_ = (expr);             \
    if (rc_) return rc_;          \
  } while (0)

static int oom(kinfer_error *err) {
  return ki_error_set(err, KINFER_ENOMEM, "out of memory");
}

static int put(ki_buf *b, const char *s, kinfer_error *err) {
  return ki_buf_append(b, s, strlen(s)) ? oom(err) : KINFER_OK;
}

typedef struct nest {
  ki_buf *b;
  const struct kinfer_input *in;
  size_t i;    /* next element                                       */
  size_t off;  /* BYTES: offset into the serialized data              */
} nest;

/* Writes dimension |d| and below as nested arrays. */
static int write_nested(nest *n, size_t d, kinfer_error *err) {
  if (d == n->in->ndim) {
    int rc = ki_input_write_elem(n->b, n->in, n->i++, &n->off, err);
    return rc == KINFER_ENOMEM ? oom(err) : rc;
  }
  TRY(put(n->b, "[", err));
  for (int64_t k = 0; k < n->in->shape[d]; k++) {
    if (k) TRY(put(n->b, ",", err));
    TRY(write_nested(n, d + 1, err));
  }
  return put(n->b, "]", err);
}

/* A shape with a zero dimension has no elements but still becomes nested
 * arrays, one per index before that dimension: bound how many. */
static bool empty_arrays_bounded(const struct kinfer_input *in) {
  size_t n = 1;
  for (size_t d = 0; d < in->ndim && in->shape[d] != 0; d++)
    if (!ki_mul_size(n, (size_t)in->shape[d], &n) || n > ((size_t)1 << 24))
      return false;
  return true;
}

static int write_tensor(ki_buf *b, const struct kinfer_input *in,
                        kinfer_error *err) {
  size_t count;
  TRY(ki_input_check(in, &count, err));
  if (in->dt == KINFER_FP16 || in->dt == KINFER_BF16)
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': %s cannot be sent with the V1 protocol",
                        in->name, kinfer_datatype_name(in->dt));
  if (count == 0 && !empty_arrays_bounded(in))
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': too many empty arrays for its shape",
                        in->name);
  nest n = {b, in, 0, 0};
  return write_nested(&n, 0, err);
}

int ki_v1_encode(const kinfer_request *r, ki_encoded *out, kinfer_error *err) {
  ki_buf *b = &out->json;
  if (r->ninputs == 0)
    return ki_error_set(err, KINFER_EINPUT, "the request has no inputs");
  if (r->ninputs == 1) {
    TRY(put(b, "{\"instances\":", err));
    TRY(write_tensor(b, r->inputs[0], err));
    return put(b, "}", err);
  }
  TRY(put(b, "{\"inputs\":{", err));
  for (size_t i = 0; i < r->ninputs; i++) {
    const struct kinfer_input *in = r->inputs[i];
    if (i) TRY(put(b, ",", err));
    if (ki_json_write_string(b, in->name, strlen(in->name))) return oom(err);
    TRY(put(b, ":", err));
    TRY(write_tensor(b, in, err));
  }
  return put(b, "}}", err);
}

/* ------------------------------------------------------------------------ */
/* Decoding: the document is kept; "predictions" becomes a tensor when it is
 * a rectangular array of one kind of scalar.                                */
/* ------------------------------------------------------------------------ */

enum kind { K_NONE, K_INT, K_FLOAT, K_BOOL, K_STRING, K_MIXED };

typedef struct infer {
  int64_t shape[KI_MAX_NDIM];
  size_t ndim;
  enum kind kind;
} infer;

static enum kind kind_of(json_object *v) {
  switch (json_object_get_type(v)) {
  case json_type_int:
    /* Beyond int64: keep the value approximately, as FP64. */
    return json_object_get_int64(v) == INT64_MAX &&
                   json_object_get_uint64(v) > (uint64_t)INT64_MAX
               ? K_FLOAT
               : K_INT;
  case json_type_double: return K_FLOAT;
  case json_type_boolean: return K_BOOL;
  case json_type_string: return K_STRING;
  default: return K_MIXED;
  }
}

static enum kind merge(enum kind a, enum kind b) {
  if (a == K_NONE || a == b) return b;
  if ((a == K_INT && b == K_FLOAT) || (a == K_FLOAT && b == K_INT))
    return K_FLOAT;
  return K_MIXED;
}

/* The shape along the first elements. */
static bool probe_shape(infer *in, json_object *v) {
  in->ndim = 0;
  while (json_object_is_type(v, json_type_array)) {
    if (in->ndim == KI_MAX_NDIM) return false;
    size_t len = json_object_array_length(v);
    in->shape[in->ndim++] = (int64_t)len;
    if (len == 0) break;
    v = json_object_array_get_idx(v, 0);
  }
  return true;
}

/* Checks that every array at depth |d| has the probed length and leaves
 * sit at depth ndim; merges the leaf kinds. */
static bool rectangular(infer *in, json_object *v, size_t d) {
  if (d == in->ndim) {
    in->kind = merge(in->kind, kind_of(v));
    return in->kind != K_MIXED;
  }
  if (!json_object_is_type(v, json_type_array) ||
      json_object_array_length(v) != (size_t)in->shape[d])
    return false;
  for (size_t k = 0; k < (size_t)in->shape[d]; k++)
    if (!rectangular(in, json_object_array_get_idx(v, k), d + 1)) return false;
  return true;
}

static kinfer_datatype kind_datatype(enum kind k) {
  switch (k) {
  case K_INT: return KINFER_INT64;
  case K_BOOL: return KINFER_BOOL;
  case K_STRING: return KINFER_BYTES;
  default: return KINFER_FP64; /* numbers, or no elements at all */
  }
}

static int predictions_tensor(kinfer_response *resp, json_object *pred,
                              const infer *in, kinfer_error *err) {
  if (!(resp->outputs = calloc(1, sizeof *resp->outputs))) return oom(err);
  resp->noutputs = 1;
  struct kinfer_tensor *t = resp->outputs;
  t->dt = kind_datatype(in->kind);
  t->ndim = in->ndim;
  if (!(t->name = strdup("predictions")) ||
      !(t->shape = malloc(in->ndim * sizeof(int64_t))))
    return oom(err);
  memcpy(t->shape, in->shape, in->ndim * sizeof(int64_t));
  if (!ki_shape_count(t->shape, t->ndim, &t->count) ||
      !ki_mul_size(t->count, kinfer_datatype_size(t->dt), &t->nbytes))
    return ki_error_set(err, KINFER_EBADRESPONSE, "predictions too large");
  return ki_tensor_from_json(t, pred, err);
}

int ki_v1_decode(kinfer_response *resp, json_object *root, kinfer_error *err) {
  json_object *pred;
  if (!json_object_is_type(root, json_type_object) ||
      !json_object_object_get_ex(root, "predictions", &pred) ||
      !json_object_is_type(pred, json_type_array))
    return KINFER_OK;
  infer in = {.kind = K_NONE};
  if (!probe_shape(&in, pred) || !rectangular(&in, pred, 0)) return KINFER_OK;
  return predictions_tensor(resp, pred, &in, err);
}
