/*
 * V2 (Open Inference Protocol) request encoding: a JSON object, and with the
 * binary tensor extension, the tensor bytes after it.
 */
#include <stdlib.h>
#include <string.h>

#include "numtext.h"
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

static int put_string(ki_buf *b, const char *s, kinfer_error *err) {
  return ki_json_write_string(b, s, strlen(s)) ? oom(err) : KINFER_OK;
}

/* Writes `,"parameters":{...}` from |p| plus one member the encoder adds
 * (|key| with the JSON value text |value|; key NULL for none), which
 * replaces a user entry of the same name.  Nothing when empty. */
static int write_params(ki_buf *b, const kinfer_params *p, const char *key,
                        const char *value, kinfer_error *err) {
  size_t n = kinfer_params_count(p);
  if (key && ki_params_find(p, key)) n--;
  if (n == 0 && !key) return KINFER_OK;
  bool first = true;
  TRY(put(b, ",\"parameters\":{", err));
  TRY(ki_params_write_members(b, p, key, &first, err));
  if (key) {
    if (!first) TRY(put(b, ",", err));
    TRY(put_string(b, key, err));
    TRY(put(b, ":", err));
    TRY(put(b, value, err));
  }
  return put(b, "}", err);
}

static int write_shape(ki_buf *b, const struct kinfer_input *in,
                       kinfer_error *err) {
  char num[KI_NUM_BUFSIZE];
  TRY(put(b, "\"shape\":[", err));
  for (size_t i = 0; i < in->ndim; i++) {
    if (i) TRY(put(b, ",", err));
    ki_num_fmt_i64(num, in->shape[i]);
    TRY(put(b, num, err));
  }
  return put(b, "]", err);
}

static int write_data(ki_buf *b, const struct kinfer_input *in, size_t count,
                      kinfer_error *err) {
  TRY(put(b, ",\"data\":[", err));
  TRY(ki_input_write_flat(b, in, count, err));
  return put(b, "]", err);
}

static int write_input(ki_buf *b, const struct kinfer_input *in,
                       kinfer_error *err) {
  size_t count;
  TRY(ki_input_check(in, &count, err));
  if (!in->binary && (in->dt == KINFER_FP16 || in->dt == KINFER_BF16))
    return ki_error_set(err, KINFER_EINPUT,
                        "input '%s': %s data can only be sent as binary data",
                        in->name, kinfer_datatype_name(in->dt));
  TRY(put(b, "{\"name\":", err));
  TRY(put_string(b, in->name, err));
  TRY(put(b, ",", err));
  TRY(write_shape(b, in, err));
  TRY(put(b, ",\"datatype\":\"", err));
  TRY(put(b, kinfer_datatype_name(in->dt), err));
  TRY(put(b, "\"", err));
  if (in->binary) {
    char num[KI_NUM_BUFSIZE];
    ki_num_fmt_u64(num, in->nbytes);
    TRY(write_params(b, &in->params, "binary_data_size", num, err));
  } else {
    TRY(write_params(b, &in->params, NULL, NULL, err));
    TRY(write_data(b, in, count, err));
  }
  return put(b, "}", err);
}

static int write_outputs(ki_buf *b, const kinfer_request *r,
                         kinfer_error *err) {
  if (r->noutputs == 0) return KINFER_OK;
  TRY(put(b, ",\"outputs\":[", err));
  for (size_t i = 0; i < r->noutputs; i++) {
    const struct kinfer_requested_output *o = r->outputs[i];
    TRY(put(b, i ? ",{\"name\":" : "{\"name\":", err));
    TRY(put_string(b, o->name, err));
    TRY(write_params(b, &o->params, o->binary ? "binary_data" : NULL, "true",
                     err));
    TRY(put(b, "}", err));
  }
  return put(b, "]", err);
}

static int write_request(ki_buf *b, const kinfer_request *r,
                         kinfer_error *err) {
  TRY(put(b, "{", err));
  if (r->id) {
    TRY(put(b, "\"id\":", err));
    TRY(put_string(b, r->id, err));
    TRY(put(b, ",", err));
  }
  TRY(put(b, "\"inputs\":[", err));
  for (size_t i = 0; i < r->ninputs; i++) {
    if (i) TRY(put(b, ",", err));
    TRY(write_input(b, r->inputs[i], err));
  }
  TRY(put(b, "]", err));
  TRY(write_outputs(b, r, err));
  TRY(write_params(b, &r->params, r->binary_outputs ? "binary_data_output" : NULL,
                   "true", err));
  return put(b, "}", err);
}

