/* src/common.c: the growable buffer and the hot-path number formatter. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "check_main.h"

START_TEST(test_fmt_u64) {
  const uint64_t vals[] = {0, 1, 9, 10, 99, 100, 12345, 4294967295u, 4294967296u,
                           1000000000000000000u, UINT64_MAX};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    char got[21], want[32];
    size_t n = ki_fmt_u64(got, vals[i]);
    snprintf(want, sizeof want, "%" PRIu64, vals[i]);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(n, strlen(want));
  }
}
END_TEST

START_TEST(test_buf_append_keeps_nul) {
  ki_buf b = {0};
  ck_assert_int_eq(ki_buf_append(&b, "http://", 7), KINFER_OK);
  ck_assert_int_eq(ki_buf_append(&b, "h:1", 3), KINFER_OK);
  ck_assert_int_eq(ki_buf_append(&b, "", 0), KINFER_OK);
  ck_assert_uint_eq(b.len, 10);
  ck_assert_str_eq(b.data, "http://h:1");
  size_t len = 0;
  char *s = ki_buf_steal(&b, &len);
  ck_assert_uint_eq(len, 10);
  ck_assert_ptr_null(b.data);
  free(s);
}
END_TEST

static Suite *common_suite(void) {
  Suite *s = suite_create("common");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_fmt_u64);
  tcase_add_test(tc, test_buf_append_keeps_nul);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(common_suite)
