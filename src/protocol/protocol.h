/*
 * The protocol module: kinfer_request / kinfer_response objects and their
 * translation to and from KServe V1 and V2 bodies, JSON and binary tensor
 * extension.  Pure functions over memory: no I/O, nothing from session/.
 */
#ifndef KINFER_PROTOCOL_H
#define KINFER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include <kinfer/kinfer.h>

#include "../config.h"
#include "../internal.h"

/* New empty parameter maps (the public API only hands out maps owned by
 * other objects). */
kinfer_params *ki_params_new(void);
void ki_params_free(kinfer_params *p);

/* An encoded request body: the JSON part, then (binary extension) the
 * tensor bytes, as segments ready for writev / DATA frames. */
typedef struct ki_encoded {
  ki_buf json;             /* owned JSON text                               */
  struct iovec *iov;       /* iov[0] = json; then borrowed tensor buffers   */
  size_t iovcnt;
  size_t total;            /* bytes in all segments                         */
  bool binary;             /* binary extension used: send
                              Inference-Header-Content-Length: json.len     */
  const char *content_type;/* "application/json" or
                              "application/octet-stream"                    */
  char *detached;          /* copies made by ki_encoded_detach              */
} ki_encoded;

/* Encodes |r| for |proto| (KI_PROTO_V1 or KI_PROTO_V2); a JSON-form request
 * (kinfer_request_from_json) is passed through whatever the protocol.
 * Segments borrow the request's buffers: |r| must outlive |out|.
 * Returns KINFER_OK, KINFER_EINPUT (cannot be encoded: no data, size does not
 * match the shape, FP16/BF16 as JSON, NaN/Inf, ...), KINFER_ENOMEM. */
/* kinfer_request_set_idempotent's flag. */
bool ki_request_idempotent(const kinfer_request *r);

int ki_encode_request(const kinfer_request *r, enum ki_protocol proto,
                      ki_encoded *out, kinfer_error *err);
void ki_encoded_free(ki_encoded *e);

/* Makes |e| independent of |r|'s own buffers: every segment pointing into
 * memory the request owns (data copied in with kinfer_input_set_data /
 * _set_bytes) is copied; segments borrowed from the caller
 * (kinfer_input_borrow_data) are left as they are.  Afterwards |r| may be
 * freed while |e| is in use.  Returns KINFER_OK or KINFER_ENOMEM. */
int ki_encoded_detach(ki_encoded *e, const kinfer_request *r);

/* How to read a response body. */
enum ki_decode_mode {
  KI_DECODE_V1 = 1,   /* {"predictions": ...} and other V1 documents       */
  KI_DECODE_V2 = 2,   /* V2 inference response, JSON or binary extension   */
  KI_DECODE_AUTO = 3  /* graph endpoints: V2 when the body has "outputs",
                         else V1                                           */
};

/* Decodes a response body.  Takes ownership of |body| (malloc'd, may be
 * NULL when len is 0) in every case: binary outputs are views into it.
 * |ihcl| is the Inference-Header-Content-Length header value or NULL (it
 * is ignored in KI_DECODE_V1 mode).  JSON nesting is bounded (64 levels).
 * Returns KINFER_OK with *out set, KINFER_EBADRESPONSE (message says what
 * was wrong), KINFER_ENOMEM.  Never a partial response. */
int ki_decode_response(enum ki_decode_mode mode, char *body, size_t len,
                       const char *ihcl, kinfer_response **out,
                       kinfer_error *err);

void ki_response_set_status(kinfer_response *r, int status);

/* True when |r| was made by kinfer_request_from_json. */
bool ki_request_is_json_form(const kinfer_request *r);

#endif
