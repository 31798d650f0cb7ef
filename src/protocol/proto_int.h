/*
 * Private to src/protocol/: object layouts and helpers shared by the
 * request, response, V1 and V2 files.
 */
#ifndef KINFER_PROTO_INT_H
#define KINFER_PROTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "protocol.h"

/* Nesting bound for every JSON document the library parses. */
#define KI_JSON_MAX_DEPTH 64
/* Most dimensions a tensor may have (bounds recursion over shapes). */
#define KI_MAX_NDIM 32

/* ---- objects ----------------------------------------------------------- */

enum ki_param_type { KI_PARAM_STRING, KI_PARAM_INT, KI_PARAM_BOOL, KI_PARAM_DOUBLE };

typedef struct ki_param {
  char *key;
  enum ki_param_type type;
  union {
    char *s;
    int64_t i;
    bool b;
    double d;
  } v;
} ki_param;

struct kinfer_params {
  ki_param *items;
  size_t count;
  size_t cap;
};

struct kinfer_input {
  char *name;
  kinfer_datatype dt;
  int64_t *shape;
  size_t ndim;
  const unsigned char *data; /* owned_data, or borrowed                    */
  size_t nbytes;
  unsigned char *owned_data; /* NULL when borrowed or unset                */
  bool has_data;
  bool binary;
  kinfer_params params;
};

struct kinfer_requested_output {
  char *name;
  bool binary;
  kinfer_params params;
};

struct kinfer_request {
  char *id;
  kinfer_params params;
  struct kinfer_input **inputs;
  size_t ninputs;
  struct kinfer_requested_output **outputs;
  size_t noutputs;
  bool binary_outputs;
  bool idempotent;           /* may be resent after it was written         */
  char *json;                /* JSON form: the text sent as is             */
  size_t json_len;
};

/* One BYTES element. */
typedef struct ki_span {
  const char *p;
  size_t n;
} ki_span;

struct kinfer_tensor {
  char *name;
  kinfer_datatype dt;
  int64_t *shape;
  size_t ndim;
  size_t count;              /* elements: the shape product                */
  const void *data;          /* view into the body, or owned; NULL when
                                BYTES or empty                             */
  size_t nbytes;             /* BYTES: sum of element lengths              */
  void *owned;               /* typed buffer decoded from JSON             */
  ki_span *elems;            /* BYTES elements (count of them)             */
  kinfer_params params;
};

struct kinfer_response {
  int status;
  char *body;                /* owned                                      */
  size_t len;
  const char *json;          /* the JSON part of body                      */
  size_t json_len;
  char *model_name;
  char *model_version;
  char *id;
  kinfer_params params;
  struct kinfer_tensor *outputs;
  size_t noutputs;
  /* Set by the one-pass V2 decoder (v2fast.c): one block holding the
   * outputs array, every output's name, shape and parameter items, the
   * response's strings and parameter items.  Then only the tensors' data
   * buffers (owned, elems) and this block are freed, and the parameter
   * maps must not be modified. */
  void *arena;
};

/* ---- response.c -------------------------------------------------------- */

/* Frees what decoding put into |r| (outputs, names, parameters; not the
 * body) and leaves those fields empty. */
void ki_response_clear(kinfer_response *r);

/* ---- params.c ---------------------------------------------------------- */

void ki_params_clear(kinfer_params *p);
const ki_param *ki_params_find(const kinfer_params *p, const char *key);
/* Writes the members of |p| as `"key":value` pairs, each preceded by a
 * comma unless *first is set (then clears it).  The key |skip| (may be
 * NULL) is left out.  KINFER_EINPUT for a NaN/Inf double. */
int ki_params_write_members(ki_buf *b, const kinfer_params *p,
                            const char *skip, bool *first, kinfer_error *err);
/* Adds the scalar members of a JSON object (strings, integers, booleans,
 * doubles; other values are skipped). */
int ki_params_from_json(kinfer_params *p, json_object *obj);

/* ---- json helpers (jsonutil.c) ----------------------------------------- */

/* Appends |s| (|n| bytes) as a JSON string, quotes included. */
int ki_json_write_string(ki_buf *b, const char *s, size_t n);
/* True when |s| (|n| bytes) is valid UTF-8. */
bool ki_utf8_valid(const char *s, size_t n);
/* Parses exactly one JSON value from |s| (|n| bytes, trailing white space
 * allowed), nesting at most |depth|.  On failure returns |code| with a
 * message naming |what|. */
int ki_json_parse(const char *s, size_t n, int depth, const char *what,
                  int code, json_object **out, kinfer_error *err);

/* ---- tensors (tensor.c) ------------------------------------------------ */

