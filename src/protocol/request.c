/*
 * Request objects: inputs (copied or borrowed data), requested outputs,
 * parameters, and the JSON ("dict") form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

kinfer_request *kinfer_request_new(void) {
  return calloc(1, sizeof(kinfer_request));
}

static void input_free(struct kinfer_input *in) {
  if (!in) return;
  free(in->name);
  free(in->shape);
  free(in->owned_data);
  ki_params_clear(&in->params);
  free(in);
}

static void output_free(struct kinfer_requested_output *o) {
  if (!o) return;
  free(o->name);
  ki_params_clear(&o->params);
  free(o);
}

void kinfer_request_free(kinfer_request *r) {
  if (!r) return;
  for (size_t i = 0; i < r->ninputs; i++) input_free(r->inputs[i]);
  for (size_t i = 0; i < r->noutputs; i++) output_free(r->outputs[i]);
  free(r->inputs);
  free(r->outputs);
  free(r->id);
  free(r->json);
  ki_params_clear(&r->params);
  free(r);
}

bool ki_request_is_json_form(const kinfer_request *r) {
  return r && r->json;
}

int kinfer_request_set_idempotent(kinfer_request *r, bool on) {
  if (!r) return KINFER_EINVAL;
  r->idempotent = on;
  return KINFER_OK;
}

bool ki_request_idempotent(const kinfer_request *r) {
  return r && r->idempotent;
}

int kinfer_request_set_id(kinfer_request *r, const char *id) {
  if (!r || r->json) return KINFER_EINVAL;
  char *copy = NULL;
  if (id && !(copy = strdup(id))) return KINFER_ENOMEM;
  free(r->id);
  r->id = copy;
  return KINFER_OK;
}

kinfer_params *kinfer_request_parameters(kinfer_request *r) {
  return (r && !r->json) ? &r->params : NULL;
}

int kinfer_request_set_binary_outputs(kinfer_request *r, bool on) {
  if (!r || r->json) return KINFER_EINVAL;
  r->binary_outputs = on;
  return KINFER_OK;
}

/* Appends |item| to a pointer vector of |*n| entries. */
static bool push_ptr(void ***vec, size_t *n, void *item) {
  if (*n == SIZE_MAX / sizeof(void *)) return false;
  void **v = realloc(*vec, (*n + 1) * sizeof(void *));
  if (!v) return false;
  v[(*n)++] = item;
  *vec = v;
  return true;
}

static bool shape_valid(const int64_t *shape, size_t ndim) {
  if (ndim > KI_MAX_NDIM || (ndim && !shape)) return false;
  for (size_t i = 0; i < ndim; i++)
    if (shape[i] < 0) return false;
  return true;
}

kinfer_input *kinfer_request_add_input(kinfer_request *r, const char *name,
                                       kinfer_datatype t, const int64_t *shape,
                                       size_t ndim) {
  if (!r || r->json || !name || !*name || !kinfer_datatype_name(t) ||
      !shape_valid(shape, ndim))
    return NULL;
  struct kinfer_input *in = calloc(1, sizeof *in);
  if (!in) return NULL;
  in->dt = t;
  in->ndim = ndim;
  in->name = strdup(name);
  in->shape = malloc(ndim ? ndim * sizeof(int64_t) : 1);
  if (!in->name || !in->shape ||
      !push_ptr((void ***)&r->inputs, &r->ninputs, in)) {
    input_free(in);
    return NULL;
  }
  if (ndim) memcpy(in->shape, shape, ndim * sizeof(int64_t));
  return in;
}

static void input_set(struct kinfer_input *in, const void *data, size_t n,
                      unsigned char *owned) {
  free(in->owned_data);
  in->owned_data = owned;
  in->data = data;
  in->nbytes = n;
  in->has_data = true;
}

int kinfer_input_set_data(kinfer_input *in, const void *data, size_t nbytes) {
  /* No object is larger than PTRDIFF_MAX: such a size is a caller's bug. */
  if (!in || (!data && nbytes) || nbytes > PTRDIFF_MAX) return KINFER_EINVAL;
  unsigned char *copy = NULL;
  if (nbytes) {
    if (!(copy = malloc(nbytes))) return KINFER_ENOMEM;
    memcpy(copy, data, nbytes);
  }
  input_set(in, copy, nbytes, copy);
  return KINFER_OK;
}

