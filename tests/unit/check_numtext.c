/*
 * Number text (src/protocol/numtext.c): shortest printing, exact parsing,
 * integer limits.  The exhaustive float32 check is tests/unit/exhaustive_f32.c;
 * this suite samples it.
 */
#include <check.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/numtext.h"

static locale_t c_loc;

/* Significant digits of a number text (trailing zeros not counted). */
static int sig_digits(const char *s) {
  int n = 0, last = 0;
  bool started = false;
  for (; *s && *s != 'e'; s++) {
    if (*s < '0' || *s > '9') continue;
    if (*s != '0') started = true;
    if (!started) continue;
    n++;
    if (*s != '0') last = n;
  }
  return last;
}

/* The fewest "%.*e" digits that read back: the reference for shortness. */
static int ref_digits(double v, bool single) {
  char tmp[64];
  for (int p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
    if (single ? strtof_l(tmp, NULL, c_loc) == (float)v
               : strtod_l(tmp, NULL, c_loc) == v)
      return p;
  }
  return 99;
}

/* A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s) {
  if (*s == '-') s++;
  if (*s == '0') s++;
  else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
  else return false;
  if (*s == '.') {
    s++;
    if (!(*s >= '0' && *s <= '9')) return false;
    while (*s >= '0' && *s <= '9') s++;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!(*s >= '0' && *s <= '9')) return false;
    while (*s >= '0' && *s <= '9') s++;
  }
  return *s == '\0';
}

static void check_f32(uint32_t bits, bool shortest) {
  float f, back;
  memcpy(&f, &bits, 4);
  char buf[KI_NUM_BUFSIZE];
  size_t n = ki_num_fmt_f32(buf, f);
  if (!isfinite(f)) {
    ck_assert_uint_eq(n, 0);
    return;
  }
  ck_assert_msg(n > 0 && n <= KI_NUM_F32_MAXLEN && strlen(buf) == n, "%08x: %s",
                bits, buf);
  ck_assert_msg(json_number(buf), "%08x: %s", bits, buf);
  ck_assert_msg(ki_num_parse_f32(buf, n, &back) && memcmp(&back, &f, 4) == 0,
                "%08x -> %s", bits, buf);
  back = strtof_l(buf, NULL, c_loc);
  ck_assert_msg(memcmp(&back, &f, 4) == 0, "%08x -> %s (strtof)", bits, buf);
  if (shortest && f != 0)
    ck_assert_msg(sig_digits(buf) <= ref_digits(f, true), "%08x -> %s: not shortest",
                  bits, buf);
}

static void check_f64(uint64_t bits, bool shortest) {
  double d, back;
  memcpy(&d, &bits, 8);
  char buf[KI_NUM_BUFSIZE];
  size_t n = ki_num_fmt_f64(buf, d);
  if (!isfinite(d)) {
    ck_assert_uint_eq(n, 0);
    return;
  }
  ck_assert_msg(n > 0 && n <= KI_NUM_F64_MAXLEN && strlen(buf) == n, "%016llx: %s",
                (unsigned long long)bits, buf);
  ck_assert_msg(json_number(buf), "%s", buf);
  ck_assert_msg(ki_num_parse_f64(buf, n, &back) && memcmp(&back, &d, 8) == 0,
                "%016llx -> %s", (unsigned long long)bits, buf);
  back = strtod_l(buf, NULL, c_loc);
  ck_assert_msg(memcmp(&back, &d, 8) == 0, "%016llx -> %s (strtod)",
                (unsigned long long)bits, buf);
  if (shortest && d != 0)
    ck_assert_msg(sig_digits(buf) <= ref_digits(d, false),
                  "%016llx -> %s: not shortest", (unsigned long long)bits, buf);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* ---- float32 ---------------------------------------------------------------- */

START_TEST(f32_sampled_patterns) {
  /* One pattern in 4099 (about a million), shortness checked on one in 256
   * of those. */
  uint64_t k = 0;
  for (uint64_t b = 0; b < (UINT64_C(1) << 32); b += 4099, k++)
    check_f32((uint32_t)b, k % 256 == 0);
}
END_TEST

