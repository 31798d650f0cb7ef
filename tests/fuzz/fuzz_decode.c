/*
 * libFuzzer target for the response decoder.
 *
 * Input layout: the first byte picks the mode (low two bits: 0 V1, 1 V2,
 * 2 auto, 3 V2 with the binary extension).  In binary mode the bytes up to
 * the first '\n' (at most 32) are the Inference-Header-Content-Length value
 * and the rest is the body; otherwise everything after the first byte is
 * the body.  Every output of a decoded response is read in full so that a
 * view reaching past the body shows up under AddressSanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern volatile unsigned ki_fuzz_sink;

static unsigned touch_tensor(const kinfer_tensor *t) {
  unsigned acc = 0;
  const char *name = kinfer_tensor_name(t);
  acc += (unsigned)strlen(name);
  const int64_t *shape = kinfer_tensor_shape(t);
  for (size_t d = 0; d < kinfer_tensor_ndim(t); d++) acc += (unsigned)shape[d];
  const unsigned char *p = kinfer_tensor_data(t);
  size_t n = kinfer_tensor_nbytes(t);
  if (p)
    for (size_t i = 0; i < n; i++) acc += p[i];
  if (kinfer_tensor_datatype(t) == KINFER_BYTES) {
    for (size_t i = 0; i < kinfer_tensor_element_count(t); i++) {
      const char *s;
      size_t len;
      if (kinfer_tensor_bytes_at(t, i, &s, &len) != KINFER_OK) abort();
      for (size_t k = 0; k < len; k++) acc += (unsigned char)s[k];
    }
  }
  acc += (unsigned)kinfer_params_count(kinfer_tensor_parameters(t));
  return acc;
}

static unsigned touch_response(const kinfer_response *r) {
  unsigned acc = 0;
  size_t len;
  const char *json = kinfer_response_json(r, &len);
  if (len) acc += (unsigned char)json[len - 1];
  const char *s[] = {kinfer_response_model_name(r),
                     kinfer_response_model_version(r), kinfer_response_id(r)};
  for (size_t i = 0; i < 3; i++)
    if (s[i]) acc += (unsigned)strlen(s[i]);
  const kinfer_params *p = kinfer_response_parameters(r);
  for (size_t i = 0; i < kinfer_params_count(p); i++)
    acc += (unsigned)strlen(kinfer_params_key(p, i));
  for (size_t i = 0; i < kinfer_response_output_count(r); i++)
    acc += touch_tensor(kinfer_response_output(r, i));
  return acc;
}

/* Keeps the reads above from being optimised away. */
volatile unsigned ki_fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const enum ki_decode_mode modes[] = {KI_DECODE_V1, KI_DECODE_V2,
                                              KI_DECODE_AUTO, KI_DECODE_V2};
  int sel = data[0] & 3;
  data++;
  size--;
  char ihcl[33];
  const char *hdr = NULL;
  if (sel == 3) {
    const uint8_t *nl = memchr(data, '\n', size < 32 ? size : 32);
    if (!nl) return 0;
    size_t n = (size_t)(nl - data);
    memcpy(ihcl, data, n);
    ihcl[n] = '\0';
    hdr = ihcl;
    size -= n + 1;
    data = nl + 1;
  }
  char *body = malloc(size ? size : 1);
  if (!body) return 0;
  if (size) memcpy(body, data, size);
  kinfer_response *r = NULL;
  kinfer_error err;
  int rc = ki_decode_response(modes[sel], body, size, hdr, &r, &err);
  if (rc == KINFER_OK) {
    ki_fuzz_sink = touch_response(r);
    kinfer_response_free(r);
  } else if (r || (rc != KINFER_EBADRESPONSE && rc != KINFER_ENOMEM)) {
    abort(); /* failures are EBADRESPONSE with no response */
  }
  return 0;
}
