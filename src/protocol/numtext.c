/*
 * Number text.
 *
 * Printing: Schubfach.  For v = c * 2^q the rounding interval R (the reals
 * that read back as v) is scaled by 10^-k, with k chosen so that R is
 * between 1 and 10 units wide.  Then R holds at most one multiple of 10
 * (one digit fewer: taken when present) or else one or two integers next
 * to v * 10^-k (the closer one is taken, ties to even).  The scaled values
 * are computed with a 126-bit approximation of 10^-k, rounded up, and a
 * sticky bit that keeps the comparisons with integers exact.
 *
 * Parsing: Eisel-Lemire.  The decimal significand w (at most 19 digits) is
 * multiplied by the 128-bit significand of 10^q; the top bits of the
 * product give the binary significand unless the discarded bits are so
 * close to a rounding boundary that the truncation error of the table
 * could matter (or the value is an exact tie, or subnormal, or has more
 * than 19 digits): those few cases go to strtod_l in a private "C" locale,
 * which is exact.
 *
 * Neither depends on the process locale.
 */
#include "numtext.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pow10_table.h"

__extension__ typedef unsigned __int128 u128;

/* ---- integers ------------------------------------------------------------ */

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "74757677787980818283848586878889909192939495969798"
    "99";

static const uint64_t pow10_u64[20] = {
    1u,
    10u,
    100u,
    1000u,
    10000u,
    100000u,
    1000000u,
    10000000u,
    100000000u,
    1000000000u,
    10000000000u,
    100000000000u,
    1000000000000u,
    10000000000000u,
    100000000000000u,
    1000000000000000u,
    10000000000000000u,
    100000000000000000u,
    1000000000000000000u,
    10000000000000000000u};

/* Decimal digits of |v|, without branches: from the bit length, then one
 * comparison (1233 / 4096 is just above log10 2). */
static int count_digits(uint64_t v) {
  int bits = 64 - __builtin_clzll(v | 1);
  int n = (bits * 1233) >> 12;
  n += v >= pow10_u64[n];
  return n + (n == 0); /* "0" */
}

/* Writes the |n| digits of |v| ending at out + n. */
static void write_digits(char *out, uint64_t v, int n) {
  char *p = out + n;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, digit_pairs + 2 * r, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
}

size_t ki_num_fmt_u64(char *out, uint64_t v) {
  int n = count_digits(v);
  write_digits(out, v, n);
  out[n] = '\0';
  return (size_t)n;
}

size_t ki_num_fmt_i64(char *out, int64_t v) {
  if (v >= 0) return ki_num_fmt_u64(out, (uint64_t)v);
  out[0] = '-';
  return 1 + ki_num_fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
}

/* ---- Schubfach ------------------------------------------------------------ */

/* floor(q log10 2), floor(q log10 (3/4 2^q))... and floor(k log2 10), exact
 * over the ranges used here (checked against exact arithmetic for |q| <
 * 1200 and |k| < 400). */
static int flog10_pow2(int q) { return (q * 315653) >> 20; }
static int flog10_three_quarters_pow2(int q) {
  return (q * 315653 - 131237) >> 20;
}
static int flog2_pow10(int k) { return (k * 1741647) >> 19; }

/* g * cp / 2^128 with g = g1 2^64 + g0: the integer part, its lowest bit
 * or'ed with "the fraction is not zero". */
static uint64_t round_odd(uint64_t g1, uint64_t g0, uint64_t cp) {
  u128 x = (u128)g0 * cp;
  u128 y = (u128)g1 * cp + (uint64_t)(x >> 64);
  return (uint64_t)(y >> 64) | ((uint64_t)y > 1);
}

/* The shortest decimal d * 10^e in the rounding interval of c * 2^q
 * (c < 2^55); |cmin| is the smallest normal significand, |qmin| the
 * exponent of subnormals. */
