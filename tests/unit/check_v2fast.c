/*
 * The one-pass V2 response decoder (src/protocol/v2fast.c) against the
 * json-c path it stands in for: every body decoded both ways must give the
 * same return code and message, and on success the same model name,
 * version, id, parameters and outputs (names, datatypes, shapes,
 * parameters, bytes).  Bodies: the shared vectors, the committed fuzz
 * corpora, hand-written edge cases and a few thousand generated responses.
 */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check_main.h"
#include "protocol/proto_int.h"
#include "protocol/protocol.h"

/* ---- comparing two decodes --------------------------------------------------- */

static void same_str(const char *a, const char *b, const char *what) {
  ck_assert_msg((a == NULL) == (b == NULL), "%s: %s vs %s", what,
                a ? a : "(null)", b ? b : "(null)");
  if (a) ck_assert_msg(strcmp(a, b) == 0, "%s: '%s' vs '%s'", what, a, b);
}

static void same_params(const kinfer_params *a, const kinfer_params *b) {
  ck_assert_uint_eq(a->count, b->count);
  for (size_t i = 0; i < a->count; i++) {
    const ki_param *x = &a->items[i], *y = &b->items[i];
    same_str(x->key, y->key, "parameter key");
    ck_assert_int_eq(x->type, y->type);
    switch (x->type) {
    case KI_PARAM_STRING: same_str(x->v.s, y->v.s, "parameter value"); break;
    case KI_PARAM_INT: ck_assert_int_eq(x->v.i, y->v.i); break;
    case KI_PARAM_BOOL: ck_assert_int_eq(x->v.b, y->v.b); break;
    case KI_PARAM_DOUBLE:
      ck_assert_msg(memcmp(&x->v.d, &y->v.d, sizeof x->v.d) == 0,
                    "parameter '%s': %.17g vs %.17g", x->key, x->v.d, y->v.d);
      break;
    }
  }
}

static void same_tensor(const struct kinfer_tensor *a,
                        const struct kinfer_tensor *b) {
  same_str(a->name, b->name, "output name");
  ck_assert_int_eq(a->dt, b->dt);
  ck_assert_uint_eq(a->ndim, b->ndim);
  ck_assert_ptr_nonnull(a->shape);
  ck_assert_ptr_nonnull(b->shape);
  for (size_t d = 0; d < a->ndim; d++) ck_assert_int_eq(a->shape[d], b->shape[d]);
  ck_assert_uint_eq(a->count, b->count);
  ck_assert_uint_eq(a->nbytes, b->nbytes);
  ck_assert((a->data == NULL) == (b->data == NULL));
  if (a->data && a->dt != KINFER_BYTES)
    ck_assert(memcmp(a->data, b->data, a->nbytes) == 0);
  if (a->dt == KINFER_BYTES) {
    for (size_t i = 0; i < a->count; i++) {
      const char *p, *q;
      size_t n, m;
      ck_assert_int_eq(kinfer_tensor_bytes_at(a, i, &p, &n), KINFER_OK);
      ck_assert_int_eq(kinfer_tensor_bytes_at(b, i, &q, &m), KINFER_OK);
      ck_assert_uint_eq(n, m);
      ck_assert(n == 0 || memcmp(p, q, n) == 0);
    }
  }
  same_params(&a->params, &b->params);
}

static void same_response(const kinfer_response *a, const kinfer_response *b) {
  same_str(a->model_name, b->model_name, "model_name");
  same_str(a->model_version, b->model_version, "model_version");
  same_str(a->id, b->id, "id");
  same_params(&a->params, &b->params);
  ck_assert_uint_eq(a->noutputs, b->noutputs);
  ck_assert((a->outputs == NULL) == (b->outputs == NULL));
  for (size_t i = 0; i < a->noutputs; i++) same_tensor(&a->outputs[i], &b->outputs[i]);
  ck_assert_uint_eq(a->json_len, b->json_len);
}


/* Decodes |body| with the one-pass decoder allowed and with it off and
 * checks that both agree.  Returns 1 when the one-pass decoder produced
 * the response, 0 when it left it to json-c, -1 on a decode error. */
