/* Parameter maps. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/protocol.h"

START_TEST(set_get_types) {
  kinfer_params *p = ki_params_new();
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(kinfer_params_set_string(p, "s", "hello"), KINFER_OK);
  ck_assert_int_eq(kinfer_params_set_int(p, "i", INT64_MIN), KINFER_OK);
  ck_assert_int_eq(kinfer_params_set_bool(p, "b", true), KINFER_OK);
  ck_assert_int_eq(kinfer_params_set_double(p, "d", 0.25), KINFER_OK);
  const char *s;
  int64_t i;
  bool b;
  double d;
  ck_assert_int_eq(kinfer_params_get_string(p, "s", &s), KINFER_OK);
  ck_assert_str_eq(s, "hello");
  ck_assert_int_eq(kinfer_params_get_int(p, "i", &i), KINFER_OK);
  ck_assert(i == INT64_MIN);
  ck_assert_int_eq(kinfer_params_get_bool(p, "b", &b), KINFER_OK);
  ck_assert(b);
  ck_assert_int_eq(kinfer_params_get_double(p, "d", &d), KINFER_OK);
  ck_assert(d == 0.25);
  /* Wrong type or missing key. */
  ck_assert_int_eq(kinfer_params_get_int(p, "s", &i), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_string(p, "i", &s), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_double(p, "nope", &d), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_bool(p, "b", NULL), KINFER_EINVAL);
  ki_params_free(p);
}
END_TEST

START_TEST(order_and_replace) {
  kinfer_params *p = ki_params_new();
  kinfer_params_set_int(p, "a", 1);
  kinfer_params_set_int(p, "b", 2);
  kinfer_params_set_int(p, "c", 3);
  ck_assert_int_eq(kinfer_params_set_string(p, "b", "two"), KINFER_OK);
  ck_assert_uint_eq(kinfer_params_count(p), 3);
  ck_assert_str_eq(kinfer_params_key(p, 0), "a");
  ck_assert_str_eq(kinfer_params_key(p, 1), "b");
  ck_assert_str_eq(kinfer_params_key(p, 2), "c");
  ck_assert_ptr_null(kinfer_params_key(p, 3));
  const char *s;
  ck_assert_int_eq(kinfer_params_get_string(p, "b", &s), KINFER_OK);
  ck_assert_str_eq(s, "two");
  /* Re-setting a string from its own current value. */
  ck_assert_int_eq(kinfer_params_set_string(p, "b", s), KINFER_OK);
  ck_assert_int_eq(kinfer_params_get_string(p, "b", &s), KINFER_OK);
  ck_assert_str_eq(s, "two");
  ck_assert_int_eq(kinfer_params_set_bool(p, "b", false), KINFER_OK);
  ck_assert_int_eq(kinfer_params_get_string(p, "b", &s), KINFER_EINVAL);
  for (int k = 0; k < 100; k++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", k);
    ck_assert_int_eq(kinfer_params_set_int(p, key, k), KINFER_OK);
  }
  ck_assert_uint_eq(kinfer_params_count(p), 103);
  ck_assert_str_eq(kinfer_params_key(p, 102), "k99");
  ki_params_free(p);
}
END_TEST

START_TEST(null_args) {
  kinfer_params *p = ki_params_new();
  ck_assert_int_eq(kinfer_params_set_string(NULL, "k", "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_string(p, NULL, "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_string(p, "k", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_int(NULL, "k", 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_bool(p, NULL, true), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_set_double(NULL, "k", 1), KINFER_EINVAL);
  int64_t i;
  ck_assert_int_eq(kinfer_params_get_int(NULL, "k", &i), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_params_get_int(p, NULL, &i), KINFER_EINVAL);
  ck_assert_uint_eq(kinfer_params_count(NULL), 0);
  ck_assert_ptr_null(kinfer_params_key(NULL, 0));
  ck_assert_uint_eq(kinfer_params_count(p), 0);
  ki_params_free(p);
  ki_params_free(NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("params");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, set_get_types);
  tcase_add_test(tc, order_and_replace);
  tcase_add_test(tc, null_args);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
