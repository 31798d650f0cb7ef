/*
 * The tensor "data" codec: JSON data arrays written straight from typed
 * buffers and read straight into them, never one json-c object per element.
 *
 * Decoding a V2 response takes two steps.  json-c cannot skip a subtree, so
 * a small scanner first walks the envelope (the root object, its "outputs"
 * array, each output object) and cuts out the value of every output's
 * "data" member, leaving in its place a small integer that indexes a table
 * of the cut spans.  json-c then parses that masked envelope as before
 * (names, shapes, parameters, every limit and check unchanged), and the
 * V2 decoder hands each output's span, once its datatype and shape are
 * known, to the typed parser below, which validates the JSON of the span
 * itself (syntax, nesting no deeper than the shape, element types, ranges,
 * count) as it stores the elements.
 *
 * The scanner only needs to agree with json-c about where values begin and
 * end; whenever it is not sure (invalid JSON, nesting beyond the limit, an
 * object key written with escapes, a span that the decoder did not claim)
 * the response is decoded the old way, from the original text with json-c
 * alone, so the result and the error codes never depend on the fast path.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "numtext.h"
#include "proto_int.h"

/* ---- envelope scanner ----------------------------------------------------- */

typedef struct mask {
  const char *s, *end;
  const char *copied;  /* s[0 .. copied) is already in |out|                */
  ki_buf *out;
  ki_data_spans *spans;
  bool bail;           /* not sure: decode the original text instead        */
  bool oom;
} mask;

enum role { R_ANY, R_ROOT, R_OUTPUTS, R_OUTPUT };

static const char *ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

/* Bytes that end a run of "nothing special" in the span skipper. */
static const unsigned char special[256] = {
    ['"'] = 1, ['['] = 2, [']'] = 3, ['{'] = 2, ['}'] = 3, ['\\'] = 4,
};

/* |p| at the opening quote; returns past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end, bool *escaped) {
  for (p++; p < end; p++) {
    if (*p == '"') return p + 1;
    if (*p == '\\') {
      *escaped = true;
      if (++p == end) return NULL;
    }
  }
  return NULL;
}

/* Past the run of bytes at |p| that are not special, 16 at a time where
 * SSE2 is there (number arrays are long runs of such bytes). */
static const char *plain_run(const char *p, const char *end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
  const __m128i open = _mm_set1_epi8('['), close = _mm_set1_epi8(']');
  const __m128i ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}');
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bs)),
        _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, open), _mm_cmpeq_epi8(x, close)),
            _mm_or_si128(_mm_cmpeq_epi8(x, ob), _mm_cmpeq_epi8(x, cb))));
    unsigned bits = (unsigned)_mm_movemask_epi8(m);
    if (bits) return p + __builtin_ctz(bits);
    p += 16;
  }
#endif
  while (p < end && !special[(unsigned char)*p]) p++;
  return p;
}

/* The end of the value at |p| by bracket counting alone (the typed parser
 * validates it later), or NULL. */
const char *ki_json_span_end(const char *p, const char *end) {
  if (p == end) return NULL;
  if (*p != '[' && *p != '{' && *p != '"') {
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
           *p != '\n' && *p != '\r' && *p != '\t')
      p++;
    return p;
  }
  size_t depth = 0;
  bool esc;
  while (p < end) {
    switch (special[(unsigned char)*p]) {
    case 0: p = plain_run(p, end); continue;
    case 1:
      if (!(p = skip_string(p, end, &esc))) return NULL;
      if (depth == 0) return p;
      continue;
    case 2: depth++; break;
    case 3:
      if (depth == 0) return NULL;
      if (--depth == 0) return p + 1;
      break;
    default: return NULL;
    }
    p++;
  }
  return NULL;
}

static bool key_is(const char *k, const char *kend, const char *want) {
  size_t n = strlen(want);
  return (size_t)(kend - k) == n + 2 && memcmp(k + 1, want, n) == 0;
}

static const char *scan_value(mask *m, const char *p, int depth, enum role role);