static int both(enum ki_decode_mode mode, const char *body, size_t len,
                const char *ihcl) {
  kinfer_response *ra = NULL, *rb = NULL;
  kinfer_error ea, eb;
  char *ba = malloc(len ? len : 1), *bb = malloc(len ? len : 1);
  ck_assert(ba && bb);
  if (len) {
    memcpy(ba, body, len);
    memcpy(bb, body, len);
  }
  memset(&ea, 0, sizeof ea);
  memset(&eb, 0, sizeof eb);
  ki_v2_fast_set_enabled(true);
  int rca = ki_decode_response(mode, ba, len, ihcl, &ra, &ea);
  ki_v2_fast_set_enabled(false);
  int rcb = ki_decode_response(mode, bb, len, ihcl, &rb, &eb);
  ki_v2_fast_set_enabled(true);
  ck_assert_msg(rca == rcb, "return codes differ: %d (%s) vs %d (%s) for %.*s",
                rca, ea.message, rcb, eb.message, (int)(len < 300 ? len : 300),
                body);
  if (rca) {
    ck_assert_str_eq(ea.message, eb.message);
    return -1;
  }
  ck_assert_ptr_null(rb->arena);
  same_response(ra, rb);
  int fast = ra->arena != NULL;
  kinfer_response_free(ra);
  kinfer_response_free(rb);
  return fast;
}

static int both_str(enum ki_decode_mode mode, const char *body) {
  return both(mode, body, strlen(body), NULL);
}

/* ---- the shared vectors ------------------------------------------------------- */

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  ck_assert_int_ge(n, 0);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static const char *source_dir(void) {
  const char *src = getenv("KINFER_SOURCE_DIR");
  return src ? src : ".";
}

static void vector_case(const char *dir, const char *name) {
  char path[4096];
  size_t len;
  ck_assert(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path);
  char *text = read_all(path, &len);
  json_object *exp = json_tokener_parse(text);
  free(text);
  ck_assert_msg(exp != NULL, "%s is not JSON", path);
  json_object *v;
  ck_assert(json_object_object_get_ex(exp, "body", &v));
  ck_assert(snprintf(path, sizeof path, "%s/%s", dir, json_object_get_string(v)) <
            (int)sizeof path);
  char *body = read_all(path, &len);
  char ihcl[32];
  const char *hdr = NULL;
  if (json_object_object_get_ex(exp, "header_length", &v)) {
    snprintf(ihcl, sizeof ihcl, "%lld", (long long)json_object_get_int64(v));
    hdr = ihcl;
  }
  /* Every mode, whatever the case says: the decoders must agree on all. */
  both(KI_DECODE_V1, body, len, hdr);
  both(KI_DECODE_V2, body, len, hdr);
  both(KI_DECODE_AUTO, body, len, hdr);
  if (hdr) both(KI_DECODE_V2, body, len, NULL);
  free(body);
  json_object_put(exp);
}

START_TEST(vectors) {
  static const char *dirs[] = {"v2", "v1"};
  size_t cases = 0;
  for (size_t i = 0; i < 2; i++) {
    char dir[4096];
    ck_assert(snprintf(dir, sizeof dir, "%s/proto/vectors/%s", source_dir(),
                       dirs[i]) < (int)sizeof dir);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
      size_t n = strlen(de->d_name);
      if (n < 14 || strcmp(de->d_name + n - 14, ".expected.json") != 0) continue;
      vector_case(dir, de->d_name);
      cases++;
    }
    closedir(d);
  }
  ck_assert_uint_gt(cases, 20);
}
END_TEST

/* ---- the fuzz corpora ------------------------------------------------------------- */

/* The layout of fuzz_decode.c: mode byte, then (binary mode) the header
 * value up to '\n', then the body. */
static void corpus_input(const uint8_t *data, size_t size) {
  static const enum ki_decode_mode modes[] = {KI_DECODE_V1, KI_DECODE_V2,
                                              KI_DECODE_AUTO, KI_DECODE_V2};
  if (size < 1) return;
  int sel = data[0] & 3;
  data++;
  size--;
  char ihcl[33];
  const char *hdr = NULL;
  if (sel == 3) {
    const uint8_t *nl = memchr(data, '\n', size < 32 ? size : 32);
    if (!nl) return;
    size_t n = (size_t)(nl - data);
    memcpy(ihcl, data, n);
    ihcl[n] = '\0';
    hdr = ihcl;
    size -= n + 1;
    data = nl + 1;
  }
  both(modes[sel], (const char *)data, size, hdr);
  if (sel != 1) both(KI_DECODE_V2, (const char *)data, size, NULL);
}