/* The JSON segment, then each binary input's bytes in input order, pointing
 * at the request's own buffers. */
static int add_segments(const kinfer_request *r, ki_encoded *out,
                        kinfer_error *err) {
  if (ki_encoded_push(out, out->json.data, out->json.len)) return oom(err);
  for (size_t i = 0; i < r->ninputs; i++) {
    const struct kinfer_input *in = r->inputs[i];
    if (!in->binary || in->nbytes == 0) continue;
    if (ki_encoded_push(out, in->data, in->nbytes)) return oom(err);
  }
  return KINFER_OK;
}

int ki_v2_encode(const kinfer_request *r, ki_encoded *out, kinfer_error *err) {
  TRY(write_request(&out->json, r, err));
  bool binary = false;
  for (size_t i = 0; i < r->ninputs; i++) binary |= r->inputs[i]->binary;
  if (!binary) return KINFER_OK;
  out->binary = true;
  out->content_type = "application/octet-stream";
  return add_segments(r, out, err);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                   */
/* ------------------------------------------------------------------------ */

static int bad_output(kinfer_error *err, size_t i, const char *what) {
  return ki_error_set(err, KINFER_EBADRESPONSE, "output %zu: %s", i, what);
}

static json_object *member(json_object *obj, const char *key,
                           enum json_type type) {
  json_object *v;
  if (!json_object_object_get_ex(obj, key, &v)) return NULL;
  return json_object_is_type(v, type) ? v : NULL;
}

static int take_string(json_object *obj, const char *key, char **out,
                       kinfer_error *err) {
  json_object *v = member(obj, key, json_type_string);
  if (!v) return KINFER_OK;
  if (!(*out = strdup(json_object_get_string(v)))) return oom(err);
  return KINFER_OK;
}

static int decode_shape(struct kinfer_tensor *t, json_object *shape, size_t i,
                        kinfer_error *err) {
  size_t ndim = json_object_array_length(shape);
  if (ndim > KI_MAX_NDIM) return bad_output(err, i, "too many dimensions");
  if (!(t->shape = malloc(ndim ? ndim * sizeof(int64_t) : 1))) return oom(err);
  t->ndim = ndim;
  for (size_t d = 0; d < ndim; d++) {
    json_object *v = json_object_array_get_idx(shape, d);
    if (!json_object_is_type(v, json_type_int))
      return bad_output(err, i, "shape has a value that is not an integer");
    t->shape[d] = json_object_get_int64(v);
    if (t->shape[d] < 0) return bad_output(err, i, "shape has a negative dimension");
  }
  size_t size = kinfer_datatype_size(t->dt);
  if (!ki_shape_count(t->shape, ndim, &t->count) ||
      !ki_mul_size(t->count, size, &t->nbytes))
    return bad_output(err, i, "shape product overflows");
  return KINFER_OK;
}

static int binary_bytes(struct kinfer_tensor *t, const char *p, size_t n,
                        kinfer_error *err) {
  if (!(t->elems = calloc(t->count ? t->count : 1, sizeof *t->elems)))
    return oom(err);
  size_t off = 0, k = 0, total = 0;
  ki_span el;
  int rc;
  while ((rc = ki_bytes_next((const unsigned char *)p, n, &off, &el)) == 1) {
    if (k == t->count) break;
    t->elems[k++] = el;
    total += el.n;
  }
  if (rc < 0)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': BYTES element %zu runs past its data",
                        t->name, k);
  if (k != t->count || off != n)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': binary BYTES data does not hold the %zu "
                        "elements of its shape",
                        t->name, t->count);
  t->nbytes = total;
  return KINFER_OK;
}

