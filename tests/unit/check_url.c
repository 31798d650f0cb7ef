/* ki_url_parse: every rule of the base URL. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "session/session.h"
#include "check_main.h"

static ki_url u;
static kinfer_error err;

static int parse(const char *s) {
  memset(&err, 0, sizeof err);
  return ki_url_parse(s, &u, &err);
}

START_TEST(test_plain_http) {
  ck_assert_int_eq(parse("http://example.com"), KINFER_OK);
  ck_assert(!u.https);
  ck_assert_str_eq(u.host, "example.com");
  ck_assert_uint_eq(u.port, 80);
  ck_assert_str_eq(u.authority, "example.com");
  ck_assert_str_eq(u.path, "/");
  ck_assert_ptr_null(u.query);
  ki_url_free(&u);
}
END_TEST

START_TEST(test_https_default_port) {
  ck_assert_int_eq(parse("https://h"), KINFER_OK);
  ck_assert(u.https);
  ck_assert_uint_eq(u.port, 443);
  ki_url_free(&u);
}
END_TEST

START_TEST(test_scheme_case_insensitive) {
  ck_assert_int_eq(parse("HTTP://Host:8080/x"), KINFER_OK);
  ck_assert(!u.https);
  ck_assert_str_eq(u.host, "Host");
  ck_assert_uint_eq(u.port, 8080);
  ck_assert_str_eq(u.authority, "Host:8080");
  ki_url_free(&u);
  ck_assert_int_eq(parse("HtTpS://h"), KINFER_OK);
  ck_assert(u.https);
  ki_url_free(&u);
}
END_TEST

START_TEST(test_bad_scheme) {
  const char *bad[] = {"ftp://h", "h:80", "localhost", "", "http:/h",
                       "grpc://h:1", "httpx://h"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(parse(bad[i]), KINFER_EURL);
    ck_assert_int_eq(err.code, KINFER_EURL);
    ck_assert_str_eq(err.message,
                     "Base url should have 'http://' or 'https://' protocol");
  }
  ck_assert_int_eq(ki_url_parse(NULL, &u, &err), KINFER_EURL);
}
END_TEST

START_TEST(test_userinfo_rejected) {
  ck_assert_int_eq(parse("http://user:pw@host/"), KINFER_EURL);
  ck_assert_ptr_null(strstr(err.message, "pw"));
  ck_assert_ptr_null(u.host);
}
END_TEST

START_TEST(test_ipv6) {
  ck_assert_int_eq(parse("http://[::1]:8080/v2"), KINFER_OK);
  ck_assert_str_eq(u.host, "::1");
  ck_assert_uint_eq(u.port, 8080);
  ck_assert_str_eq(u.authority, "[::1]:8080");
  ck_assert_str_eq(u.path, "/v2");
  ki_url_free(&u);
  ck_assert_int_eq(parse("https://[fe80::1]"), KINFER_OK);
  ck_assert_str_eq(u.host, "fe80::1");
  ck_assert_uint_eq(u.port, 443);
  ki_url_free(&u);
  ck_assert_int_eq(parse("http://[::1"), KINFER_EURL);
  ck_assert_int_eq(parse("http://[::1]x"), KINFER_EURL);
  ck_assert_int_eq(parse("http://[]:80"), KINFER_EURL);
  ck_assert_int_eq(parse("http://[zz]:80"), KINFER_EURL);
}
END_TEST

START_TEST(test_ports) {
  ck_assert_int_eq(parse("http://h:1"), KINFER_OK);
  ck_assert_uint_eq(u.port, 1);
  ki_url_free(&u);
  ck_assert_int_eq(parse("http://h:65535"), KINFER_OK);
  ck_assert_uint_eq(u.port, 65535);
  ki_url_free(&u);
  const char *bad[] = {"http://h:0", "http://h:65536", "http://h:",
                       "http://h:-1", "http://h:8o", "http://h:123456",
                       "http://:80", "http:///path"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(parse(bad[i]) == KINFER_EURL, "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_path_query_fragment) {
  ck_assert_int_eq(parse("http://gw:80/a/b/?x=1&y=2#frag"), KINFER_OK);
  ck_assert_str_eq(u.path, "/a/b/");
  ck_assert_str_eq(u.query, "x=1&y=2");
  ki_url_free(&u);
  ck_assert_int_eq(parse("http://gw?q"), KINFER_OK);
  ck_assert_str_eq(u.path, "/");
  ck_assert_str_eq(u.query, "q");
  ki_url_free(&u);
  ck_assert_int_eq(parse("http://gw/p#only"), KINFER_OK);
  ck_assert_str_eq(u.path, "/p");
  ck_assert_ptr_null(u.query);
  ki_url_free(&u);
  ck_assert_int_eq(parse("http://gw/p?"), KINFER_OK);
  ck_assert_str_eq(u.query, "");
  ki_url_free(&u);
  ki_url_free(NULL);
}
END_TEST

START_TEST(test_control_chars_rejected) {
  const char *bad[] = {"http://h\r\nX-Evil: 1/", "http://h/a b", "http://h/\t",
                       "http://h:80/p?q=\n", "http://h/\x7f"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(parse(bad[i]), KINFER_EURL);
    ck_assert_ptr_null(u.host);
  }
}
END_TEST

static Suite *url_suite(void) {
  Suite *s = suite_create("url");
  TCase *tc = tcase_create("parse");
  tcase_add_test(tc, test_plain_http);
  tcase_add_test(tc, test_https_default_port);
  tcase_add_test(tc, test_scheme_case_insensitive);
  tcase_add_test(tc, test_bad_scheme);
  tcase_add_test(tc, test_userinfo_rejected);
  tcase_add_test(tc, test_ipv6);
  tcase_add_test(tc, test_ports);
  tcase_add_test(tc, test_path_query_fragment);
  tcase_add_test(tc, test_control_chars_rejected);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(url_suite)