static void schubfach(uint64_t c, int q, uint64_t cmin, int qmin, uint64_t *d,
                      int *e) {
  uint64_t out = c & 1;
  uint64_t cb = c << 2, cbr = cb + 2, cbl;
  int k;
  if (c != cmin || q == qmin) {
    cbl = cb - 2;
    k = flog10_pow2(q);
  } else {
    cbl = cb - 1;
    k = flog10_three_quarters_pow2(q);
  }
  int h = q + flog2_pow10(-k) + 2;
  const uint64_t *t = ki_pow10_sig[-k - KI_POW10_MIN];
  /* g = floor(t / 2) + 1: at most 2^127, so no carry out of g1 matters. */
  uint64_t g1 = t[0] >> 1, g0 = (t[0] << 63 | t[1] >> 1) + 1;
  if (g0 == 0) g1++;
  uint64_t vb = round_odd(g1, g0, cb << h);
  uint64_t vbl = round_odd(g1, g0, cbl << h);
  uint64_t vbr = round_odd(g1, g0, cbr << h);
  uint64_t s = vb >> 2;
  if (s >= 10) {
    uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
    bool upin = vbl + out <= sp10 << 2;
    bool wpin = (tp10 << 2) + out <= vbr;
    if (upin != wpin) {
      *d = upin ? sp10 : tp10;
      *e = k;
      return;
    }
  }
  uint64_t tt = s + 1;
  bool uin = vbl + out <= s << 2;
  bool win = (tt << 2) + out <= vbr;
  *e = k;
  if (uin != win) {
    *d = uin ? s : tt;
    return;
  }
  int64_t cmp = (int64_t)(vb - ((s + tt) << 1));
  *d = (cmp < 0 || (cmp == 0 && (s & 1) == 0)) ? s : tt;
}

/* Lays d * 10^e out as a JSON number (d > 0). */
static size_t layout(char *out, bool negative, uint64_t d, int e) {
  while (d % 10 == 0) {
    d /= 10;
    e++;
  }
  char digits[20];
  int k = count_digits(d);
  write_digits(digits, d, k);
  int point = e + k; /* digits before the decimal point */
  out[0] = '-';
  size_t n = negative; /* the sign of random data is not predictable */
  /* Integral values print without a fraction only below 10^15: longer
   * digit strings would be read as (overflowing) integers by parsers that
   * keep integers apart from doubles, json-c among them. */
  if (k <= point && point <= 15) {
    memcpy(out + n, digits, (size_t)k);
    n += (size_t)k;
    memset(out + n, '0', (size_t)(point - k));
    n += (size_t)(point - k);
  } else if (0 < point && point < k && point <= 21) {
    memcpy(out + n, digits, (size_t)point);
    n += (size_t)point;
    out[n++] = '.';
    memcpy(out + n, digits + point, (size_t)(k - point));
    n += (size_t)(k - point);
  } else if (-6 < point && point <= 0) {
    out[n++] = '0';
    out[n++] = '.';
    memset(out + n, '0', (size_t)-point);
    n += (size_t)-point;
    memcpy(out + n, digits, (size_t)k);
    n += (size_t)k;
  } else {
    out[n++] = digits[0];
    if (k > 1) {
      out[n++] = '.';
      memcpy(out + n, digits + 1, (size_t)(k - 1));
      n += (size_t)(k - 1);
    }
    int x = point - 1;
    out[n++] = 'e';
    out[n++] = x < 0 ? '-' : '+';
    n += ki_num_fmt_u64(out + n, (uint64_t)(x < 0 ? -x : x));
  }
  out[n] = '\0';
  return n;
}

static size_t fmt_zero(char *out, bool negative) {
  /* "-0" reads back as the integer 0 in most parsers. */
  if (negative) {
    memcpy(out, "-0.0", 5);
    return 4;
  }
  memcpy(out, "0", 2);
  return 1;
}