START_TEST(f32_boundaries) {
  /* Every power of two, both sides of every binade boundary, the subnormal
   * range's ends, and the extremes, with both signs. */
  for (uint32_t sign = 0; sign < 2; sign++) {
    for (uint32_t e = 0; e < 255; e++) {
      uint32_t base = sign << 31 | e << 23;
      check_f32(base, true);
      check_f32(base + 1, true);
      check_f32(base | 0x7fffff, true);
      check_f32(base | 0x7ffffe, true);
    }
    for (uint32_t m = 1; m < 4096; m++) {
      check_f32(sign << 31 | m, true);            /* smallest subnormals */
      check_f32(sign << 31 | (0x800000 - m), true); /* largest subnormals */
    }
  }
  check_f32(0x7f800000, false); /* Inf */
  check_f32(0x7fc00000, false); /* NaN */
}
END_TEST

static void f32_text(float v, const char *want) {
  char buf[KI_NUM_BUFSIZE];
  size_t n = ki_num_fmt_f32(buf, v);
  ck_assert_msg(strcmp(buf, want) == 0, "%.9g printed as %s, want %s", (double)v,
                buf, want);
  ck_assert_uint_eq(n, strlen(want));
}

static void f64_text(double v, const char *want) {
  char buf[KI_NUM_BUFSIZE];
  size_t n = ki_num_fmt_f64(buf, v);
  ck_assert_msg(strcmp(buf, want) == 0, "%.17g printed as %s, want %s", v, buf,
                want);
  ck_assert_uint_eq(n, strlen(want));
}

START_TEST(known_texts) {
  f32_text(0.1f, "0.1");
  f32_text(0.3f, "0.3");
  f32_text(1.0f / 3.0f, "0.33333334");
  f32_text(2.0f / 3.0f, "0.6666667");
  f32_text(FLT_MAX, "3.4028235e+38");
  f32_text(-FLT_MAX, "-3.4028235e+38");
  f32_text(FLT_MIN, "1.1754944e-38");
  f32_text(1e-45f, "1e-45");
  f32_text(16777216.0f, "16777216");
  f32_text(16777217.0f, "16777216");
  f32_text(1e15f, "1e+15");
  f32_text(1e14f, "100000000000000");
  f32_text(123456.79f, "123456.79");
  f32_text(0.000001f, "0.000001");
  f32_text(1e-7f, "1e-7");
  f32_text(-0.0f, "-0.0");
  f32_text(0.0f, "0");
  f32_text(7.0e-10f, "7e-10");
  f32_text(9.999999e-7f, "9.999999e-7");
  f32_text(-1.2345678e-6f, "-0.0000012345678");
  f32_text(33554450.0f, "33554450");

  f64_text(0.1, "0.1");
  f64_text(0.3, "0.3");
  f64_text(0.1 + 0.2, "0.30000000000000004");
  f64_text(1.0 / 3.0, "0.3333333333333333");
  f64_text(1e23, "1e+23");
  f64_text(DBL_MAX, "1.7976931348623157e+308");
  f64_text(DBL_MIN, "2.2250738585072014e-308");
  f64_text(5e-324, "5e-324");
  f64_text(-5e-324, "-5e-324");
  f64_text(9007199254740992.0, "9.007199254740992e+15");
  f64_text(9007199254740991.0, "9.007199254740991e+15");
  f64_text(999999999999999.0, "999999999999999");
  f64_text(123456789012345.0, "123456789012345");
  f64_text(1e15, "1e+15");
  f64_text(1e21, "1e+21");
  f64_text(1e22, "1e+22");
  f64_text(5e-7, "5e-7");
  f64_text(0.000001, "0.000001");
  f64_text(1.5, "1.5");
  f64_text(-2.5e-5, "-0.000025");
  f64_text(2.2250738585072011e-308, "2.225073858507201e-308");
  f64_text(4.9406564584124654e-324, "5e-324");
  f64_text(1.7976931348623157e308 / 2, "8.988465674311579e+307");
  f64_text(-0.0, "-0.0");
  f64_text(100.0, "100");
  f64_text(12345678.875, "12345678.875");
  f64_text(1.2345678901234567e-6, "0.0000012345678901234567");
}
END_TEST

