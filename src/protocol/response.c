/*
 * Response objects and the tensor views they hand out.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

void ki_response_clear(kinfer_response *r) {
  for (size_t i = 0; i < r->noutputs; i++) {
    struct kinfer_tensor *t = &r->outputs[i];
    if (!r->arena) {
      ki_tensor_clear(t);
      continue;
    }
    free(t->owned);
    free(t->elems);
  }
  if (!r->arena) {
    free(r->outputs);
    free(r->model_name);
    free(r->model_version);
    free(r->id);
    ki_params_clear(&r->params);
  }
  free(r->arena);
  r->arena = NULL;
  r->outputs = NULL;
  r->noutputs = 0;
  r->model_name = r->model_version = r->id = NULL;
  memset(&r->params, 0, sizeof r->params);
}

void kinfer_response_free(kinfer_response *r) {
  if (!r) return;
  ki_response_clear(r);
  free(r->body);
  free(r);
}

void ki_response_set_status(kinfer_response *r, int status) {
  if (r) r->status = status;
}

int kinfer_response_status(const kinfer_response *r) {
  return r ? r->status : 0;
}

const char *kinfer_response_model_name(const kinfer_response *r) {
  return r ? r->model_name : NULL;
}

const char *kinfer_response_model_version(const kinfer_response *r) {
  return r ? r->model_version : NULL;
}

const char *kinfer_response_id(const kinfer_response *r) {
  return r ? r->id : NULL;
}

const kinfer_params *kinfer_response_parameters(const kinfer_response *r) {
  return r ? &r->params : NULL;
}

size_t kinfer_response_output_count(const kinfer_response *r) {
  return r ? r->noutputs : 0;
}

const kinfer_tensor *kinfer_response_output(const kinfer_response *r,
                                            size_t i) {
  return (r && i < r->noutputs) ? &r->outputs[i] : NULL;
}

const kinfer_tensor *kinfer_response_output_by_name(const kinfer_response *r,
                                                    const char *name) {
  if (!r || !name) return NULL;
  for (size_t i = 0; i < r->noutputs; i++)
    if (strcmp(r->outputs[i].name, name) == 0) return &r->outputs[i];
  return NULL;
}

const char *kinfer_response_json(const kinfer_response *r, size_t *len) {
  if (len) *len = r ? r->json_len : 0;
  return r ? r->json : NULL;
}

/* ---- tensor views -------------------------------------------------------- */

const char *kinfer_tensor_name(const kinfer_tensor *t) {
  return t ? t->name : NULL;
}

kinfer_datatype kinfer_tensor_datatype(const kinfer_tensor *t) {
  return t ? t->dt : KINFER_BYTES;
}

size_t kinfer_tensor_ndim(const kinfer_tensor *t) { return t ? t->ndim : 0; }

const int64_t *kinfer_tensor_shape(const kinfer_tensor *t) {
  return t ? t->shape : NULL;
}

size_t kinfer_tensor_element_count(const kinfer_tensor *t) {
  return t ? t->count : 0;
}

const void *kinfer_tensor_data(const kinfer_tensor *t) {
  return t ? t->data : NULL;
}

size_t kinfer_tensor_nbytes(const kinfer_tensor *t) {
  return t ? t->nbytes : 0;
}

int kinfer_tensor_bytes_at(const kinfer_tensor *t, size_t i, const char **ptr,
                           size_t *len) {
  if (!t || t->dt != KINFER_BYTES || i >= t->count || !ptr || !len)
    return KINFER_EINVAL;
  *ptr = t->elems[i].p;
  *len = t->elems[i].n;
  return KINFER_OK;
}

const kinfer_params *kinfer_tensor_parameters(const kinfer_tensor *t) {
  return t ? &t->params : NULL;
}