/* Cuts the data value at |p| out of the text. */
static const char *cut(mask *m, const char *p) {
  const char *e = ki_json_span_end(p, m->end);
  if (!e) {
    m->bail = true;
    return NULL;
  }
  ki_data_spans *sp = m->spans;
  if (sp->count == sp->cap) {
    size_t cap = sp->cap ? 2 * sp->cap : 8;
    ki_span *v = realloc(sp->v, cap * sizeof *v);
    bool *u = realloc(sp->used, cap * sizeof *u);
    if (v) sp->v = v;
    if (u) sp->used = u;
    if (!v || !u) {
      m->oom = m->bail = true;
      return NULL;
    }
    sp->cap = cap;
  }
  char num[KI_NUM_BUFSIZE];
  size_t nn = ki_num_fmt_u64(num, sp->count);
  if (ki_buf_append(m->out, m->copied, (size_t)(p - m->copied)) ||
      ki_buf_append(m->out, num, nn)) {
    m->oom = m->bail = true;
    return NULL;
  }
  sp->v[sp->count] = (ki_span){p, (size_t)(e - p)};
  sp->used[sp->count++] = false;
  m->copied = e;
  return e;
}

static const char *scan_object(mask *m, const char *p, int depth,
                               enum role role) {
  p = ws(p + 1, m->end);
  if (p < m->end && *p == '}') return p + 1;
  for (;;) {
    if (p == m->end || *p != '"') break;
    bool esc = false;
    const char *k = p;
    if (!(p = skip_string(p, m->end, &esc))) break;
    /* json-c would see a key written with escapes as its unescaped text:
     * do not guess at it. */
    if (esc && role != R_ANY) break;
    const char *kend = p;
    p = ws(p, m->end);
    if (p == m->end || *p != ':') break;
    p = ws(p + 1, m->end);
    if (role == R_ROOT && key_is(k, kend, "outputs") && p < m->end && *p == '[')
      p = scan_value(m, p, depth + 1, R_OUTPUTS);
    else if (role == R_OUTPUT && key_is(k, kend, "data"))
      p = cut(m, p);
    else
      p = scan_value(m, p, depth + 1, R_ANY);
    if (!p) return NULL;
    p = ws(p, m->end);
    if (p < m->end && *p == ',') {
      p = ws(p + 1, m->end);
      continue;
    }
    if (p < m->end && *p == '}') return p + 1;
    break;
  }
  m->bail = true;
  return NULL;
}

static const char *scan_array(mask *m, const char *p, int depth,
                              enum role role) {
  p = ws(p + 1, m->end);
  if (p < m->end && *p == ']') return p + 1;
  for (;;) {
    bool obj = p < m->end && *p == '{';
    p = scan_value(m, p, depth + 1,
                   role == R_OUTPUTS && obj ? R_OUTPUT : R_ANY);
    if (!p) return NULL;
    p = ws(p, m->end);
    if (p < m->end && *p == ',') {
      p = ws(p + 1, m->end);
      continue;
    }
    if (p < m->end && *p == ']') return p + 1;
    m->bail = true;
    return NULL;
  }
}

static const char *scan_value(mask *m, const char *p, int depth,
                              enum role role) {
  if (depth > KI_JSON_MAX_DEPTH || p == m->end) {
    m->bail = true;
    return NULL;
  }
  if (*p == '{') return scan_object(m, p, depth, role);
  if (*p == '[') return scan_array(m, p, depth, role);
  if (role == R_ROOT) { /* not an object: nothing to cut */
    m->bail = true;
    return NULL;
  }
  const char *e = ki_json_span_end(p, m->end);
  if (!e || e == p) m->bail = true;
  return m->bail ? NULL : e;
}

int ki_v2_mask_data(const char *s, size_t n, ki_buf *out,
                    ki_data_spans *spans) {
  mask m = {s, s + n, s, out, spans, false, false};
  const char *p = scan_value(&m, ws(s, s + n), 1, R_ROOT);
  if (p && ws(p, m.end) != m.end) m.bail = true;
  if (!m.bail && spans->count &&
      ki_buf_append(out, m.copied, (size_t)(m.end - m.copied)))
    m.oom = m.bail = true;
  if (m.bail || spans->count == 0) {
    out->len = 0;
    spans->count = 0;
    return m.oom ? KINFER_ENOMEM : 0;
  }
  return 1;
}

void ki_data_spans_free(ki_data_spans *s) {
  free(s->v);
  free(s->used);
  memset(s, 0, sizeof *s);
}

/* ---- typed parser ---------------------------------------------------------- */

typedef struct reader {
  struct kinfer_tensor *t;
  const char *start, *p, *end;
  size_t i;           /* next element                                        */
  char *text;         /* BYTES: next free byte of the text buffer            */
  kinfer_error *err;
} reader;