START_TEST(fuzz_corpora) {
  static const char *names[] = {"decode", "roundtrip"};
  size_t files = 0;
  for (size_t i = 0; i < 2; i++) {
    char dir[4096];
    ck_assert(snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", source_dir(),
                       names[i]) < (int)sizeof dir);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.') continue;
      char path[4096];
      ck_assert(snprintf(path, sizeof path, "%s/%s", dir, de->d_name) <
                (int)sizeof path);
      size_t len;
      char *buf = read_all(path, &len);
      corpus_input((const uint8_t *)buf, len);
      free(buf);
      files++;
    }
    closedir(d);
  }
  ck_assert_uint_gt(files, 100);
}
END_TEST

/* ---- hand-written cases ------------------------------------------------------------- */

#define ADD_SUB                                                               \
  "{\"model_name\":\"add_sub\",\"model_version\":\"1\",\"id\":\"42\","         \
  "\"outputs\":[{\"name\":\"OUTPUT0\",\"datatype\":\"INT32\",\"shape\":[1,4]," \
  "\"data\":[2,4,6,8]},{\"name\":\"OUTPUT1\",\"datatype\":\"INT32\","          \
  "\"shape\":[1,4],\"data\":[0,0,0,-1]}]}"

/* The common response is decoded by the one-pass decoder, to the right
 * values. */
START_TEST(plain_response_fast) {
  ck_assert_int_eq(both_str(KI_DECODE_V2, ADD_SUB), 1);
  ck_assert_int_eq(both_str(KI_DECODE_AUTO, ADD_SUB), 1);
  char *body = strdup(ADD_SUB);
  kinfer_response *r;
  kinfer_error err;
  ck_assert_int_eq(ki_decode_response(KI_DECODE_V2, body, strlen(body), NULL, &r,
                                      &err),
                   KINFER_OK);
  ck_assert_ptr_nonnull(r->arena);
  ck_assert_str_eq(kinfer_response_model_name(r), "add_sub");
  ck_assert_str_eq(kinfer_response_model_version(r), "1");
  ck_assert_str_eq(kinfer_response_id(r), "42");
  ck_assert_uint_eq(kinfer_response_output_count(r), 2);
  const kinfer_tensor *t = kinfer_response_output_by_name(r, "OUTPUT1");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_INT32);
  ck_assert_uint_eq(kinfer_tensor_ndim(t), 2);
  ck_assert_int_eq(kinfer_tensor_shape(t)[1], 4);
  ck_assert_int_eq(((const int32_t *)kinfer_tensor_data(t))[3], -1);
  kinfer_response_free(r);
}
END_TEST

