/*
 * HTTP/1.1 rows of the fault matrix (RELIABILITY.md L9, L12, L13, L17, R13,
 * S1, S2, S5, S6, S8) against peer_h1peer, a scripted server that answers
 * with exact bytes.  The peer picks each answer by the request's model name
 * (see tests/peers/h1peer.c); its /_executions counts the requests that
 * reached it and the connections it accepted.  Each test starts its own
 * peer, so the counters start at zero.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <kinfer/kinfer.h>

#include "harness.h"
#include "check_main.h"

#define BODY                                                                   \
  "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","  \
  "\"shape\":[1],\"data\":[7]}]}"
/* The peer's answers, as it builds them, for the L12 loop. */
#define HEAD_LEN_FMT "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n"
#define HEAD_EOF "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
#define HEAD_CHUNKED                                                           \
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                     \
  "Transfer-Encoding: chunked\r\n\r\n"
#define CUT_BODY BODY "        "
#define STATUS_LINE_LEN 17 /* "HTTP/1.1 200 OK\r\n" */
#define CALL_TIMEOUT 5.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void peer_start(test_server *s) {
  const char *dir = getenv("KINFER_PEER_DIR");
  ck_assert_msg(dir != NULL, "KINFER_PEER_DIR is not set");
  static char bin[1024];
  snprintf(bin, sizeof bin, "%s/peer_h1peer", dir);
  const char *argv[] = {bin, "--scenario", "ok", NULL};
  ck_assert_int_eq(test_peer_start(s, argv, 15), 0);
}

/* The peer's counters: requests read, connections accepted, header
 * fields named X-Injected. */
typedef struct counts {
  long executions, connections, injected;
} counts;

static counts peer_counts(const test_server *s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char req[] = "GET /_executions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  char buf[4096];
  size_t n = 0;
  for (ssize_t r; n + 1 < sizeof buf && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0;)
    n += (size_t)r;
  close(fd);
  buf[n] = '\0';
  const char *ex = strstr(buf, "\"executions\":");
  const char *du = strstr(buf, "\"duplicates\":");
  const char *cn = strstr(buf, "\"connections\":");
  const char *in = strstr(buf, "\"injected\":");
  ck_assert_msg(ex && du && cn && in, "bad /_executions answer: %s", buf);
  ck_assert_int_eq(strtol(du + 13, NULL, 10), 0);
  counts c = {strtol(ex + 13, NULL, 10), strtol(cn + 14, NULL, 10),
              strtol(in + 11, NULL, 10)};
  return c;
}

static void assert_peer(const test_server *s, long executions, long connections) {
  counts c = peer_counts(s);
  ck_assert_msg(c.executions == executions, "peer executions %ld, want %ld",
                c.executions, executions);
  ck_assert_msg(c.connections == connections, "peer connections %ld, want %ld",
                c.connections, connections);
}

typedef struct opts {
  bool idempotent;
  size_t max_response_bytes, max_header_bytes;
} opts;

