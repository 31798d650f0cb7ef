/*
 * Tensors, the V2 request/response codec (JSON and the binary tensor
 * extension) and the models.
 *
 * Every tensor holds its elements in the binary extension's wire form:
 * little-endian values packed back to back, and for BYTES a 4-byte
 * little-endian length before each element. JSON input is converted into
 * that form once, so the models and the encoder see one representation.
 */
#ifndef KS_TENSOR_H
#define KS_TENSOR_H

#include <json-c/json.h>

#include "server.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kinfer-server assumes a little-endian host"
#endif

typedef enum ks_dtype {
  KS_BOOL, KS_UINT8, KS_UINT16, KS_UINT32, KS_UINT64,
  KS_INT8, KS_INT16, KS_INT32, KS_INT64,
  KS_FP16, KS_FP32, KS_FP64, KS_BYTES, KS_BF16,
  KS_DTYPE_COUNT
} ks_dtype;

/* Returns 0 and sets *out, or -1 for an unknown name. */
int ks_dtype_parse(const char *name, ks_dtype *out);
const char *ks_dtype_name(ks_dtype t);
/* Element size in bytes; 0 for BYTES. */
size_t ks_dtype_size(ks_dtype t);

#define KS_MAX_DIMS 32

typedef struct ks_tensor {
  char *name;
  ks_dtype dtype;
  size_t ndim;
  int64_t shape[KS_MAX_DIMS];
  size_t count;              /* product of shape */
  ks_buf data;               /* wire form, see above */
  json_object *parameters;   /* owned reference or NULL */
  bool binary;               /* output: send with the binary extension */
} ks_tensor;

void ks_tensor_free(ks_tensor *t);

typedef struct ks_requested_output {
  char *name;
  int binary;                /* -1 unset, 0 JSON, 1 binary */
} ks_requested_output;

typedef struct ks_infer_request {
  json_object *root;         /* the parsed JSON header, owned */
  const char *id;            /* borrowed from root, may be NULL */
  json_object *parameters;   /* borrowed from root, may be NULL */
  ks_tensor *inputs;
  size_t ninputs;
  ks_requested_output *outputs;
  size_t noutputs;           /* 0: the request names no outputs */
  bool binary_outputs;       /* parameters.binary_data_output */
} ks_infer_request;

typedef struct ks_infer_response {
  ks_tensor *outputs;
  size_t noutputs;
  size_t cap;
} ks_infer_response;

/* Parses a JSON document from text with a bounded nesting depth. Returns
 * NULL and sets *err on failure. The whole text must be one value. */
json_object *ks_json_parse(const char *text, size_t len, const char **err);

/* Decodes a V2 inference request body. header_length is the value of
 * Inference-Header-Content-Length (-1 if absent). On failure returns -1 and
 * writes a message for a 400 answer into err. */
int ks_v2_decode(const ks_buf *body, int64_t header_length,
                 ks_infer_request *req, char *err, size_t errlen);
void ks_v2_request_free(ks_infer_request *req);

/* Adds an empty output tensor to a response and returns it, or NULL. */
ks_tensor *ks_v2_add_output(ks_infer_response *res, const char *name,
                            ks_dtype dtype, const int64_t *shape, size_t ndim);
void ks_v2_response_free(ks_infer_response *res);

/* Encodes a V2 inference response into resp (body and headers). Returns 0,
 * or -1 with a message in err (e.g. a non-finite float bound for JSON). */
int ks_v2_encode(const char *model, const ks_infer_request *req,
                 ks_infer_response *res, ks_response *resp,
                 char *err, size_t errlen);

/* ---- models (models.c) -------------------------------------------------- */

typedef struct ks_model ks_model;

const ks_model *ks_model_find(const char *name);
bool ks_model_ready(const ks_model *m);
const char *ks_model_name(const ks_model *m);
/* Appends the V2 model metadata JSON object. */
int ks_model_metadata(const ks_model *m, ks_buf *out);
/* Runs the model on a decoded request. Returns 0 or -1 with a 400 message. */
int ks_model_infer(const ks_model *m, const ks_infer_request *req,
                   ks_infer_response *res, char *err, size_t errlen);
/* Appends a JSON array of all model names. */
int ks_model_list(ks_buf *out);

#endif
