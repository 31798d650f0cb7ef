/*
 * Detaching an encoded body from its request, for calls that outlive the
 * request object (asynchronous calls).
 */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* True when |p| is a buffer the request itself owns (and frees). */
static bool owned_by_request(const kinfer_request *r, const void *p) {
  for (size_t i = 0; i < r->ninputs; i++)
    if (r->inputs[i]->owned_data && p == r->inputs[i]->owned_data) return true;
  return false;
}

int ki_encoded_detach(ki_encoded *e, const kinfer_request *r) {
  if (!e || !r || e->detached) return KINFER_OK;
  size_t need = 0;
  /* iov[0] is the JSON text, which the encoding owns already. */
  for (size_t i = 1; i < e->iovcnt; i++)
    if (owned_by_request(r, e->iov[i].iov_base)) need += e->iov[i].iov_len;
  if (need == 0) return KINFER_OK;
  char *copy = malloc(need);
  if (!copy) return KINFER_ENOMEM;
  size_t at = 0;
  for (size_t i = 1; i < e->iovcnt; i++) {
    if (!owned_by_request(r, e->iov[i].iov_base)) continue;
    memcpy(copy + at, e->iov[i].iov_base, e->iov[i].iov_len);
    e->iov[i].iov_base = copy + at;
    at += e->iov[i].iov_len;
  }
  e->detached = copy;
  return KINFER_OK;
}
