/*
 * TLS end to end against kinfer-server: trust anchors (CA file, hashed CA
 * directory, a caller's SSL_CTX), certificate failures that must be
 * KINFER_ETLS at once and never retried (RELIABILITY.md R2), mutual TLS
 * with an encrypted client key, and session resumption across
 * reconnects.  Every certificate is made here at start-up, in a temporary
 * directory removed at exit.  Tests with a loop run over HTTP/2 (_i == 0,
 * ALPN h2) and HTTP/1.1 (_i == 1).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

#define KEY_PASSWORD "correct horse"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- certificates --------------------------------------------------------- */

static char dir[64];
static char paths[32][192];
static int npaths;

/* Paths of the files made by make_certs(). */
static const char *ca_pem, *ca_dir, *server_pem, *server_key, *wrong_pem,
    *wrong_key, *expired_pem, *expired_key, *rogue_pem, *rogue_key,
    *client_ca_pem, *client_pem, *client_key;

static const char *file_path(const char *name) {
  ck_assert_int_lt(npaths, 32);
  int n = snprintf(paths[npaths], sizeof paths[0], "%s/%s", dir, name);
  ck_assert(n > 0 && (size_t)n < sizeof paths[0]);
  return paths[npaths++];
}

static void remove_certs(void) {
  for (int i = npaths - 1; i >= 0; i--)
    if (unlink(paths[i]) != 0) rmdir(paths[i]);
  rmdir(dir);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  ck_assert_ptr_nonnull(ext);
  ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

/* A certificate for |key| named |cn|, valid from |from| to |to| seconds
 * from now, signed by |issuer|/|issuer_key| (self-signed when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san,
                       const char *eku, bool ca, X509 *issuer,
                       EVP_PKEY *issuer_key, long from, long to) {
  static long serial = 1000;
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"kinfer tests", -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509 *signer = issuer ? issuer : x;
  add_ext(x, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  add_ext(x, signer, NID_key_usage,
          ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (eku) add_ext(x, signer, NID_ext_key_usage, eku);
  if (san) add_ext(x, signer, NID_subject_alt_name, san);
  ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
  return x;
}

static void write_cert(const char *path, X509 *x) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(PEM_write_X509(f, x), 1);
  ck_assert_int_eq(fclose(f), 0);
}

static void write_key(const char *path, EVP_PKEY *k, const char *password) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  int ok = password ? PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(),
                                           (const unsigned char *)password,
                                           (int)strlen(password), NULL, NULL)
                    : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  ck_assert_int_eq(ok, 1);
  ck_assert_int_eq(fclose(f), 0);
}

/* A server certificate (key and chain file) signed by |ca|. */
static void make_server(const char *pem, const char *keyfile, const char *san, X509 *ca,
                        EVP_PKEY *ca_key, long from, long to) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  ck_assert_ptr_nonnull(k);
  X509 *x = make_cert(k, "kinfer test server", san, "serverAuth", false, ca, ca_key, from, to);
  write_cert(pem, x);
  write_key(keyfile, k, NULL);
  X509_free(x);
  EVP_PKEY_free(k);
}

