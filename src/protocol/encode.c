/*
 * Request encoding: dispatch on the protocol, and the encoded-body object.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

void ki_encoded_free(ki_encoded *e) {
  if (!e) return;
  ki_buf_free(&e->json);
  free(e->iov);
  free(e->detached);
  memset(e, 0, sizeof *e);
}

int ki_encoded_push(ki_encoded *e, const void *p, size_t n) {
  size_t total;
  if (!ki_add_size(e->total, n, &total)) return KINFER_ENOMEM;
  struct iovec *iov = realloc(e->iov, (e->iovcnt + 1) * sizeof *iov);
  if (!iov) return KINFER_ENOMEM;
  iov[e->iovcnt].iov_base = (void *)p;
  iov[e->iovcnt].iov_len = n;
  e->iov = iov;
  e->iovcnt++;
  e->total = total;
  return KINFER_OK;
}

static int encode_json_form(const kinfer_request *r, ki_encoded *out,
                            kinfer_error *err) {
  if (ki_buf_append(&out->json, r->json, r->json_len))
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  return KINFER_OK;
}

int ki_encode_request(const kinfer_request *r, enum ki_protocol proto,
                      ki_encoded *out, kinfer_error *err) {
  if (!out) return ki_error_set(err, KINFER_EINVAL, "no output given");
  memset(out, 0, sizeof *out);
  out->content_type = "application/json";
  if (!r) return ki_error_set(err, KINFER_EINVAL, "no request given");
  int rc;
  if (r->json)
    rc = encode_json_form(r, out, err);
  else if (proto == KI_PROTO_V2)
    rc = ki_v2_encode(r, out, err);
  else if (proto == KI_PROTO_V1)
    rc = ki_v1_encode(r, out, err);
  else
    rc = ki_error_set(err, KINFER_EUNSUPPORTED, "unsupported protocol");
  /* The JSON segment goes first; it is only added once the text is final,
   * since building it may move the buffer. */
  if (!rc && out->iovcnt == 0 && ki_encoded_push(out, out->json.data, out->json.len))
    rc = ki_error_set(err, KINFER_ENOMEM, "out of memory");
  if (rc) ki_encoded_free(out);
  if (rc) out->content_type = "application/json";
  return rc;
}
