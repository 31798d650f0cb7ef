/*
 * kinfer(1): the typed input argument, -i NAME:DTYPE:SHAPE:VALUES.
 *
 *   NAME    the input's name (it cannot contain ':')
 *   DTYPE   a V2 datatype, any case: BOOL, UINT8..UINT64, INT8..INT64,
 *           FP16, FP32, FP64, BF16, BYTES
 *   SHAPE   dimensions joined by 'x' ("2x3", "4", "1x0"); empty for a 1-D
 *           tensor of as many elements as VALUES has
 *   VALUES  comma-separated elements, row-major.  BYTES elements are taken
 *           as written, with "\," for a comma and "\\" for a backslash.
 *           An empty VALUES is no elements when the shape holds none, one
 *           empty string for BYTES otherwise.
 *
 * Elements are converted to their little-endian representation here, so
 * that a bad value is a usage error before anything is sent.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The largest number of elements one -i may hold. */
#define MAX_ELEMENTS ((size_t)1 << 32)

static int fail(char *msg, size_t size, const char *fmt, ...)
    CLI_PRINTF(3, 4);

static int fail(char *msg, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, size, fmt, ap);
  va_end(ap);
  return -1;
}

static void store_le(unsigned char *p, uint64_t v, size_t size) {
  for (size_t i = 0; i < size; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

/* IEEE binary16 from a finite float, rounding to nearest even.  Values too
 * large become infinity, which the caller rejects. */
static uint16_t fp16_from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = (int32_t)((x >> 23) & 0xffu) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (exp >= 31)
    return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) { /* subnormal half, or zero */
    if (exp < -10)
      return (uint16_t)sign;
    mant |= 0x800000u;
    unsigned shift = (unsigned)(14 - exp);
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1)))
      h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
    h++; /* a carry into the exponent is the right answer */
  return (uint16_t)h;
}

/* bfloat16 from a finite float, rounding to nearest even. */
static uint16_t bf16_from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  x += 0x7fffu + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

static bool parse_signed(const char *s, int64_t min, int64_t max,
                         int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || errno == ERANGE || v < min || v > max)
    return false;
  while (isspace((unsigned char)*end))
    end++;
  *out = v;
  return *end == '\0';
}

static bool parse_unsigned(const char *s, uint64_t max, uint64_t *out) {
  const char *p = s;
  while (isspace((unsigned char)*p))
    p++;
  if (*p == '-') /* strtoull would wrap negative numbers around */
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(p, &end, 10);
  if (end == p || errno == ERANGE || v > max)
    return false;
  while (isspace((unsigned char)*end))
    end++;
  *out = v;
  return *end == '\0';
}

static bool parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno == ERANGE || !isfinite(v))
    return false;
  while (isspace((unsigned char)*end))
    end++;
  *out = v;
  return *end == '\0';
}

static bool parse_bool(const char *s, bool *out) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 1 && *s == '1'))
    *out = true;
  else if ((n == 5 && strncasecmp(s, "false", 5) == 0) ||
           (n == 1 && *s == '0'))
    *out = false;
  else
    return false;
  return true;
}

/* Converts one element |s| of type |t| into |p|.  Returns false when |s| is
 * not a value of that type. */