static void make_certs(void) {
  static bool done;
  if (done) return;
  done = true;
  snprintf(dir, sizeof dir, "/tmp/kinfer-tls-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  atexit(remove_certs);
  const long day = 86400;
  const char *good_san = "IP:127.0.0.1,DNS:localhost";

  EVP_PKEY *ca_k = EVP_EC_gen("P-256");
  X509 *ca = make_cert(ca_k, "kinfer test CA", NULL, NULL, true, NULL, NULL, -day, 30 * day);
  write_cert(ca_pem = file_path("ca.pem"), ca);

  /* The same CA as an OpenSSL hashed directory (what `openssl rehash`
   * makes): the file is named after the subject name's hash. */
  ca_dir = file_path("cadir");
  ck_assert_int_eq(mkdir(ca_dir, 0700), 0);
  char hashed[48];
  snprintf(hashed, sizeof hashed, "cadir/%08lx.0", X509_NAME_hash_ex(X509_get_subject_name(ca),
                                                                       NULL, NULL, NULL));
  write_cert(file_path(hashed), ca);
  /* file_path pushed the file after the directory: removal runs backwards. */

  make_server(server_pem = file_path("server.pem"), server_key = file_path("server.key"),
              good_san, ca, ca_k, -day, 30 * day);
  make_server(wrong_pem = file_path("wrong.pem"), wrong_key = file_path("wrong.key"),
              "DNS:other.example", ca, ca_k, -day, 30 * day);
  make_server(expired_pem = file_path("expired.pem"), expired_key = file_path("expired.key"),
              good_san, ca, ca_k, -30 * day, -day);

  EVP_PKEY *rogue_k = EVP_EC_gen("P-256");
  X509 *rogue = make_cert(rogue_k, "kinfer untrusted CA", NULL, NULL, true, NULL, NULL, -day,
                          30 * day);
  make_server(rogue_pem = file_path("rogue.pem"), rogue_key = file_path("rogue.key"), good_san,
              rogue, rogue_k, -day, 30 * day);

  EVP_PKEY *cca_k = EVP_EC_gen("P-256");
  X509 *cca = make_cert(cca_k, "kinfer client CA", NULL, NULL, true, NULL, NULL, -day, 30 * day);
  write_cert(client_ca_pem = file_path("client-ca.pem"), cca);
  EVP_PKEY *ck = EVP_EC_gen("P-256");
  X509 *cc = make_cert(ck, "kinfer test client", NULL, "clientAuth", false, cca, cca_k, -day,
                       30 * day);
  write_cert(client_pem = file_path("client.pem"), cc);
  write_key(client_key = file_path("client.key"), ck, KEY_PASSWORD);

  X509_free(cc);
  EVP_PKEY_free(ck);
  X509_free(cca);
  EVP_PKEY_free(cca_k);
  X509_free(rogue);
  EVP_PKEY_free(rogue_k);
  X509_free(ca);
  EVP_PKEY_free(ca_k);
}

/* ---- kinfer-server over TLS -------------------------------------------------- */

static void start(test_server *s, const char *pem, const char *key, const char *extra1,
                  const char *extra2) {
  make_certs();
  const char *args[] = {"--tls-cert", pem, "--tls-key", key, extra1, extra2, NULL};
  ck_assert_int_eq(test_server_start(s, args), 0);
  ck_assert_msg(strncmp(s->url, "https://", 8) == 0, "%s", s->url);
}

/* GET /_executions over TLS (the harness's reader speaks cleartext): how
 * many times a model ran.  |mtls|: present the client certificate. */
static long executions(const test_server *s, bool mtls) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  ck_assert_ptr_nonnull(ctx);
  if (mtls) {
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)KEY_PASSWORD);
    ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, client_pem, SSL_FILETYPE_PEM), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, client_key, SSL_FILETYPE_PEM), 1);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ck_assert_int_eq(SSL_connect(ssl), 1);
  const char req[] = "GET /_executions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ck_assert_int_eq(SSL_write(ssl, req, (int)sizeof req - 1), (int)sizeof req - 1);
  char buf[4096];
  int n = 0;
  for (int r; n + 1 < (int)sizeof buf && (r = SSL_read(ssl, buf + n, (int)sizeof buf - 1 - n)) > 0;)
    n += r;
  buf[n] = '\0';
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  const char *e = strstr(buf, "\"executions\":");
  ck_assert_msg(e != NULL, "no execution count in: %s", buf);
  return strtol(e + 13, NULL, 10);
}

/* ---- the client ------------------------------------------------------------------ */

/* Debug lines about TLS handshakes, counted (the log sink runs on the
 * library's I/O thread). */
typedef struct logcap {
  pthread_mutex_t mu;
  int full, resumed;
  char resumed_line[256];
} logcap;

static void on_log(void *ud, int level, const char *line) {
  logcap *l = ud;
  if (level != KINFER_LOG_DEBUG) return;
  pthread_mutex_lock(&l->mu);
  if (strstr(line, "TLS session resumed")) {
    l->resumed++;
    snprintf(l->resumed_line, sizeof l->resumed_line, "%s", line);
  } else if (strstr(line, "TLS full handshake")) {
    l->full++;
  }
  pthread_mutex_unlock(&l->mu);
}

typedef struct topts {
  bool http1;
  const char *ca_file, *ca_path;
  bool no_verify;
  const char *cert, *key, *password;
  SSL_CTX *ssl_ctx;
  int retries;
  double backoff;
  logcap *log;
} topts;