/* ---- float64 ---------------------------------------------------------------- */

START_TEST(f64_random) {
  /* 1e6 random bit patterns; shortness checked on one in 512. */
  for (int i = 0; i < 1000000; i++) check_f64(rng(), i % 512 == 0);
  /* Random values of moderate size (the usual tensor contents). */
  for (int i = 0; i < 200000; i++) {
    double d = (double)(rng() >> 11) / (double)(UINT64_C(1) << 53) *
               pow(10, (int)(rng() % 40) - 20);
    uint64_t bits;
    memcpy(&bits, &d, 8);
    check_f64(bits, i % 512 == 0);
  }
}
END_TEST

START_TEST(f64_edges) {
  double v[] = {DBL_MAX, -DBL_MAX, DBL_MIN, 5e-324, 2.2250738585072009e-308,
                9007199254740993.0, 9007199254740991.0, 9007199254740992.0,
                9007199254740994.0, 0.1, 0.2, 0.3, 1e23, 1e22, 1e-7, 1e15,
                1e16, 1e21, 1e308, 1e-308, 123456789.123, 0.5, 1.0, 2.0,
                4503599627370496.5, 4503599627370497.0};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    uint64_t bits;
    memcpy(&bits, &v[i], 8);
    check_f64(bits, true);
    check_f64(bits ^ UINT64_C(1) << 63, true);
  }
  for (uint64_t e = 0; e < 2047; e++) {
    check_f64(e << 52, true);
    check_f64(e << 52 | 1, true);
    check_f64(e << 52 | ((UINT64_C(1) << 52) - 1), true);
  }
}
END_TEST

/* ---- parsing ------------------------------------------------------------------ */

static void parses64(const char *s, double want) {
  double d;
  ck_assert_msg(ki_num_parse_f64(s, strlen(s), &d), "%s refused", s);
  ck_assert_msg(memcmp(&d, &want, 8) == 0, "%s read as %.17g, want %.17g", s, d,
                want);
}

static void parses32(const char *s, float want) {
  float f;
  ck_assert_msg(ki_num_parse_f32(s, strlen(s), &f), "%s refused", s);
  ck_assert_msg(memcmp(&f, &want, 4) == 0, "%s read as %.9g, want %.9g", s,
                (double)f, (double)want);
}

START_TEST(parse_hard_cases) {
  parses64("2.2250738585072011e-308", 2.2250738585072011e-308);
  parses64("2.2250738585072012e-308", 2.2250738585072012e-308);
  parses64("9007199254740993", 9007199254740992.0);  /* tie, to even */
  parses64("9007199254740995", 9007199254740996.0);  /* tie, to even */
  parses64("9007199254740993.0000000000000001", 9007199254740994.0);
  parses64("1e23", 1e23);
  parses64("8.98846567431158e307", 8.98846567431158e307);
  parses64("1.7976931348623157e308", DBL_MAX);
  parses64("4.9406564584124654e-324", 5e-324);
  parses64("2.4703282292062328e-324", 5e-324); /* just above half: rounds up */
  parses64("2.4703282292062327e-324", 0.0);    /* just below half */
  parses64("1e-400", 0.0);                     /* underflow: zero */
  parses64("-1e-400", -0.0);
  parses64("0e999999", 0.0);
  parses64("-0", -0.0);
  parses64("-0.0", -0.0);
  parses64("0.1", 0.1);
  parses64("123456789012345678901234567890", 1.2345678901234568e29);
  parses64("0.000000000000000000000000000000000000000001", 1e-42);
  parses64("1E+2", 100.0);
  parses64("1e-2", 0.01);
  parses64("17976931348623157e292", DBL_MAX);
  parses64("7.2057594037927933e16", 72057594037927936.0);
  parses32("16777217", 16777216.0f);          /* tie, to even */
  parses32("16777219", 16777220.0f);
  parses32("3.4028235e38", FLT_MAX);
  parses32("3.4028235677973366e38", FLT_MAX); /* below the overflow midpoint */
  parses32("1e-46", 0.0f);
  parses32("7.0064923e-46", 0.0f);            /* half the smallest: to even 0 */
  parses32("7.0064924e-46", 1e-45f);
  parses32("1.17549435e-38", FLT_MIN);
  parses32("0.1", 0.1f);
  parses32("1.00000005960464477539062500001", 1.0000001f);
  parses32("1.000000059604644775390625", 1.0f); /* exact tie: to even */
  float f;
  double d;
  ck_assert(!ki_num_parse_f32("3.4028236e38", 12, &f));
  ck_assert(!ki_num_parse_f32("1e39", 4, &f));
  ck_assert(!ki_num_parse_f64("1e400", 5, &d));
  ck_assert(!ki_num_parse_f64("-1e309", 6, &d));
  ck_assert(!ki_num_parse_f64("1.8e308", 7, &d));
}
END_TEST

