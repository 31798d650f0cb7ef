/*
 * codec_bench: tensor data encode / decode cost in ns per element, through
 * the library's real request encoder and response decoder, next to json-c's
 * object-per-element path on the same data.
 *
 *   codec_bench [--quick] [--dump DIR]
 *   codec_bench --small [--slow] [--quick] [--count N]
 *
 * For FP32 and INT64 tensors of 1e3, 1e5 and 1e6 elements:
 *   json encode   ki_encode_request, V2, the tensor as a JSON "data" array
 *   json decode   ki_decode_response of a V2 response with that array
 *                 (body copied into a fresh buffer first, as the receive
 *                 path hands over an owned buffer)
 *   bin encode    ki_encode_request with the binary tensor extension
 *   bin decode    ki_decode_response of the binary-extension response
 *   json-c enc    one json_object per element, json_object_to_json_string_ext
 *   json-c dec    json_tokener_parse of the array, then each element read
 *                 into the typed buffer
 * Each figure is the median of 5 runs of at least 0.2 s each of process
 * CPU time (user + system: steadier than wall time on a shared machine;
 * codec_orjson.py measures the same way).  --dump
 * writes the tensors (raw little-endian) for codec_orjson.py, so that both
 * measure the same values.
 *
 * --small measures instead the whole-response decode of a small V2 answer
 * like Triton's add_sub example (two INT32 [1,16] outputs, model name,
 * version and id): ns per ki_decode_response call, body copy included.
 * --slow forces the json-c decoder (the reference the one-pass V2 decoder
 * falls back to); --count N only runs N decodes and prints nothing, for
 * counting allocations under valgrind or ltrace.
 *
 * Data: FP32 uniform in [-10, 10) (shortest texts of 8-9 digits, like
 * model outputs); INT64 uniform in [-2^31, 2^31).  Fixed seed.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/proto_int.h"
#include "protocol/protocol.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct ctx {
  kinfer_datatype dt;
  size_t n;
  void *data;            /* the tensor                                  */
  kinfer_request *req;   /* JSON input                                  */
  kinfer_request *breq;  /* binary input                                */
  char *body;            /* V2 JSON response                            */
  size_t body_len;
  char *bbody;           /* V2 binary-extension response                */
  size_t bbody_len;
  char ihcl[32];
  char *array;           /* the data array text alone                   */
  size_t array_len;
  void *sink;            /* decode target for the json-c path           */
} ctx;

static volatile size_t sink;

static void die(const char *what) {
  fprintf(stderr, "codec_bench: %s\n", what);
  exit(1);
}

static void enc_json(ctx *c) {
  ki_encoded e = {0};
  kinfer_error err;
  if (ki_encode_request(c->req, KI_PROTO_V2, &e, &err)) die(err.message);
  sink += e.json.len;
  ki_encoded_free(&e);
}

static void enc_bin(ctx *c) {
  ki_encoded e = {0};
  kinfer_error err;
  if (ki_encode_request(c->breq, KI_PROTO_V2, &e, &err)) die(err.message);
  sink += e.total;
  ki_encoded_free(&e);
}

static void decode(const char *src, size_t len, const char *ihcl) {
  char *body = malloc(len);
  if (!body) die("out of memory");
  memcpy(body, src, len);
  kinfer_response *r;
  kinfer_error err;
  if (ki_decode_response(KI_DECODE_V2, body, len, ihcl, &r, &err))
    die(err.message);
  const kinfer_tensor *t = kinfer_response_output(r, 0);
  sink += kinfer_tensor_nbytes(t) + ((const unsigned char *)kinfer_tensor_data(t))[0];
  kinfer_response_free(r);
}

static void dec_json(ctx *c) { decode(c->body, c->body_len, NULL); }
static void dec_bin(ctx *c) { decode(c->bbody, c->bbody_len, c->ihcl); }

static void enc_jsonc(ctx *c) {
  json_object *a = json_object_new_array_ext((int)c->n);
  for (size_t i = 0; i < c->n; i++)
    json_object_array_add(
        a, c->dt == KINFER_FP32
               ? json_object_new_double((double)((const float *)c->data)[i])
               : json_object_new_int64(((const int64_t *)c->data)[i]));
  size_t len;
  const char *s = json_object_to_json_string_length(a, JSON_C_TO_STRING_PLAIN, &len);
  sink += len + (unsigned char)s[0];
  json_object_put(a);
}