static kinfer_client *make_client(opts o) {
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, false);
  kinfer_config_set_retries(cfg, 2);
  kinfer_config_set_retry_backoff(cfg, 0.01, 0.05);
  kinfer_config_set_timeout(cfg, CALL_TIMEOUT);
  kinfer_config_set_idempotent(cfg, o.idempotent);
  if (o.max_response_bytes)
    kinfer_config_set_max_response_bytes(cfg, o.max_response_bytes);
  if (o.max_header_bytes)
    kinfer_config_set_max_header_bytes(cfg, o.max_header_bytes);
  kinfer_client *c = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* One inference with model |model| (the peer's scenario).  On success the
 * answer must be the peer's: output "o", INT32 [1], value 7, and the JSON
 * text BODY (for JSON answers).  Never returns a partial response. */
static int call_h(kinfer_client *c, const char *url, const char *model,
                  const kinfer_headers *h, kinfer_error *err) {
  int64_t shape[] = {1};
  int32_t a = 2;
  kinfer_request *r = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(r, "i", KINFER_INT32, shape, 1),
                        &a, sizeof a);
  kinfer_response *out = NULL;
  memset(err, 0, sizeof *err);
  double t0 = now_s();
  int rc = kinfer_infer(c, url, r, model, h, NULL, false, KINFER_TIMEOUT_DEFAULT,
                        &out, err);
  double took = now_s() - t0;
  ck_assert_msg(took < CALL_TIMEOUT + 2, "%s: call took %.3f s", model, took);
  ck_assert_int_eq(err->code, rc);
  if (rc == KINFER_OK) {
    const kinfer_tensor *t = kinfer_response_output_by_name(out, "o");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(kinfer_tensor_datatype(t), KINFER_INT32);
    ck_assert_uint_eq(kinfer_tensor_nbytes(t), 4);
    int32_t v; /* binary outputs need not be aligned */
    memcpy(&v, kinfer_tensor_data(t), sizeof v);
    ck_assert_int_eq(v, 7);
    ck_assert_str_eq(kinfer_response_model_name(out), "m");
    size_t jl = 0;
    const char *j = kinfer_response_json(out, &jl);
    if (strncmp(model, "binary", 6) != 0) {
      /* The decoded body is the peer's, byte for byte (some answers pad
       * it with spaces). */
      ck_assert_uint_ge(jl, sizeof BODY - 1);
      ck_assert(memcmp(j, BODY, sizeof BODY - 1) == 0);
      for (size_t i = sizeof BODY - 1; i < jl; i++)
        ck_assert_int_eq(j[i], ' ');
    }
  } else {
    ck_assert_ptr_null(out);
    ck_assert_msg(err->message[0] != '\0', "%s: error without a message", model);
  }
  kinfer_response_free(out);
  kinfer_request_free(r);
  return rc;
}

static int call(kinfer_client *c, const char *url, const char *model,
                kinfer_error *err) {
  return call_h(c, url, model, NULL, err);
}

#define expect_rc(c, url, model, want)                                         \
  do {                                                                         \
    kinfer_error e_;                                                           \
    int rc_ = call(c, url, model, &e_);                                        \
    ck_assert_msg(rc_ == (want), "%s: got %d (%s), want %d", model, rc_,       \
                  e_.message, (want));                                         \
  } while (0)

/* Every call completed exactly once and nothing is left in flight. */
static void assert_settled(kinfer_client *c, uint64_t calls) {
  kinfer_stats st;
  ck_assert_int_eq(kinfer_client_stats(c, &st), KINFER_OK);
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
  ck_assert_uint_eq(st.requests, calls);
  ck_assert_uint_eq(st.successes + st.failures, calls);
  ck_assert_uint_eq(st.h2_requests, 0);
}

static uint64_t open_conns(kinfer_client *c) {
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  return st.connections_open;
}

/* Waits (up to 3 s) until the client holds |n| open connections. */
static void wait_open_conns(kinfer_client *c, uint64_t n) {
  for (int i = 0; i < 300 && open_conns(c) != n; i++)
    sleep_ms(10);
  ck_assert_uint_eq(open_conns(c), n);
}

/* ---- L17 ------------------------------------------------------------------ */

/* "Connection: close": the connection is not reused, whether the server
 * closes it (close-fin) or leaves it open (close, http10: an HTTP/1.0
 * answer without keep-alive). */
