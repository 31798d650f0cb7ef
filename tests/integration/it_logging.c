/*
 * Verbose logging: one line per attempt with method, URL, status, protocol
 * and attempt number, sent to the configured sink; credentials never appear
 * in log lines or error messages (RELIABILITY.md S9).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

static test_server S;

static void start_server(void) { ck_assert_int_eq(test_server_start(&S, NULL), 0); }
static void stop_server(void) { ck_assert_int_eq(test_server_stop(&S), 0); }

typedef struct sink {
  pthread_mutex_t mu;
  char lines[64][1024];
  int n;
} sink;

static void collect(void *ud, int level, const char *line) {
  sink *s = ud;
  pthread_mutex_lock(&s->mu);
  if (s->n < 64) snprintf(s->lines[s->n++], sizeof s->lines[0], "%d|%s", level, line);
  pthread_mutex_unlock(&s->mu);
}

static bool any_line_has(sink *s, const char *needle) {
  for (int i = 0; i < s->n; i++)
    if (strstr(s->lines[i], needle)) return true;
  return false;
}

static kinfer_client *verbose_client(sink *s, bool http2, bool basic) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, http2);
  kinfer_config_set_verbose(cfg, true);
  kinfer_config_set_log(cfg, collect, s);
  if (basic)
    kinfer_config_set_auth_basic(cfg, "alice", "pa55-SECRET-word");
  else
    kinfer_config_set_auth_bearer(cfg, "tok-SECRET-123");
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

START_TEST(test_one_line_per_attempt_no_secrets) {
  sink s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  for (int basic = 0; basic < 2; basic++) {
    s.n = 0;
    kinfer_client *c = verbose_client(&s, _i, basic);
    bool live = false;
    kinfer_error err;
    ck_assert_int_eq(kinfer_is_server_live(c, S.url, NULL, 5, &live, &err), KINFER_OK);
    ck_assert(live);
    /* a call that fails with the server's message */
    const char *j = "{\"inputs\":[]}";
    kinfer_request *r = kinfer_request_from_json(j, strlen(j), &err);
    kinfer_headers *h = kinfer_headers_new();
    kinfer_headers_add(h, "X-Api-Key", "hdr-SECRET-456");
    kinfer_response *out = NULL;
    ck_assert_int_eq(kinfer_infer(c, S.url, r, "nope", h, NULL, false, 5, &out, &err), KINFER_EHTTP);
    ck_assert_ptr_null(strstr(err.message, "SECRET"));
    kinfer_headers_free(h);
    kinfer_request_free(r);
    kinfer_client_close(c);

    ck_assert_int_eq(s.n, 2); /* one attempt each */
    char want[160];
    snprintf(want, sizeof want, "GET %s/v2/health/live", S.url);
    ck_assert_msg(any_line_has(&s, want), "no line for the GET: %s", s.lines[0]);
    snprintf(want, sizeof want, "POST %s/v2/models/nope/infer", S.url);
    ck_assert_msg(any_line_has(&s, want), "no line for the POST: %s", s.lines[1]);
    ck_assert(any_line_has(&s, "200"));
    ck_assert(any_line_has(&s, "404"));
    ck_assert(any_line_has(&s, _i ? "h2" : "http/1.1"));
    for (int i = 0; i < s.n; i++) {
      ck_assert_msg(s.lines[i][0] == '0' + KINFER_LOG_INFO, "level: %s", s.lines[i]);
      ck_assert_msg(!strstr(s.lines[i], "SECRET"), "secret logged: %s", s.lines[i]);
      ck_assert_msg(!strstr(s.lines[i], "YWxpY2U6"), "basic credentials logged: %s", s.lines[i]);
    }
  }
  pthread_mutex_destroy(&s.mu);
}
END_TEST

START_TEST(test_quiet_by_default) {
  sink s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_log(cfg, collect, &s);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  bool live;
  ck_assert_int_eq(kinfer_is_server_live(c, S.url, NULL, 5, &live, NULL), KINFER_OK);
  kinfer_client_close(c);
  ck_assert_int_eq(s.n, 0);
  pthread_mutex_destroy(&s.mu);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("logging");
  TCase *tc = tcase_create("kinfer-server");
  tcase_add_unchecked_fixture(tc, start_server, stop_server);
  tcase_add_loop_test(tc, test_one_line_per_attempt_no_secrets, 0, 2);
  tcase_add_test(tc, test_quiet_by_default);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
