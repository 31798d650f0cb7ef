/* kinfer-bench's latency histogram against exactly computed percentiles. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "bench/hist.h"
#include "check_main.h"

static kb_hist H;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The exact percentile by the same rank rule, from sorted data. */
static uint64_t exact(const uint64_t *sorted, size_t n, double p) {
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

START_TEST(test_small_values_exact) {
  kb_hist_init(&H);
  for (uint64_t v = 1; v <= 100; v++) kb_hist_record(&H, v);
  ck_assert_uint_eq(H.count, 100);
  ck_assert_uint_eq(kb_hist_percentile(&H, 50), 50);
  ck_assert_uint_eq(kb_hist_percentile(&H, 90), 90);
  ck_assert_uint_eq(kb_hist_percentile(&H, 99), 99);
  ck_assert_uint_eq(kb_hist_percentile(&H, 100), 100);
  ck_assert_uint_eq(kb_hist_percentile(&H, 0), 1);
  ck_assert(fabs(kb_hist_mean(&H) - 50.5) < 1e-9);
}
END_TEST

START_TEST(test_relative_error_bound) {
  /* Every bucket: the highest equivalent value is within 1/128 of any value
   * in the bucket, and buckets tile the range without gaps. */
  uint64_t prev_high = 0;
  for (size_t i = 0; i < KB_HIST_BUCKETS; i++) {
    uint64_t hi = kb_hist_highest_equivalent(i);
    uint64_t lo = i == 0 ? 0 : prev_high + 1;
    ck_assert_uint_eq(kb_hist_index(lo), i);
    ck_assert_uint_eq(kb_hist_index(hi), i);
    if (lo >= 128) ck_assert((long double)(hi - lo) / (long double)lo <= 1.0L / 128);
    prev_high = hi;
    if (hi == UINT64_MAX) break;
  }
  ck_assert_uint_eq(prev_high, UINT64_MAX);
}
END_TEST

START_TEST(test_known_distribution) {
  enum { N = 100000 };
  uint64_t *v = malloc(N * sizeof *v);
  srand(7);
  kb_hist_init(&H);
  for (size_t i = 0; i < N; i++) {
    /* log-normal-ish latencies from 20 us to ~50 ms */
    double u = (double)rand() / RAND_MAX;
    v[i] = (uint64_t)(20000.0 * exp(u * u * 7.8));
    kb_hist_record(&H, v[i]);
  }
  qsort(v, N, sizeof *v, cmp_u64);
  const double ps[] = {50, 90, 99, 99.9, 100};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
    double want = (double)exact(v, N, ps[i]);
    double got = (double)kb_hist_percentile(&H, ps[i]);
    ck_assert_msg(got >= want && (got - want) / want <= 0.01, "p%g: got %g want %g", ps[i], got, want);
  }
  ck_assert_uint_eq(kb_hist_percentile(&H, 100), v[N - 1]);
  ck_assert_uint_eq(H.min, v[0]);
  free(v);
}
END_TEST

START_TEST(test_merge) {
  static kb_hist a, b;
  kb_hist_init(&a);
  kb_hist_init(&b);
  for (uint64_t i = 0; i < 1000; i++) kb_hist_record(&a, 1000 + i);
  for (uint64_t i = 0; i < 1000; i++) kb_hist_record(&b, 5000 + i);
  kb_hist_merge(&a, &b);
  ck_assert_uint_eq(a.count, 2000);
  ck_assert_uint_eq(a.min, 1000);
  ck_assert_uint_eq(a.max, 5999);
  uint64_t p50 = kb_hist_percentile(&a, 50);
  ck_assert(p50 >= 1999 && p50 <= 1999 + 1999 / 128);
  kb_hist_init(&b);
  ck_assert_uint_eq(kb_hist_percentile(&b, 50), 0);
  kb_hist_merge(&a, &b); /* merging an empty histogram changes nothing */
  ck_assert_uint_eq(a.min, 1000);
  kb_hist_record(&b, UINT64_MAX);
  ck_assert_uint_eq(kb_hist_percentile(&b, 99), UINT64_MAX);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hist");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_small_values_exact);
  tcase_add_test(tc, test_relative_error_bound);
  tcase_add_test(tc, test_known_distribution);
  tcase_add_test(tc, test_merge);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