/* Parameters, escapes and binary outputs also stay on the one-pass path. */
START_TEST(rich_response_fast) {
  static const char *cases[] = {
      "{\"id\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\","
      "\"model_name\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"parameters\":{\"s\":"
      "\"x\",\"i\":-12,\"b\":true,\"f\":false,\"d\":0.25,\"e\":-1.5e-3,\"z\":-0.0,"
      "\"n\":null,\"o\":{\"k\":[1,2,{\"q\":null}]},\"a\":[],\"big\":"
      "999999999999999999},\"outputs\":[]}",
      " \n\t{ \"outputs\" : [ { \"data\" : [ [ 1.5 , -2 ] ] , \"shape\" : [ 1 ,"
      " 2 ] , \"datatype\" : \"FP64\" , \"name\" : \"x\" , \"parameters\" : { "
      "\"p\" : \"q\" } } ] , \"extra\" : { \"deep\" : [ [ [ ] ] ] } } \r\n",
      "{\"outputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[3],"
      "\"data\":[\"\",\"a\\u0000b\",\"\xe2\x82\xac\"]},{\"name\":\"b\","
      "\"datatype\":\"BOOL\",\"shape\":[2,1],\"data\":[[true],[false]]},"
      "{\"name\":\"e\",\"datatype\":\"FP32\",\"shape\":[0,3],\"data\":[]}]}",
      "{\"model_name\":5,\"model_version\":null,\"id\":[\"x\"],\"parameters\":"
      "7,\"outputs\":[{\"name\":\"o\",\"datatype\":\"UINT8\",\"shape\":[],"
      "\"parameters\":\"not an object\",\"data\":[255]}]}",
      /* data strings are read by the typed parser on both paths (a lone
       * surrogate becomes U+FFFD) */
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"BYTES\",\"shape\":[1],"
      "\"data\":[\"\\ud800\"]}]}",
      /* binary_data_size that is not an integer: the data is used */
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"parameters\":{\"binary_data_size\":1.0},\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"parameters\":{\"binary_data_size\":\"1\"},\"data\":[1]}]}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    ck_assert_msg(both_str(KI_DECODE_V2, cases[i]) == 1, "case %zu", i);

  static const char bin[] =
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[2],"
      "\"parameters\":{\"binary_data_size\":8}},{\"name\":\"s\",\"datatype\":"
      "\"BYTES\",\"shape\":[2],\"parameters\":{\"binary_data_size\":10}},"
      "{\"name\":\"j\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]}]}"
      "\1\0\0\0\2\0\0\0" "\1\0\0\0z\1\0\0\0y";
  char ihcl[16];
  size_t blen = sizeof bin - 1;
  snprintf(ihcl, sizeof ihcl, "%zu", blen - 18);
  ck_assert_int_eq(both(KI_DECODE_V2, bin, blen, ihcl), 1);
  ck_assert_int_eq(both(KI_DECODE_AUTO, bin, blen, ihcl), 1);
}
END_TEST

/* What the one-pass decoder leaves to json-c, and errors: both paths agree
 * and errors come out of the json-c path. */
START_TEST(declined_and_errors) {
  static const char *cases[] = {
      "", " ", "[]", "null", "{}", "{\"outputs\":{}}", "{\"outputs\":[1]}",
      "{\"predictions\":[1,2]}",
      "{\"outputs\":[]} x", "{\"outputs\":[],}", "{\"outputs\":[]",
      "\xef\xbb\xbf{\"outputs\":[]}", "{\"outputs\":[]}\f",
      /* escaped or duplicate keys */
      "{\"out\\u0070uts\":[]}", "{\"outputs\":[],\"outputs\":[]}",
      "{\"outputs\":[],\"id\":\"a\",\"id\":\"b\"}",
      "{\"outputs\":[],\"parameters\":{\"a\":1,\"a\":\"x\"}}",
      "{\"outputs\":[],\"parameters\":{\"a\":1,\"a\":{}}}",
      "{\"outputs\":[{\"name\":\"o\",\"name\":\"p\",\"datatype\":\"INT8\","
      "\"shape\":[1],\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"data\":[1],\"data\":[2]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"data\":[300]}]}",
      /* strings */
      "{\"id\":\"a\\u0000b\",\"outputs\":[]}", "{\"id\":\"\\ud800\",\"outputs\":[]}",
      "{\"id\":\"\\udc00x\",\"outputs\":[]}", "{\"id\":\"\\ud800\\u0041\",\"outputs\":[]}",
      "{\"id\":\"\xc0\x80\",\"outputs\":[]}", "{\"id\":\"\xed\xa0\x80\",\"outputs\":[]}",
      "{\"id\":\"\xf4\x90\x80\x80\",\"outputs\":[]}", "{\"id\":\"\xff\",\"outputs\":[]}",
      "{\"id\":\"a\tb\",\"outputs\":[]}", "{\"id\":\"\\x\",\"outputs\":[]}",
      "{\"id\":\"\\u12\",\"outputs\":[]}", "{\"id\":'a',\"outputs\":[]}",
      /* numbers */
      "{\"outputs\":[],\"parameters\":{\"a\":1e400}}",
      "{\"outputs\":[],\"parameters\":{\"a\":1e-400}}",
      "{\"outputs\":[],\"parameters\":{\"a\":4e-320}}",
      "{\"outputs\":[],\"parameters\":{\"a\":-0}}",
      "{\"outputs\":[],\"parameters\":{\"a\":9223372036854775807}}",
      "{\"outputs\":[],\"parameters\":{\"a\":9223372036854775808}}",
      "{\"outputs\":[],\"parameters\":{\"a\":-9223372036854775809}}",
      "{\"outputs\":[],\"parameters\":{\"a\":18446744073709551616}}",
      "{\"outputs\":[],\"parameters\":{\"a\":01}}",
      "{\"outputs\":[],\"parameters\":{\"a\":1.}}",
      "{\"outputs\":[],\"parameters\":{\"a\":.5}}",
      "{\"outputs\":[],\"parameters\":{\"a\":+1}}",
      "{\"outputs\":[],\"parameters\":{\"a\":NaN}}",
      "{\"outputs\":[],\"parameters\":{\"a\":True}}",
      "{\"outputs\":[],\"parameters\":{\"a\":nul}}",
      "{\"outputs\":[],\"parameters\":{\"a\":truex}}",
      /* outputs */
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[-0],"
      "\"data\":[]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[-1],"
      "\"data\":[]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1.0],"
      "\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":"
      "[4294967296,4294967296,4294967296],\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"int8\",\"shape\":[1],"
      "\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\\u0000x\",\"shape\":[1],"
      "\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"data\":null}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1]}]}",
      "{\"outputs\":[{\"datatype\":\"INT8\",\"shape\":[1],\"data\":[1]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"parameters\":{\"binary_data_size\":1}}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[2],"
      "\"data\":[[1],[2]]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT8\",\"shape\":[1],"
      "\"data\":[1]]}]}",
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"BYTES\",\"shape\":[1],"
      "\"data\":[\"\xc0\x80\"]}]}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ck_assert_msg(both_str(KI_DECODE_V2, cases[i]) != 1, "case %zu taken: %s", i,
                  cases[i]);
    both_str(KI_DECODE_AUTO, cases[i]);
  }
  /* Deep nesting: up to the json-c bound and past it. */
  for (int depth = 1; depth < 80; depth += 3) {
    char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"id\":\"i\",\"outputs\":[],\"x\":");
    for (int k = 0; k < depth; k++) buf[n++] = '[';
    for (int k = 0; k < depth; k++) buf[n++] = ']';
    buf[n++] = '}';
    int r = both(KI_DECODE_V2, buf, n, NULL);
    if (depth <= 16) ck_assert_int_eq(r, 1);
  }
  /* Binary: sizes past the body, bytes left over, no binary part. */
  static const char bin[] =
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[1],"
      "\"parameters\":{\"binary_data_size\":4}}]}\1\0\0\0\2";
  size_t blen = sizeof bin - 1;
  char ihcl[16];
  for (size_t cut = 0; cut <= 6; cut++) {
    snprintf(ihcl, sizeof ihcl, "%zu", blen - 5);
    both(KI_DECODE_V2, bin, blen - cut, ihcl);
  }
  both(KI_DECODE_V2, bin, blen - 5, NULL);
}
END_TEST