static kinfer_client *make_client(topts o) {
  kinfer_config *cfg = kinfer_config_new();
  ck_assert_ptr_nonnull(cfg);
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, !o.http1);
  kinfer_config_set_retries(cfg, o.retries);
  kinfer_config_set_retry_backoff(cfg, o.backoff > 0 ? o.backoff : 0.01,
                                  o.backoff > 0 ? 4 * o.backoff : 0.1);
  kinfer_config_set_timeout(cfg, 10);
  if (o.ca_file) ck_assert_int_eq(kinfer_config_set_ca_file(cfg, o.ca_file), KINFER_OK);
  if (o.ca_path) ck_assert_int_eq(kinfer_config_set_ca_path(cfg, o.ca_path), KINFER_OK);
  if (o.no_verify) ck_assert_int_eq(kinfer_config_set_verify(cfg, false), KINFER_OK);
  if (o.cert)
    ck_assert_int_eq(kinfer_config_set_cert(cfg, o.cert, o.key, o.password), KINFER_OK);
  if (o.ssl_ctx) ck_assert_int_eq(kinfer_config_set_ssl_ctx(cfg, o.ssl_ctx), KINFER_OK);
  if (o.log) {
    kinfer_config_set_verbose(cfg, true);
    kinfer_config_set_log(cfg, on_log, o.log);
  }
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* One add_sub call; a success must carry the right sums. */
static int call(kinfer_client *c, const char *url, kinfer_error *err) {
  int64_t shape[] = {3};
  int32_t a[] = {1, 2, 3}, b[] = {10, 20, 30};
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT0", KINFER_INT32, shape, 1), a, sizeof a);
  kinfer_input_set_data(kinfer_request_add_input(r, "INPUT1", KINFER_INT32, shape, 1), b, sizeof b);
  kinfer_response *out = NULL;
  memset(err, 0, sizeof *err);
  int rc = kinfer_infer(c, url, r, "add_sub", NULL, NULL, false, KINFER_TIMEOUT_DEFAULT, &out, err);
  if (rc == KINFER_OK) {
    const kinfer_tensor *sum = kinfer_response_output_by_name(out, "OUTPUT0");
    const kinfer_tensor *diff = kinfer_response_output_by_name(out, "OUTPUT1");
    ck_assert_ptr_nonnull(sum);
    ck_assert_ptr_nonnull(diff);
    ck_assert_uint_eq(kinfer_tensor_element_count(sum), 3);
    int32_t s[3], d[3];
    memcpy(s, kinfer_tensor_data(sum), sizeof s);
    memcpy(d, kinfer_tensor_data(diff), sizeof d);
    ck_assert(s[0] == 11 && s[1] == 22 && s[2] == 33);
    ck_assert(d[0] == -9 && d[1] == -18 && d[2] == -27);
  } else {
    ck_assert_ptr_null(out);
  }
  kinfer_response_free(out);
  kinfer_request_free(r);
  return rc;
}

static void expect_ok(kinfer_client *c, const char *url) {
  kinfer_error err;
  int rc = call(c, url, &err);
  ck_assert_msg(rc == KINFER_OK, "%s: %s: %s", url, kinfer_strerror(rc), err.message);
  ck_assert_int_eq(err.attempts, 1);
}

/* The protocol the client's requests went over. */
static void expect_protocol(kinfer_client *c, bool http1, uint64_t n) {
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(http1 ? st.h1_requests : st.h2_requests, n);
  ck_assert_uint_eq(http1 ? st.h2_requests : st.h1_requests, 0);
}

