/*
 * helpers.h: small C functions the Go package calls so that one cgo
 * crossing does the work of several kinfer calls.  None of them keeps a
 * pointer it is given after it returns, and none calls into Go.
 */
#ifndef KINFER_GO_HELPERS_H
#define KINFER_GO_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <kinfer/kinfer.h>

/* Adds an input and copies its data (kinfer_input_set_data) in one call.
 * Returns the input or NULL with *rc set. */
kinfer_input *gok_add_input(kinfer_request *r, const char *name, int datatype,
                            const int64_t *shape, size_t ndim,
                            const void *data, size_t nbytes, int binary,
                            int *rc);

/* Adds a BYTES input from |count| elements packed back to back in |buf|,
 * element i being lens[i] bytes long; the elements are copied. */
kinfer_input *gok_add_bytes_input(kinfer_request *r, const char *name,
                                  const int64_t *shape, size_t ndim,
                                  const char *buf, const size_t *lens,
                                  size_t count, int binary, int *rc);

/* One parameter of a map, read without knowing its type. */
enum { GOK_PARAM_STRING = 1, GOK_PARAM_INT, GOK_PARAM_BOOL, GOK_PARAM_DOUBLE };
typedef struct gok_param {
  const char *key;
  const char *s;
  int64_t i;
  double d;
  int kind;
  int b;
} gok_param;

/* Fills out[0..n) with the first n parameters of |p|. */
void gok_params(const kinfer_params *p, gok_param *out, size_t n);

/* Sets one parameter of the given kind. */
int gok_params_set(kinfer_params *p, const char *key, int kind, const char *s,
                   int64_t i, int b, double d);

typedef struct gok_response {
  const char *model_name;
  const char *model_version;
  const char *id;
  const char *json;
  size_t json_len;
  size_t noutputs;
  size_t nparams;
  const kinfer_params *params;
  int status;
} gok_response;

void gok_response_info(const kinfer_response *r, gok_response *out);

typedef struct gok_tensor {
  const char *name;
  const int64_t *shape;
  const void *data;
  const kinfer_params *params;
  size_t ndim;
  size_t count;
  size_t nbytes;
  size_t nparams;
  size_t bytes_total; /* BYTES: the sum of the element lengths */
  int datatype;
} gok_tensor;

void gok_tensor_info(const kinfer_response *r, size_t i, gok_tensor *out);

/* BYTES: element lengths into lens[0..count), and every element copied
 * back to back into dst (cap bytes). */
void gok_tensor_bytes(const kinfer_response *r, size_t i, size_t *lens,
                      char *dst, size_t cap);

/* Adds name: value pairs to a new header list; names and values are
 * packed NUL-terminated in |buf|, 2*n strings.  Returns NULL with *rc set on
 * failure. */
kinfer_headers *gok_headers(const char *buf, size_t n, int *rc);

/* A test transport that answers every request with a fixed body and keeps a
 * copy of the last request's body and two of its headers. */
typedef struct gok_replay {
  int status;
  char content_type[128];        /* response Content-Type, or ""          */
  char header_length[32];        /* Inference-Header-Content-Length, or "" */
  char *body;                    /* owned                                 */
  size_t body_len;
  char *req_body;                /* owned, the last request's body        */
  size_t req_body_len;
  char req_content_type[128];
  char req_header_length[32];
  char req_url[512];
} gok_replay;

gok_replay *gok_replay_new(void);
/* Copies |body|.  Returns KINFER_OK or KINFER_ENOMEM. */
int gok_replay_set(gok_replay *r, int status, const char *content_type,
                   const char *header_length, const void *body, size_t len);
void gok_replay_free(gok_replay *r);
int gok_config_set_replay(kinfer_config *cfg, gok_replay *r);

#endif