size_t ki_num_fmt_f32(char *out, float v) {
  uint32_t bits;
  memcpy(&bits, &v, 4);
  bool neg = bits >> 31;
  uint32_t be = bits >> 23 & 0xff, f = bits & 0x7fffff;
  if (be == 0xff) {
    out[0] = '\0';
    return 0;
  }
  if (be == 0 && f == 0) return fmt_zero(out, neg);
  uint64_t c = be ? f | 0x800000 : f;
  int q = be ? (int)be - 150 : -149;
  uint64_t d;
  int e;
  schubfach(c, q, 0x800000, -149, &d, &e);
  return layout(out, neg, d, e);
}

size_t ki_num_fmt_f64(char *out, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  bool neg = bits >> 63;
  uint64_t be = bits >> 52 & 0x7ff, f = bits & ((UINT64_C(1) << 52) - 1);
  if (be == 0x7ff) {
    out[0] = '\0';
    return 0;
  }
  if (be == 0 && f == 0) return fmt_zero(out, neg);
  uint64_t c = be ? f | UINT64_C(1) << 52 : f;
  int q = be ? (int)be - 1075 : -1074;
  uint64_t d;
  int e;
  schubfach(c, q, UINT64_C(1) << 52, -1074, &d, &e);
  return layout(out, neg, d, e);
}

/* ---- scanning ------------------------------------------------------------- */

static bool is_digit(char c) { return (unsigned char)(c - '0') < 10; }

/* Eight or four ASCII digits at a time (SWAR): a byte is a digit when its
 * high nibble is 3 and adding 6 keeps it so. */
static bool eight_digits(const char *p, uint64_t *v) {
  uint64_t x;
  memcpy(&x, p, 8);
  if ((x & UINT64_C(0xF0F0F0F0F0F0F0F0)) != UINT64_C(0x3030303030303030) ||
      ((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) !=
          UINT64_C(0x3030303030303030))
    return false;
  x -= UINT64_C(0x3030303030303030); /* digit i in byte i, first is lowest */
  x = (x * 10 + (x >> 8)) & UINT64_C(0x00FF00FF00FF00FF);      /* pairs  */
  x = (x * 100 + (x >> 16)) & UINT64_C(0x0000FFFF0000FFFF);    /* fours  */
  *v = (x * 10000 + (x >> 32)) & 0xFFFFFFFF;                    /* eight  */
  return true;
}

static bool four_digits(const char *p, uint32_t *v) {
  uint32_t x;
  memcpy(&x, p, 4);
  if ((x & 0xF0F0F0F0u) != 0x30303030u ||
      ((x + 0x06060606u) & 0xF0F0F0F0u) != 0x30303030u)
    return false;
  x -= 0x30303030u;
  x = (x * 10 + (x >> 8)) & 0x00FF00FFu;
  *v = (x * 100 + (x >> 16)) & 0xFFFF;
  return true;
}

/* Adds the digits at *pp to *w while at most 19 significant digits are
 * kept, eight or four at a time; returns how many were added. */
static int digit_blocks(const char **pp, const char *end, uint64_t *w,
                        int *nsig) {
  const char *p = *pp;
  int added = 0;
  uint64_t v8;
  uint32_t v4;
  while (end - p >= 8 && *nsig + 8 <= 19 && eight_digits(p, &v8)) {
    *w = *w * 100000000 + v8;
    *nsig += 8;
    p += 8;
    added += 8;
  }
  if (end - p >= 4 && *nsig + 4 <= 19 && four_digits(p, &v4)) {
    *w = *w * 10000 + v4;
    *nsig += 4;
    p += 4;
    added += 4;
  }
  *pp = p;
  return added;
}

size_t ki_num_scan(const char *s, size_t n, ki_num *num) {
  const char *p = s, *end = s + n;
  uint64_t w = 0;
  int nsig = 0;          /* significant digits seen                        */
  int64_t drop = 0;      /* integer digits beyond the 19 kept              */
  int64_t frac = 0;      /* fraction digits kept in w                      */
  num->integer = true;
  num->truncated = false;
  num->neg = p < end && *p == '-';
  p += num->neg;
  if (p == end || !is_digit(*p)) return 0;
  if (*p == '0') {
    p++;
  } else {
    w = (uint64_t)(*p++ - '0');
    nsig = 1;
    digit_blocks(&p, end, &w, &nsig);
    while (p < end && is_digit(*p)) {
      if (nsig < 19) {
        w = w * 10 + (uint64_t)(*p - '0');
        nsig++;
      } else {
        drop++;
        if (*p != '0') num->truncated = true;
      }
      p++;
    }
  }
  if (p < end && *p == '.') {
    p++;
    num->integer = false;
    if (p == end || !is_digit(*p)) return 0;
    /* Leading zeros of the fraction of a zero integer part are not
     * significant. */
    if (!w)
      while (p < end && *p == '0') {
        p++;
        frac++;
      }
    frac += digit_blocks(&p, end, &w, &nsig);
    while (p < end && is_digit(*p)) {
      if (nsig < 19) {
        w = w * 10 + (uint64_t)(*p - '0');
        frac++;
        nsig++;
      } else if (*p != '0') {
        num->truncated = true;
      }
      p++;
    }
  }
  int64_t x = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    num->integer = false;
    bool xneg = false;
    if (p < end && (*p == '+' || *p == '-')) xneg = *p++ == '-';
    if (p == end || !is_digit(*p)) return 0;
    do {
      if (x < 100000000) x = x * 10 + (*p - '0');
      p++;
    } while (p < end && is_digit(*p));
    if (xneg) x = -x;
  }
  num->s = s;
  num->n = (size_t)(p - s);
  num->w = w;
  num->q = x + drop - frac;
  return num->n;
}