static bool convert(kinfer_datatype t, const char *s, unsigned char *p) {
  size_t size = kinfer_datatype_size(t);
  int64_t i;
  uint64_t u;
  double d;
  bool b;
  switch (t) {
  case KINFER_BOOL:
    if (!parse_bool(s, &b))
      return false;
    p[0] = b ? 1 : 0;
    return true;
  case KINFER_INT8:
  case KINFER_INT16:
  case KINFER_INT32:
  case KINFER_INT64: {
    int64_t max = size == 8 ? INT64_MAX : (INT64_C(1) << (8 * size - 1)) - 1;
    if (!parse_signed(s, -max - 1, max, &i))
      return false;
    store_le(p, (uint64_t)i, size);
    return true;
  }
  case KINFER_UINT8:
  case KINFER_UINT16:
  case KINFER_UINT32:
  case KINFER_UINT64: {
    uint64_t max = size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
    if (!parse_unsigned(s, max, &u))
      return false;
    store_le(p, u, size);
    return true;
  }
  case KINFER_FP64:
    if (!parse_double(s, &d))
      return false;
    memcpy(&u, &d, sizeof u);
    store_le(p, u, 8);
    return true;
  case KINFER_FP32:
  case KINFER_FP16:
  case KINFER_BF16: {
    /* Values up to the midpoint between FLT_MAX and 2^128 round to FLT_MAX
     * (its shortest text, 3.4028235e+38, reads as a slightly larger
     * double); from the midpoint on they would round to infinity. */
    if (!parse_double(s, &d) || fabs(d) >= 0x1.ffffffp+127)
      return false;
    float f = (float)d;
    if (t == KINFER_FP32) {
      uint32_t x;
      memcpy(&x, &f, sizeof x);
      store_le(p, x, 4);
      return true;
    }
    uint16_t h = t == KINFER_FP16 ? fp16_from_float(f) : bf16_from_float(f);
    uint16_t exp_mask = t == KINFER_FP16 ? 0x7c00 : 0x7f80;
    if ((h & exp_mask) == exp_mask) /* out of range: rounded to infinity */
      return false;
    store_le(p, h, 2);
    return true;
  }
  default:
    return false;
  }
}

/* Counts the comma-separated elements of |v|; for BYTES, escaped commas do
 * not count. */
static size_t count_values(const char *v, bool escapes) {
  size_t n = 1;
  for (const char *p = v; *p; p++) {
    if (escapes && *p == '\\' && p[1] != '\0')
      p++;
    else if (*p == ',')
      n++;
  }
  return n;
}

/* Copies the next BYTES element of *pp, unescaping, and advances *pp past
 * it and its comma. */
static char *next_bytes(const char **pp, size_t *len) {
  const char *p = *pp;
  char *out = malloc(strlen(p) + 1);
  if (out == NULL)
    return NULL;
  size_t n = 0;
  for (; *p != '\0' && *p != ','; p++) {
    if (*p == '\\' && (p[1] == ',' || p[1] == '\\'))
      p++;
    out[n++] = *p;
  }
  out[n] = '\0';
  *len = n;
  *pp = *p == ',' ? p + 1 : p;
  return out;
}

/* Copies the next numeric element of *pp into |buf| and advances *pp past
 * it and its comma.  An element too long for |buf| becomes "" (invalid). */
static void next_value(const char **pp, char *buf, size_t size) {
  const char *p = *pp;
  size_t n = strcspn(p, ",");
  if (n >= size)
    buf[0] = '\0';
  else
    snprintf(buf, size, "%.*s", (int)n, p);
  *pp = p[n] == ',' ? p + n + 1 : p + n;
}

static int parse_shape(const char *s, size_t len, struct cli_tensor *t,
                       char *msg, size_t msg_size) {
  t->ndim = 0;
  const char *p = s, *end = s + len;
  while (p <= end) {
    const char *x = memchr(p, 'x', (size_t)(end - p));
    const char *dim_end = x != NULL ? x : end;
    if (t->ndim == CLI_MAX_DIMS)
      return fail(msg, msg_size, "more than %d dimensions", CLI_MAX_DIMS);
    if (dim_end == p)
      return fail(msg, msg_size, "empty dimension in shape '%.*s'", (int)len,
                  s);
    int64_t d = 0;
    for (const char *q = p; q < dim_end; q++) {
      if (*q < '0' || *q > '9')
        return fail(msg, msg_size,
                    "shape '%.*s' is not dimensions joined by 'x' (e.g. 2x3)",
                    (int)len, s);
      d = d * 10 + (*q - '0');
      if ((uint64_t)d > MAX_ELEMENTS)
        return fail(msg, msg_size, "dimension too large in shape '%.*s'",
                    (int)len, s);
    }
    t->shape[t->ndim++] = d;
    p = dim_end + 1;
  }
  size_t count = 1;
  for (size_t i = 0; i < t->ndim; i++) {
    if (t->shape[i] != 0 && count > MAX_ELEMENTS / (size_t)t->shape[i])
      return fail(msg, msg_size, "shape '%.*s' has too many elements",
                  (int)len, s);
    count *= (size_t)t->shape[i];
  }
  t->count = count;
  return 0;
}