START_TEST(l17_connection_close) {
  static const char *const sc[] = {"close", "close-fin", "http10"};
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  expect_rc(c, s.url, sc[_i], KINFER_OK);
  wait_open_conns(c, 0); /* the client closed it */
  expect_rc(c, s.url, "ok", KINFER_OK);
  assert_peer(&s, 2, 2);
  assert_settled(c, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* 100, 103 and 102 before the final answer are skipped, and the
 * connection stays usable; so is the 100 Continue the peer sends when the
 * caller's headers carry "Expect: 100-continue". */
START_TEST(l17_interim_responses) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  expect_rc(c, s.url, "interim", KINFER_OK);
  expect_rc(c, s.url, "interim", KINFER_OK);
  kinfer_headers *h = kinfer_headers_new();
  ck_assert_int_eq(kinfer_headers_add(h, "Expect", "100-continue"), KINFER_OK);
  kinfer_error err;
  ck_assert_int_eq(call_h(c, s.url, "ok", h, &err), KINFER_OK);
  ck_assert_int_eq(call_h(c, s.url, "interim", h, &err), KINFER_OK);
  kinfer_headers_free(h);
  expect_rc(c, s.url, "ok", KINFER_OK);
  assert_peer(&s, 5, 1);
  assert_settled(c, 5);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* Framing the client cannot trust (RFC 9112 6.3, 7.1): both
 * Content-Length and Transfer-Encoding, two different lengths, a length
 * that is not a number or overflows, a transfer coding it cannot decode, a
 * chunk size that is not hex or overflows, chunk data without its CRLF.
 * Each is EBADRESPONSE, never retried, and the connection, whose next byte
 * is unknown, is closed: the next call gets a new one. */
static const char *const bad_framing[] = {
    "cl-te", "two-cl", "cl-neg", "cl-overflow", "te-gzip",
    "chunk-bad", "chunk-overflow", "chunk-crlf"};

START_TEST(l17_bad_framing) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){.idempotent = true});
  kinfer_error err;
  int rc = call(c, s.url, bad_framing[_i], &err);
  ck_assert_msg(rc == KINFER_EBADRESPONSE, "%s: got %d (%s)", bad_framing[_i], rc,
                err.message);
  ck_assert_int_eq(err.attempts, 1);
  wait_open_conns(c, 0);
  expect_rc(c, s.url, "ok", KINFER_OK);
  ck_assert_uint_eq(open_conns(c), 1);
  assert_peer(&s, 2, 2);
  assert_settled(c, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* Chunk extensions, one-byte chunks, trailers, upper-case hex with leading
 * zeros: the same decoded answer, all on one kept-alive connection. */
START_TEST(l17_chunked_variants) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  const char *sc[] = {"chunk-ext", "chunk-tiny", "chunk-trailer", "chunk-upper",
                      "ok"};
  for (size_t i = 0; i < 5; i++)
    expect_rc(c, s.url, sc[i], KINFER_OK);
  assert_peer(&s, 5, 1);
  assert_settled(c, 5);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* No Content-Length, not chunked: the body is what came before the close. */
START_TEST(l17_body_delimited_by_close) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  expect_rc(c, s.url, "eof-body", KINFER_OK);
  expect_rc(c, s.url, "eof-body", KINFER_OK);
  expect_rc(c, s.url, "ok", KINFER_OK);
  assert_peer(&s, 3, 3);
  assert_settled(c, 3);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* ---- R13 ---------------------------------------------------------------- */

/* The server closes a kept-alive connection while it is idle (no
 * "Connection: close"): the next call is not lost on the dead connection
 * but runs, once, on a new one. */
START_TEST(r13_idle_close_before_next_call) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  expect_rc(c, s.url, "idle-close", KINFER_OK);
  sleep_ms(300); /* the peer closes after 120 ms */
  wait_open_conns(c, 0);
  kinfer_error err;
  ck_assert_msg(call(c, s.url, "ok", &err) == KINFER_OK, "%s", err.message);
  ck_assert_int_eq(err.attempts, 1);
  assert_peer(&s, 2, 2);
  assert_settled(c, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* The idle close races the next call: the client notices the close before
 * the call, or the peer answers the call in time, or the call is written
 * into the closing connection and never read (the peer closes 20 ms after
 * deciding to).  Declared idempotent, every call succeeds (the last case
 * resent); otherwise that case is EUNKNOWN_OUTCOME and not resent.  Either
 * way the peer runs exactly the calls that succeeded. */
START_TEST(r13_idle_close_races_next_call) {
  bool idem = _i;
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){.idempotent = idem});
  const int rounds = 10;
  long ok = 0;
  for (int i = 0; i < rounds; i++) {
    kinfer_error err;
    ck_assert_msg(call(c, s.url, "idle-close", &err) == KINFER_OK, "%s", err.message);
    ok++;
    sleep_ms(92 + (i % 5) * 6); /* around the peer's 100 to 120 ms */
    int rc = call(c, s.url, "idle-close", &err);
    if (idem) {
      ck_assert_msg(rc == KINFER_OK, "round %d: %d %s", i, rc, err.message);
      ck_assert_int_le(err.attempts, 2);
    } else {
      ck_assert_msg(rc == KINFER_OK || rc == KINFER_EUNKNOWN_OUTCOME,
                    "round %d: %d %s", i, rc, err.message);
      ck_assert_int_eq(err.attempts, 1);
    }
    ok += rc == KINFER_OK;
    sleep_ms(150);
  }
  counts k = peer_counts(&s);
  ck_assert_int_eq(k.executions, ok);
  assert_settled(c, 2 * rounds);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* The server reads the request on a reused connection, then closes
 * without an answer: the request may have run, so a POST fails with
 * EUNKNOWN_OUTCOME and is not resent, unless declared idempotent. */
START_TEST(r13_closed_after_request_written) {
  bool idem = _i;
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){.idempotent = idem});
  expect_rc(c, s.url, "drop-second", KINFER_OK);
  kinfer_error err;
  int rc = call(c, s.url, "drop-second", &err);
  if (!idem) {
    ck_assert_msg(rc == KINFER_EUNKNOWN_OUTCOME, "%d %s", rc, err.message);
    ck_assert_int_eq(err.attempts, 1);
    ck_assert(!kinfer_error_is_retriable(rc));
    assert_peer(&s, 2, 1); /* call 1, and call 2 once */
  } else {
    ck_assert_msg(rc == KINFER_OK, "%d %s", rc, err.message);
    ck_assert_int_eq(err.attempts, 2);
    assert_peer(&s, 3, 2); /* call 2 ran again on a new connection */
  }
  assert_settled(c, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* ---- L12, L13, L9 --------------------------------------------------------- */

/* For every k, the connection is cut after k bytes of the answer (framed
 * by Content-Length, chunked, or by the close itself; the body is the V2
 * JSON and 8 spaces).  Each call ends within its deadline, once, with the
 * whole answer or a classified error: EUNKNOWN_OUTCOME before a status
 * line arrived, EBADRESPONSE after, even when what arrived of the body is
 * a complete JSON document.  Only the close-delimited answer may end in
 * its trailing spaces, and still succeed. */
START_TEST(l12_cut_after_every_byte) {
  static const char *const kind[] = {"cut-len", "cut-chunk", "cut-eof"};
  /* The peer's chunked answer: 32-byte chunks with extension ";e=1", one
   * trailer field. */
  size_t body_len = sizeof CUT_BODY - 1, chunked = sizeof HEAD_CHUNKED - 1;
  for (size_t off = 0; off < body_len; off += 32) {
    size_t n = body_len - off < 32 ? body_len - off : 32;
    chunked += (size_t)snprintf(NULL, 0, "%zx;e=1\r\n", n) + n + 2;
  }
  chunked += sizeof "0;e=1\r\nX-T: 1\r\n\r\n" - 1;
  char head_len[128];
  snprintf(head_len, sizeof head_len, HEAD_LEN_FMT, body_len);
  const size_t fulls[] = {strlen(head_len) + body_len, chunked,
                          sizeof HEAD_EOF - 1 + body_len};
  const size_t full = fulls[_i];
  /* The least k that succeeds. */
  const size_t ok_from = _i == 2 ? sizeof HEAD_EOF - 1 + sizeof BODY - 1 : full;
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  uint64_t n = 0;
  for (size_t k = 0; k <= full + 2; k++, n++) {
    char model[64];
    snprintf(model, sizeof model, "%s-%zu", kind[_i], k);
    kinfer_error err;
    int rc = call(c, s.url, model, &err);
    int want = k >= ok_from ? KINFER_OK
               : k < STATUS_LINE_LEN ? KINFER_EUNKNOWN_OUTCOME
                                     : KINFER_EBADRESPONSE;
    ck_assert_msg(rc == want, "%s: got %d (%s), want %d", model, rc, err.message,
                  want);
    ck_assert_int_eq(err.attempts, 1); /* a POST that may have run: never resent */
    /* After a whole answer the peer still closes: wait until the client
     * saw it, or the next call could be written into the closing
     * connection (R13, tested on its own). */
    if (rc == KINFER_OK)
      wait_open_conns(c, 0);
  }
  assert_peer(&s, (long)n, (long)n); /* one run and one connection each */
  assert_settled(c, n);
  wait_open_conns(c, 0);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* Content-Length 100, then 85 bytes that are a complete V2 answer, then a
 * clean close: never a success. */
START_TEST(l13_body_cut_short) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){.idempotent = _i});
  kinfer_error err;
  ck_assert_int_eq(call(c, s.url, "short-body", &err), KINFER_EBADRESPONSE);
  ck_assert_int_eq(err.attempts, 1); /* an answer began: never resent */
  expect_rc(c, s.url, "ok", KINFER_OK);
  assert_peer(&s, 2, 2);
  assert_settled(c, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* A TCP reset in the middle of the body: a classified error, then a new
 * connection that works. */
START_TEST(l9_reset_mid_response) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  for (int i = 0; i < 3; i++) {
    kinfer_error err;
    int rc = call(c, s.url, "rst", &err);
    ck_assert_msg(rc == KINFER_EBADRESPONSE || rc == KINFER_EUNKNOWN_OUTCOME,
                  "got %d (%s)", rc, err.message);
    ck_assert_int_eq(err.attempts, 1);
    expect_rc(c, s.url, "ok", KINFER_OK);
  }
  assert_peer(&s, 6, 4); /* each reset costs one connection; "ok" reuses */
  assert_settled(c, 6);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.connections_opened, 4);
  ck_assert_uint_eq(st.connections_open, 1);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* ---- S1, S2 ------------------------------------------------------------------ */