START_TEST(parse_refuses) {
  const char *bad[] = {"",    "01",  "1.",  ".5",  "+1",  "-",   "1e",  "1e+",
                       "NaN", "nan", "Infinity", "-Infinity", "inf", "0x10",
                       " 1",  "1 ",  "1,",  "--1", "1.e5", "1e5.5", "00",
                       "-01", "1.5e", "e5", "1ee5", "\xff", "1\0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    float f;
    double d;
    size_t n = strlen(bad[i]) + (i == sizeof bad / sizeof bad[0] - 1);
    ck_assert_msg(!ki_num_parse_f64(bad[i], n, &d), "'%s' accepted", bad[i]);
    ck_assert_msg(!ki_num_parse_f32(bad[i], n, &f), "'%s' accepted", bad[i]);
  }
}
END_TEST

START_TEST(parse_random_decimals) {
  /* Random digit strings and exponents against the C library. */
  char s[64];
  for (int i = 0; i < 100000; i++) {
    int nd = 1 + (int)(rng() % 25);
    int k = 0;
    if (rng() & 1) s[k++] = '-';
    s[k++] = (char)('1' + rng() % 9);
    int point = (int)(rng() % (unsigned)nd);
    for (int j = 1; j < nd; j++) {
      if (j == point) s[k++] = '.';
      s[k++] = (char)('0' + rng() % 10);
    }
    k += snprintf(s + k, sizeof s - (size_t)k, "e%d", (int)(rng() % 700) - 360);
    double d, want = strtod_l(s, NULL, c_loc);
    float f, wantf = strtof_l(s, NULL, c_loc);
    bool ok = ki_num_parse_f64(s, (size_t)k, &d);
    ck_assert_msg(isfinite(want) ? ok && memcmp(&d, &want, 8) == 0 : !ok,
                  "%s: %.17g, want %.17g", s, d, want);
    ok = ki_num_parse_f32(s, (size_t)k, &f);
    ck_assert_msg(isfinite(wantf) ? ok && memcmp(&f, &wantf, 4) == 0 : !ok,
                  "%s: %.9g, want %.9g", s, (double)f, (double)wantf);
  }
}
END_TEST

/* ---- integers ------------------------------------------------------------------ */

static void int_text(int64_t v, const char *want) {
  char buf[KI_NUM_BUFSIZE];
  size_t n = ki_num_fmt_i64(buf, v);
  ck_assert_str_eq(buf, want);
  ck_assert_uint_eq(n, strlen(want));
}

static bool to_int(const char *s, uint64_t pos, uint64_t neg, uint64_t *bits) {
  ki_num num;
  size_t n = strlen(s);
  return ki_num_scan(s, n, &num) == n && ki_num_to_int(&num, pos, neg, bits);
}