static void dec_jsonc(ctx *c) {
  json_tokener *tok = json_tokener_new();
  json_object *a = json_tokener_parse_ex(tok, c->array, (int)c->array_len);
  if (!a) die("json-c parse failed");
  size_t n = json_object_array_length(a);
  for (size_t i = 0; i < n; i++) {
    json_object *v = json_object_array_get_idx(a, i);
    if (c->dt == KINFER_FP32)
      ((float *)c->sink)[i] = (float)json_object_get_double(v);
    else
      ((int64_t *)c->sink)[i] = json_object_get_int64(v);
  }
  sink += n;
  json_object_put(a);
  json_tokener_free(tok);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median over 5 runs of ns per element. */
static double measure(ctx *c, void (*fn)(ctx *), double min_time) {
  double runs[5];
  fn(c); /* warm up */
  for (int r = 0; r < 5; r++) {
    size_t iters = 0;
    double t0 = now(), t;
    do {
      fn(c);
      iters++;
    } while ((t = now()) - t0 < min_time);
    runs[r] = (t - t0) / (double)iters / (double)c->n * 1e9;
  }
  qsort(runs, 5, sizeof runs[0], cmp_double);
  return runs[2];
}

static char *make_body(const char *dt, size_t n, const char *params,
                       const char *data, size_t data_len, size_t *len) {
  char head[256];
  int h = snprintf(head, sizeof head,
                   "{\"model_name\":\"m\",\"id\":\"1\",\"outputs\":[{\"name\":"
                   "\"out\",\"datatype\":\"%s\",\"shape\":[%zu]%s%s",
                   dt, n, params, data ? ",\"data\":" : "");
  const char *tail = "}]}";
  *len = (size_t)h + data_len + strlen(tail);
  char *b = malloc(*len + 1);
  if (!b) die("out of memory");
  memcpy(b, head, (size_t)h);
  if (data) memcpy(b + h, data, data_len);
  memcpy(b + h + data_len, tail, strlen(tail) + 1);
  return b;
}

static void setup(ctx *c, kinfer_datatype dt, size_t n) {
  memset(c, 0, sizeof *c);
  c->dt = dt;
  c->n = n;
  size_t size = kinfer_datatype_size(dt);
  c->data = malloc(n * size);
  c->sink = malloc(n * size);
  if (!c->data || !c->sink) die("out of memory");
  for (size_t i = 0; i < n; i++) {
    if (dt == KINFER_FP32) {
      float f = (float)((double)(rng() >> 40) / (double)(1 << 24) * 20.0 - 10.0);
      ((float *)c->data)[i] = f;
    } else {
      ((int64_t *)c->data)[i] = (int64_t)(rng() >> 32) - ((int64_t)1 << 31);
    }
  }
  int64_t shape[1] = {(int64_t)n};
  c->req = kinfer_request_new();
  c->breq = kinfer_request_new();
  kinfer_input *in = kinfer_request_add_input(c->req, "in", dt, shape, 1);
  kinfer_input *bin = kinfer_request_add_input(c->breq, "in", dt, shape, 1);
  if (!in || !bin || kinfer_input_borrow_data(in, c->data, n * size) ||
      kinfer_input_borrow_data(bin, c->data, n * size) ||
      kinfer_input_set_binary(bin, true))
    die("request setup failed");

  /* The data array text, as the encoder writes it. */
  ki_encoded e = {0};
  kinfer_error err;
  if (ki_encode_request(c->req, KI_PROTO_V2, &e, &err)) die(err.message);
  char *p = strstr(e.json.data, "\"data\":");
  if (!p) die("no data in the request");
  p += 7;
  /* The request ends with the data array: ...]}]} */
  char *q = e.json.data + e.json.len - 4;
  if (strcmp(q, "]}]}") != 0) die("unexpected request layout");
  c->array_len = (size_t)(q - p) + 1;
  c->array = malloc(c->array_len + 1);
  memcpy(c->array, p, c->array_len);
  c->array[c->array_len] = '\0';
  ki_encoded_free(&e);

  const char *name = kinfer_datatype_name(dt);
  c->body = make_body(name, n, "", c->array, c->array_len, &c->body_len);
  char params[96];
  snprintf(params, sizeof params, ",\"parameters\":{\"binary_data_size\":%zu}",
           n * size);
  size_t jlen;
  char *json = make_body(name, n, params, NULL, 0, &jlen);
  c->bbody_len = jlen + n * size;
  c->bbody = malloc(c->bbody_len);
  memcpy(c->bbody, json, jlen);
  memcpy(c->bbody + jlen, c->data, n * size);
  snprintf(c->ihcl, sizeof c->ihcl, "%zu", jlen);
  free(json);
}

static void teardown(ctx *c) {
  kinfer_request_free(c->req);
  kinfer_request_free(c->breq);
  free(c->data);
  free(c->sink);
  free(c->body);
  free(c->bbody);
  free(c->array);
}

static void dump(const char *dir, ctx *c) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s_%zu.bin", dir, kinfer_datatype_name(c->dt),
           c->n);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(c->data, kinfer_datatype_size(c->dt), c->n, f) != c->n)
    die("cannot write the dump");
  fclose(f);
}

