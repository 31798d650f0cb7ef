/*
 * One-pass V2 response decoding: the JSON text of a V2 inference response
 * read straight into a kinfer_response, with no json-c objects.
 *
 * The json-c path (decode.c: ki_v2_mask_data, ki_json_parse, ki_v2_decode)
 * stays the reference.  This decoder handles the plain responses servers
 * send and gives up (KI_DECLINED) on anything where it might disagree with
 * that path: any error at all (so every error code and message still comes
 * from json-c), object keys written with escapes, duplicate keys that
 * matter, strings holding U+0000 or lone surrogates, raw control
 * characters, UTF-8 beyond what ki_utf8_valid accepts, numbers json-c could
 * read differently (integers of more than 18 digits, "-0", doubles out of
 * the normal range), nesting deeper than FAST_MAX_DEPTH.  The "data"
 * arrays go through the same typed parser as the json-c path
 * (ki_tensor_from_text) on the same spans, and binary outputs through the
 * same ki_v2_decode_binary.
 *
 * Memory: while parsing, strings, dimensions, parameters and outputs
 * collect in scratch vectors that start on the stack; at the end one block
 * (resp->arena) receives them all.  A small response costs that block plus
 * one buffer per output's data.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numtext.h"
#include "proto_int.h"

/* Envelope nesting followed here; deeper documents go to json-c (whose
 * bound, KI_JSON_MAX_DEPTH, is higher). */
#define FAST_MAX_DEPTH 32
/* Members of one parameters object checked for duplicates (quadratic). */
#define FAST_MAX_PARAMS 64
/* Integer magnitudes read here: exact in int64 for json-c as well. */
#define FAST_MAX_INT UINT64_C(999999999999999999)

#define NONE SIZE_MAX

static bool enabled = true;

void ki_v2_fast_set_enabled(bool on) { enabled = on; }
bool ki_v2_fast_enabled(void) { return enabled; }

#define TRY(expr)                 \
  do {                            \
    int rc_ = (expr);             \
    if (rc_) return rc_;          \
  } while (0)

/* ---- scratch vectors ------------------------------------------------------- */

typedef struct vec {
  void *p;
  size_t len, cap;   /* in elements                                        */
  size_t size;       /* element size                                       */
  bool heap;         /* p was allocated here (else it is a stack buffer)   */
} vec;

static int vec_reserve(vec *v, size_t extra) {
  if (v->cap - v->len >= extra) return KINFER_OK;
  size_t need, cap, bytes;
  if (!ki_add_size(v->len, extra, &need)) return KINFER_ENOMEM;
  cap = v->cap * 2 > need ? v->cap * 2 : need;
  if (!ki_mul_size(cap, v->size, &bytes)) return KINFER_ENOMEM;
  void *p = v->heap ? realloc(v->p, bytes) : malloc(bytes);
  if (!p) return KINFER_ENOMEM;
  if (!v->heap && v->len) memcpy(p, v->p, v->len * v->size);
  v->p = p;
  v->cap = cap;
  v->heap = true;
  return KINFER_OK;
}

static void vec_free(vec *v) {
  if (v->heap) free(v->p);
}

/* ---- parser state -------------------------------------------------------- */

typedef struct fparam {
  size_t key;        /* offset of the NUL-terminated key in str            */
  size_t keylen;
  bool skip;         /* null or nested: no place in the map                */
  enum ki_param_type type;
  union {
    int64_t i;
    bool b;
    double d;
    size_t s;        /* offset in str                                      */
  } v;
} fparam;

typedef struct fout {
  struct kinfer_tensor t; /* dt, count, nbytes and the data buffers; name,
                             shape and params are set at the end          */
  size_t name;            /* offset in str                                 */
  size_t dims, ndim;      /* shape: ndim entries of dims from dims         */
  size_t p0, p1;          /* its parameters: params[p0 .. p1)              */
} fout;

typedef struct fp {
  const char *p, *end;
  vec str;                /* char: every kept string, NUL-terminated       */
  vec dims;               /* int64_t                                       */
  vec params;             /* fparam                                        */
  vec outs;               /* fout                                          */
  size_t model_name, model_version, id; /* offsets in str, or NONE         */
  size_t p0, p1;          /* the response's parameters                     */
  ki_bin_reader br;
  kinfer_error scratch;   /* errors of the shared decoders (discarded)     */
} fp;

