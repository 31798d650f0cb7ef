/* Datatype names and sizes. */
#include <check.h>
#include <stdlib.h>

#include <kinfer/kinfer.h>

static const struct {
  kinfer_datatype t;
  const char *name;
  size_t size;
} table[] = {
    {KINFER_BOOL, "BOOL", 1},     {KINFER_UINT8, "UINT8", 1},
    {KINFER_UINT16, "UINT16", 2}, {KINFER_UINT32, "UINT32", 4},
    {KINFER_UINT64, "UINT64", 8}, {KINFER_INT8, "INT8", 1},
    {KINFER_INT16, "INT16", 2},   {KINFER_INT32, "INT32", 4},
    {KINFER_INT64, "INT64", 8},   {KINFER_FP16, "FP16", 2},
    {KINFER_FP32, "FP32", 4},     {KINFER_FP64, "FP64", 8},
    {KINFER_BYTES, "BYTES", 0},   {KINFER_BF16, "BF16", 2},
};

START_TEST(names_and_sizes) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    ck_assert_str_eq(kinfer_datatype_name(table[i].t), table[i].name);
    ck_assert_uint_eq(kinfer_datatype_size(table[i].t), table[i].size);
    kinfer_datatype t;
    ck_assert_int_eq(kinfer_datatype_from_name(table[i].name, &t), KINFER_OK);
    ck_assert_int_eq(t, table[i].t);
  }
}
END_TEST

START_TEST(bad_values) {
  kinfer_datatype t = KINFER_FP32;
  ck_assert_ptr_null(kinfer_datatype_name((kinfer_datatype)14));
  ck_assert_ptr_null(kinfer_datatype_name((kinfer_datatype)-1));
  ck_assert_uint_eq(kinfer_datatype_size((kinfer_datatype)99), 0);
  ck_assert_int_eq(kinfer_datatype_from_name("fp32", &t), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name("FP32 ", &t), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name("", &t), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name(NULL, &t), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_datatype_from_name("FP32", NULL), KINFER_EINVAL);
  ck_assert_int_eq(t, KINFER_FP32);
}
END_TEST

int main(void) {
  Suite *s = suite_create("datatype");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, names_and_sizes);
  tcase_add_test(tc, bad_values);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
