/* Config defaults, setters and copies. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"
#include "check_main.h"

START_TEST(test_defaults) {
  kinfer_config *c = kinfer_config_new();
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->protocol, "v1");
  ck_assert_int_eq(ki_config_protocol(c), KI_PROTO_V1);
  ck_assert_int_eq(c->retries, 3);
  ck_assert(!c->http2);
  ck_assert(c->timeout == 60.0);
  ck_assert(c->connect_timeout == 60.0 && c->read_timeout == 60.0 &&
            c->write_timeout == 60.0 && c->pool_timeout == 60.0);
  ck_assert(c->verify);
  ck_assert(!c->verbose);
  ck_assert_ptr_null(c->auth_header);
  ck_assert_ptr_null(c->unix_socket);
  ck_assert(!c->has_transport);
  kinfer_config_free(c);
  kinfer_config_free(NULL);
}
END_TEST

START_TEST(test_protocol) {
  kinfer_config *c = kinfer_config_new();
  ck_assert_int_eq(kinfer_config_set_protocol(c, "V2"), KINFER_OK);
  ck_assert_int_eq(ki_config_protocol(c), KI_PROTO_V2);
  ck_assert_int_eq(kinfer_config_set_protocol(c, "v3"), KINFER_OK);
  ck_assert_int_eq(ki_config_protocol(c), KI_PROTO_UNSUPPORTED);
  ck_assert_str_eq(c->protocol, "v3");
  ck_assert_int_eq(kinfer_config_set_protocol(c, ""), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_protocol(c, NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_protocol(NULL, "v1"), KINFER_EINVAL);
  ck_assert_str_eq(c->protocol, "v3");
  kinfer_config_free(c);
}
END_TEST

START_TEST(test_timeouts) {
  kinfer_config *c = kinfer_config_new();
  ck_assert_int_eq(kinfer_config_set_timeout(c, 2.5), KINFER_OK);
  ck_assert(c->timeout == 2.5 && c->read_timeout == 2.5 && c->pool_timeout == 2.5);
  ck_assert_int_eq(kinfer_config_set_timeout(c, KINFER_TIMEOUT_NONE), KINFER_OK);
  ck_assert(c->timeout < 0 && c->connect_timeout < 0);
  ck_assert_int_eq(kinfer_config_set_timeout(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeout(c, -5), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeout(c, NAN), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeout(c, INFINITY), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_timeouts(c, 1, 2, 3, 4), KINFER_OK);
  ck_assert(c->connect_timeout == 1 && c->read_timeout == 2 &&
            c->write_timeout == 3 && c->pool_timeout == 4);
  ck_assert(c->timeout < 0 && c->timeout_is_tuple);
  ck_assert_int_eq(kinfer_config_set_timeouts(c, 1, -3, 3, 4), KINFER_EINVAL);
  ck_assert(c->read_timeout == 2); /* unchanged on failure */
  kinfer_config_free(c);
}
END_TEST