#define STR(f) ((char *)(f)->str.p)
#define DIMS(f) ((int64_t *)(f)->dims.p)
#define PARAMS(f) ((fparam *)(f)->params.p)
#define OUTS(f) ((fout *)(f)->outs.p)

/* ---- lexical ----------------------------------------------------------------- */

static void ws(fp *f) {
  const char *p = f->p;
  while (p < f->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  f->p = p;
}

static bool at(fp *f, char c) { return f->p < f->end && *f->p == c; }

/* Bytes that go through a string as they are: not '"', '\\' or a control
 * character. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    R16(1), R16(1), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1),
    R16(1), R16(1),
#undef R16
};

/* After a number or literal: the value must end there. */
static bool delimited(fp *f) {
  if (f->p == f->end) return true;
  char c = *f->p;
  return c == ',' || c == ']' || c == '}' || c == ' ' || c == '\n' ||
         c == '\r' || c == '\t';
}

/* The string at f->p (its opening quote).  With |keep|, its decoded bytes
 * and a NUL go to str at *off; a kept string holding U+0000 is declined
 * (json-c's users read it as a C string, cut short).  |raw| (may be NULL)
 * receives the text between the quotes when it has no escapes, else NULL. */
static int string(fp *f, bool keep, size_t *off, const char **raw,
                  size_t *rawlen) {
  const char *p = f->p + 1, *end = f->end;
  bool escaped = false;
  if (keep) *off = f->str.len;
  for (;;) {
    const char *run = p;
    unsigned char hi = 0;
    while (p < end && plain[(unsigned char)*p]) hi |= (unsigned char)*p++;
    if (p == end || (unsigned char)*p < 0x20) return KI_DECLINED;
    size_t n = (size_t)(p - run);
    if ((hi & 0x80) && !ki_utf8_valid(run, n)) return KI_DECLINED;
    if (keep) {
      /* Room for the run and the longest escape (4 bytes) or the NUL. */
      TRY(vec_reserve(&f->str, n + 4));
      memcpy(STR(f) + f->str.len, run, n);
      f->str.len += n;
    }
    if (*p == '"') break;
    escaped = true;
    if (++p == end) return KI_DECLINED;
    char c = *p++;
    uint32_t u;
    switch (c) {
    case '"': case '\\': case '/': u = (uint32_t)c; break;
    case 'b': u = '\b'; break;
    case 'f': u = '\f'; break;
    case 'n': u = '\n'; break;
    case 'r': u = '\r'; break;
    case 't': u = '\t'; break;
    case 'u': {
      uint32_t lo;
      if (ki_json_hex4(p, end, &u)) return KI_DECLINED;
      p += 4;
      if (u >= 0xDC00 && u < 0xE000) return KI_DECLINED;
      if (u >= 0xD800 && u < 0xDC00) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || ki_json_hex4(p + 2, end, &lo) ||
            lo < 0xDC00 || lo >= 0xE000)
          return KI_DECLINED;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      if (u == 0 && keep) return KI_DECLINED;
      break;
    }
    default: return KI_DECLINED;
    }
    if (keep) {
      char *q = STR(f) + f->str.len;
      f->str.len = (size_t)(ki_json_put_utf8(q, u) - STR(f));
    }
  }
  if (keep) STR(f)[f->str.len++] = '\0';
  if (raw) {
    *raw = escaped ? NULL : f->p + 1;
    *rawlen = (size_t)(p - (f->p + 1));
  }
  f->p = p + 1;
  return KINFER_OK;
}

/* An object key and the ':' after it; keys with escapes are declined (json-c
 * compares them unescaped). */
static int key(fp *f, const char **k, size_t *n) {
  if (!at(f, '"')) return KI_DECLINED;
  TRY(string(f, false, NULL, k, n));
  if (!*k) return KI_DECLINED;
  ws(f);
  if (!at(f, ':')) return KI_DECLINED;
  f->p++;
  ws(f);
  return KINFER_OK;
}