static int parse_dtype(const char *s, size_t len, struct cli_tensor *t,
                       char *msg, size_t msg_size) {
  char name[16];
  if (len == 0 || len >= sizeof name)
    return fail(msg, msg_size, "'%.*s' is not a datatype", (int)len, s);
  for (size_t i = 0; i < len; i++)
    name[i] = (char)toupper((unsigned char)s[i]);
  name[len] = '\0';
  if (kinfer_datatype_from_name(name, &t->dtype) != KINFER_OK)
    return fail(msg, msg_size,
                "'%.*s' is not a datatype (BOOL, UINT8..UINT64, INT8..INT64, "
                "FP16, FP32, FP64, BF16, BYTES)", (int)len, s);
  return 0;
}

static int fill_bytes(const char *values, struct cli_tensor *t, char *msg,
                      size_t msg_size) {
  t->elems = calloc(t->count ? t->count : 1, sizeof *t->elems);
  t->lens = calloc(t->count ? t->count : 1, sizeof *t->lens);
  if (t->elems == NULL || t->lens == NULL)
    return fail(msg, msg_size, "out of memory");
  const char *p = values;
  for (size_t i = 0; i < t->count; i++)
    if ((t->elems[i] = next_bytes(&p, &t->lens[i])) == NULL)
      return fail(msg, msg_size, "out of memory");
  return 0;
}

static int fill_fixed(const char *values, struct cli_tensor *t, char *msg,
                      size_t msg_size) {
  size_t size = kinfer_datatype_size(t->dtype);
  t->nbytes = t->count * size;
  t->data = malloc(t->nbytes ? t->nbytes : 1);
  if (t->data == NULL)
    return fail(msg, msg_size, "out of memory");
  const char *p = values;
  char buf[128];
  for (size_t i = 0; i < t->count; i++) {
    next_value(&p, buf, sizeof buf);
    if (!convert(t->dtype, buf, t->data + i * size))
      return fail(msg, msg_size, "value %zu '%s' is not a valid %s%s", i + 1,
                  buf, kinfer_datatype_name(t->dtype),
                  t->dtype == KINFER_BOOL ? " (true or false)" : "");
  }
  return 0;
}

int cli_tensor_parse(const char *arg, struct cli_tensor *t, char *msg,
                     size_t msg_size) {
  memset(t, 0, sizeof *t);
  const char *c1 = strchr(arg, ':');
  const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
  const char *c3 = c2 != NULL ? strchr(c2 + 1, ':') : NULL;
  if (c3 == NULL)
    return fail(msg, msg_size, "expected NAME:DTYPE:SHAPE:VALUES");
  if (c1 == arg)
    return fail(msg, msg_size, "empty input name");
  const char *values = c3 + 1;

  if (parse_dtype(c1 + 1, (size_t)(c2 - c1 - 1), t, msg, msg_size) != 0)
    return -1;
  bool is_bytes = t->dtype == KINFER_BYTES;
  size_t given = count_values(values, is_bytes);
  bool inferred = c3 == c2 + 1;
  if (inferred) {
    t->ndim = 1;
    t->shape[0] = (int64_t)given;
    t->count = given;
  } else if (parse_shape(c2 + 1, (size_t)(c3 - c2 - 1), t, msg, msg_size) !=
             0) {
    return -1;
  }
  if (t->count == 0 && values[0] == '\0')
    given = 0;
  if (given != t->count)
    return fail(msg, msg_size, "the shape holds %zu element%s but %zu value%s "
                "given", t->count, t->count == 1 ? "" : "s", given,
                given == 1 ? " is" : "s are");

  t->name = strndup(arg, (size_t)(c1 - arg));
  int rc = t->name == NULL ? fail(msg, msg_size, "out of memory")
           : is_bytes      ? fill_bytes(values, t, msg, msg_size)
                           : fill_fixed(values, t, msg, msg_size);
  if (rc != 0)
    cli_tensor_free(t);
  return rc;
}

void cli_tensor_free(struct cli_tensor *t) {
  if (t->elems != NULL)
    for (size_t i = 0; i < t->count; i++)
      free(t->elems[i]);
  free(t->elems);
  free(t->lens);
  free(t->data);
  free(t->name);
  memset(t, 0, sizeof *t);
}
