/*
 * Replays the committed fuzz corpora through the fuzz entry points, so the
 * normal test run (and its sanitizers) covers them without libFuzzer.
 */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_decode_one
#include "fuzz/fuzz_decode.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_roundtrip_one
#include "fuzz/fuzz_roundtrip.c"
#undef LLVMFuzzerTestOneInput

static size_t replay_dir(const char *dir,
                         int (*fn)(const uint8_t *, size_t)) {
  DIR *d = opendir(dir);
  ck_assert_msg(d != NULL, "cannot open %s", dir);
  struct dirent *de;
  size_t n = 0;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    ck_assert(snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    fn(buf, (size_t)len);
    free(buf);
    n++;
  }
  closedir(d);
  return n;
}

static void replay(const char *name, int (*fn)(const uint8_t *, size_t)) {
  const char *src = getenv("KINFER_SOURCE_DIR");
  char dir[4096];
  ck_assert(snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s",
                     src ? src : ".", name) < (int)sizeof dir);
  ck_assert_uint_gt(replay_dir(dir, fn), 0);
}

START_TEST(decode_corpus) { replay("decode", fuzz_decode_one); }
END_TEST

START_TEST(roundtrip_corpus) { replay("roundtrip", fuzz_roundtrip_one); }
END_TEST

int main(void) {
  Suite *s = suite_create("fuzz_replay");
  TCase *tc = tcase_create("corpus");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, decode_corpus);
  tcase_add_test(tc, roundtrip_corpus);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
