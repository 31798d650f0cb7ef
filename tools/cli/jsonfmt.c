/*
 * kinfer(1): JSON output.  A re-indenting printer that works on the text
 * token by token (it needs no parser and never fails on odd input), and a
 * renderer that turns decoded response tensors back into JSON numbers.
 */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Growable string                                                            */
/* ------------------------------------------------------------------------ */

void cli_buf_append(struct cli_buf *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (b->cap - b->len <= n) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
      if (cap > SIZE_MAX / 2) {
        b->failed = true;
        return;
      }
      cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
      b->failed = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void cli_buf_puts(struct cli_buf *b, const char *s) {
  cli_buf_append(b, s, strlen(s));
}

void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = true;
    return;
  }
  if ((size_t)n < sizeof small) {
    cli_buf_append(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  cli_buf_append(b, big, (size_t)n);
  free(big);
}

void cli_buf_free(struct cli_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

void cli_json_string(struct cli_buf *b, const char *s, size_t n) {
  cli_buf_append(b, "\"", 1);
  size_t run = 0; /* bytes copied as they are, pending */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      run++;
      continue;
    }
    cli_buf_append(b, s + i - run, run);
    run = 0;
    switch (c) {
    case '"': cli_buf_puts(b, "\\\""); break;
    case '\\': cli_buf_puts(b, "\\\\"); break;
    case '\n': cli_buf_puts(b, "\\n"); break;
    case '\r': cli_buf_puts(b, "\\r"); break;
    case '\t': cli_buf_puts(b, "\\t"); break;
    default: cli_buf_printf(b, "\\u%04x", c); break;
    }
  }
  cli_buf_append(b, s + n - run, run);
  cli_buf_append(b, "\"", 1);
}

/* ------------------------------------------------------------------------ */
/* Re-indenting printer                                                       */
/* ------------------------------------------------------------------------ */

struct scanner {
  const char *s;
  size_t len;
  size_t pos;
};

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_structural(char c) {
  return c == '{' || c == '}' || c == '[' || c == ']' || c == ',' ||
         c == ':' || c == '"';
}

static void skip_space(struct scanner *sc) {
  while (sc->pos < sc->len && is_space(sc->s[sc->pos]))
    sc->pos++;
}

/* The end of the string literal that starts at |pos| (one past its closing
 * quote, or the end of the text). */
static size_t string_end(const struct scanner *sc, size_t pos) {
  for (pos++; pos < sc->len; pos++) {
    if (sc->s[pos] == '\\')
      pos++;
    else if (sc->s[pos] == '"')
      return pos + 1;
  }
  return sc->len;
}

/* The end of the scalar (number, true, false, null) that starts at |pos|. */
static size_t scalar_end(const struct scanner *sc, size_t pos) {
  while (pos < sc->len && !is_space(sc->s[pos]) &&
         !is_structural(sc->s[pos]))
    pos++;
  return pos;
}

/* Whether the array opening at sc->pos holds no object or array. */
static bool array_is_flat(const struct scanner *sc) {
  for (size_t p = sc->pos + 1; p < sc->len;) {
    char c = sc->s[p];
    if (c == '"')
      p = string_end(sc, p);
    else if (c == '[' || c == '{')
      return false;
    else if (c == ']')
      return true;
    else
      p++;
  }
  return false;
}

static void indent(FILE *f, int depth) {
  fputc('\n', f);
  for (int i = 0; i < depth; i++)
    fputs("  ", f);
}

/* Copies one string or scalar token at sc->pos. */
static void copy_token(FILE *f, struct scanner *sc) {
  size_t end = sc->s[sc->pos] == '"' ? string_end(sc, sc->pos)
                                     : scalar_end(sc, sc->pos);
  if (end == sc->pos) /* a stray character: keep it */
    end++;
  fwrite(sc->s + sc->pos, 1, end - sc->pos, f);
  sc->pos = end;
}

/* Prints the flat array at sc->pos on one line: [1, 2, 3]. */
static void print_flat_array(FILE *f, struct scanner *sc) {
  fputc('[', f);
  sc->pos++;
  for (;;) {
    skip_space(sc);
    if (sc->pos >= sc->len)
      return;
    char c = sc->s[sc->pos];
    if (c == ']') {
      fputc(']', f);
      sc->pos++;
      return;
    }
    if (c == ',') {
      fputs(", ", f);
      sc->pos++;
    } else {
      copy_token(f, sc);
    }
  }
}