/* ---- the small response ------------------------------------------------------ */

static const char small_body[] =
    "{\"model_name\":\"add_sub\",\"model_version\":\"1\",\"id\":"
    "\"3f5c9a2e-1b7d-4c8e-9a41-0d6b2f7e8c15\",\"outputs\":[{\"name\":"
    "\"OUTPUT0\",\"datatype\":\"INT32\",\"shape\":[1,16],\"data\":[2,4,6,8,"
    "10,12,14,16,18,20,22,24,26,28,30,32]},{\"name\":\"OUTPUT1\",\"datatype\":"
    "\"INT32\",\"shape\":[1,16],\"data\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}";

/* c->n decodes per call: the process CPU clock is a system call, too slow
 * to read around each decode. */
static void dec_small(ctx *c) {
  for (size_t i = 0; i < c->n; i++)
    decode(small_body, sizeof small_body - 1, NULL);
}

static int run_small(bool slow, double min_time, long count) {
#ifdef KI_HAVE_V2FAST
  ki_v2_fast_set_enabled(!slow);
#else
  if (slow) die("--slow needs the one-pass V2 decoder");
#endif
  ctx c;
  memset(&c, 0, sizeof c);
  if (count >= 0) {
    c.n = 1;
    for (long i = 0; i < count; i++) dec_small(&c);
    return sink == 0 && count > 0;
  }
  c.n = 64; /* measure() divides by c.n: ns per decode */
  printf("small V2 response (%zu bytes, 2 x INT32[1,16]), %s decoder: "
         "%.1f ns per decode\n",
         sizeof small_body - 1, slow ? "json-c" : "default",
         measure(&c, dec_small, min_time));
  return sink == 0;
}

int main(int argc, char **argv) {
  const char *dump_dir = NULL;
  double min_time = 0.2;
  bool small = false, slow = false;
  long count = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dump_dir = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0) min_time = 0.02;
    else if (strcmp(argv[i], "--small") == 0) small = true;
    else if (strcmp(argv[i], "--slow") == 0) slow = true;
    else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
      count = strtol(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: codec_bench [--quick] [--dump DIR]\n"
                      "       codec_bench --small [--slow] [--quick] "
                      "[--count N]\n");
      return 2;
    }
  }
#ifdef KI_HAVE_V2FAST
  if (slow) ki_v2_fast_set_enabled(false);
#endif
  if (small) return run_small(slow, min_time, count);
  static const size_t sizes[] = {1000, 100000, 1000000};
  static const kinfer_datatype types[] = {KINFER_FP32, KINFER_INT64};
  printf("%-6s %8s %10s %10s %10s %10s %10s %10s %9s %9s\n", "dtype", "elems",
         "json-enc", "json-dec", "bin-enc", "bin-dec", "jsonc-enc",
         "jsonc-dec", "bin-GB/s", "bytes/el");
  for (size_t t = 0; t < 2; t++) {
    for (size_t s = 0; s < 3; s++) {
      ctx c;
      setup(&c, types[t], sizes[s]);
      if (dump_dir) dump(dump_dir, &c);
      double je = measure(&c, enc_json, min_time);
      double jd = measure(&c, dec_json, min_time);
      double be = measure(&c, enc_bin, min_time);
      double bd = measure(&c, dec_bin, min_time);
      double ce = measure(&c, enc_jsonc, min_time);
      double cd = measure(&c, dec_jsonc, min_time);
      double size = (double)kinfer_datatype_size(c.dt);
      printf("%-6s %8zu %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %9.1f %9.2f\n",
             kinfer_datatype_name(c.dt), c.n, je, jd, be, bd, ce, cd,
             size / (be + bd), (double)c.array_len / (double)c.n);
      fflush(stdout);
      teardown(&c);
    }
  }
  return sink == 0;
}