static int bad_elem(reader *r, const char *what) {
  return ki_error_set(r->err, KINFER_EBADRESPONSE,
                      "output '%s': element %zu: %s", r->t->name, r->i, what);
}

static int bad_json(reader *r) {
  return ki_error_set(r->err, KINFER_EBADRESPONSE,
                      "output '%s': data is not valid JSON at offset %zu",
                      r->t->name, (size_t)(r->p - r->start));
}

static bool literal(reader *r, const char *word, size_t n) {
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return false;
  r->p += n;
  return true;
}

static const char *type_error(kinfer_datatype dt) {
  switch (dt) {
  case KINFER_BOOL: return "expected true or false";
  case KINFER_FP32: return "expected a number in FP32 range";
  case KINFER_FP64: return "expected a number in FP64 range";
  case KINFER_FP16: return "expected a number in FP16 range";
  case KINFER_BF16: return "expected a number in BF16 range";
  case KINFER_BYTES: return "expected a string";
  default:
    return dt <= KINFER_UINT64 ? "expected an unsigned integer in range"
                               : "expected an integer in range";
  }
}

char *ki_json_put_utf8(char *q, uint32_t c) {
  if (c < 0x80) {
    *q++ = (char)c;
  } else if (c < 0x800) {
    *q++ = (char)(0xC0 | c >> 6);
    *q++ = (char)(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    *q++ = (char)(0xE0 | c >> 12);
    *q++ = (char)(0x80 | (c >> 6 & 0x3F));
    *q++ = (char)(0x80 | (c & 0x3F));
  } else {
    *q++ = (char)(0xF0 | c >> 18);
    *q++ = (char)(0x80 | (c >> 12 & 0x3F));
    *q++ = (char)(0x80 | (c >> 6 & 0x3F));
    *q++ = (char)(0x80 | (c & 0x3F));
  }
  return q;
}

int ki_json_hex4(const char *p, const char *end, uint32_t *v) {
  if (end - p < 4) return -1;
  *v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p[k];
    uint32_t d;
    if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
    else return -1;
    *v = *v << 4 | d;
  }
  return 0;
}

/* A JSON string at r->p into the text buffer (its decoded length never
 * exceeds its text).  Unpaired surrogates become U+FFFD, as json-c makes
 * them. */
static int read_string(reader *r) {
  const char *p = r->p + 1, *end = r->end;
  char *o = r->text;
  for (;;) {
    const char *run = p;
    /* Raw control characters other than NUL pass, as json-c lets them. */
    while (p < end && *p != '"' && *p != '\\' && *p != '\0') p++;
    if (p == end || *p == '\0') return bad_json(r);
    size_t n = (size_t)(p - run);
    if (!ki_utf8_valid(run, n)) return bad_elem(r, "string is not UTF-8");
    memcpy(o, run, n);
    o += n;
    if (*p == '"') break;
    if (++p == end) return bad_json(r);
    char c = *p++;
    switch (c) {
    case '"': case '\\': case '/': *o++ = c; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      uint32_t u, lo;
      if (ki_json_hex4(p, end, &u)) return bad_json(r);
      p += 4;
      if (u >= 0xD800 && u < 0xDC00 && end - p >= 6 && p[0] == '\\' &&
          p[1] == 'u' && !ki_json_hex4(p + 2, end, &lo) && lo >= 0xDC00 &&
          lo < 0xE000) {
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      } else if (u >= 0xD800 && u < 0xE000) {
        u = 0xFFFD;
      }
      o = ki_json_put_utf8(o, u);
      break;
    }
    default: return bad_json(r);
    }
  }
  struct kinfer_tensor *t = r->t;
  t->elems[r->i].p = r->text;
  t->elems[r->i].n = (size_t)(o - r->text);
  t->nbytes += (size_t)(o - r->text);
  r->text = o;
  r->p = p + 1;
  return KINFER_OK;
}

static int read_number(reader *r, ki_num *num) {
  size_t n = ki_num_scan(r->p, (size_t)(r->end - r->p), num);
  if (n == 0) return bad_elem(r, type_error(r->t->dt));
  r->p += n;
  return KINFER_OK;
}

