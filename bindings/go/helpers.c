/*
 * helpers.c: see helpers.h.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kinfer_input *gok_add_input(kinfer_request *r, const char *name, int datatype,
                            const int64_t *shape, size_t ndim,
                            const void *data, size_t nbytes, int binary,
                            int *rc) {
  kinfer_input *in =
      kinfer_request_add_input(r, name, (kinfer_datatype)datatype, shape, ndim);
  if (!in) {
    *rc = KINFER_EINVAL;
    return NULL;
  }
  *rc = kinfer_input_set_data(in, data, nbytes);
  if (!*rc && binary) *rc = kinfer_input_set_binary(in, true);
  return *rc ? NULL : in;
}

kinfer_input *gok_add_bytes_input(kinfer_request *r, const char *name,
                                  const int64_t *shape, size_t ndim,
                                  const char *buf, const size_t *lens,
                                  size_t count, int binary, int *rc) {
  kinfer_input *in = kinfer_request_add_input(r, name, KINFER_BYTES, shape, ndim);
  if (!in) {
    *rc = KINFER_EINVAL;
    return NULL;
  }
  const char **elems = NULL;
  if (count) {
    if (!(elems = malloc(count * sizeof *elems))) {
      *rc = KINFER_ENOMEM;
      return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
      elems[i] = buf ? buf + off : "";
      off += lens[i];
    }
  }
  /* kinfer_input_set_bytes wants non-NULL element pointers even when every
   * element is empty; an empty Go buffer arrives as NULL. */
  *rc = kinfer_input_set_bytes(in, elems, lens, count);
  free(elems);
  if (!*rc && binary) *rc = kinfer_input_set_binary(in, true);
  return *rc ? NULL : in;
}

void gok_params(const kinfer_params *p, gok_param *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    gok_param *o = &out[i];
    memset(o, 0, sizeof *o);
    o->key = kinfer_params_key(p, i);
    if (!o->key) continue;
    bool b;
    if (kinfer_params_get_string(p, o->key, &o->s) == KINFER_OK) {
      o->kind = GOK_PARAM_STRING;
    } else if (kinfer_params_get_int(p, o->key, &o->i) == KINFER_OK) {
      o->kind = GOK_PARAM_INT;
    } else if (kinfer_params_get_bool(p, o->key, &b) == KINFER_OK) {
      o->kind = GOK_PARAM_BOOL;
      o->b = b;
    } else if (kinfer_params_get_double(p, o->key, &o->d) == KINFER_OK) {
      o->kind = GOK_PARAM_DOUBLE;
    }
  }
}

int gok_params_set(kinfer_params *p, const char *key, int kind, const char *s,
                   int64_t i, int b, double d) {
  switch (kind) {
  case GOK_PARAM_STRING: return kinfer_params_set_string(p, key, s);
  case GOK_PARAM_INT: return kinfer_params_set_int(p, key, i);
  case GOK_PARAM_BOOL: return kinfer_params_set_bool(p, key, b != 0);
  case GOK_PARAM_DOUBLE: return kinfer_params_set_double(p, key, d);
  default: return KINFER_EINVAL;
  }
}

void gok_response_info(const kinfer_response *r, gok_response *out) {
  out->status = kinfer_response_status(r);
  out->model_name = kinfer_response_model_name(r);
  out->model_version = kinfer_response_model_version(r);
  out->id = kinfer_response_id(r);
  out->json_len = 0;
  out->json = kinfer_response_json(r, &out->json_len);
  out->noutputs = kinfer_response_output_count(r);
  out->params = kinfer_response_parameters(r);
  out->nparams = out->params ? kinfer_params_count(out->params) : 0;
}

void gok_tensor_info(const kinfer_response *r, size_t i, gok_tensor *out) {
  const kinfer_tensor *t = kinfer_response_output(r, i);
  memset(out, 0, sizeof *out);
  if (!t) return;
  out->name = kinfer_tensor_name(t);
  out->datatype = (int)kinfer_tensor_datatype(t);
  out->ndim = kinfer_tensor_ndim(t);
  out->shape = kinfer_tensor_shape(t);
  out->count = kinfer_tensor_element_count(t);
  out->data = kinfer_tensor_data(t);
  out->nbytes = kinfer_tensor_nbytes(t);
  out->params = kinfer_tensor_parameters(t);
  out->nparams = out->params ? kinfer_params_count(out->params) : 0;
  if (out->datatype == KINFER_BYTES) {
    for (size_t k = 0; k < out->count; k++) {
      const char *ptr;
      size_t len;
      if (kinfer_tensor_bytes_at(t, k, &ptr, &len) == KINFER_OK)
        out->bytes_total += len;
    }
  }
}

