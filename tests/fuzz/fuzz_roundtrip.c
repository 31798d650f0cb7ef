/*
 * libFuzzer target: a tensor built from the input is encoded as a V2
 * request (JSON or binary), the body is read back as a V2 response, and the
 * decoded tensor must equal the original bit for bit.  The V1 encoding must
 * be valid JSON.  Encoding may only refuse what the protocol cannot carry:
 * NaN/Inf, BOOL bytes other than 0/1, FP16/BF16 or non-UTF-8 BYTES as JSON.
 *
 * Input layout: datatype, flags (bit 0: binary), ndim (0-3), one byte per
 * dimension (0-7), then the element bytes (repeated to the needed size;
 * BYTES: a length byte (0-15) then that many bytes, per element).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rt_input {
  kinfer_datatype dt;
  bool binary;
  int64_t shape[3];
  size_t ndim, count;
  unsigned char *bytes; /* element bytes, or serialized BYTES */
  size_t nbytes;
} rt_input;

static uint8_t next_byte(const uint8_t *data, size_t size, size_t *pos) {
  if (size == 0) return 0;
  uint8_t b = data[*pos % size];
  (*pos)++;
  return b;
}

static bool build(const uint8_t *data, size_t size, rt_input *in) {
  if (size < 3) return false;
  in->dt = (kinfer_datatype)(data[0] % 14);
  in->binary = data[1] & 1;
  in->ndim = data[2] % 4;
  size_t pos = 3;
  in->count = 1;
  for (size_t d = 0; d < in->ndim; d++) {
    in->shape[d] = pos < size ? data[pos] % 8 : 1;
    pos++;
    in->count *= (size_t)in->shape[d];
  }
  const uint8_t *el = pos < size ? data + pos : NULL;
  size_t ellen = pos < size ? size - pos : 0;
  size_t k = 0;
  if (in->dt == KINFER_BYTES) {
    in->bytes = malloc(in->count * 19 + 1);
    in->nbytes = 0;
    for (size_t i = 0; i < in->count; i++) {
      uint8_t n = next_byte(el, ellen, &k) % 16;
      memcpy(in->bytes + in->nbytes, (uint8_t[4]){n, 0, 0, 0}, 4);
      in->nbytes += 4;
      for (uint8_t j = 0; j < n; j++) in->bytes[in->nbytes++] = next_byte(el, ellen, &k);
    }
    return true;
  }
  in->nbytes = in->count * kinfer_datatype_size(in->dt);
  in->bytes = malloc(in->nbytes + 1);
  for (size_t i = 0; i < in->nbytes; i++) in->bytes[i] = next_byte(el, ellen, &k);
  return true;
}

static void check_decoded(const rt_input *in, const ki_encoded *e) {
  size_t len = e->total + 1;
  char *body = malloc(len);
  size_t off = 0;
  for (size_t i = 0; i < e->iovcnt; i++) {
    memcpy(body + off, e->iov[i].iov_base, e->iov[i].iov_len);
    off += e->iov[i].iov_len;
  }
  /* {"inputs":[...]...} -> {"outputs":[...]...} */
  if (off < 10 || memcmp(body, "{\"inputs\":", 10) != 0) abort();
  memmove(body + 10, body + 9, off - 9);
  memcpy(body, "{\"outputs\"", 10);
  char ihcl[32];
  snprintf(ihcl, sizeof ihcl, "%zu", e->json.len + 1);
  kinfer_response *r;
  kinfer_error err;
  if (ki_decode_response(KI_DECODE_V2, body, len, e->binary ? ihcl : NULL, &r,
                         &err))
    abort();
  const kinfer_tensor *t = kinfer_response_output(r, 0);
  if (!t || kinfer_tensor_datatype(t) != in->dt ||
      kinfer_tensor_element_count(t) != in->count ||
      kinfer_tensor_ndim(t) != in->ndim)
    abort();
  if (in->dt == KINFER_BYTES) {
    size_t pos = 0;
    for (size_t i = 0; i < in->count; i++) {
      const char *p;
      size_t n;
      if (kinfer_tensor_bytes_at(t, i, &p, &n) || n != in->bytes[pos] ||
          memcmp(p, in->bytes + pos + 4, n))
        abort();
      pos += 4 + n;
    }
  } else if (kinfer_tensor_nbytes(t) != in->nbytes ||
             (in->nbytes && memcmp(kinfer_tensor_data(t), in->bytes, in->nbytes))) {
    abort();
  }
  kinfer_response_free(r);
}

static void check_v1(const kinfer_request *req) {
  ki_encoded e;
  kinfer_error err;
  if (ki_encode_request(req, KI_PROTO_V1, &e, &err) == KINFER_OK) {
    kinfer_response *r;
    char *copy = malloc(e.json.len + 1);
    memcpy(copy, e.json.data, e.json.len);
    if (ki_decode_response(KI_DECODE_V1, copy, e.json.len, NULL, &r, &err))
      abort(); /* must be valid JSON */
    kinfer_response_free(r);
  } else if (err.code != KINFER_EINPUT) {
    abort();
  }
  ki_encoded_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rt_input in = {0};
  if (!build(data, size, &in)) return 0;
  kinfer_request *req = kinfer_request_new();
  kinfer_input *ki = kinfer_request_add_input(req, "t", in.dt, in.shape, in.ndim);
  if (!ki || kinfer_input_set_data(ki, in.bytes, in.nbytes)) abort();
  kinfer_input_set_binary(ki, in.binary);
  ki_encoded e;
  kinfer_error err;
  int rc = ki_encode_request(req, KI_PROTO_V2, &e, &err);
  if (rc == KINFER_OK)
    check_decoded(&in, &e);
  else if (rc != KINFER_EINPUT || (in.binary && in.dt != KINFER_BOOL))
    abort(); /* binary carries any bits except bad BOOL bytes */
  ki_encoded_free(&e);
  check_v1(req);
  kinfer_request_free(req);
  free(in.bytes);
  return 0;
}