/* ---- Eisel-Lemire --------------------------------------------------------- */

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

/* The exact path: the C library on a NUL-terminated copy. */
static bool slow_parse(const ki_num *num, bool single, double *d, float *f) {
  char small[128];
  char *buf = num->n < sizeof small ? small : malloc(num->n + 1);
  if (!buf) return false;
  memcpy(buf, num->s, num->n);
  buf[num->n] = '\0';
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

enum { EL_OK, EL_UNSURE, EL_RANGE };

/* w * 10^q (w != 0, q within the table) rounded to |mbits| + 1 significant
 * bits plus exponent: sets *m (mbits + 1 bits, leading one included) and
 * *e2 with the value m * 2^e2 correctly rounded to nearest, or returns
 * EL_UNSURE. */
static int eisel_lemire(uint64_t w, int64_t q, int mbits, uint64_t *m,
                        int64_t *e2) {
  int lz = __builtin_clzll(w);
  w <<= lz;
  const uint64_t *t = ki_pow10_sig[q - KI_POW10_MIN];
  u128 p1 = (u128)w * t[0];
  u128 p2 = (u128)w * t[1];
  uint64_t hi = (uint64_t)(p1 >> 64), lo = (uint64_t)p1;
  uint64_t add = (uint64_t)(p2 >> 64);
  lo += add;
  if (lo < add) hi++;
  /* hi:lo is below the exact product by less than 2 units of lo. */
  int upper = (int)(hi >> 63);
  int shift = 63 - (mbits + 2) + upper; /* keep mbits + 2 bits */
  uint64_t mask = (UINT64_C(1) << shift) - 1;
  uint64_t below = hi & mask, r = hi >> shift;
  if (below == mask && lo >= UINT64_MAX - 1) return EL_UNSURE; /* may carry */
  if ((r & 1) && below == 0 && lo <= 1) return EL_UNSURE;     /* may be a tie */
  /* r (mbits + 2 bits; the last one is the rounding bit) * 2^x. */
  int64_t x = flog2_pow10((int)q) + 1 - lz + shift;
  r = (r + 1) >> 1; /* no exact ties reach here: half rounds up */
  x++;
  if (r >> (mbits + 1)) {
    r >>= 1;
    x++;
  }
  *m = r;
  *e2 = x;
  return EL_OK;
}

/* Exact powers of ten: with w and 10^|q| both exact in the format, one
 * correctly rounded multiplication or division is the answer (Clinger). */
static const double pow10_f64[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float pow10_f32[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

bool ki_num_to_f64(const ki_num *num, double *out) {
  float unused;
  if (num->truncated) return slow_parse(num, false, out, &unused);
  if (num->w >> 53 == 0 && num->q >= -22 && num->q <= 22) {
    double d = (double)num->w;
    d = num->q < 0 ? d / pow10_f64[-num->q] : d * pow10_f64[num->q];
    *out = num->neg ? -d : d;
    return true;
  }
  if (num->w == 0 || num->q < -342) {
    *out = num->neg ? -0.0 : 0.0;
    return true;
  }
  if (num->q > 308) return false;
  uint64_t m;
  int64_t e2;
  if (eisel_lemire(num->w, num->q, 52, &m, &e2) != EL_OK)
    return slow_parse(num, false, out, &unused);
  int64_t be = e2 + 52 + 1023; /* m is 53 bits */
  if (be <= 0) return slow_parse(num, false, out, &unused);
  if (be >= 2047) return false;
  uint64_t bits = (uint64_t)be << 52 | (m & ((UINT64_C(1) << 52) - 1)) |
                  (uint64_t)num->neg << 63;
  memcpy(out, &bits, 8);
  return true;
}

bool ki_num_to_f32(const ki_num *num, float *out) {
  double unused;
  if (num->truncated) return slow_parse(num, true, &unused, out);
  if (num->w >> 24 == 0 && num->q >= -10 && num->q <= 10) {
    float f = (float)num->w;
    f = num->q < 0 ? f / pow10_f32[-num->q] : f * pow10_f32[num->q];
    *out = num->neg ? -f : f;
    return true;
  }
  if (num->w == 0 || num->q < -65) {
    *out = num->neg ? -0.0f : 0.0f;
    return true;
  }
  if (num->q > 38) return false;
  uint64_t m;
  int64_t e2;
  if (eisel_lemire(num->w, num->q, 23, &m, &e2) != EL_OK)
    return slow_parse(num, true, &unused, out);
  int64_t be = e2 + 23 + 127; /* m is 24 bits */
  if (be <= 0) return slow_parse(num, true, &unused, out);
  if (be >= 255) return false;
  uint32_t bits = (uint32_t)be << 23 | (uint32_t)(m & 0x7fffff) |
                  (uint32_t)num->neg << 31;
  memcpy(out, &bits, 4);
  return true;
}

bool ki_num_to_int(const ki_num *num, uint64_t pos_max, uint64_t neg_max,
                   uint64_t *bits) {
  if (!num->integer) return false;
  uint64_t mag;
  if (!num->truncated && num->q == 0) {
    mag = num->w;
  } else {
    /* 20 digits or more: only UINT64 values up to 2^64 - 1 fit. */
    const char *p = num->s + num->neg;
    const char *end = num->s + num->n;
    mag = 0;
    for (; p < end; p++)
      if (__builtin_mul_overflow(mag, 10, &mag) ||
          __builtin_add_overflow(mag, (uint64_t)(*p - '0'), &mag))
        return false;
  }
  if (mag > (num->neg ? neg_max : pos_max)) return false;
  *bits = num->neg ? (uint64_t)0 - mag : mag;
  return true;
}

static bool parse_whole(const char *s, size_t n, ki_num *num) {
  return s && ki_num_scan(s, n, num) == n && n > 0;
}

bool ki_num_parse_f32(const char *s, size_t n, float *out) {
  ki_num num;
  return parse_whole(s, n, &num) && ki_num_to_f32(&num, out);
}

bool ki_num_parse_f64(const char *s, size_t n, double *out) {
  ki_num num;
  return parse_whole(s, n, &num) && ki_num_to_f64(&num, out);
}