void cli_json_pretty(FILE *f, const char *json, size_t len) {
  struct scanner sc = {json, len, 0};
  int depth = 0;
  for (;;) {
    skip_space(&sc);
    if (sc.pos >= sc.len)
      break;
    char c = sc.s[sc.pos];
    if (c == '[' && array_is_flat(&sc)) {
      print_flat_array(f, &sc);
      continue;
    }
    switch (c) {
    case '[':
    case '{': {
      sc.pos++;
      skip_space(&sc);
      char close = c == '{' ? '}' : ']';
      if (sc.pos < sc.len && sc.s[sc.pos] == close) {
        fputc(c, f);
        fputc(close, f);
        sc.pos++;
        break;
      }
      fputc(c, f);
      indent(f, ++depth);
      break;
    }
    case '}':
    case ']':
      if (depth > 0)
        depth--;
      indent(f, depth);
      fputc(c, f);
      sc.pos++;
      break;
    case ',':
      fputc(',', f);
      indent(f, depth);
      sc.pos++;
      break;
    case ':':
      fputs(": ", f);
      sc.pos++;
      break;
    default:
      copy_token(f, &sc);
      break;
    }
  }
  fputc('\n', f);
}

/* ------------------------------------------------------------------------ */
/* Tensors as JSON                                                            */
/* ------------------------------------------------------------------------ */

static uint64_t load_le(const unsigned char *p, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static float fp16_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    x = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    x = sign;
  } else { /* subnormal: exact in float */
    float v = (float)mant / 16777216.0f; /* mant * 2^-24 */
    return sign ? -v : v;
  }
  float v;
  memcpy(&v, &x, sizeof v);
  return v;
}

static float bf16_to_float(uint16_t h) {
  uint32_t x = (uint32_t)h << 16;
  float v;
  memcpy(&v, &x, sizeof v);
  return v;
}

/* Non-finite values are written as Python's json module does. */
static bool put_nonfinite(struct cli_buf *b, double v) {
  if (isnan(v))
    cli_buf_puts(b, "NaN");
  else if (isinf(v))
    cli_buf_puts(b, v > 0 ? "Infinity" : "-Infinity");
  else
    return false;
  return true;
}

/* The shortest %g form that reads back as the same double. */
static void put_double(struct cli_buf *b, double v) {
  if (put_nonfinite(b, v))
    return;
  char s[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, v);
    if (strtod(s, NULL) == v)
      break;
  }
  cli_buf_puts(b, s);
}

/* The shortest %g form that reads back as the same float. */
static void put_float(struct cli_buf *b, float v) {
  if (put_nonfinite(b, v))
    return;
  char s[40];
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, (double)v);
    if (strtof(s, NULL) == v)
      break;
  }
  cli_buf_puts(b, s);
}

static void put_element(struct cli_buf *b, kinfer_datatype t,
                        const unsigned char *p) {
  size_t size = kinfer_datatype_size(t);
  uint64_t u = load_le(p, size);
  switch (t) {
  case KINFER_BOOL: cli_buf_puts(b, u ? "true" : "false"); break;
  case KINFER_UINT8:
  case KINFER_UINT16:
  case KINFER_UINT32:
  case KINFER_UINT64: cli_buf_printf(b, "%llu", (unsigned long long)u); break;
  case KINFER_INT8:
  case KINFER_INT16:
  case KINFER_INT32:
  case KINFER_INT64: {
    /* sign-extend from |size| bytes */
    uint64_t sign = UINT64_C(1) << (8 * size - 1);
    int64_t v = (int64_t)((u ^ sign) - sign);
    cli_buf_printf(b, "%lld", (long long)v);
    break;
  }
  case KINFER_FP16: put_float(b, fp16_to_float((uint16_t)u)); break;
  case KINFER_BF16: put_float(b, bf16_to_float((uint16_t)u)); break;
  case KINFER_FP32: {
    uint32_t x = (uint32_t)u;
    float v;
    memcpy(&v, &x, sizeof v);
    put_float(b, v);
    break;
  }
  case KINFER_FP64: {
    double v;
    memcpy(&v, &u, sizeof v);
    put_double(b, v);
    break;
  }
  default: cli_buf_puts(b, "null"); break;
  }
}

static void render_data(struct cli_buf *b, const kinfer_tensor *t) {
  kinfer_datatype dt = kinfer_tensor_datatype(t);
  size_t n = kinfer_tensor_element_count(t);
  cli_buf_puts(b, "[");
  if (dt == KINFER_BYTES) {
    for (size_t i = 0; i < n; i++) {
      const char *s;
      size_t len;
      if (kinfer_tensor_bytes_at(t, i, &s, &len) != KINFER_OK)
        break;
      if (i > 0)
        cli_buf_puts(b, ",");
      cli_json_string(b, s, len);
    }
  } else {
    size_t size = kinfer_datatype_size(dt);
    const unsigned char *p = kinfer_tensor_data(t);
    if (p == NULL || size == 0)
      n = 0;
    else if (n > kinfer_tensor_nbytes(t) / size) /* never trust a view blindly */
      n = kinfer_tensor_nbytes(t) / size;
    for (size_t i = 0; i < n; i++) {
      if (i > 0)
        cli_buf_puts(b, ",");
      put_element(b, dt, p + i * size);
    }
  }
  cli_buf_puts(b, "]");
}

