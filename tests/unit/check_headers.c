/* Header lists and error codes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "check_main.h"

START_TEST(test_add_get_order) {
  kinfer_headers *h = kinfer_headers_new();
  ck_assert_ptr_nonnull(h);
  ck_assert_uint_eq(kinfer_headers_count(h), 0);
  ck_assert_int_eq(kinfer_headers_add(h, "Content-Type", "application/json"), KINFER_OK);
  ck_assert_int_eq(kinfer_headers_add(h, "X-Trace", "a"), KINFER_OK);
  ck_assert_int_eq(kinfer_headers_add(h, "x-trace", "b"), KINFER_OK);
  ck_assert_uint_eq(kinfer_headers_count(h), 3);
  ck_assert_str_eq(kinfer_headers_get(h, "content-type"), "application/json");
  ck_assert_str_eq(kinfer_headers_get(h, "X-TRACE"), "a");
  ck_assert_ptr_null(kinfer_headers_get(h, "missing"));
  ck_assert_str_eq(kinfer_headers_name(h, 2), "x-trace");
  ck_assert_str_eq(kinfer_headers_value(h, 2), "b");
  ck_assert_ptr_null(kinfer_headers_name(h, 3));
  ck_assert_ptr_null(kinfer_headers_value(h, 99));
  kinfer_headers_clear(h);
  ck_assert_uint_eq(kinfer_headers_count(h), 0);
  ck_assert_ptr_null(kinfer_headers_get(h, "x-trace"));
  ck_assert_int_eq(kinfer_headers_add(h, "k", ""), KINFER_OK);
  ck_assert_str_eq(kinfer_headers_get(h, "K"), "");
  kinfer_headers_free(h);
  kinfer_headers_free(NULL);
}
END_TEST

START_TEST(test_rejects_injection) {
  kinfer_headers *h = kinfer_headers_new();
  ck_assert_int_eq(kinfer_headers_add(h, "X-A", "v\r\nEvil: 1"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "X-A", "v\n"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "X-A", "v\r"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "X\r\nA", "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "X A", "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, ":path", "/"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "", "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, NULL, "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "X-A", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(NULL, "X-A", "v"), KINFER_EINVAL);
  ck_assert_uint_eq(kinfer_headers_count(h), 0);
  ck_assert_uint_eq(kinfer_headers_count(NULL), 0);
  ck_assert_ptr_null(kinfer_headers_get(NULL, "a"));
  kinfer_headers_free(h);
}
END_TEST

START_TEST(test_many_headers) {
  kinfer_headers *h = kinfer_headers_new();
  char name[32], value[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "h%d", i);
    snprintf(value, sizeof value, "v%d", i);
    ck_assert_int_eq(kinfer_headers_add(h, name, value), KINFER_OK);
  }
  ck_assert_uint_eq(kinfer_headers_count(h), 1000);
  ck_assert_str_eq(kinfer_headers_get(h, "H999"), "v999");
  kinfer_headers_free(h);
}
END_TEST

START_TEST(test_errors) {
  const int codes[] = {KINFER_OK, KINFER_EINVAL, KINFER_EUNSUPPORTED, KINFER_EURL,
                       KINFER_EHTTP, KINFER_ECONNECT, KINFER_ETLS, KINFER_ETIMEOUT,
                       KINFER_EBADRESPONSE, KINFER_ENOMEM, KINFER_EUNKNOWN_OUTCOME,
                       KINFER_ECANCELLED, KINFER_EINPUT, KINFER_ELIMIT, KINFER_EREFUSED};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    ck_assert_int_eq(codes[i], -(int)i); /* codes are never renumbered */
    const char *s = kinfer_strerror(codes[i]);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_ne(s, "unknown error code");
    for (size_t j = 0; j < i; j++) ck_assert_str_ne(s, kinfer_strerror(codes[j]));
  }
  ck_assert_str_eq(kinfer_strerror(-1000), "unknown error code");
  ck_assert_str_eq(kinfer_strerror(5), "unknown error code");
  ck_assert(kinfer_error_is_retriable(KINFER_ECONNECT));
  ck_assert(kinfer_error_is_retriable(KINFER_EREFUSED));
  ck_assert(!kinfer_error_is_retriable(KINFER_EUNKNOWN_OUTCOME));
  ck_assert(!kinfer_error_is_retriable(KINFER_ETIMEOUT));
  ck_assert(!kinfer_error_is_retriable(KINFER_EHTTP));
  ck_assert(!kinfer_error_is_retriable(KINFER_OK));
  ck_assert_str_eq(kinfer_version(), KINFER_VERSION);

  kinfer_error e;
  ck_assert_int_eq(ki_error_set(&e, KINFER_EINPUT, "input %s", "x"), KINFER_EINPUT);
  ck_assert_int_eq(e.code, KINFER_EINPUT);
  ck_assert_str_eq(e.message, "input x");
  char big[2000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  ki_error_set(&e, KINFER_EINVAL, "%s", big);
  ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
  ck_assert_int_eq(ki_error_set(NULL, KINFER_ELIMIT, "x"), KINFER_ELIMIT);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("headers");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_add_get_order);
  tcase_add_test(tc, test_rejects_injection);
  tcase_add_test(tc, test_many_headers);
  tcase_add_test(tc, test_errors);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