static bool key_is(const char *k, size_t n, const char *want) {
  return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* A number that json-c reads to the same value: an integer of at most 18
 * digits (not "-0"), or a double in the normal range (or an exact zero). */
static int number(fp *f, bool *integer, int64_t *i, double *d) {
  ki_num num;
  size_t n = ki_num_scan(f->p, (size_t)(f->end - f->p), &num);
  if (n == 0) return KI_DECLINED;
  f->p += n;
  if (!delimited(f)) return KI_DECLINED;
  *integer = num.integer;
  if (num.integer) {
    uint64_t bits;
    if (!ki_num_to_int(&num, FAST_MAX_INT, FAST_MAX_INT, &bits) ||
        (num.neg && bits == 0))
      return KI_DECLINED;
    *i = (int64_t)bits;
    return KINFER_OK;
  }
  if (!ki_num_to_f64(&num, d) || (*d == 0 && num.w != 0) ||
      (*d != 0 && fabs(*d) < DBL_MIN))
    return KI_DECLINED;
  return KINFER_OK;
}

static int literal(fp *f, const char *word, size_t n) {
  if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
    return KI_DECLINED;
  f->p += n;
  return delimited(f) ? KINFER_OK : KI_DECLINED;
}

/* Checks the value at f->p (that json-c would accept it) and steps over it. */
static int skip(fp *f, int depth) {
  if (depth > FAST_MAX_DEPTH || f->p == f->end) return KI_DECLINED;
  bool integer;
  int64_t i;
  double d;
  switch (*f->p) {
  case '{':
    f->p++;
    ws(f);
    if (at(f, '}')) break;
    for (;;) {
      if (!at(f, '"')) return KI_DECLINED;
      TRY(string(f, false, NULL, NULL, NULL));
      ws(f);
      if (!at(f, ':')) return KI_DECLINED;
      f->p++;
      ws(f);
      TRY(skip(f, depth + 1));
      ws(f);
      if (at(f, '}')) break;
      if (!at(f, ',')) return KI_DECLINED;
      f->p++;
      ws(f);
    }
    break;
  case '[':
    f->p++;
    ws(f);
    if (at(f, ']')) break;
    for (;;) {
      TRY(skip(f, depth + 1));
      ws(f);
      if (at(f, ']')) break;
      if (!at(f, ',')) return KI_DECLINED;
      f->p++;
      ws(f);
    }
    break;
  case '"': return string(f, false, NULL, NULL, NULL);
  case 't': return literal(f, "true", 4);
  case 'f': return literal(f, "false", 5);
  case 'n': return literal(f, "null", 4);
  default: return number(f, &integer, &i, &d);
  }
  f->p++; /* the closing bracket */
  return KINFER_OK;
}

/* ---- parameters -------------------------------------------------------------- */

/* The parameters object at f->p into params; *p0 and *p1 get its range. */
static int params(fp *f, int depth, size_t *p0, size_t *p1) {
  size_t first = f->params.len;
  *p0 = *p1 = first;
  if (depth > FAST_MAX_DEPTH) return KI_DECLINED;
  f->p++;
  ws(f);
  if (at(f, '}')) {
    f->p++;
    return KINFER_OK;
  }
  for (;;) {
    const char *k;
    size_t kn;
    TRY(key(f, &k, &kn));
    if (f->params.len - first >= FAST_MAX_PARAMS) return KI_DECLINED;
    /* json-c keeps one member per key: the last value, in the first one's
     * place.  Not worth following. */
    for (size_t i = first; i < f->params.len; i++)
      if (PARAMS(f)[i].keylen == kn && memcmp(STR(f) + PARAMS(f)[i].key, k, kn) == 0)
        return KI_DECLINED;
    TRY(vec_reserve(&f->params, 1));
    TRY(vec_reserve(&f->str, kn + 1));
    fparam *it = &PARAMS(f)[f->params.len];
    memset(it, 0, sizeof *it);
    it->key = f->str.len;
    it->keylen = kn;
    memcpy(STR(f) + f->str.len, k, kn);
    STR(f)[f->str.len + kn] = '\0';
    f->str.len += kn + 1;
    if (f->p == f->end) return KI_DECLINED;
    switch (*f->p) {
    case '"':
      it->type = KI_PARAM_STRING;
      TRY(string(f, true, &it->v.s, NULL, NULL));
      break;
    case 't':
    case 'f':
      it->type = KI_PARAM_BOOL;
      it->v.b = *f->p == 't';
      TRY(it->v.b ? literal(f, "true", 4) : literal(f, "false", 5));
      break;
    case 'n':
      it->skip = true;
      TRY(literal(f, "null", 4));
      break;
    case '{':
    case '[':
      it->skip = true;
      TRY(skip(f, depth + 1));
      break;
    default: {
      bool integer;
      TRY(number(f, &integer, &it->v.i, &it->v.d));
      it->type = integer ? KI_PARAM_INT : KI_PARAM_DOUBLE;
      break;
    }
    }
    f->params.len++;
    ws(f);
    if (at(f, '}')) break;
    if (!at(f, ',')) return KI_DECLINED;
    f->p++;
    ws(f);
  }
  f->p++;
  *p1 = f->params.len;
  return KINFER_OK;
}

/* ---- outputs -------------------------------------------------------------------- */

enum { K_NAME = 1, K_DATATYPE = 2, K_SHAPE = 4, K_PARAMS = 8, K_DATA = 16 };
#define K_NDS (K_NAME | K_DATATYPE | K_SHAPE)

static int shape(fp *f, fout *o) {
  o->dims = f->dims.len;
  f->p++;
  ws(f);
  if (at(f, ']')) {
    f->p++;
    return KINFER_OK;
  }
  for (;;) {
    bool integer;
    int64_t v;
    double d;
    if (o->ndim == KI_MAX_NDIM) return KI_DECLINED;
    TRY(number(f, &integer, &v, &d));
    if (!integer || v < 0) return KI_DECLINED;
    TRY(vec_reserve(&f->dims, 1));
    DIMS(f)[f->dims.len++] = v;
    o->ndim++;
    ws(f);
    if (at(f, ']')) break;
    if (!at(f, ',')) return KI_DECLINED;
    f->p++;
    ws(f);
  }
  f->p++;
  return KINFER_OK;
}

/* The element count and size of |o| from its datatype and shape. */
static int sized(fp *f, fout *o) {
  if (!ki_shape_count(DIMS(f) + o->dims, o->ndim, &o->t.count) ||
      !ki_mul_size(o->t.count, kinfer_datatype_size(o->t.dt), &o->t.nbytes))
    return KI_DECLINED;
  o->t.ndim = o->ndim;
  return KINFER_OK;
}

/* Decodes the data span of |o| (name, datatype and shape known). */
static int data(fp *f, fout *o, const char *s, const char *e) {
  struct kinfer_tensor *t = &o->t;
  t->name = STR(f) + o->name;
  int rc = ki_tensor_from_text(t, s, (size_t)(e - s), &f->scratch);
  t->name = NULL;
  if (rc == KINFER_ENOMEM) return rc;
  return rc ? KI_DECLINED : KINFER_OK;
}

static int output(fp *f, int depth) {
  if (depth > FAST_MAX_DEPTH) return KI_DECLINED;
  TRY(vec_reserve(&f->outs, 1));
  /* Counted at once, so that its buffers are freed on every way out. */
  fout *o = &OUTS(f)[f->outs.len++];
  memset(o, 0, sizeof *o);
  unsigned seen = 0;
  const char *ds = NULL, *de = NULL; /* the data span */
  bool decoded = false;
  f->p++;
  ws(f);
  while (!at(f, '}')) {
    const char *k;
    size_t kn;
    TRY(key(f, &k, &kn));
    unsigned which = key_is(k, kn, "name")         ? K_NAME
                     : key_is(k, kn, "datatype")   ? K_DATATYPE
                     : key_is(k, kn, "shape")      ? K_SHAPE
                     : key_is(k, kn, "parameters") ? K_PARAMS
                     : key_is(k, kn, "data")       ? K_DATA
                                                   : 0;
    if (which & seen) return KI_DECLINED; /* json-c keeps the last one */
    seen |= which;
    switch (which) {
    case K_NAME:
      if (!at(f, '"')) return KI_DECLINED;
      TRY(string(f, true, &o->name, NULL, NULL));
      break;
    case K_DATATYPE: {
      size_t off;
      if (!at(f, '"')) return KI_DECLINED;
      TRY(string(f, true, &off, NULL, NULL));
      if (kinfer_datatype_from_name(STR(f) + off, &o->t.dt)) return KI_DECLINED;
      f->str.len = off;
      break;
    }
    case K_SHAPE:
      if (!at(f, '[')) return KI_DECLINED;
      TRY(shape(f, o));
      break;
    case K_PARAMS:
      if (at(f, '{')) TRY(params(f, depth + 1, &o->p0, &o->p1));
      else TRY(skip(f, depth + 1));
      break;
    case K_DATA:
      if (!at(f, '[') || !(de = ki_json_span_end(f->p, f->end)))
        return KI_DECLINED;
      ds = f->p;
      f->p = de;
      break;
    default:
      TRY(skip(f, depth + 1));
      break;
    }
    /* The data as soon as its datatype and shape are known. */
    if ((seen & K_DATA) && !decoded && (seen & K_NDS) == K_NDS) {
      TRY(sized(f, o));
      TRY(data(f, o, ds, de));
      decoded = true;
    }
    ws(f);
    if (at(f, ',')) {
      f->p++;
      ws(f);
      if (at(f, '}')) return KI_DECLINED;
      continue;
    }
    if (!at(f, '}')) return KI_DECLINED;
  }
  f->p++;
  if ((seen & K_NDS) != K_NDS) return KI_DECLINED;
  if (!decoded) TRY(sized(f, o));
  const fparam *bds = NULL;
  for (size_t i = o->p0; i < o->p1; i++) {
    const fparam *it = &PARAMS(f)[i];
    if (!it->skip && it->type == KI_PARAM_INT &&
        strcmp(STR(f) + it->key, "binary_data_size") == 0)
      bds = it;
  }
  if (bds) {
    if (seen & K_DATA) return KI_DECLINED;
    o->t.name = STR(f) + o->name;
    int rc = ki_v2_decode_binary(&o->t, bds->v.i, &f->br, &f->scratch);
    o->t.name = NULL;
    if (rc == KINFER_ENOMEM) return rc;
    return rc ? KI_DECLINED : KINFER_OK;
  }
  if (!(seen & K_DATA)) return KI_DECLINED;
  return decoded ? KINFER_OK : data(f, o, ds, de);
}

static int outputs(fp *f, int depth) {
  f->p++;
  ws(f);
  if (at(f, ']')) {
    f->p++;
    return KINFER_OK;
  }
  for (;;) {
    if (!at(f, '{')) return KI_DECLINED;
    TRY(output(f, depth + 1));
    ws(f);
    if (at(f, ']')) break;
    if (!at(f, ',')) return KI_DECLINED;
    f->p++;
    ws(f);
  }
  f->p++;
  return KINFER_OK;
}

/* ---- the document ---------------------------------------------------------------- */

enum { K_MODEL_NAME = 1, K_MODEL_VERSION = 2, K_ID = 4, K_RPARAMS = 8, K_OUTPUTS = 16 };

static int root(fp *f) {
  unsigned seen = 0;
  ws(f);
  if (!at(f, '{')) return KI_DECLINED;
  f->p++;
  ws(f);
  while (!at(f, '}')) {
    const char *k;
    size_t kn;
    TRY(key(f, &k, &kn));
    unsigned which = key_is(k, kn, "model_name")      ? K_MODEL_NAME
                     : key_is(k, kn, "model_version") ? K_MODEL_VERSION
                     : key_is(k, kn, "id")            ? K_ID
                     : key_is(k, kn, "parameters")    ? K_RPARAMS
                     : key_is(k, kn, "outputs")       ? K_OUTPUTS
                                                      : 0;
    if (which & seen) return KI_DECLINED;
    seen |= which;
    size_t *dst = which == K_MODEL_NAME      ? &f->model_name
                  : which == K_MODEL_VERSION ? &f->model_version
                  : which == K_ID            ? &f->id
                                             : NULL;
    if (dst && at(f, '"')) {
      TRY(string(f, true, dst, NULL, NULL));
    } else if (which == K_RPARAMS && at(f, '{')) {
      TRY(params(f, 2, &f->p0, &f->p1));
    } else if (which == K_OUTPUTS) {
      if (!at(f, '[')) return KI_DECLINED;
      TRY(outputs(f, 2));
    } else {
      TRY(skip(f, 2)); /* other members, and the above when not of their type */
    }
    ws(f);
    if (at(f, ',')) {
      f->p++;
      ws(f);
      if (at(f, '}')) return KI_DECLINED;
      continue;
    }
    if (!at(f, '}')) return KI_DECLINED;
  }
  f->p++;
  ws(f);
  if (f->p != f->end || !(seen & K_OUTPUTS)) return KI_DECLINED;
  if (f->br.p && f->br.off != f->br.len) return KI_DECLINED;
  return KINFER_OK;
}

/* ---- the result ------------------------------------------------------------------ */

static int64_t no_dims[1];

/* Copies the kept members of params[p0 .. p1) to |items| as |map|. */
static ki_param *fill_params(fp *f, size_t p0, size_t p1, ki_param *items,
                             char *strings, kinfer_params *map) {
  size_t n = 0;
  for (size_t i = p0; i < p1; i++) {
    const fparam *it = &PARAMS(f)[i];
    if (it->skip) continue;
    ki_param *d = &items[n++];
    d->key = strings + it->key;
    d->type = it->type;
    switch (it->type) {
    case KI_PARAM_STRING: d->v.s = strings + it->v.s; break;
    case KI_PARAM_INT: d->v.i = it->v.i; break;
    case KI_PARAM_BOOL: d->v.b = it->v.b; break;
    case KI_PARAM_DOUBLE: d->v.d = it->v.d; break;
    }
  }
  map->items = n ? items : NULL;
  map->count = map->cap = n;
  return items + n;
}

static int finish(fp *f, kinfer_response *resp) {
  size_t nout = f->outs.len, nparams = 0, total = 0, part;
  for (size_t i = 0; i < f->params.len; i++) nparams += !PARAMS(f)[i].skip;
  /* Every part's size is a multiple of 8: no padding between them. */
  if (!ki_mul_size(nout, sizeof(struct kinfer_tensor), &part) ||
      !ki_add_size(total, part, &total) ||
      !ki_mul_size(nparams, sizeof(ki_param), &part) ||
      !ki_add_size(total, part, &total) ||
      !ki_mul_size(f->dims.len, sizeof(int64_t), &part) ||
      !ki_add_size(total, part, &total) ||
      !ki_add_size(total, f->str.len, &total))
    return KINFER_ENOMEM;
  if (total == 0) return KINFER_OK; /* {"outputs":[]}: nothing to keep */
  char *block = malloc(total);
  if (!block) return KINFER_ENOMEM;
  struct kinfer_tensor *outs = (struct kinfer_tensor *)(void *)block;
  ki_param *items = (ki_param *)(void *)(block + nout * sizeof *outs);
  int64_t *dims = (int64_t *)(void *)(items + nparams);
  char *strings = (char *)(dims + f->dims.len);
  if (f->dims.len) memcpy(dims, DIMS(f), f->dims.len * sizeof *dims);
  if (f->str.len) memcpy(strings, STR(f), f->str.len);
  items = fill_params(f, f->p0, f->p1, items, strings, &resp->params);
  for (size_t i = 0; i < nout; i++) {
    const fout *o = &OUTS(f)[i];
    outs[i] = o->t;
    outs[i].name = strings + o->name;
    outs[i].shape = o->ndim ? dims + o->dims : no_dims;
    items = fill_params(f, o->p0, o->p1, items, strings, &outs[i].params);
  }
  resp->arena = block;
  resp->outputs = nout ? outs : NULL;
  resp->noutputs = nout;
  resp->model_name = f->model_name == NONE ? NULL : strings + f->model_name;
  resp->model_version = f->model_version == NONE ? NULL : strings + f->model_version;
  resp->id = f->id == NONE ? NULL : strings + f->id;
  return KINFER_OK;
}

int ki_v2_decode_fast(kinfer_response *resp, bool binary, kinfer_error *err) {
  /* ki_json_parse refuses texts of INT_MAX bytes and more. */
  if (resp->json_len > (size_t)INT_MAX - 1) return KI_DECLINED;
  char str[1024];
  int64_t dims[32];
  fparam params_buf[16];
  fout outs[8];
  fp f = {
      .p = resp->json,
      .end = resp->json + resp->json_len,
      .str = {str, 0, sizeof str, 1, false},
      .dims = {dims, 0, sizeof dims / sizeof dims[0], sizeof dims[0], false},
      .params = {params_buf, 0, sizeof params_buf / sizeof params_buf[0],
                 sizeof params_buf[0], false},
      .outs = {outs, 0, sizeof outs / sizeof outs[0], sizeof outs[0], false},
      .model_name = NONE,
      .model_version = NONE,
      .id = NONE,
      .br = {binary ? resp->json + resp->json_len : NULL,
             binary ? resp->len - resp->json_len : 0, 0},
  };
  int rc = root(&f);
  if (!rc) rc = finish(&f, resp);
  if (rc) {
    for (size_t i = 0; i < f.outs.len; i++) {
      free(OUTS(&f)[i].t.owned);
      free(OUTS(&f)[i].t.elems);
    }
  }
  vec_free(&f.str);
  vec_free(&f.dims);
  vec_free(&f.params);
  vec_free(&f.outs);
  if (rc == KINFER_ENOMEM) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  return rc;
}