/* A parameters map as a JSON object; |skip| names a key to leave out. */
static void render_params(struct cli_buf *b, const kinfer_params *p,
                          const char *skip) {
  cli_buf_puts(b, "{");
  bool first = true;
  for (size_t i = 0; i < kinfer_params_count(p); i++) {
    const char *key = kinfer_params_key(p, i);
    if (key == NULL || (skip != NULL && strcmp(key, skip) == 0))
      continue;
    const char *s;
    int64_t iv;
    bool bv;
    double dv;
    if (!first)
      cli_buf_puts(b, ",");
    first = false;
    cli_json_string(b, key, strlen(key));
    cli_buf_puts(b, ":");
    if (kinfer_params_get_string(p, key, &s) == KINFER_OK)
      cli_json_string(b, s, strlen(s));
    else if (kinfer_params_get_int(p, key, &iv) == KINFER_OK)
      cli_buf_printf(b, "%lld", (long long)iv);
    else if (kinfer_params_get_bool(p, key, &bv) == KINFER_OK)
      cli_buf_puts(b, bv ? "true" : "false");
    else if (kinfer_params_get_double(p, key, &dv) == KINFER_OK)
      put_double(b, dv);
    else
      cli_buf_puts(b, "null");
  }
  cli_buf_puts(b, "}");
}

/* Whether |p| has a key other than |skip|. */
static bool has_params(const kinfer_params *p, const char *skip) {
  size_t n = p != NULL ? kinfer_params_count(p) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *key = kinfer_params_key(p, i);
    if (key != NULL && (skip == NULL || strcmp(key, skip) != 0))
      return true;
  }
  return false;
}

static void render_tensor(struct cli_buf *b, const kinfer_tensor *t) {
  const char *name = kinfer_tensor_name(t);
  const char *dtype = kinfer_datatype_name(kinfer_tensor_datatype(t));
  cli_buf_puts(b, "{\"name\":");
  cli_json_string(b, name ? name : "", name ? strlen(name) : 0);
  cli_buf_puts(b, ",\"datatype\":");
  cli_json_string(b, dtype ? dtype : "", dtype ? strlen(dtype) : 0);
  cli_buf_puts(b, ",\"shape\":[");
  const int64_t *shape = kinfer_tensor_shape(t);
  for (size_t d = 0; d < kinfer_tensor_ndim(t) && shape != NULL; d++)
    cli_buf_printf(b, "%s%lld", d ? "," : "", (long long)shape[d]);
  cli_buf_puts(b, "]");
  const kinfer_params *p = kinfer_tensor_parameters(t);
  if (has_params(p, "binary_data_size")) {
    cli_buf_puts(b, ",\"parameters\":");
    render_params(b, p, "binary_data_size");
  }
  cli_buf_puts(b, ",\"data\":");
  render_data(b, t);
  cli_buf_puts(b, "}");
}

static void render_field(struct cli_buf *b, const char *key, const char *v) {
  if (v == NULL)
    return;
  cli_buf_printf(b, "\"%s\":", key);
  cli_json_string(b, v, strlen(v));
  cli_buf_puts(b, ",");
}

void cli_json_render_response(struct cli_buf *b, const kinfer_response *r) {
  cli_buf_puts(b, "{");
  render_field(b, "model_name", kinfer_response_model_name(r));
  render_field(b, "model_version", kinfer_response_model_version(r));
  render_field(b, "id", kinfer_response_id(r));
  const kinfer_params *p = kinfer_response_parameters(r);
  if (has_params(p, NULL)) {
    cli_buf_puts(b, "\"parameters\":");
    render_params(b, p, NULL);
    cli_buf_puts(b, ",");
  }
  cli_buf_puts(b, "\"outputs\":[");
  bool first = true;
  for (size_t i = 0; i < kinfer_response_output_count(r); i++) {
    const kinfer_tensor *t = kinfer_response_output(r, i);
    if (t == NULL)
      continue;
    if (!first)
      cli_buf_puts(b, ",");
    first = false;
    render_tensor(b, t);
  }
  cli_buf_puts(b, "]}");
}