/* *out = a × b; false on overflow. */
static inline bool ki_mul_size(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline bool ki_add_size(size_t a, size_t b, size_t *out) {
  return !__builtin_add_overflow(a, b, out);
}
/* The shape product; false for a negative dimension or on overflow. */
bool ki_shape_count(const int64_t *shape, size_t ndim, size_t *count);

/* Walks a serialized BYTES buffer (4-byte little-endian length, then the
 * bytes, per element).  Returns 1 and fills |el| for the next element, 0 at
 * the end, -1 when a length runs past the buffer. */
int ki_bytes_next(const unsigned char *buf, size_t len, size_t *off,
                  ki_span *el);
static inline uint32_t ki_load_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* Checks that |in| has data matching its shape; sets *count.  BYTES data
 * is checked to hold exactly the shape product of elements.  KINFER_EINPUT
 * naming the input otherwise. */
int ki_input_check(const struct kinfer_input *in, size_t *count,
                   kinfer_error *err);
/* Appends element |i| of |in| (checked by ki_input_check) as a JSON value.
 * For BYTES, |off| is the running offset into the serialized buffer.
 * KINFER_EINPUT for NaN/Inf, a BOOL byte other than 0/1, BYTES that are
 * not UTF-8, FP16/BF16. */
int ki_input_write_elem(ki_buf *b, const struct kinfer_input *in, size_t i,
                        size_t *off, kinfer_error *err);

void ki_tensor_clear(struct kinfer_tensor *t);
/* Fills |t| (name, dt, shape and count set; nbytes set unless BYTES) from
 * a JSON "data" array, flat or nested no deeper than the shape.
 * KINFER_EBADRESPONSE when the elements do not match the datatype or the
 * element count differs from the shape product. */
int ki_tensor_from_json(struct kinfer_tensor *t, json_object *data,
                        kinfer_error *err);

/* Rounds |d| to nearest-even in a binary format with |mbits| mantissa bits
 * and exponent bias |bias| (FP16: 10, 15; BF16: 7, 127).  False when the
 * result overflows. */
bool ki_to_small_float(double d, int mbits, int bias, uint16_t *out);

/* ---- the data codec (datacodec.c) ---------------------------------------- */

/* The "data" values cut out of a V2 response by ki_v2_mask_data. */
typedef struct ki_data_spans {
  ki_span *v;
  bool *used;                /* claimed by the decoder                     */
  size_t count;
  size_t cap;
} ki_data_spans;

/* Copies the JSON text |s| (|n| bytes) into |out| with the value of every
 * "data" member of every object in the root object's "outputs" array
 * replaced by its index in |spans| (appended there).  Returns 1 when it
 * did, 0 when there is nothing to cut or the text is not plain enough to
 * be sure (|out| and |spans| then empty: parse |s| itself), KINFER_ENOMEM. */
int ki_v2_mask_data(const char *s, size_t n, ki_buf *out, ki_data_spans *spans);
void ki_data_spans_free(ki_data_spans *s);
/* Four hex digits of a JSON \u escape at |p| (before |end|) into *v:
 * 0, or -1 when they are not there. */
int ki_json_hex4(const char *p, const char *end, uint32_t *v);
/* Writes code point |c| (at most U+10FFFF) as UTF-8 at |q|; returns the
 * end. */
char *ki_json_put_utf8(char *q, uint32_t c);
/* The end of the JSON value at |p| found by bracket and string counting
 * alone (not validated), or NULL when it does not end before |end|. */
const char *ki_json_span_end(const char *p, const char *end);
/* ki_tensor_from_json from the JSON text of the data value instead of a
 * json-c tree: the same checks and error codes. */
int ki_tensor_from_text(struct kinfer_tensor *t, const char *s, size_t n,
                        kinfer_error *err);
/* Writes the |count| elements of |in| (checked by ki_input_check) as JSON
 * values separated by commas.  KINFER_EINPUT for NaN/Inf, BYTES that are
 * not UTF-8, FP16/BF16; KINFER_ENOMEM; the error is set. */
int ki_input_write_flat(ki_buf *b, const struct kinfer_input *in, size_t count,
                        kinfer_error *err);

/* ---- v1.c / v2.c ------------------------------------------------------- */

int ki_v2_encode(const kinfer_request *r, ki_encoded *out, kinfer_error *err);
int ki_v1_encode(const kinfer_request *r, ki_encoded *out, kinfer_error *err);
/* Fill |resp| (which owns the body) from the parsed JSON part.  |bin| and
 * |binlen| are the bytes after the JSON part (binary extension), or NULL/0.
 * |spans| is NULL, or the data values cut out of the text |root| was parsed
 * from (ki_v2_mask_data): each claimed one is marked used. */
int ki_v2_decode(kinfer_response *resp, json_object *root,
                 const char *bin, size_t binlen, ki_data_spans *spans,
                 kinfer_error *err);
int ki_v1_decode(kinfer_response *resp, json_object *root, kinfer_error *err);

/* Binary extension input to the V2 decoder: the bytes after the JSON. */
typedef struct ki_bin_reader {
  const char *p;             /* NULL when the body has no binary part      */
  size_t len;
  size_t off;                /* bytes taken by the outputs so far          */
} ki_bin_reader;
/* Takes the |size| bytes of output |t| (dt, count and nbytes set) from
 * |br|: a view into the body, or BYTES elements.  KINFER_EBADRESPONSE
 * when they do not fit the body, the shape or the datatype; KINFER_ENOMEM. */
int ki_v2_decode_binary(struct kinfer_tensor *t, int64_t size,
                        ki_bin_reader *br, kinfer_error *err);

/* ---- v2fast.c: the one-pass V2 response decoder ------------------------- */

#define KI_HAVE_V2FAST 1
/* ki_v2_decode_fast's answer when it leaves the body to the json-c path. */
#define KI_DECLINED 1

/* Decodes the V2 JSON part of |resp| (json, json_len; with |binary| the
 * bytes after it are the binary extension) in one pass, without json-c.
 * Returns KINFER_OK with |resp| filled exactly as the json-c path would
 * fill it, KINFER_ENOMEM, or KI_DECLINED with |resp| and |err| untouched:
 * for anything it is not sure of (not a V2 object, an error of any kind,
 * escaped or duplicate keys, deep nesting, values json-c might read
 * differently) the json-c path must decode the body. */
int ki_v2_decode_fast(kinfer_response *resp, bool binary, kinfer_error *err);
/* On by default.  Off forces every body through the json-c path: for tests
 * and benchmarks that compare the two; not thread-safe. */
void ki_v2_fast_set_enabled(bool on);
bool ki_v2_fast_enabled(void);

/* Appends one iovec segment to |e| (the array grows as needed). */
int ki_encoded_push(ki_encoded *e, const void *p, size_t n);

#endif
