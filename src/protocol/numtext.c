/*
 * Number text.  Floats are printed with the fewest significant digits that
 * read back to the same value (found by trying each precision and reading
 * the text back), then laid out much as JavaScript does: plain notation for
 * moderate exponents, d.ddde±x otherwise.  All conversions use
 * a private "C" locale so that a comma-decimal process locale cannot change
 * the text.
 */
#include "numtext.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) {
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The "C" locale, or 0 when it could not be made (then the process locale
 * is used, which is "C" unless the program called setlocale). */
static locale_t get_c_locale(void) {
  pthread_once(&c_locale_once, c_locale_init);
  return c_locale;
}

static size_t fmt_u64_rev(char *tmp, uint64_t v) {
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return n;
}

size_t ki_num_fmt_u64(char *out, uint64_t v) {
  char tmp[24];
  size_t n = fmt_u64_rev(tmp, v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

size_t ki_num_fmt_i64(char *out, int64_t v) {
  if (v >= 0) return ki_num_fmt_u64(out, (uint64_t)v);
  out[0] = '-';
  /* -(v + 1) + 1 avoids overflowing on INT64_MIN. */
  return 1 + ki_num_fmt_u64(out + 1, (uint64_t)(-(v + 1)) + 1);
}

/* The decimal form of a value: digits (no leading or trailing zeros, at
 * most 17) and the power of ten of the first digit. */
typedef struct decimal {
  bool negative;
  char digits[24];
  int ndigits;
  int exp10;
} decimal;

/* Splits "%.*e" output ("-d.ddde+xx") into |d|. */
static void split_e(const char *s, decimal *d) {
  d->negative = (*s == '-');
  if (*s == '-') s++;
  d->ndigits = 0;
  for (; *s && *s != 'e'; s++)
    if (*s >= '0' && *s <= '9') d->digits[d->ndigits++] = *s;
  d->exp10 = (*s == 'e') ? atoi(s + 1) : 0;
  while (d->ndigits > 1 && d->digits[d->ndigits - 1] == '0') d->ndigits--;
}

static bool round_trips(const char *text, double v, bool single) {
  return single ? strtof(text, NULL) == (float)v : strtod(text, NULL) == v;
}

/* Finds the shortest digits for |v|; |single| selects float round-trip.
 * Round-tripping is monotonic in the precision (the nearest (p+1)-digit
 * decimal is at least as close as the nearest p-digit one), so the
 * shortest precision is found by bisection. */
static void shortest(double v, bool single, decimal *d) {
  char tmp[48], best[48];
  locale_t loc = get_c_locale();
  locale_t old = loc ? uselocale(loc) : (locale_t)0;
  int lo = 1, hi = single ? 9 : 17; /* hi always round-trips */
  snprintf(best, sizeof best, "%.*e", hi - 1, v);
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    snprintf(tmp, sizeof tmp, "%.*e", mid - 1, v);
    if (round_trips(tmp, v, single)) {
      hi = mid;
      memcpy(best, tmp, sizeof tmp);
    } else {
      lo = mid + 1;
    }
  }
  if (loc) uselocale(old);
  split_e(best, d);
}

/* Lays |d| out as a JSON number. */
static size_t layout(char *out, const decimal *d) {
  size_t n = 0;
  int k = d->ndigits, point = d->exp10 + 1;
  if (d->negative) out[n++] = '-';
  /* Integral values print without a fraction only below 10^15: longer
   * digit strings would be read as (overflowing) integers by parsers that
   * keep integers apart from doubles, json-c among them. */
  if (k <= point && point <= 15) {
    memcpy(out + n, d->digits, (size_t)k);
    n += (size_t)k;
    for (int i = k; i < point; i++) out[n++] = '0';
  } else if (0 < point && point < k && point <= 21) {
    memcpy(out + n, d->digits, (size_t)point);
    n += (size_t)point;
    out[n++] = '.';
    memcpy(out + n, d->digits + point, (size_t)(k - point));
    n += (size_t)(k - point);
  } else if (-6 < point && point <= 0) {
    out[n++] = '0';
    out[n++] = '.';
    for (int i = point; i < 0; i++) out[n++] = '0';
    memcpy(out + n, d->digits, (size_t)k);
    n += (size_t)k;
  } else {
    out[n++] = d->digits[0];
    if (k > 1) {
      out[n++] = '.';
      memcpy(out + n, d->digits + 1, (size_t)(k - 1));
      n += (size_t)(k - 1);
    }
    out[n++] = 'e';
    out[n++] = point - 1 < 0 ? '-' : '+';
    n += ki_num_fmt_u64(out + n, (uint64_t)abs(point - 1));
  }
  out[n] = '\0';
  return n;
}

static size_t fmt_float(char *out, double v, bool single) {
  if (!isfinite(v)) {
    out[0] = '\0';
    return 0;
  }
  if (v == 0 && signbit(v)) {
    /* "-0" reads back as the integer 0 in most parsers. */
    memcpy(out, "-0.0", 5);
    return 4;
  }
  decimal d;
  shortest(v, single, &d);
  return layout(out, &d);
}

size_t ki_num_fmt_f32(char *out, float v) { return fmt_float(out, v, true); }
size_t ki_num_fmt_f64(char *out, double v) { return fmt_float(out, v, false); }

/* True when s[0..n) is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *s, size_t n) {
  size_t i = 0;
#define DIGIT(j) ((j) < n && s[j] >= '0' && s[j] <= '9')
  if (i < n && s[i] == '-') i++;
  if (!DIGIT(i)) return false;
  if (s[i] == '0') {
    i++;
  } else {
    while (DIGIT(i)) i++;
  }
  if (i < n && s[i] == '.') {
    i++;
    if (!DIGIT(i)) return false;
    while (DIGIT(i)) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (!DIGIT(i)) return false;
    while (DIGIT(i)) i++;
  }
#undef DIGIT
  return i == n;
}

static bool parse_float(const char *s, size_t n, bool single, double *d,
                        float *f) {
  if (!is_json_number(s, n)) return false;
  char small[128];
  char *buf = n < sizeof small ? small : malloc(n + 1);
  if (!buf) return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  locale_t loc = get_c_locale();
  bool ok;
  if (single) {
    *f = loc ? strtof_l(buf, NULL, loc) : strtof(buf, NULL);
    ok = isfinite(*f);
  } else {
    *d = loc ? strtod_l(buf, NULL, loc) : strtod(buf, NULL);
    ok = isfinite(*d);
  }
  if (buf != small) free(buf);
  return ok;
}

bool ki_num_parse_f32(const char *s, size_t n, float *out) {
  double unused;
  return parse_float(s, n, true, &unused, out);
}

bool ki_num_parse_f64(const char *s, size_t n, double *out) {
  float unused;
  return parse_float(s, n, false, out, &unused);
}