static void localhost_url(const test_server *s, char *buf, size_t len) {
  snprintf(buf, len, "https://localhost:%d", s->port);
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(ca_file_verifies_chain_and_host) {
  bool h1 = _i;
  test_server s;
  start(&s, server_pem, server_key, NULL, NULL);
  kinfer_client *c = make_client((topts){.http1 = h1, .ca_file = ca_pem});
  expect_ok(c, s.url); /* IP literal: checked against the IP SAN */
  char url[sizeof s.url];
  localhost_url(&s, url, sizeof url);
  expect_ok(c, url); /* host name: checked against the DNS SAN */
  expect_protocol(c, h1, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(ca_path_hashed_directory) {
  bool h1 = _i;
  test_server s;
  start(&s, server_pem, server_key, NULL, NULL);
  kinfer_client *c = make_client((topts){.http1 = h1, .ca_path = ca_dir});
  expect_ok(c, s.url);
  expect_protocol(c, h1, 1);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* R2: a certificate that does not verify is KINFER_ETLS on the first
 * attempt, with the reason, and nothing reaches the model; turning
 * verification off lets the same server through. */
START_TEST(verification_failures_not_retried) {
  bool h1 = _i;
  make_certs();
  const struct {
    const char *pem, *key, *reason;
    bool by_name; /* connect to "localhost" instead of 127.0.0.1 */
  } cases[] = {
      {wrong_pem, wrong_key, "IP address mismatch", false},
      {wrong_pem, wrong_key, "hostname mismatch", true},
      {expired_pem, expired_key, "certificate has expired", false},
      {rogue_pem, rogue_key, "unable to get local issuer certificate", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    test_server s;
    start(&s, cases[i].pem, cases[i].key, NULL, NULL);
    char url[sizeof s.url];
    if (cases[i].by_name)
      localhost_url(&s, url, sizeof url);
    else
      snprintf(url, sizeof url, "%s", s.url);
    /* With 3 retries the backoff alone would take at least
     * 0.25 + 0.5 + 1 s. */
    kinfer_client *c = make_client((topts){.http1 = h1, .ca_file = ca_pem, .retries = 3,
                                           .backoff = 0.5});
    kinfer_error err;
    double t0 = now_s();
    int rc = call(c, url, &err);
    double took = now_s() - t0;
    ck_assert_msg(rc == KINFER_ETLS, "case %zu: %s: %s", i, kinfer_strerror(rc), err.message);
    ck_assert_int_eq(err.code, KINFER_ETLS);
    ck_assert_int_eq(err.attempts, 1);
    ck_assert_msg(took < 1.0, "case %zu took %.3f s", i, took);
    ck_assert_msg(strstr(err.message, cases[i].reason) != NULL, "case %zu: %s", i,
                  err.message);
    ck_assert(!kinfer_error_is_retriable(rc));
    kinfer_stats st;
    kinfer_client_stats(c, &st);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.connections_open, 0);
    ck_assert_int_eq(executions(&s, false), 0);
    kinfer_client_close(c);

    c = make_client((topts){.http1 = h1, .ca_file = ca_pem, .no_verify = true});
    expect_ok(c, url);
    kinfer_client_close(c);
    ck_assert_int_eq(executions(&s, false), 1);
    ck_assert_int_eq(test_server_stop(&s), 0);
  }
}
END_TEST

/* A server that requires a client certificate (kinfer-server
 * --tls-client-ca). */
START_TEST(client_certificate) {
  bool h1 = _i;
  test_server s;
  make_certs();
  start(&s, server_pem, server_key, "--tls-client-ca", client_ca_pem);

  /* The right password opens the encrypted key. */
  kinfer_client *c = make_client((topts){.http1 = h1, .ca_file = ca_pem, .cert = client_pem,
                                         .key = client_key, .password = KEY_PASSWORD});
  expect_ok(c, s.url);
  expect_ok(c, s.url);
  expect_protocol(c, h1, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(executions(&s, true), 2);

  /* A wrong password: the client is made (the key is read at the first
   * https connection), and the call fails as TLS, once. */
  c = make_client((topts){.http1 = h1, .ca_file = ca_pem, .cert = client_pem,
                          .key = client_key, .password = "wrong", .retries = 3});
  kinfer_error err;
  int rc = call(c, s.url, &err);
  ck_assert_msg(rc == KINFER_ETLS, "%s: %s", kinfer_strerror(rc), err.message);
  ck_assert_int_eq(err.attempts, 1);
  ck_assert_msg(strstr(err.message, "client certificate") != NULL, "%s", err.message);
  kinfer_client_close(c);

  /* No certificate: the server's refusal is a TLS error, at once, not
   * retried, and the model does not run.  With TLS 1.3 the server judges
   * the client certificate after the client's handshake has ended, so the
   * refusal arrives as an alert on the first read. */
  c = make_client((topts){.http1 = h1, .ca_file = ca_pem, .retries = 3});
  double t0 = now_s();
  rc = call(c, s.url, &err);
  ck_assert_msg(rc == KINFER_ETLS, "%s: %s", kinfer_strerror(rc), err.message);
  ck_assert_int_eq(err.attempts, 1);
  ck_assert_msg(strstr(err.message, "certificate required") != NULL, "%s", err.message);
  ck_assert(now_s() - t0 < 5);
  kinfer_client_close(c);
  ck_assert_int_eq(executions(&s, true), 2);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* --drop-after 2 cuts every connection right after its second model run,
 * so five calls take three connections: the first a full handshake, the
 * other two resumed.  The third connection resumes only if the second one
 * kept a fresh ticket (a TLS 1.3 ticket is offered once). */
static void run_resumption(bool h1, SSL_CTX *ctx, const char *version) {
  test_server s;
  start(&s, server_pem, server_key, "--drop-after", "2");
  logcap log = {.mu = PTHREAD_MUTEX_INITIALIZER};
  kinfer_client *c = make_client((topts){.http1 = h1, .ca_file = ctx ? NULL : ca_pem,
                                         .ssl_ctx = ctx, .log = &log});
  kinfer_error err;
  for (int i = 0; i < 5; i++) {
    int rc = call(c, s.url, &err);
    if (i % 2 == 0)
      ck_assert_msg(rc == KINFER_OK, "call %d: %s: %s", i, kinfer_strerror(rc), err.message);
    else
      ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME, "call %d: %s: %s", i, kinfer_strerror(rc),
                    err.message);
  }
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 3);
  kinfer_client_close(c);
  pthread_mutex_lock(&log.mu);
  ck_assert_int_eq(log.full, 1);
  ck_assert_int_eq(log.resumed, 2);
  ck_assert_msg(strstr(log.resumed_line, version) != NULL, "%s", log.resumed_line);
  pthread_mutex_unlock(&log.mu);
  ck_assert_int_eq(executions(&s, false), 5);
  ck_assert_int_eq(test_server_stop(&s), 0);
}

START_TEST(session_resumed_on_reconnect) { run_resumption(_i, NULL, "TLSv1.3"); }
END_TEST

/* A caller's SSL_CTX (TLS 1.2 at most here, so TLS 1.2 resumption is
 * covered too): used as given, and left unchanged. */
START_TEST(caller_ssl_ctx) {
  make_certs();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, ca_pem, NULL), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  uint64_t opts = SSL_CTX_get_options(ctx);
  long minv = SSL_CTX_get_min_proto_version(ctx);
  run_resumption(_i, ctx, "TLSv1.2");
  ck_assert(SSL_CTX_get_options(ctx) == opts);
  ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), minv);
  ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_2_VERSION);

  /* The caller's context decides trust: without the CA, nothing verifies. */
  SSL_CTX *bare = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(bare, SSL_VERIFY_PEER, NULL);
  test_server s;
  start(&s, server_pem, server_key, NULL, NULL);
  kinfer_client *c = make_client((topts){.http1 = _i, .ssl_ctx = bare, .ca_file = ca_pem});
  kinfer_error err;
  int rc = call(c, s.url, &err);
  ck_assert_msg(rc == KINFER_ETLS, "%s: %s", kinfer_strerror(rc), err.message);
  ck_assert_int_eq(err.attempts, 1);
  kinfer_client_close(c);

  /* TLS 1.2 at least, whatever the caller's context allows: one that
   * stops at TLS 1.1 has nothing left to offer (without the floor it would
   * offer TLS 1.1 and the server would refuse it). */
  SSL_CTX *old = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(old, 0);
  SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
  c = make_client((topts){.http1 = _i, .ssl_ctx = old});
  rc = call(c, s.url, &err);
  ck_assert_msg(rc == KINFER_ETLS, "%s: %s", kinfer_strerror(rc), err.message);
  ck_assert_int_eq(err.attempts, 1);
  ck_assert_msg(strstr(err.message, "no protocols available"), "%s", err.message);
  kinfer_client_close(c);
  ck_assert_int_eq(SSL_CTX_get_min_proto_version(old), 0);
  SSL_CTX_free(old);
  ck_assert_int_eq(executions(&s, false), 0);
  ck_assert_int_eq(test_server_stop(&s), 0);
  SSL_CTX_free(bare);
  SSL_CTX_free(ctx);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("tls");
  TCase *tc = tcase_create("tls");
  tcase_set_timeout(tc, 120);
  tcase_add_unchecked_fixture(tc, make_certs, NULL);
  tcase_add_loop_test(tc, ca_file_verifies_chain_and_host, 0, 2);
  tcase_add_loop_test(tc, ca_path_hashed_directory, 0, 2);
  tcase_add_loop_test(tc, verification_failures_not_retried, 0, 2);
  tcase_add_loop_test(tc, client_certificate, 0, 2);
  tcase_add_loop_test(tc, session_resumed_on_reconnect, 0, 2);
  tcase_add_loop_test(tc, caller_ssl_ctx, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