static int read_elem(reader *r) {
  static const struct {
    uint64_t pos, neg;
  } lim[] = {
      [KINFER_UINT8] = {UINT8_MAX, 0},   [KINFER_UINT16] = {UINT16_MAX, 0},
      [KINFER_UINT32] = {UINT32_MAX, 0}, [KINFER_UINT64] = {UINT64_MAX, 0},
      [KINFER_INT8] = {INT8_MAX, 128},   [KINFER_INT16] = {INT16_MAX, 32768},
      [KINFER_INT32] = {INT32_MAX, 2147483648u},
      [KINFER_INT64] = {INT64_MAX, (uint64_t)INT64_MAX + 1},
  };
  struct kinfer_tensor *t = r->t;
  char *dst = (char *)t->owned;
  ki_num num;
  int rc;
  switch (t->dt) {
  case KINFER_FP32: {
    float f;
    if ((rc = read_number(r, &num))) return rc;
    if (!ki_num_to_f32(&num, &f)) return bad_elem(r, type_error(t->dt));
    memcpy(dst + r->i * 4, &f, 4);
    return KINFER_OK;
  }
  case KINFER_FP64: {
    double d;
    if ((rc = read_number(r, &num))) return rc;
    if (!ki_num_to_f64(&num, &d)) return bad_elem(r, type_error(t->dt));
    memcpy(dst + r->i * 8, &d, 8);
    return KINFER_OK;
  }
  case KINFER_FP16:
  case KINFER_BF16: {
    double d;
    uint16_t h;
    bool fp16 = t->dt == KINFER_FP16;
    if ((rc = read_number(r, &num))) return rc;
    if (!ki_num_to_f64(&num, &d) ||
        !ki_to_small_float(d, fp16 ? 10 : 7, fp16 ? 15 : 127, &h))
      return bad_elem(r, type_error(t->dt));
    memcpy(dst + r->i * 2, &h, 2);
    return KINFER_OK;
  }
  case KINFER_BOOL:
    if (literal(r, "true", 4)) dst[r->i] = 1;
    else if (literal(r, "false", 5)) dst[r->i] = 0;
    else return bad_elem(r, type_error(t->dt));
    return KINFER_OK;
  case KINFER_BYTES:
    if (*r->p != '"') return bad_elem(r, type_error(t->dt));
    return read_string(r);
  default: {
    uint64_t bits;
    if ((rc = read_number(r, &num))) return rc;
    if (!ki_num_to_int(&num, lim[t->dt].pos, lim[t->dt].neg, &bits))
      return bad_elem(r, type_error(t->dt));
    size_t size = kinfer_datatype_size(t->dt);
    memcpy(dst + r->i * size, &bits, size); /* little-endian low bytes */
    return KINFER_OK;
  }
  }
}

static int storage(struct kinfer_tensor *t, size_t textlen, kinfer_error *err) {
  if (t->dt == KINFER_BYTES) {
    t->elems = calloc(t->count ? t->count : 1, sizeof *t->elems);
    t->owned = malloc(textlen ? textlen : 1);
    t->nbytes = 0;
  } else if (t->count) {
    t->data = t->owned = malloc(t->nbytes);
  }
  if ((t->dt == KINFER_BYTES && !t->elems) || (t->count && !t->owned)) {
    t->data = NULL;
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  }
  return KINFER_OK;
}

int ki_tensor_from_text(struct kinfer_tensor *t, const char *s, size_t n,
                        kinfer_error *err) {
  reader r = {t, s, s, s + n, 0, NULL, err};
  size_t max_depth = t->ndim > 1 ? t->ndim : 1;
  r.p = ws(r.p, r.end);
  if (r.p == r.end || *r.p != '[')
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s': data is not an array", t->name);
  /* Every element takes at least one byte: a shape product beyond the
   * text is refused before anything is allocated for it. */
  if (t->count > n)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s' has fewer than %zu elements, its shape "
                        "needs %zu",
                        t->name, n, t->count);
  int rc = storage(t, n, err);
  if (rc) return rc;
  r.text = t->owned;
  size_t depth = 1;
  r.p++;
  /* At the start of an array: a value or ']'. */