/* ---- generated responses -------------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return rs;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }
static bool chance(unsigned pct) { return pick(100) < pct; }

static void put(ki_buf *b, const char *s) {
  ck_assert_int_eq(ki_buf_append(b, s, strlen(s)), KINFER_OK);
}
static void putf(ki_buf *b, const char *fmt, ...) KI_PRINTF(2, 3);
static void putf(ki_buf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(b, tmp);
}

static void sp(ki_buf *b) {
  static const char *w[] = {" ", "\n", "\t", "\r\n  "};
  if (chance(10)) put(b, w[pick(4)]);
}

/* A string body: plain text, escapes, UTF-8, now and then something the
 * one-pass decoder declines or json-c refuses. */
static void gen_string(ki_buf *b) {
  static const char *parts[] = {
      "a", "OUTPUT0", "x y", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\b", "\\f",
      "\\r", "\\u0041", "\\u00e9", "\\u20AC", "\\ud83d\\ude00", "\xc3\xa9",
      "\xe2\x82\xac", "\xf0\x9f\x98\x80", "0", "-", ":", ",", "{", "]",
  };
  static const char *odd[] = {
      "\\u0000", "\\ud800", "\\udc00", "\\ud800x", "\x01", "\x7f", "\xc0\xaf",
      "\xed\xa0\x80", "\xf5\x80\x80\x80", "\xff", "\\q", "\\u12g4", "\xe2\x82",
  };
  put(b, "\"");
  unsigned n = pick(5);
  for (unsigned i = 0; i < n; i++)
    put(b, chance(4) ? odd[pick(sizeof odd / sizeof odd[0])]
                     : parts[pick(sizeof parts / sizeof parts[0])]);
  put(b, "\"");
}