void gok_tensor_bytes(const kinfer_response *r, size_t i, size_t *lens,
                      char *dst, size_t cap) {
  const kinfer_tensor *t = kinfer_response_output(r, i);
  size_t n = t ? kinfer_tensor_element_count(t) : 0, off = 0;
  for (size_t k = 0; k < n; k++) {
    const char *ptr = NULL;
    size_t len = 0;
    if (kinfer_tensor_bytes_at(t, k, &ptr, &len) != KINFER_OK || len > cap - off)
      len = 0;
    if (len) memcpy(dst + off, ptr, len);
    lens[k] = len;
    off += len;
  }
}

kinfer_headers *gok_headers(const char *buf, size_t n, int *rc) {
  kinfer_headers *h = kinfer_headers_new();
  *rc = h ? KINFER_OK : KINFER_ENOMEM;
  for (size_t i = 0; h && i < n && !*rc; i++) {
    const char *name = buf;
    const char *value = name + strlen(name) + 1;
    buf = value + strlen(value) + 1;
    *rc = kinfer_headers_add(h, name, value);
  }
  if (*rc) {
    kinfer_headers_free(h);
    return NULL;
  }
  return h;
}

gok_replay *gok_replay_new(void) { return calloc(1, sizeof(gok_replay)); }

int gok_replay_set(gok_replay *r, int status, const char *content_type,
                   const char *header_length, const void *body, size_t len) {
  char *copy = malloc(len ? len : 1);
  if (!copy) return KINFER_ENOMEM;
  if (len) memcpy(copy, body, len);
  free(r->body);
  r->body = copy;
  r->body_len = len;
  r->status = status;
  snprintf(r->content_type, sizeof r->content_type, "%s",
           content_type ? content_type : "");
  snprintf(r->header_length, sizeof r->header_length, "%s",
           header_length ? header_length : "");
  return KINFER_OK;
}

void gok_replay_free(gok_replay *r) {
  if (!r) return;
  free(r->body);
  free(r->req_body);
  free(r);
}

static void copy_header(const kinfer_headers *h, const char *name, char *dst,
                        size_t cap) {
  const char *v = kinfer_headers_get(h, name);
  snprintf(dst, cap, "%s", v ? v : "");
}

static int replay_round_trip(void *ud, const kinfer_transport_request *req,
                             kinfer_transport_response *resp,
                             kinfer_error *err) {
  gok_replay *r = ud;
  (void)err;
  size_t len = 0;
  const void *body = kinfer_transport_request_body(req, &len);
  char *copy = malloc(len ? len : 1);
  if (!copy) return KINFER_ENOMEM;
  if (len) memcpy(copy, body, len);
  free(r->req_body);
  r->req_body = copy;
  r->req_body_len = len;
  const kinfer_headers *h = kinfer_transport_request_headers(req);
  copy_header(h, "content-type", r->req_content_type, sizeof r->req_content_type);
  copy_header(h, "inference-header-content-length", r->req_header_length,
              sizeof r->req_header_length);
  const char *url = kinfer_transport_request_url(req);
  snprintf(r->req_url, sizeof r->req_url, "%s", url ? url : "");

  int rc = kinfer_transport_response_set_status(resp, r->status);
  kinfer_headers *rh = kinfer_transport_response_headers(resp);
  if (!rc && r->content_type[0])
    rc = kinfer_headers_add(rh, "Content-Type", r->content_type);
  if (!rc && r->header_length[0])
    rc = kinfer_headers_add(rh, "Inference-Header-Content-Length",
                            r->header_length);
  if (!rc) rc = kinfer_transport_response_set_body(resp, r->body, r->body_len);
  return rc;
}

int gok_config_set_replay(kinfer_config *cfg, gok_replay *r) {
  static const kinfer_transport t = {.round_trip = replay_round_trip};
  return kinfer_config_set_transport(cfg, &t, r);
}
