/* The retry policy: classification, backoff range and cap, budget and
 * deadline (R14), all without I/O. */
#include <check.h>
#include <stdlib.h>

#include "retry.h"
#include "check_main.h"

#define MS 1000000LL

START_TEST(test_classification) {
  ck_assert(ki_retry_allowed(KI_FAIL_CONNECT, false));
  ck_assert(ki_retry_allowed(KI_FAIL_NOT_SENT, false));
  ck_assert(ki_retry_allowed(KI_FAIL_REFUSED, false));
  ck_assert(!ki_retry_allowed(KI_FAIL_STALE_IDLE, false));
  ck_assert(ki_retry_allowed(KI_FAIL_STALE_IDLE, true));
  ck_assert(!ki_retry_allowed(KI_FAIL_LOST, false));
  ck_assert(ki_retry_allowed(KI_FAIL_LOST, true));
  ck_assert(!ki_retry_allowed(KI_FAIL_FATAL, false));
  ck_assert(!ki_retry_allowed(KI_FAIL_FATAL, true));
}
END_TEST

START_TEST(test_backoff_range) {
  uint64_t seed = 42;
  int64_t base = 50 * MS, cap = 2000 * MS;
  for (int retry = 1; retry <= 12; retry++) {
    int64_t d = base;
    for (int i = 1; i < retry; i++)
      d = d * 2 > cap ? cap : d * 2;
    int64_t lo = INT64_MAX, hi = 0;
    double sum = 0;
    const int n = 20000;
    for (int i = 0; i < n; i++) {
      int64_t v = ki_retry_backoff_ns(base, cap, retry, ki_retry_rand(&seed));
      ck_assert_int_ge(v, d / 2);
      ck_assert_int_le(v, d);
      ck_assert_int_le(v, cap);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += (double)v;
    }
    /* Uniform over [d/2, d]: spread over the range, mean near 3d/4. */
    ck_assert_int_lt(lo, d / 2 + d / 20);
    ck_assert_int_gt(hi, d - d / 20);
    double mean = sum / n, want = 0.75 * (double)d;
    ck_assert_msg(mean > want * 0.97 && mean < want * 1.03,
                  "retry %d: mean %.0f, want %.0f", retry, mean, want);
  }
}
END_TEST

START_TEST(test_backoff_edges) {
  ck_assert_int_eq(ki_retry_backoff_ns(0, 100, 3, 12345), 0);
  ck_assert_int_le(ki_retry_backoff_ns(10 * MS, 0, 50, UINT64_MAX),
                   10 * MS); /* no cap: never doubles into overflow */
  ck_assert_int_ge(ki_retry_backoff_ns(INT64_MAX / 2, INT64_MAX, 1000, 7), 0);
  /* extremes of the random value stay in range */
  ck_assert_int_eq(ki_retry_backoff_ns(100, 1000, 1, 0), 50);
  ck_assert_int_le(ki_retry_backoff_ns(100, 1000, 1, UINT64_MAX), 100);
  ck_assert_int_le(ki_retry_backoff_ns(100, 1000, 30, UINT64_MAX), 1000);
}
END_TEST

START_TEST(test_decide_budget) {
  ki_retry_policy pol = {.max_retries = 3, .base_ns = 50 * MS,
                         .cap_ns = 2000 * MS};
  int64_t delay = -1;
  for (int used = 0; used < 3; used++) {
    ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_CONNECT, false, used, 0, 0,
                                     99, &delay),
                     KI_RETRY_AFTER);
    ck_assert_int_ge(delay, 25 * MS);
  }
  ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_CONNECT, false, 3, 0, 0, 99,
                                   &delay),
                   KI_RETRY_BUDGET);
  ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_LOST, false, 0, 0, 0, 99,
                                   &delay),
                   KI_RETRY_NO);
  ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_LOST, true, 0, 0, 0, 99,
                                   &delay),
                   KI_RETRY_AFTER);
  pol.max_retries = 0;
  ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_REFUSED, false, 0, 0, 0, 99,
                                   &delay),
                   KI_RETRY_BUDGET);
}
END_TEST

START_TEST(test_decide_deadline) {
  ki_retry_policy pol = {.max_retries = 5, .base_ns = 100 * MS,
                         .cap_ns = 100 * MS};
  int64_t delay = -1, now = 1000 * MS;
  /* 40 ms left, the wait is at least 50 ms: stop now with the last error. */
  ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_CONNECT, false, 0, now,
                                   now + 40 * MS, 1, &delay),
                   KI_RETRY_DEADLINE);
  ck_assert_int_eq(ki_retry_decide(&pol, KI_FAIL_CONNECT, false, 0, now,
                                   now + 500 * MS, 1, &delay),
                   KI_RETRY_AFTER);
  ck_assert_int_le(now + delay, now + 500 * MS);
}
END_TEST

START_TEST(test_rand_varies) {
  uint64_t s = 0;
  uint64_t a = ki_retry_rand(&s), b = ki_retry_rand(&s);
  ck_assert(a != b);
}
END_TEST