static void gen_number(ki_buf *b) {
  static const char *odd[] = {"-0", "1e400", "1e-400", "4e-320", "01", "1.",
                              "9223372036854775807", "9223372036854775808",
                              "-9223372036854775808", "123456789012345678901",
                              "1E+2", "-0.0", "0.1e-5", "NaN", "+1"};
  switch (pick(5)) {
  case 0: putf(b, "%lld", (long long)(rnd() % 2000) - 1000); break;
  case 1: putf(b, "%.*g", 1 + (int)pick(17), ((double)(int64_t)rnd()) / 1e12); break;
  case 2: putf(b, "%lld", (long long)(rnd() >> pick(64))); break;
  case 3: putf(b, "%de%d", (int)pick(100), (int)pick(40) - 20); break;
  default: put(b, odd[pick(sizeof odd / sizeof odd[0])]); break;
  }
}

static void gen_value(ki_buf *b, int depth) {
  switch (pick(depth > 3 ? 4 : 6)) {
  case 0: gen_string(b); break;
  case 1: gen_number(b); break;
  case 2: put(b, pick(2) ? "true" : "false"); break;
  case 3: put(b, "null"); break;
  case 4: {
    put(b, "[");
    unsigned n = pick(4);
    for (unsigned i = 0; i < n; i++) {
      if (i) put(b, ",");
      sp(b);
      gen_value(b, depth + 1);
    }
    put(b, "]");
    break;
  }
  default: {
    put(b, "{");
    unsigned n = pick(4);
    for (unsigned i = 0; i < n; i++) {
      if (i) put(b, ",");
      gen_string(b);
      put(b, ":");
      gen_value(b, depth + 1);
    }
    put(b, "}");
    break;
  }
  }
}

static void gen_params(ki_buf *b) {
  static const char *keys[] = {"a", "b", "c", "binary_data_size", "k\xc3\xa9", ""};
  put(b, "{");
  unsigned n = pick(4);
  for (unsigned i = 0; i < n; i++) {
    if (i) put(b, ",");
    sp(b);
    if (chance(5)) gen_string(b);
    else putf(b, "\"%s\"", keys[pick(sizeof keys / sizeof keys[0])]);
    sp(b);
    put(b, ":");
    sp(b);
    gen_value(b, 2);
  }
  put(b, "}");
}

static const kinfer_datatype all_types[] = {
    KINFER_BOOL,  KINFER_UINT8, KINFER_UINT16, KINFER_UINT32, KINFER_UINT64,
    KINFER_INT8,  KINFER_INT16, KINFER_INT32,  KINFER_INT64,  KINFER_FP16,
    KINFER_FP32,  KINFER_FP64,  KINFER_BYTES,  KINFER_BF16};

static void gen_elem(ki_buf *b, kinfer_datatype dt) {
  if (chance(2)) { /* anything at all */
    gen_value(b, 4);
    return;
  }
  switch (dt) {
  case KINFER_BOOL: put(b, pick(2) ? "true" : "false"); break;
  case KINFER_BYTES: gen_string(b); break;
  case KINFER_FP16: case KINFER_BF16: case KINFER_FP32: case KINFER_FP64:
    if (chance(70)) putf(b, "%.*g", 1 + (int)pick(17), ((double)(int64_t)rnd()) / 1e15);
    else gen_number(b);
    break;
  default: {
    unsigned bits = 8u * (unsigned)kinfer_datatype_size(dt);
    uint64_t v = rnd() >> (64 - (bits - (dt >= KINFER_INT8)));
    bool neg = dt >= KINFER_INT8 && pick(2);
    putf(b, "%s%llu", neg ? "-" : "", (unsigned long long)v);
    break;
  }
  }
}