START_TEST(test_retries_limits) {
  kinfer_config *c = kinfer_config_new();
  ck_assert_int_eq(kinfer_config_set_retries(c, 0), KINFER_OK);
  ck_assert_int_eq(c->retries, 0);
  ck_assert_int_eq(kinfer_config_set_retries(c, -1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retries(c, 101), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_http2(c, true), KINFER_OK);
  ck_assert(c->http2);
  ck_assert_int_eq(kinfer_config_set_max_response_bytes(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_response_bytes(c, 1000), KINFER_OK);
  ck_assert_uint_eq(c->max_response_bytes, 1000);
  ck_assert_int_eq(kinfer_config_set_max_header_bytes(c, 10), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_connections(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_max_connections(c, 4), KINFER_OK);
  ck_assert_int_eq(kinfer_config_set_max_concurrent_streams(c, 0), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_backoff(c, 0.2, 0.1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_backoff(c, -1, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_retry_backoff(c, 0.01, 1), KINFER_OK);
  ck_assert(c->backoff_base == 0.01 && c->backoff_cap == 1);
  kinfer_config_free(c);
}
END_TEST

START_TEST(test_auth) {
  kinfer_config *c = kinfer_config_new();
  /* RFC 7617's example credentials. */
  ck_assert_int_eq(kinfer_config_set_auth_basic(c, "Aladdin", "open sesame"), KINFER_OK);
  ck_assert_str_eq(c->auth_header, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  ck_assert_int_eq(kinfer_config_set_auth_basic(c, "a", ""), KINFER_OK);
  ck_assert_str_eq(c->auth_header, "Basic YTo=");
  ck_assert_int_eq(kinfer_config_set_auth_basic(c, "ab", "c"), KINFER_OK);
  ck_assert_str_eq(c->auth_header, "Basic YWI6Yw==");
  ck_assert_int_eq(kinfer_config_set_auth_basic(c, "a:b", "c"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_bearer(c, "tok\r\nX: y"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_bearer(c, ""), KINFER_EINVAL);
  ck_assert_str_eq(c->auth_header, "Basic YWI6Yw==");
  ck_assert_int_eq(kinfer_config_set_auth_bearer(c, "s3cret"), KINFER_OK);
  ck_assert_str_eq(c->auth_header, "Bearer s3cret");
  kinfer_config_free(c);
}
END_TEST

static int dummy_rt(void *ud, const kinfer_transport_request *req,
                    kinfer_transport_response *resp, kinfer_error *err) {
  return KINFER_OK;
}

START_TEST(test_copy_is_deep) {
  kinfer_config *c = kinfer_config_new();
  kinfer_config_set_protocol(c, "v2");
  kinfer_config_set_cert(c, "/c.pem", "/k.pem", "pw");
  kinfer_config_set_ca_file(c, "/ca.pem");
  kinfer_config_set_unix_socket(c, "/tmp/s.sock");
  kinfer_config_set_auth_bearer(c, "t");
  kinfer_transport t = {dummy_rt};
  ck_assert_int_eq(kinfer_config_set_transport(c, &t, c), KINFER_OK);
  const int codes[] = {502, 503};
  ck_assert_int_eq(kinfer_config_set_retry_on_status(c, codes, 2), KINFER_OK);
  kinfer_config_set_idempotent(c, true);
  kinfer_config *d = ki_config_copy(c);
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_ne(d->retry_status, c->retry_status);
  ck_assert_ptr_ne(d->protocol, c->protocol);
  kinfer_config_set_protocol(c, "v1");
  kinfer_config_set_unix_socket(c, NULL);
  kinfer_config_free(c);
  ck_assert_str_eq(d->protocol, "v2");
  ck_assert_str_eq(d->cert_file, "/c.pem");
  ck_assert_str_eq(d->key_file, "/k.pem");
  ck_assert_str_eq(d->key_password, "pw");
  ck_assert_str_eq(d->ca_file, "/ca.pem");
  ck_assert_str_eq(d->unix_socket, "/tmp/s.sock");
  ck_assert_str_eq(d->auth_header, "Bearer t");
  ck_assert(d->has_transport && d->transport.round_trip == dummy_rt);
  ck_assert(ki_config_retry_status(d, 503) && ki_config_retry_status(d, 502));
  ck_assert(!ki_config_retry_status(d, 500));
  ck_assert(d->idempotent);
  kinfer_config_free(d);
}
END_TEST

START_TEST(test_null_and_bad_args) {
  ck_assert_int_eq(kinfer_config_set_retries(NULL, 1), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_http2(NULL, true), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_cert(NULL, "a", "b", NULL), KINFER_EINVAL);
  kinfer_config *c = kinfer_config_new();
  ck_assert_int_eq(kinfer_config_set_cert(c, NULL, "b", NULL), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_ca_file(c, ""), KINFER_EINVAL);
  kinfer_transport t = {NULL};
  ck_assert_int_eq(kinfer_config_set_transport(c, &t, NULL), KINFER_EINVAL);
  char longpath[200];
  memset(longpath, 'a', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = 0;
  ck_assert_int_eq(kinfer_config_set_unix_socket(c, longpath), KINFER_EINVAL);
  kinfer_config_free(c);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_defaults);
  tcase_add_test(tc, test_protocol);
  tcase_add_test(tc, test_timeouts);
  tcase_add_test(tc, test_retries_limits);
  tcase_add_test(tc, test_auth);
  tcase_add_test(tc, test_copy_is_deep);
  tcase_add_test(tc, test_null_and_bad_args);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