int kinfer_input_borrow_data(kinfer_input *in, const void *data,
                             size_t nbytes) {
  if (!in || (!data && nbytes) || nbytes > PTRDIFF_MAX) return KINFER_EINVAL;
  input_set(in, nbytes ? data : NULL, nbytes, NULL);
  return KINFER_OK;
}

/* The serialized size of |count| elements; false on overflow or an element
 * longer than 4 GiB - 1. */
static bool bytes_size(const char *const *elems, const size_t *lens,
                       size_t count, size_t *total) {
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    size_t len = lens ? lens[i] : (elems[i] ? strlen(elems[i]) : 0);
    /* A NULL element is an error unless its given length is 0. */
    if (len > UINT32_MAX || (!elems[i] && (!lens || len))) return false;
    if (!ki_add_size(n, 4, &n) || !ki_add_size(n, len, &n)) return false;
  }
  *total = n;
  return true;
}

int kinfer_input_set_bytes(kinfer_input *in, const char *const *elems,
                           const size_t *lens, size_t count) {
  size_t total;
  if (!in || in->dt != KINFER_BYTES || (count && !elems) ||
      !bytes_size(elems, lens, count, &total))
    return KINFER_EINVAL;
  unsigned char *buf = malloc(total ? total : 1);
  if (!buf) return KINFER_ENOMEM;
  size_t off = 0;
  for (size_t i = 0; i < count; i++) {
    size_t len = lens ? lens[i] : (elems[i] ? strlen(elems[i]) : 0);
    uint32_t n32 = (uint32_t)len;
    unsigned char le[4] = {(unsigned char)n32, (unsigned char)(n32 >> 8),
                           (unsigned char)(n32 >> 16),
                           (unsigned char)(n32 >> 24)};
    memcpy(buf + off, le, 4);
    if (len) memcpy(buf + off + 4, elems[i], len);
    off += 4 + len;
  }
  input_set(in, buf, total, buf);
  return KINFER_OK;
}

int kinfer_input_set_binary(kinfer_input *in, bool binary) {
  if (!in) return KINFER_EINVAL;
  in->binary = binary;
  return KINFER_OK;
}

kinfer_params *kinfer_input_parameters(kinfer_input *in) {
  return in ? &in->params : NULL;
}

kinfer_requested_output *kinfer_request_add_output(kinfer_request *r,
                                                   const char *name) {
  if (!r || r->json || !name || !*name) return NULL;
  struct kinfer_requested_output *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  if (!(o->name = strdup(name)) ||
      !push_ptr((void ***)&r->outputs, &r->noutputs, o)) {
    output_free(o);
    return NULL;
  }
  return o;
}

int kinfer_requested_output_set_binary(kinfer_requested_output *o,
                                       bool binary) {
  if (!o) return KINFER_EINVAL;
  o->binary = binary;
  return KINFER_OK;
}

kinfer_params *kinfer_requested_output_parameters(kinfer_requested_output *o) {
  return o ? &o->params : NULL;
}

kinfer_request *kinfer_request_from_json(const char *json, size_t len,
                                         kinfer_error *err) {
  if (!json) {
    ki_error_set(err, KINFER_EINVAL, "no JSON text given");
    return NULL;
  }
  json_object *root;
  if (ki_json_parse(json, len, KI_JSON_MAX_DEPTH, "request", KINFER_EINVAL,
                    &root, err))
    return NULL;
  bool is_object = json_object_is_type(root, json_type_object);
  json_object_put(root);
  if (!is_object) {
    ki_error_set(err, KINFER_EINVAL, "request JSON is not an object");
    return NULL;
  }
  kinfer_request *r = kinfer_request_new();
  if (!r || !(r->json = malloc(len + 1))) {
    kinfer_request_free(r);
    ki_error_set(err, KINFER_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(r->json, json, len);
  r->json[len] = '\0';
  r->json_len = len;
  return r;
}