/* The data array for |shape|: nested (or, half the time, flat). */
static void gen_data(ki_buf *b, kinfer_datatype dt, const int64_t *shape,
                     size_t ndim, bool flat) {
  size_t count = 1;
  for (size_t d = 0; d < ndim; d++) count *= (size_t)shape[d];
  if (flat || ndim <= 1) {
    put(b, "[");
    for (size_t i = 0; i < count; i++) {
      if (i) put(b, ",");
      sp(b);
      gen_elem(b, dt);
    }
    put(b, "]");
    return;
  }
  put(b, "[");
  for (int64_t i = 0; i < shape[0]; i++) {
    if (i) put(b, ",");
    gen_data(b, dt, shape + 1, ndim - 1, false);
  }
  put(b, "]");
}

typedef struct gen {
  ki_buf json;
  ki_buf bin;
  bool binary;
} gen;

static void gen_output(gen *g) {
  ki_buf *b = &g->json;
  kinfer_datatype dt = all_types[pick(sizeof all_types / sizeof all_types[0])];
  size_t ndim = pick(4);
  int64_t shape[3];
  size_t count = 1;
  for (size_t d = 0; d < ndim; d++) {
    shape[d] = pick(4);
    count *= (size_t)shape[d];
  }
  bool as_binary = g->binary && chance(50);
  /* Members in a random order. */
  int order[6] = {0, 1, 2, 3, 4, 5};
  for (int i = 5; i > 0; i--) {
    int j = (int)pick((unsigned)i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  put(b, "{");
  bool first = true;
  for (int k = 0; k < 6; k++) {
    ki_buf tmp = {0};
    switch (order[k]) {
    case 0:
      put(&tmp, "\"name\":");
      if (chance(97)) gen_string(&tmp);
      else gen_value(&tmp, 3);
      break;
    case 1:
      put(&tmp, "\"datatype\":");
      if (chance(97)) putf(&tmp, "\"%s\"", kinfer_datatype_name(dt));
      else gen_value(&tmp, 3);
      break;
    case 2:
      put(&tmp, "\"shape\":[");
      for (size_t d = 0; d < ndim; d++) {
        if (d) put(&tmp, ",");
        sp(&tmp);
        putf(&tmp, "%lld", (long long)shape[d]);
      }
      put(&tmp, "]");
      break;
    case 3:
      if (as_binary) {
        size_t size = kinfer_datatype_size(dt) * count;
        if (dt == KINFER_BYTES) {
          size = 0;
          for (size_t i = 0; i < count; i++) {
            uint32_t n = pick(3);
            unsigned char len[4] = {(unsigned char)n, 0, 0, 0};
            ck_assert_int_eq(ki_buf_append(&g->bin, len, 4), KINFER_OK);
            ck_assert_int_eq(ki_buf_append(&g->bin, "xyz", n), KINFER_OK);
            size += 4 + n;
          }
        } else {
          for (size_t i = 0; i < size; i++) {
            unsigned char c = dt == KINFER_BOOL ? (unsigned char)pick(2)
                                                : (unsigned char)rnd();
            ck_assert_int_eq(ki_buf_append(&g->bin, &c, 1), KINFER_OK);
          }
        }
        if (chance(3)) size += pick(3);
        putf(&tmp, "\"parameters\":{\"x\":1,\"binary_data_size\":%zu}", size);
      } else if (chance(40)) {
        put(&tmp, "\"parameters\":");
        if (chance(90)) gen_params(&tmp);
        else gen_value(&tmp, 3);
      }
      break;
    case 4:
      if (!as_binary || chance(3)) {
        put(&tmp, "\"data\":");
        sp(&tmp);
        gen_data(&tmp, dt, shape, ndim, chance(50));
      }
      break;
    default:
      if (chance(20)) {
        put(&tmp, "\"extra\":");
        gen_value(&tmp, 3);
      }
      break;
    }
    if (tmp.len) {
      if (!first) put(b, ",");
      first = false;
      sp(b);
      put(b, tmp.data);
      sp(b);
    }
    ki_buf_free(&tmp);
  }
  put(b, "}");
}

static void gen_response(gen *g) {
  ki_buf *b = &g->json;
  g->binary = chance(25);
  sp(b);
  put(b, "{");
  int order[5] = {0, 1, 2, 3, 4};
  for (int i = 4; i > 0; i--) {
    int j = (int)pick((unsigned)i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  bool first = true;
  for (int k = 0; k < 5; k++) {
    static const char *names[] = {"model_name", "model_version", "id"};
    if (order[k] < 3 && chance(30)) continue;
    if (order[k] == 3 && chance(50)) continue;
    if (!first) put(b, ",");
    first = false;
    sp(b);
    if (order[k] < 3) {
      putf(b, "\"%s\":", names[order[k]]);
      if (chance(95)) gen_string(b);
      else gen_value(b, 2);
    } else if (order[k] == 3) {
      put(b, "\"parameters\":");
      gen_params(b);
    } else {
      put(b, "\"outputs\":[");
      unsigned n = pick(4);
      for (unsigned i = 0; i < n; i++) {
        if (i) put(b, ",");
        sp(b);
        gen_output(g);
      }
      put(b, "]");
    }
  }
  if (chance(5)) put(b, ",\"outputs\":[]");
  if (chance(5)) put(b, ",\"id\":\"again\"");
  put(b, "}");
  sp(b);
}

/* Small damage: a byte changed, dropped or repeated. */
static void mutate(ki_buf *b) {
  if (!b->len) return;
  size_t at = pick((unsigned)b->len);
  static const char junk[] = "{}[],:\"\\ 0-eE.tfnu\x80";
  switch (pick(3)) {
  case 0: b->data[at] = junk[pick(sizeof junk - 1)]; break;
  case 1:
    memmove(b->data + at, b->data + at + 1, b->len - at - 1);
    b->len--;
    break;
  default:
    ck_assert_int_eq(ki_buf_reserve(b, 1), KINFER_OK);
    memmove(b->data + at + 1, b->data + at, b->len - at);
    b->len++;
    break;
  }
}

START_TEST(generated) {
  rs = 0x9E3779B97F4A7C15ull ^ (uint64_t)_i * 0x100000001b3ull;
  size_t fast = 0, ok = 0, total = 0;
  for (int n = 0; n < 1000; n++) {
    gen g = {{0}, {0}, false};
    gen_response(&g);
    if (chance(15)) mutate(&g.json);
    size_t jlen = g.json.len;
    char ihcl[32];
    snprintf(ihcl, sizeof ihcl, "%zu", jlen);
    if (g.bin.len) ck_assert_int_eq(ki_buf_append(&g.json, g.bin.data, g.bin.len), KINFER_OK);
    if (g.json.len == 0) ck_assert_int_eq(ki_buf_reserve(&g.json, 1), KINFER_OK);
    int r = both(pick(4) ? KI_DECODE_V2 : KI_DECODE_AUTO, g.json.data, g.json.len,
                 g.binary ? ihcl : NULL);
    fast += r == 1;
    ok += r >= 0;
    total++;
    ki_buf_free(&g.json);
    ki_buf_free(&g.bin);
  }
  /* The generator is not all edge cases: most decodable responses take the
   * one-pass path, so the comparison above means something. */
  if (getenv("KI_V2FAST_STATS"))
    fprintf(stderr, "generated %d: %zu bodies, %zu decoded, %zu by the one-pass "
                    "decoder\n", _i, total, ok, fast);
  ck_assert_msg(fast > total / 10, "only %zu of %zu on the one-pass path", fast, total);
  ck_assert_msg(ok > fast && ok < total, "%zu of %zu decoded", ok, total);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("v2fast");
  TCase *tc = tcase_create("differential");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, plain_response_fast);
  tcase_add_test(tc, rich_response_fast);
  tcase_add_test(tc, declined_and_errors);
  tcase_add_test(tc, vectors);
  tcase_add_test(tc, fuzz_corpora);
  tcase_add_loop_test(tc, generated, 0, 8);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