/* A body over the limit, whatever its framing, is ELIMIT; the limit itself
 * is fine; the connection is closed and the next call works. */
START_TEST(s1_body_over_limit) {
  static const char *const kind[] = {"pad", "padchunk", "padeof"};
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){.max_response_bytes = 1024});
  char model[64];
  snprintf(model, sizeof model, "%s-1024", kind[_i]);
  expect_rc(c, s.url, model, KINFER_OK);
  snprintf(model, sizeof model, "%s-1025", kind[_i]);
  expect_rc(c, s.url, model, KINFER_ELIMIT);
  snprintf(model, sizeof model, "%s-100000", kind[_i]);
  expect_rc(c, s.url, model, KINFER_ELIMIT);
  wait_open_conns(c, 0);
  expect_rc(c, s.url, "ok", KINFER_OK);
  /* A length announced beyond the limit fails before the body arrives. */
  expect_rc(c, s.url, "cl-huge", KINFER_ELIMIT);
  wait_open_conns(c, 0);
  expect_rc(c, s.url, "ok", KINFER_OK);
  /* At the limit the connection stays (except when the close ends the
   * body); over it, it is closed. */
  assert_peer(&s, 6, _i == 2 ? 5 : 4);
  assert_settled(c, 6);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

START_TEST(s2_headers_over_limit) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){.max_header_bytes = 4096});
  expect_rc(c, s.url, "some-headers", KINFER_OK);
  expect_rc(c, s.url, "many-headers", KINFER_ELIMIT);
  expect_rc(c, s.url, "some-headers", KINFER_OK);
  expect_rc(c, s.url, "huge-header", KINFER_ELIMIT);
  expect_rc(c, s.url, "ok", KINFER_OK);
  assert_peer(&s, 5, 3);
  assert_settled(c, 5);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* ---- S5, S6 -------------------------------------------------------------------- */