open:
  r.p = ws(r.p, r.end);
  if (r.p < r.end && *r.p == ']') {
    r.p++;
    goto close;
  }
  for (;;) {
    /* A value. */
    if (r.p == r.end) return bad_json(&r);
    if (*r.p == '[') {
      if (++depth > max_depth)
        return ki_error_set(err, KINFER_EBADRESPONSE,
                            "output '%s': data nested deeper than its shape",
                            t->name);
      r.p++;
      goto open;
    }
    if (r.i == t->count)
      return ki_error_set(err, KINFER_EBADRESPONSE,
                          "output '%s' has more than %zu elements, its shape "
                          "needs %zu",
                          t->name, t->count, t->count);
    if ((rc = read_elem(&r))) return rc;
    r.i++;
  after:
    /* After a value: ',' or ']'. */
    r.p = ws(r.p, r.end);
    if (r.p < r.end && *r.p == ',') {
      r.p = ws(r.p + 1, r.end);
      continue;
    }
    if (r.p == r.end || *r.p != ']') return bad_json(&r);
    r.p++;
  close:
    if (--depth == 0) break;
    goto after;
  }
  if (ws(r.p, r.end) != r.end) return bad_json(&r);
  if (r.i != t->count)
    return ki_error_set(err, KINFER_EBADRESPONSE,
                        "output '%s' has %zu elements, its shape needs %zu",
                        t->name, r.i, t->count);
  return KINFER_OK;
}

/* ---- encoder ---------------------------------------------------------------- */

static uint16_t ld16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t ld32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t ld64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#define CHUNK 256

int ki_input_write_flat(ki_buf *b, const struct kinfer_input *in, size_t count,
                        kinfer_error *err) {
  const unsigned char *p = in->data;
  size_t size = kinfer_datatype_size(in->dt);
  if (in->dt == KINFER_BYTES || in->dt == KINFER_FP16 || in->dt == KINFER_BF16) {
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
      if (i && ki_buf_append(b, ",", 1))
        return ki_error_set(err, KINFER_ENOMEM, "out of memory");
      int rc = ki_input_write_elem(b, in, i, &off, err);
      if (rc == KINFER_ENOMEM)
        return ki_error_set(err, KINFER_ENOMEM, "out of memory");
      if (rc) return rc;
    }
    return KINFER_OK;
  }
  /* A guess at the whole text, so that the buffer grows once rather than
   * doubling (and copying) its way up; the chunks below reserve what they
   * need whatever the guess. */
  size_t guess;
  if (ki_mul_size(count, in->dt == KINFER_FP64 ? 20 : 12, &guess))
    (void)ki_buf_reserve(b, guess);
  for (size_t i = 0; i < count;) {
    size_t n = count - i < CHUNK ? count - i : CHUNK;
    if (ki_buf_reserve(b, n * (KI_NUM_F64_MAXLEN + 1)))
      return ki_error_set(err, KINFER_ENOMEM, "out of memory");
    char *o = b->data + b->len;
    for (size_t end = i + n; i < end; i++, p += size) {
      if (i) *o++ = ',';
      size_t k;
      switch (in->dt) {
      case KINFER_BOOL:
        if (*p) memcpy(o, "true", k = 4);
        else memcpy(o, "false", k = 5);
        break;
      case KINFER_UINT8: k = ki_num_fmt_u64(o, *p); break;
      case KINFER_UINT16: k = ki_num_fmt_u64(o, ld16(p)); break;
      case KINFER_UINT32: k = ki_num_fmt_u64(o, ld32(p)); break;
      case KINFER_UINT64: k = ki_num_fmt_u64(o, ld64(p)); break;
      case KINFER_INT8: k = ki_num_fmt_i64(o, (int8_t)*p); break;
      case KINFER_INT16: k = ki_num_fmt_i64(o, (int16_t)ld16(p)); break;
      case KINFER_INT32: k = ki_num_fmt_i64(o, (int32_t)ld32(p)); break;
      case KINFER_INT64: k = ki_num_fmt_i64(o, (int64_t)ld64(p)); break;
      case KINFER_FP32: {
        float f;
        memcpy(&f, p, 4);
        k = ki_num_fmt_f32(o, f);
        break;
      }
      default: {
        double d;
        memcpy(&d, p, 8);
        k = ki_num_fmt_f64(o, d);
        break;
      }
      }
      if (k == 0) {
        b->data[b->len] = '\0';
        return ki_error_set(err, KINFER_EINPUT,
                            "input '%s': element %zu is NaN or infinite",
                            in->name, i);
      }
      o += k;
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
  }
  return KINFER_OK;
}