int ki_v2_decode_binary(struct kinfer_tensor *t, int64_t size,
                        ki_bin_reader *br, kinfer_error *err) {
  if (!br->p)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s' has binary_data_size but the body has no "
                        "binary part",
                        t->name);
  if (size < 0 || (uint64_t)size > br->len - br->off)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': binary_data_size %lld runs past the body",
                        t->name, (long long)size);
  const char *p = br->p + br->off;
  size_t n = (size_t)size;
  br->off += n;
  if (t->dt == KINFER_BYTES) return binary_bytes(t, p, n, err);
  if (n != t->nbytes)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': binary_data_size %zu, its shape and "
                        "datatype need %zu",
                        t->name, n, t->nbytes);
  if (t->dt == KINFER_BOOL)
    for (size_t k = 0; k < n; k++)
      if ((unsigned char)p[k] > 1)
        return ki_error_set(err, KINFER_EBADRESPONSE,
                            "output '%s': BOOL element %zu is not 0 or 1",
                            t->name, k);
  t->data = n ? p : NULL;
  return KINFER_OK;
}

static int decode_output(struct kinfer_tensor *t, json_object *obj, size_t i,
                         ki_bin_reader *br, ki_data_spans *spans,
                         kinfer_error *err) {
  if (!json_object_is_type(obj, json_type_object))
    return bad_output(err, i, "not an object");
  json_object *name = member(obj, "name", json_type_string);
  json_object *dt = member(obj, "datatype", json_type_string);
  json_object *shape = member(obj, "shape", json_type_array);
  if (!name) return bad_output(err, i, "missing or non-string \"name\"");
  if (!dt) return bad_output(err, i, "missing or non-string \"datatype\"");
  if (!shape) return bad_output(err, i, "missing or non-array \"shape\"");
  if (!(t->name = strdup(json_object_get_string(name)))) return oom(err);
  if (kinfer_datatype_from_name(json_object_get_string(dt), &t->dt))
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': unknown datatype '%.40s'", t->name,
                        json_object_get_string(dt));
  TRY(decode_shape(t, shape, i, err));
  if (ki_params_from_json(&t->params, member(obj, "parameters", json_type_object)))
    return oom(err);
  int64_t size;
  json_object *data;
  bool has_data = json_object_object_get_ex(obj, "data", &data);
  if (kinfer_params_get_int(&t->params, "binary_data_size", &size) == KINFER_OK) {
    if (has_data)
      return ki_error_set(err, KINFER_EBADRESPONSE,
                          "output '%s' has both data and binary_data_size",
                          t->name);
    return ki_v2_decode_binary(t, size, br, err);
  }
  if (!has_data)
    return ki_error_set(err, KINFER_EBADRESPONSE, "output '%s' has no data",
                        t->name);
  if (!spans) return ki_tensor_from_json(t, data, err);
  /* Every data value was cut out and replaced by its index. */
  int64_t k = json_object_get_int64(data);
  if (!json_object_is_type(data, json_type_int) || k < 0 ||
      (uint64_t)k >= spans->count)
    return ki_error_set(err, KINFER_EBADRESPONSE, "output '%s': bad data",
                        t->name);
  spans->used[k] = true;
  return ki_tensor_from_text(t, spans->v[k].p, spans->v[k].n, err);
}

static int decode_envelope(kinfer_response *resp, json_object *root,
                           kinfer_error *err) {
  TRY(take_string(root, "model_name", &resp->model_name, err));
  TRY(take_string(root, "model_version", &resp->model_version, err));
  TRY(take_string(root, "id", &resp->id, err));
  if (ki_params_from_json(&resp->params, member(root, "parameters", json_type_object)))
    return oom(err);
  return KINFER_OK;
}

int ki_v2_decode(kinfer_response *resp, json_object *root, const char *bin,
                 size_t binlen, ki_data_spans *spans, kinfer_error *err) {
  if (!json_object_is_type(root, json_type_object))
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "V2 response is not a JSON object");
  json_object *outs = member(root, "outputs", json_type_array);
  if (!outs)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "V2 response has no \"outputs\" array");
  TRY(decode_envelope(resp, root, err));
  size_t n = json_object_array_length(outs);
  if (n && !(resp->outputs = calloc(n, sizeof *resp->outputs))) return oom(err);
  ki_bin_reader br = {bin, binlen, 0};
  for (size_t i = 0; i < n; i++) {
    resp->noutputs = i + 1;
    TRY(decode_output(&resp->outputs[i], json_object_array_get_idx(outs, i), i,
                      &br, spans, err));
  }
  if (bin && br.off != br.len)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "%zu bytes after the binary outputs are not described "
                        "by any output",
                        br.len - br.off);
  return KINFER_OK;
}