START_TEST(test_retry_after_parsing) {
  const int64_t S = 1000000000;
  /* 2015-10-21 07:28:00 UTC */
  const int64_t now = 1445412480;
  ck_assert_int_eq(ki_retry_after_ns("1", now), S);
  ck_assert_int_eq(ki_retry_after_ns(" 120 ", now), 60 * S); /* capped */
  ck_assert_int_eq(ki_retry_after_ns("0", now), 0);
  ck_assert_int_eq(ki_retry_after_ns("99999999999999999999999", now), 60 * S);
  ck_assert_int_eq(ki_retry_after_ns("Wed, 21 Oct 2015 07:28:05 GMT", now), 5 * S);
  ck_assert_int_eq(ki_retry_after_ns("Wed, 21 Oct 2015 07:27:00 GMT", now), 0); /* past */
  ck_assert_int_eq(ki_retry_after_ns("Thu, 01 Jan 2099 00:00:00 GMT", now), 60 * S);
  ck_assert_int_eq(ki_retry_after_ns("Sun, 29 Feb 2032 12:00:00 GMT", 1961668800 - 2), 2 * S);
  const char *bad[] = {NULL, "", "-1", "1.5", "soon", "1 2", "0x10",
                       "Wed, 21 Oct 2015 07:28:00 UTC", "Wednesday, 21-Oct-15 07:28:00 GMT",
                       "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 21 Foo 2015 07:28:00 GMT",
                       "Wed, 21 Oct 2015 25:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMTx"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(ki_retry_after_ns(bad[i], now) == -1, "accepted '%s'", bad[i] ? bad[i] : "NULL");
}
END_TEST

START_TEST(test_decide_at_least) {
  ki_retry_policy pol = {.max_retries = 3, .base_ns = 10000000, .cap_ns = 100000000};
  int64_t d = 0;
  /* a Retry-After longer than the backoff becomes the wait */
  ck_assert_int_eq(ki_retry_decide_at_least(&pol, KI_FAIL_STATUS, false, 0, 0, 0, 7,
                                            1000000000, &d), KI_RETRY_AFTER);
  ck_assert_int_eq(d, 1000000000);
  /* a shorter one leaves the backoff as it is */
  ck_assert_int_eq(ki_retry_decide_at_least(&pol, KI_FAIL_STATUS, false, 0, 0, 0, 7, 1, &d),
                   KI_RETRY_AFTER);
  ck_assert(d >= 5000000 && d <= 10000000);
  /* never past the deadline, never beyond the cap on Retry-After */
  ck_assert_int_eq(ki_retry_decide_at_least(&pol, KI_FAIL_STATUS, false, 0, 0, 500000000, 7,
                                            1000000000, &d), KI_RETRY_DEADLINE);
  ck_assert_int_eq(ki_retry_decide_at_least(&pol, KI_FAIL_STATUS, false, 0, 0, 0, 7,
                                            INT64_MAX, &d), KI_RETRY_AFTER);
  ck_assert_int_eq(d, KI_RETRY_AFTER_MAX_NS);
  ck_assert_int_eq(ki_retry_decide_at_least(&pol, KI_FAIL_STATUS, false, 3, 0, 0, 7, 0, &d),
                   KI_RETRY_BUDGET);
  ck_assert(ki_retry_allowed(KI_FAIL_STATUS, false));
}
END_TEST

/* The retry budget: starts full, one token per retry, refills by ratio
 * per first attempt and per second, never above its cap. */
START_TEST(test_token_bucket) {
  const int64_t s = 1000000000;
  ki_retry_budget b;
  ki_retry_budget_init(&b, 0.5, 0, 0); /* cap max(10, 0) = 10 */
  for (int i = 0; i < 10; i++) ck_assert(ki_retry_budget_withdraw(&b, 0));
  ck_assert(!ki_retry_budget_withdraw(&b, 100 * s)); /* no time refill */
  ki_retry_budget_deposit(&b);
  ck_assert(!ki_retry_budget_withdraw(&b, 0)); /* half a token */
  ki_retry_budget_deposit(&b);
  ck_assert(ki_retry_budget_withdraw(&b, 0));
  ck_assert(!ki_retry_budget_withdraw(&b, 0));
  for (int i = 0; i < 1000; i++) ki_retry_budget_deposit(&b);
  int n = 0;
  while (ki_retry_budget_withdraw(&b, 0)) n++;
  ck_assert_int_eq(n, 10); /* capped */

  ki_retry_budget_init(&b, 0, 5, 0); /* cap 50, 5 a second */
  n = 0;
  while (ki_retry_budget_withdraw(&b, 0)) n++;
  ck_assert_int_eq(n, 50);
  ck_assert(!ki_retry_budget_withdraw(&b, s / 10)); /* 0.5 token */
  ck_assert(ki_retry_budget_withdraw(&b, s / 5));   /* 1 token by now */
  ck_assert(!ki_retry_budget_withdraw(&b, s / 5));
  ck_assert(!ki_retry_budget_withdraw(&b, s / 10)); /* clock going back: no gain */
  n = 0;
  while (ki_retry_budget_withdraw(&b, 3600 * s)) n++;
  ck_assert_int_eq(n, 50); /* an hour's refill is still the cap */

  ki_retry_budget_init(&b, -1, 0, 0); /* off */
  for (int i = 0; i < 100000; i++) ck_assert(ki_retry_budget_withdraw(&b, 0));
}
END_TEST

static Suite *retry_suite(void) {
  Suite *s = suite_create("retry");
  TCase *tc = tcase_create("policy");
  tcase_add_test(tc, test_classification);
  tcase_add_test(tc, test_backoff_range);
  tcase_add_test(tc, test_backoff_edges);
  tcase_add_test(tc, test_decide_budget);
  tcase_add_test(tc, test_decide_deadline);
  tcase_add_test(tc, test_rand_varies);
  tcase_add_test(tc, test_retry_after_parsing);
  tcase_add_test(tc, test_decide_at_least);
  tcase_add_test(tc, test_token_bucket);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(retry_suite)