START_TEST(s5_s6_binary_layout) {
  test_server s;
  peer_start(&s);
  kinfer_client *c = make_client((opts){0});
  expect_rc(c, s.url, "binary-ok", KINFER_OK);
  const char *bad[] = {"ihcl-large", "ihcl-neg", "ihcl-nan", "bds-beyond"};
  for (size_t i = 0; i < 4; i++) {
    expect_rc(c, s.url, bad[i], KINFER_EBADRESPONSE);
    expect_rc(c, s.url, "binary-ok", KINFER_OK);
  }
  /* Decoding errors leave the HTTP framing intact: one connection. */
  assert_peer(&s, 9, 1);
  assert_settled(c, 9);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

/* ---- S8 ----------------------------------------------------------------------- */

/* CR or LF from the caller never reaches the wire: header lists, the
 * credentials and the URL refuse them before anything is sent, and a model
 * name carrying them is percent-encoded.  (A NUL cannot be inside a C
 * string argument: it ends it.) */
START_TEST(s8_crlf_from_caller) {
  test_server s;
  peer_start(&s);
  kinfer_headers *h = kinfer_headers_new();
  const char *bad_values[] = {"v\r\nX-Injected: 1", "v\nX-Injected: 1",
                              "v\rX-Injected: 1", "\r\n"};
  for (size_t i = 0; i < 4; i++) {
    ck_assert_int_eq(kinfer_headers_add(h, "X-A", bad_values[i]), KINFER_EINVAL);
    ck_assert_int_eq(kinfer_headers_add(h, bad_values[i], "v"), KINFER_EINVAL);
  }
  ck_assert_int_eq(kinfer_headers_add(h, "X-Injected\r\nX-B", "v"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_headers_add(h, "X-A: 1\r\nX-Injected", "v"), KINFER_EINVAL);
  ck_assert_uint_eq(kinfer_headers_count(h), 0);

  kinfer_config *cfg = kinfer_config_new();
  ck_assert_int_eq(kinfer_config_set_auth_bearer(cfg, "t\r\nX-Injected: 1"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_basic(cfg, "u\nX-Injected: 1", "p"), KINFER_EINVAL);
  ck_assert_int_eq(kinfer_config_set_auth_basic(cfg, "u", "p\rX-Injected: 1"), KINFER_EINVAL);
  kinfer_config_free(cfg);

  kinfer_client *c = make_client((opts){0});
  char url[256];
  kinfer_error err;
  snprintf(url, sizeof url, "%s/\r\nX-Injected: 1", s.url);
  ck_assert_int_eq(call(c, url, "ok", &err), KINFER_EURL);
  snprintf(url, sizeof url, "%s/a\nX-Injected:1", s.url);
  ck_assert_int_eq(call(c, url, "ok", &err), KINFER_EURL);
  ck_assert_int_eq(err.attempts, 0);
  assert_peer(&s, 0, 0); /* nothing was sent, not even a connection */

  /* What the list holds after the refusals is sent as usual; an injected
   * line in the model name is only ever part of the path. */
  ck_assert_int_eq(kinfer_headers_add(h, "X-A", "fine"), KINFER_OK);
  ck_assert_int_eq(call_h(c, s.url, "ok", h, &err), KINFER_OK);
  ck_assert_int_eq(call_h(c, s.url, "ok\r\nX-Injected: 1", h, &err), KINFER_OK);
  counts k = peer_counts(&s);
  ck_assert_int_eq(k.executions, 2);
  ck_assert_int_eq(k.injected, 0);
  kinfer_headers_free(h);
  assert_settled(c, 4);
  kinfer_stats st;
  kinfer_client_stats(c, &st);
  ck_assert_uint_eq(st.successes, 2);
  ck_assert_uint_eq(st.h1_requests, 2);
  kinfer_client_close(c);
  ck_assert_int_eq(test_server_stop(&s), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("h1peer");
  TCase *tc = tcase_create("HTTP/1.1 fault matrix");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, l17_connection_close, 0, 3);
  tcase_add_test(tc, l17_interim_responses);
  tcase_add_loop_test(tc, l17_bad_framing, 0,
                      (int)(sizeof bad_framing / sizeof bad_framing[0]));
  tcase_add_test(tc, l17_chunked_variants);
  tcase_add_test(tc, l17_body_delimited_by_close);
  tcase_add_test(tc, r13_idle_close_before_next_call);
  tcase_add_loop_test(tc, r13_idle_close_races_next_call, 0, 2);
  tcase_add_loop_test(tc, r13_closed_after_request_written, 0, 2);
  tcase_add_loop_test(tc, l12_cut_after_every_byte, 0, 3);
  tcase_add_loop_test(tc, l13_body_cut_short, 0, 2);
  tcase_add_test(tc, l9_reset_mid_response);
  tcase_add_loop_test(tc, s1_body_over_limit, 0, 3);
  tcase_add_test(tc, s2_headers_over_limit);
  tcase_add_test(tc, s5_s6_binary_layout);
  tcase_add_test(tc, s8_crlf_from_caller);
  suite_add_tcase(s, tc);
  return s;
}

KINFER_CHECK_MAIN(suite)