START_TEST(integers) {
  int_text(0, "0");
  int_text(-1, "-1");
  int_text(9, "9");
  int_text(10, "10");
  int_text(99, "99");
  int_text(100, "100");
  int_text(INT64_MAX, "9223372036854775807");
  int_text(INT64_MIN, "-9223372036854775808");
  char buf[KI_NUM_BUFSIZE];
  ki_num_fmt_u64(buf, UINT64_MAX);
  ck_assert_str_eq(buf, "18446744073709551615");
  uint64_t p = 1;
  for (int k = 0; k < 20; k++, p *= 10) {
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)p);
    ki_num_fmt_u64(buf, p);
    ck_assert_str_eq(buf, want);
    snprintf(want, sizeof want, "%llu", (unsigned long long)(p - 1));
    ki_num_fmt_u64(buf, p - 1);
    ck_assert_str_eq(buf, want);
  }
  for (int i = 0; i < 100000; i++) {
    int64_t v = (int64_t)(rng() >> (rng() % 64));
    if (i & 1) v = -v;
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)v);
    int_text(v, want);
  }

  /* Limits per type: the last value in, the first one out. */
  static const struct {
    uint64_t pos, neg;
    const char *in_hi, *out_hi, *in_lo, *out_lo;
  } lim[] = {
      {UINT8_MAX, 0, "255", "256", "0", "-1"},
      {UINT16_MAX, 0, "65535", "65536", "-0", "-1"},
      {UINT32_MAX, 0, "4294967295", "4294967296", "0", "-1"},
      {UINT64_MAX, 0, "18446744073709551615", "18446744073709551616", "0", "-1"},
      {INT8_MAX, 128, "127", "128", "-128", "-129"},
      {INT16_MAX, 32768, "32767", "32768", "-32768", "-32769"},
      {INT32_MAX, 2147483648u, "2147483647", "2147483648", "-2147483648",
       "-2147483649"},
      {INT64_MAX, UINT64_C(9223372036854775808), "9223372036854775807",
       "9223372036854775808", "-9223372036854775808", "-9223372036854775809"},
  };
  for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
    uint64_t bits;
    ck_assert_msg(to_int(lim[i].in_hi, lim[i].pos, lim[i].neg, &bits), "%s",
                  lim[i].in_hi);
    ck_assert(bits == lim[i].pos);
    ck_assert_msg(!to_int(lim[i].out_hi, lim[i].pos, lim[i].neg, &bits), "%s",
                  lim[i].out_hi);
    ck_assert_msg(to_int(lim[i].in_lo, lim[i].pos, lim[i].neg, &bits), "%s",
                  lim[i].in_lo);
    ck_assert(bits == (uint64_t)0 - lim[i].neg);
    ck_assert_msg(!to_int(lim[i].out_lo, lim[i].pos, lim[i].neg, &bits), "%s",
                  lim[i].out_lo);
  }
  uint64_t bits;
  ck_assert(!to_int("99999999999999999999999", UINT64_MAX, 0, &bits));
  ck_assert(!to_int("1.0", UINT64_MAX, 0, &bits));
  ck_assert(!to_int("1e2", UINT64_MAX, 0, &bits));
  ck_assert(to_int("10000000000000000000", UINT64_MAX, 0, &bits) &&
            bits == UINT64_C(10000000000000000000));
}
END_TEST

START_TEST(locale_independent) {
  const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", NULL};
  const char *got = NULL;
  for (int i = 0; names[i] && !got; i++) got = setlocale(LC_ALL, names[i]);
  char buf[KI_NUM_BUFSIZE];
  ki_num_fmt_f64(buf, 2.5);
  ck_assert_str_eq(buf, "2.5");
  double d;
  /* 17+ digits take the C library path: it must not follow the locale. */
  ck_assert(ki_num_parse_f64("2.50000000000000000001", 22, &d) && d == 2.5);
  setlocale(LC_ALL, "C");
}
END_TEST

int main(void) {
  c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  Suite *s = suite_create("numtext");
  TCase *tc = tcase_create("numtext");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, f32_sampled_patterns);
  tcase_add_test(tc, f32_boundaries);
  tcase_add_test(tc, known_texts);
  tcase_add_test(tc, f64_random);
  tcase_add_test(tc, f64_edges);
  tcase_add_test(tc, parse_hard_cases);
  tcase_add_test(tc, parse_refuses);
  tcase_add_test(tc, parse_random_decimals);
  tcase_add_test(tc, integers);
  tcase_add_test(tc, locale_independent);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  freelocale(c_loc);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
