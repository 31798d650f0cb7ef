/*
 * The main() every Check test program shares: runs the file's suite and
 * exits with failure when any check failed.
 *
 *   static Suite *suite(void) { ... }
 *   KINFER_CHECK_MAIN(suite)
 */
#ifndef KINFER_CHECK_MAIN_H
#define KINFER_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define KINFER_CHECK_MAIN(make_suite)                                          \
  int main(void) {                                                             \
    SRunner *sr = srunner_create(make_suite());                                \
    srunner_run_all(sr, CK_NORMAL);                                            \
    int failed = srunner_ntests_failed(sr);                                    \
    srunner_free(sr);                                                          \
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;                               \
  }

#endif
