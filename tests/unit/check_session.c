/*
 * The session engine end to end against peers started here on free
 * loopback ports: a scripted HTTP/1.1 server and an HTTP/2 (h2c) server on
 * nghttp2, each on its own thread.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "internal.h"
#include "session/session.h"
#include "check_main.h"

/* ------------------------------------------------------------------------ */
/* Completion tracking                                                       */
/* ------------------------------------------------------------------------ */

typedef struct txfer {
  ki_xfer x;
  char url[128];
  char target[128];
  char authority[64];
  int ndone;
  int result, status, attempts, http_version;
  char body[512];
  size_t body_len;
  char message[256];
  char attempt_hdr[16];
} txfer;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_done;

static void on_done(ki_xfer *x) {
  txfer *t = (txfer *)x;
  pthread_mutex_lock(&g_mu);
  t->ndone++;
  t->result = x->result;
  t->status = x->status;
  t->attempts = x->attempts;
  t->http_version = x->http_version;
  snprintf(t->message, sizeof t->message, "%s", x->message);
  if (x->result == KINFER_OK) {
    size_t n = x->resp_len < sizeof t->body - 1 ? x->resp_len : sizeof t->body - 1;
    memcpy(t->body, x->resp_body, n);
    t->body[n] = '\0';
    t->body_len = x->resp_len;
    ck_assert_uint_eq((unsigned char)x->resp_body[x->resp_len], 0);
    const char *a = kinfer_headers_get(x->resp_headers, "x-attempt-seen");
    snprintf(t->attempt_hdr, sizeof t->attempt_hdr, "%s", a ? a : "");
  }
  ki_xfer_release(x);
  g_done++;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

static void reset_done(void) {
  pthread_mutex_lock(&g_mu);
  g_done = 0;
  pthread_mutex_unlock(&g_mu);
}

/* Waits until |n| completions arrived (10 s at most). */
static bool wait_done(int n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 10;
  pthread_mutex_lock(&g_mu);
  int rc = 0;
  while (g_done < n && rc == 0)
    rc = pthread_cond_timedwait(&g_cv, &g_mu, &ts);
  bool ok = g_done >= n;
  pthread_mutex_unlock(&g_mu);
  return ok;
}

static void txfer_init(txfer *t, const char *method, uint16_t port,
                       const char *path) {
  memset(t, 0, sizeof *t);
  snprintf(t->authority, sizeof t->authority, "127.0.0.1:%u", port);
  snprintf(t->target, sizeof t->target, "%s", path);
  snprintf(t->url, sizeof t->url, "http://127.0.0.1:%u%s", port, path);
  t->x.method = method;
  t->x.host = "127.0.0.1";
  t->x.port = port;
  t->x.authority = t->authority;
  t->x.target = t->target;
  t->x.url = t->url;
  t->x.done = on_done;
  t->x.idempotent = strcmp(method, "GET") == 0;
}

static kinfer_config *test_config(bool http2) {
  kinfer_config *cfg = kinfer_config_new();
  ck_assert_ptr_nonnull(cfg);
  cfg->http2 = http2;
  cfg->retries = 3;
  cfg->backoff_base = 0.01;
  cfg->backoff_cap = 0.05;
  cfg->connect_timeout = 5;
  cfg->read_timeout = 5;
  cfg->write_timeout = 5;
  cfg->pool_timeout = 5;
  return cfg;
}

/* Runs one exchange synchronously. */
static void run_one(ki_engine *e, txfer *t) {
  reset_done();
  ck_assert_int_eq(ki_engine_submit(e, &t->x), KINFER_OK);
  ck_assert(wait_done(1));
  ck_assert_int_eq(t->ndone, 1);
}

static void assert_idle(ki_engine *e) {
  ki_engine_stats st;
  /* Gauges settle on the I/O thread right after done() returns. */
  for (int i = 0; i < 200; i++) {
    ki_engine_stats_get(e, &st);
    if (st.streams_in_flight == 0 && st.requests_queued == 0)
      break;
    usleep(5000);
  }
  ck_assert_uint_eq(st.streams_in_flight, 0);
  ck_assert_uint_eq(st.requests_queued, 0);
}

static int listen_tcp(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(fd, 64), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* ------------------------------------------------------------------------ */
/* A scripted HTTP/1.1 server                                                */
/* ------------------------------------------------------------------------ */

enum h1_mode {
  H1_KEEPALIVE,  /* 200 with Content-Length, connection kept */
  H1_CHUNKED,    /* chunked body */
  H1_CLOSE,      /* Connection: close, then close */
  H1_CUT,        /* Content-Length 100, 10 bytes, close */
  H1_CONFLICT,   /* Content-Length and Transfer-Encoding */
  H1_IDLE_CLOSE, /* answer, then close the idle connection */
  H1_BIG_HEADER, /* a header block over the limit */
  H1_BIG_BODY,   /* a body over the limit */
  H1_CONTINUE,   /* 100 Continue, then the answer */
  H1_TRICKLE,    /* a chunked answer written one byte at a time */
  H1_ONE_PER_CONN /* answer the first request of a connection; close on
                     the second without answering */
};

#define H1_MAXC 16
typedef struct h1srv {
  int lfd;
  int wake[2];
  uint16_t port;
  char unix_path[108];
  enum h1_mode mode;
  bool silent_pri; /* close on an HTTP/2 preface without answering */
  pthread_t thr;
  pthread_mutex_t mu;
  int conns, requests, prefaces;
  struct {
    int fd;
    int served;
    char buf[65536];
    size_t len;
  } c[H1_MAXC];
} h1srv;

static void sendall(int fd, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

/* Answers one complete request; returns false when the connection ends. */
static bool h1_answer(h1srv *s, int fd, const char *head, size_t body_len,
                      const char *body) {
  char out[4096], hdr[64] = "";
  const char *a = strstr(head, "\r\nx-kinfer-attempt: ");
  if (a)
    sscanf(a + 20, "%15[0-9]", hdr);
  bool has_ua = strstr(head, "\r\nUser-Agent: kinfer/") != NULL;
  char reply[256];
  int rl = snprintf(reply, sizeof reply, "%.*s ua=%d len=%zu body=%.*s",
                    (int)strcspn(head, " "), head, has_ua, body_len,
                    (int)(body_len < 64 ? body_len : 64), body);
  int n = 0;
  switch (s->mode) {
  case H1_KEEPALIVE:
  case H1_ONE_PER_CONN:
  case H1_IDLE_CLOSE:
  case H1_CLOSE:
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nx-attempt-seen: %s\r\n%sContent-Length: "
                 "%d\r\n\r\n%s",
                 hdr, s->mode == H1_CLOSE ? "Connection: close\r\n" : "", rl,
                 reply);
    sendall(fd, out, (size_t)n);
    return s->mode == H1_KEEPALIVE || s->mode == H1_ONE_PER_CONN;
  case H1_CONTINUE:
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                 "Content-Length: %d\r\n\r\n%s", rl, reply);
    sendall(fd, out, (size_t)n);
    return true;
  case H1_CHUNKED:
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\n"
                 "x-trailer: 1\r\n\r\n");
    sendall(fd, out, (size_t)n);
    return true;
  case H1_TRICKLE: {
    static const char r[] =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (size_t k = 0; k < sizeof r - 1; k++) {
      sendall(fd, r + k, 1);
      usleep(500);
    }
    return true;
  }
  case H1_CUT:
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    sendall(fd, out, (size_t)n);
    return false;
  case H1_CONFLICT:
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    sendall(fd, out, (size_t)n);
    return true;
  case H1_BIG_HEADER: {
    n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nx-big: ");
    sendall(fd, out, (size_t)n);
    char fill[2048];
    memset(fill, 'a', sizeof fill);
    sendall(fd, fill, sizeof fill);
    sendall(fd, "\r\nContent-Length: 0\r\n\r\n", 23);
    return true;
  }
  case H1_BIG_BODY: {
    n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n");
    sendall(fd, out, (size_t)n);
    char fill[4096];
    memset(fill, 'b', sizeof fill);
    sendall(fd, fill, sizeof fill);
    return true;
  }
  }
  return false;
}

/* Parses complete requests out of connection |i|'s buffer. */
static bool h1_serve(h1srv *s, int i) {
  for (;;) {
    char *buf = s->c[i].buf;
    size_t len = s->c[i].len;
    if (len >= 3 && memcmp(buf, "PRI", 3) == 0) {
      /* An HTTP/2 preface: answer as an HTTP/1.1-only server does. */
      pthread_mutex_lock(&s->mu);
      s->prefaces++;
      pthread_mutex_unlock(&s->mu);
      static const char r[] =
          "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: "
          "0\r\n\r\n";
      if (!s->silent_pri)
        sendall(s->c[i].fd, r, sizeof r - 1);
      return false;
    }
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
      return true;
    size_t hl = (size_t)(end - buf) + 4, bl = 0;
    char *cl = memmem(buf, hl, "Content-Length: ", 16);
    if (cl)
      bl = strtoul(cl + 16, NULL, 10);
    if (len < hl + bl)
      return true;
    if (s->mode == H1_ONE_PER_CONN && s->c[i].served++ > 0)
      return false;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    pthread_mutex_unlock(&s->mu);
    char save = buf[hl - 1];
    buf[hl - 1] = '\0';
    bool keep = h1_answer(s, s->c[i].fd, buf, bl, buf + hl);
    buf[hl - 1] = save;
    memmove(buf, buf + hl + bl, len - hl - bl);
    s->c[i].len = len - hl - bl;
    if (!keep)
      return false;
  }
}

static void *h1_main(void *arg) {
  h1srv *s = arg;
  for (;;) {
    struct pollfd pf[H1_MAXC + 2];
    int map[H1_MAXC + 2], n = 0;
    pf[n].fd = s->wake[0];
    pf[n++].events = POLLIN;
    pf[n].fd = s->lfd;
    pf[n++].events = POLLIN;
    for (int i = 0; i < H1_MAXC; i++)
      if (s->c[i].fd >= 0) {
        map[n] = i;
        pf[n].fd = s->c[i].fd;
        pf[n++].events = POLLIN;
      }
    if (poll(pf, (nfds_t)n, -1) < 0)
      continue;
    if (pf[0].revents)
      break;
    if (pf[1].revents & POLLIN) {
      int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
      for (int i = 0; fd >= 0 && i < H1_MAXC; i++)
        if (s->c[i].fd < 0) {
          s->c[i].fd = fd;
          s->c[i].len = 0;
          s->c[i].served = 0;
          fd = -1;
          pthread_mutex_lock(&s->mu);
          s->conns++;
          pthread_mutex_unlock(&s->mu);
        }
      if (fd >= 0)
        close(fd);
    }
    for (int k = 2; k < n; k++) {
      if (!pf[k].revents)
        continue;
      int i = map[k];
      ssize_t r = recv(s->c[i].fd, s->c[i].buf + s->c[i].len,
                       sizeof s->c[i].buf - s->c[i].len, 0);
      if (r <= 0 || !h1_serve(s, (s->c[i].len += (size_t)r, i))) {
        close(s->c[i].fd);
        s->c[i].fd = -1;
      }
    }
  }
  for (int i = 0; i < H1_MAXC; i++)
    if (s->c[i].fd >= 0)
      close(s->c[i].fd);
  return NULL;
}

static h1srv *h1_start(enum h1_mode mode, bool unix_sock) {
  h1srv *s = calloc(1, sizeof *s);
  ck_assert_ptr_nonnull(s);
  s->mode = mode;
  pthread_mutex_init(&s->mu, NULL);
  for (int i = 0; i < H1_MAXC; i++)
    s->c[i].fd = -1;
  ck_assert_int_eq(pipe(s->wake), 0);
  if (unix_sock) {
    snprintf(s->unix_path, sizeof s->unix_path, "/tmp/kinfer-check-%d.sock",
             (int)getpid());
    unlink(s->unix_path);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->unix_path);
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    ck_assert_int_eq(listen(s->lfd, 16), 0);
    s->port = 80;
  } else {
    s->lfd = listen_tcp(&s->port);
  }
  ck_assert_int_eq(pthread_create(&s->thr, NULL, h1_main, s), 0);
  return s;
}

static int h1_count(h1srv *s, int *field) {
  pthread_mutex_lock(&s->mu);
  int v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

static void h1_stop(h1srv *s) {
  ck_assert_int_eq(write(s->wake[1], "x", 1), 1);
  pthread_join(s->thr, NULL);
  close(s->lfd);
  close(s->wake[0]);
  close(s->wake[1]);
  if (s->unix_path[0])
    unlink(s->unix_path);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* ------------------------------------------------------------------------ */
/* HTTP/1.1 tests                                                            */
/* ------------------------------------------------------------------------ */

START_TEST(test_h1_keepalive_reuse) {
  h1srv *s = h1_start(H1_KEEPALIVE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  ck_assert_ptr_nonnull(e);
  for (int i = 0; i < 20; i++) {
    txfer t;
    txfer_init(&t, "GET", s->port, "/v2/health/ready");
    run_one(e, &t);
    ck_assert_int_eq(t.result, KINFER_OK);
    ck_assert_int_eq(t.status, 200);
    ck_assert_int_eq(t.attempts, 1);
    ck_assert_int_eq(t.http_version, 11);
    ck_assert_str_eq(t.attempt_hdr, "1");
    ck_assert_str_eq(t.body, "GET ua=1 len=0 body=");
  }
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 1);
  ck_assert_uint_eq(st.requests, 20);
  ck_assert_uint_eq(st.successes, 20);
  ck_assert_uint_eq(st.h1_requests, 20);
  ck_assert_uint_gt(st.bytes_sent, 0);
  ck_assert_uint_gt(st.bytes_received, 0);
  ck_assert_int_eq(h1_count(s, &s->conns), 1);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_post_iovecs) {
  h1srv *s = h1_start(H1_KEEPALIVE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  kinfer_headers *hd = kinfer_headers_new();
  kinfer_headers_add(hd, "Content-Type", "application/json");
  kinfer_headers_add(hd, "User-Agent", "custom/1");
  struct iovec iov[3] = {{"{\"a\":", 5}, {"", 0}, {"[1,2]}", 6}};
  txfer t;
  txfer_init(&t, "POST", s->port, "/v2/models/m/infer");
  t.x.headers = hd;
  t.x.body = iov;
  t.x.body_iovcnt = 3;
  t.x.body_len = 11;
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_OK);
  /* the caller's User-Agent replaces ours */
  ck_assert_str_eq(t.body, "POST ua=0 len=11 body={\"a\":[1,2]}");
  ki_engine_free(e);
  kinfer_headers_free(hd);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_chunked) {
  h1srv *s = h1_start(H1_CHUNKED, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 3; i++) {
    txfer t;
    txfer_init(&t, "GET", s->port, "/");
    run_one(e, &t);
    ck_assert_int_eq(t.result, KINFER_OK);
    ck_assert_str_eq(t.body, "hello, world");
    ck_assert_uint_eq(t.body_len, 12);
  }
  ck_assert_int_eq(h1_count(s, &s->conns), 1);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_connection_close) {
  h1srv *s = h1_start(H1_CLOSE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 3; i++) {
    txfer t;
    txfer_init(&t, "POST", s->port, "/x");
    run_one(e, &t);
    ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
    ck_assert_int_eq(t.attempts, 1);
  }
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 3);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_informational_skipped) {
  h1srv *s = h1_start(H1_CONTINUE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_OK);
  ck_assert_int_eq(t.status, 201);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_body_cut_short) {
  h1srv *s = h1_start(H1_CUT, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_EBADRESPONSE);
  ck_assert_int_eq(t.attempts, 1); /* never retried after headers */
  ck_assert_ptr_nonnull(strstr(t.message, "cut short"));
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_conflicting_lengths) {
  h1srv *s = h1_start(H1_CONFLICT, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_EBADRESPONSE);
  ck_assert_int_eq(t.attempts, 1);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_limits) {
  h1srv *s = h1_start(H1_BIG_HEADER, false);
  kinfer_config *cfg = test_config(false);
  cfg->max_header_bytes = 1024;
  cfg->max_response_bytes = 1000;
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_ELIMIT);
  s->mode = H1_BIG_BODY; /* the server reads mode per request */
  txfer_init(&t, "GET", s->port, "/");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_ELIMIT);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_server_closes_idle) {
  h1srv *s = h1_start(H1_IDLE_CLOSE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 5; i++) {
    txfer t;
    txfer_init(&t, "GET", s->port, "/");
    if (i % 2)
      usleep(20000); /* sometimes let the close arrive first */
    run_one(e, &t);
    ck_assert_msg(t.result == KINFER_OK, "%d: %s", i, t.message);
  }
  ck_assert_int_eq(h1_count(s, &s->requests), 5);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

/* R13: a reused keep-alive connection dies after the request was written
 * and before any byte of a response: only an idempotent request is sent
 * again. */
START_TEST(test_h1_stale_keepalive) {
  h1srv *s = h1_start(H1_ONE_PER_CONN, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/1");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_OK);
  txfer_init(&t, "POST", s->port, "/2");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_EUNKNOWN_OUTCOME);
  ck_assert_int_eq(t.attempts, 1);
  txfer_init(&t, "GET", s->port, "/3"); /* on a new connection */
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_OK);
  ck_assert_int_eq(t.attempts, 1);
  txfer_init(&t, "GET", s->port, "/4"); /* reused, dies, resent */
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.attempts, 2);
  ck_assert_str_eq(t.attempt_hdr, "2");
  ck_assert_int_eq(h1_count(s, &s->requests), 3);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_h1_one_byte_at_a_time) {
  h1srv *s = h1_start(H1_TRICKLE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 2; i++) {
    txfer t;
    txfer_init(&t, "GET", s->port, "/");
    run_one(e, &t);
    ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
    ck_assert_str_eq(t.body, "abcde");
  }
  ck_assert_int_eq(h1_count(s, &s->conns), 1);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

/* A listener whose accept queue is full drops SYNs: connect hangs. */
START_TEST(test_connect_timeout) {
  uint16_t port;
  int lfd = listen_tcp(&port);
  listen(lfd, 0);
  int filler[4];
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < 4; i++) {
    filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(filler[i], (struct sockaddr *)&sa, sizeof sa);
  }
  usleep(20000);
  kinfer_config *cfg = test_config(false);
  cfg->connect_timeout = 0.2;
  cfg->retries = 1;
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "POST", port, "/");
  int64_t t0 = ki_now_ns();
  run_one(e, &t);
  double secs = (double)(ki_now_ns() - t0) / 1e9;
  /* A kernel that answers a full accept queue with RST (for instance with
   * tcp_abort_on_overflow) leaves nothing to time out: then only the
   * refusal is checked. */
  bool dropped = t.result != KINFER_ECONNECT;
  if (dropped) {
    ck_assert_int_eq(t.result, KINFER_ETIMEOUT);
    ck_assert_ptr_nonnull(strstr(t.message, "connect"));
    ck_assert(secs >= 0.35 && secs < 5);
  }
  ck_assert_int_eq(t.attempts, 2);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  for (int i = 0; i < 4; i++)
    close(filler[i]);
  close(lfd);
}
END_TEST

START_TEST(test_h1_unix_socket) {
  h1srv *s = h1_start(H1_KEEPALIVE, true);
  kinfer_config *cfg = test_config(false);
  cfg->unix_socket = ki_strdup(s->unix_path);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", 80, "/v2/health/live");
  t.x.host = "localhost";
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.status, 200);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_connect_refused) {
  uint16_t port;
  int fd = listen_tcp(&port);
  close(fd); /* nobody listens there now */
  kinfer_config *cfg = test_config(false);
  cfg->retries = 2;
  cfg->backoff_base = 0.02;
  cfg->backoff_cap = 0.04;
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "POST", port, "/x");
  int64_t t0 = ki_now_ns();
  run_one(e, &t);
  double secs = (double)(ki_now_ns() - t0) / 1e9;
  ck_assert_int_eq(t.result, KINFER_ECONNECT);
  ck_assert_int_eq(t.attempts, 3);
  ck_assert_ptr_nonnull(strstr(t.message, "refused"));
  ck_assert_ptr_nonnull(strstr(t.message, "127.0.0.1"));
  /* two backoffs of at least 10 ms and 20 ms */
  ck_assert(secs >= 0.03 && secs < 5);
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.retries, 2);
  ck_assert_uint_eq(st.connections_opened, 0);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
}
END_TEST

START_TEST(test_name_lookup) {
  h1srv *s = h1_start(H1_KEEPALIVE, false);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/");
  t.x.host = "localhost"; /* resolved on a helper thread */
  run_one(e, &t);
  /* localhost may resolve to ::1 first; the IPv4 address follows */
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  txfer_init(&t, "GET", s->port, "/");
  t.x.host = "no-such-host.invalid";
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_ECONNECT);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

static char g_log[8192];
static void capture_log(void *ud, int level, const char *line) {
  pthread_mutex_lock(&g_mu);
  size_t n = strlen(g_log);
  snprintf(g_log + n, sizeof g_log - n, "%d|%s\n", level, line);
  pthread_mutex_unlock(&g_mu);
}

START_TEST(test_verbose_log) {
  h1srv *s = h1_start(H1_KEEPALIVE, false);
  kinfer_config *cfg = test_config(false);
  cfg->verbose = true;
  cfg->log_fn = capture_log;
  g_log[0] = '\0';
  ki_engine *e = ki_engine_new(cfg, NULL);
  kinfer_headers *hd = kinfer_headers_new();
  kinfer_headers_add(hd, "Authorization", "Bearer s3cr3t-token");
  txfer t;
  txfer_init(&t, "GET", s->port, "/v2");
  t.x.headers = hd;
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_OK);
  pthread_mutex_lock(&g_mu);
  ck_assert_ptr_nonnull(strstr(g_log, "GET http://127.0.0.1:"));
  ck_assert_ptr_nonnull(strstr(g_log, "-> 200 (http/1.1, attempt 1,"));
  ck_assert_ptr_null(strstr(g_log, "s3cr3t"));
  pthread_mutex_unlock(&g_mu);
  ki_engine_free(e);
  kinfer_headers_free(hd);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

START_TEST(test_submit_invalid) {
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", 1, "/");
  t.x.done = NULL;
  ck_assert_int_eq(ki_engine_submit(e, &t.x), KINFER_EINVAL);
  ck_assert_int_eq(ki_engine_submit(NULL, &t.x), KINFER_EINVAL);
  ki_engine_free(e);
  ki_engine_free(NULL);
  kinfer_config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* An HTTP/2 (h2c) server on nghttp2                                         */
/* ------------------------------------------------------------------------ */

#define H2_MAXC 8
typedef struct h2srv {
  int lfd, wake[2];
  uint16_t port;
  pthread_t thr;
  pthread_mutex_t mu;
  int conns, requests, refused, dropped;
  int refuse_first; /* RST_STREAM(REFUSED_STREAM) the first N streams */
  bool hang;        /* never answer */
  int goaway_at;    /* GOAWAY(last id = this request) at the Nth request */
  int drop_first;   /* close the connection on the first N requests */
  uint32_t max_streams;
  int max_open;     /* most streams open at once */
  struct {
    int fd;
    nghttp2_session *s;
    int open;
    int32_t goaway_last; /* > 0 once GOAWAY was sent */
    struct h2req *reqs;
  } c[H2_MAXC];
} h2srv;

typedef struct h2req {
  struct h2req *next; /* every request of the connection, freed on drop:
                         nghttp2_session_del runs no close callbacks */
  char attempt[16];
  char body[64];
  size_t off, len;
  size_t received;  /* request body bytes */
  uint32_t sum;     /* a checksum of them */
} h2req;

static int h2s_data(nghttp2_session *ss, uint8_t flags, int32_t id,
                    const uint8_t *d, size_t len, void *ud) {
  h2req *r = nghttp2_session_get_stream_user_data(ss, id);
  if (r) {
    r->received += len;
    for (size_t i = 0; i < len; i++)
      r->sum = r->sum * 31 + d[i];
  }
  return 0;
}

static ssize_t h2s_read(nghttp2_session *ss, int32_t id, uint8_t *buf,
                        size_t length, uint32_t *flags,
                        nghttp2_data_source *src, void *ud) {
  h2req *r = src->ptr;
  size_t n = r->len - r->off < length ? r->len - r->off : length;
  memcpy(buf, r->body + r->off, n);
  r->off += n;
  if (r->off == r->len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static h2srv *g_h2; /* the server the callbacks belong to */

static int h2s_idx(nghttp2_session *ss) {
  for (int i = 0; i < H2_MAXC; i++)
    if (g_h2->c[i].s == ss)
      return i;
  return 0;
}

static int h2s_begin(nghttp2_session *ss, const nghttp2_frame *f, void *ud) {
  if (f->hd.type != NGHTTP2_HEADERS)
    return 0;
  h2req *r = calloc(1, sizeof *r);
  if (!r)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  nghttp2_session_set_stream_user_data(ss, f->hd.stream_id, r);
  int i = h2s_idx(ss);
  r->next = g_h2->c[i].reqs;
  g_h2->c[i].reqs = r;
  g_h2->c[i].open++;
  pthread_mutex_lock(&g_h2->mu);
  if (g_h2->c[i].open > g_h2->max_open)
    g_h2->max_open = g_h2->c[i].open;
  pthread_mutex_unlock(&g_h2->mu);
  return 0;
}

static int h2s_header(nghttp2_session *ss, const nghttp2_frame *f,
                      const uint8_t *n, size_t nl, const uint8_t *v, size_t vl,
                      uint8_t flags, void *ud) {
  h2req *r = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
  if (r && nl == 16 && memcmp(n, "x-kinfer-attempt", 16) == 0)
    snprintf(r->attempt, sizeof r->attempt, "%.*s", (int)vl, v);
  return 0;
}

static int h2s_frame(nghttp2_session *ss, const nghttp2_frame *f, void *ud) {
  if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
      !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  h2req *r = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
  if (!r)
    return 0;
  int ci = h2s_idx(ss);
  /* A GOAWAY promises that streams above its last id are not processed. */
  if (g_h2->c[ci].goaway_last && f->hd.stream_id > g_h2->c[ci].goaway_last)
    return 0;
  pthread_mutex_lock(&g_h2->mu);
  bool refuse = g_h2->refused < g_h2->refuse_first;
  if (refuse)
    g_h2->refused++;
  else
    g_h2->requests++;
  bool hang = g_h2->hang;
  bool goaway = !refuse && g_h2->goaway_at == g_h2->requests;
  bool drop = !refuse && g_h2->drop_first > 0;
  if (drop) {
    g_h2->drop_first--;
    g_h2->requests--;
    g_h2->dropped++;
  }
  pthread_mutex_unlock(&g_h2->mu);
  if (drop)
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* the server loop closes the socket */
  if (goaway)
    g_h2->c[ci].goaway_last = f->hd.stream_id;
  if (goaway)
    nghttp2_submit_goaway(ss, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                          NGHTTP2_NO_ERROR, NULL, 0);
  if (refuse)
    return nghttp2_submit_rst_stream(ss, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                     NGHTTP2_REFUSED_STREAM);
  if (hang)
    return 0;
  r->len = (size_t)snprintf(r->body, sizeof r->body, "h2 ok %d len=%zu sum=%u",
                            f->hd.stream_id, r->received, r->sum);
  nghttp2_nv nva[] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"x-attempt-seen", (uint8_t *)r->attempt, 14,
       strlen(r->attempt), NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider prd = {.source.ptr = r, .read_callback = h2s_read};
  return nghttp2_submit_response(ss, f->hd.stream_id, nva, 2, &prd);
}

static int h2s_close(nghttp2_session *ss, int32_t id, uint32_t ec, void *ud) {
  h2req *r = nghttp2_session_get_stream_user_data(ss, id);
  if (r)
    g_h2->c[h2s_idx(ss)].open--;
  return 0;
}

static void h2s_drop(h2srv *s, int i) {
  nghttp2_session_del(s->c[i].s);
  s->c[i].s = NULL;
  while (s->c[i].reqs) {
    struct h2req *r = s->c[i].reqs;
    s->c[i].reqs = r->next;
    free(r);
  }
  close(s->c[i].fd);
  s->c[i].fd = -1;
}

/* Frames are collected and written together, as a real server does: many
 * small writes would meet Nagle and delayed ACKs. */
static bool h2s_flush(h2srv *s, int i) {
  static uint8_t out[65536];
  size_t len = 0;
  for (;;) {
    const uint8_t *d;
    ssize_t n = nghttp2_session_mem_send(s->c[i].s, &d);
    if (n < 0)
      return false;
    if (n == 0 || len + (size_t)n > sizeof out) {
      sendall(s->c[i].fd, out, len);
      len = 0;
    }
    if (n == 0)
      return true;
    if ((size_t)n > sizeof out) {
      sendall(s->c[i].fd, d, (size_t)n);
      continue;
    }
    memcpy(out + len, d, (size_t)n);
    len += (size_t)n;
  }
}

static void h2s_accept(h2srv *s) {
  int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int i = 0;
  while (i < H2_MAXC && s->c[i].fd >= 0)
    i++;
  if (i == H2_MAXC) {
    close(fd);
    return;
  }
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2s_begin);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2s_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2s_frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2s_close);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2s_data);
  nghttp2_session_server_new(&s->c[i].s, cb, NULL);
  nghttp2_session_callbacks_del(cb);
  s->c[i].fd = fd;
  s->c[i].open = 0;
  s->c[i].goaway_last = 0;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->max_streams}};
  nghttp2_submit_settings(s->c[i].s, NGHTTP2_FLAG_NONE, iv, 1);
  h2s_flush(s, i);
  pthread_mutex_lock(&s->mu);
  s->conns++;
  pthread_mutex_unlock(&s->mu);
}

static void *h2_main(void *arg) {
  h2srv *s = arg;
  static uint8_t buf[65536];
  for (;;) {
    struct pollfd pf[H2_MAXC + 2];
    int map[H2_MAXC + 2], n = 0;
    pf[n].fd = s->wake[0];
    pf[n++].events = POLLIN;
    pf[n].fd = s->lfd;
    pf[n++].events = POLLIN;
    for (int i = 0; i < H2_MAXC; i++)
      if (s->c[i].fd >= 0) {
        map[n] = i;
        pf[n].fd = s->c[i].fd;
        pf[n++].events = POLLIN;
      }
    if (poll(pf, (nfds_t)n, -1) < 0)
      continue;
    if (pf[0].revents)
      break;
    if (pf[1].revents & POLLIN)
      h2s_accept(s);
    for (int k = 2; k < n; k++) {
      if (!pf[k].revents)
        continue;
      int i = map[k];
      ssize_t r = recv(s->c[i].fd, buf, sizeof buf, 0);
      if (r <= 0 || nghttp2_session_mem_recv(s->c[i].s, buf, (size_t)r) < 0 ||
          !h2s_flush(s, i))
        h2s_drop(s, i);
    }
  }
  for (int i = 0; i < H2_MAXC; i++)
    if (s->c[i].fd >= 0)
      h2s_drop(s, i);
  return NULL;
}

static h2srv *h2_start(void) {
  h2srv *s = calloc(1, sizeof *s);
  ck_assert_ptr_nonnull(s);
  pthread_mutex_init(&s->mu, NULL);
  s->max_streams = 256;
  for (int i = 0; i < H2_MAXC; i++)
    s->c[i].fd = -1;
  ck_assert_int_eq(pipe(s->wake), 0);
  s->lfd = listen_tcp(&s->port);
  g_h2 = s;
  return s;
}

static void h2_run(h2srv *s) {
  ck_assert_int_eq(pthread_create(&s->thr, NULL, h2_main, s), 0);
}

static int h2_count(h2srv *s, int *field) {
  pthread_mutex_lock(&s->mu);
  int v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

static void h2_stop(h2srv *s) {
  ck_assert_int_eq(write(s->wake[1], "x", 1), 1);
  pthread_join(s->thr, NULL);
  close(s->lfd);
  close(s->wake[0]);
  close(s->wake[1]);
  pthread_mutex_destroy(&s->mu);
  g_h2 = NULL;
  free(s);
}

/* ------------------------------------------------------------------------ */
/* HTTP/2 tests                                                              */
/* ------------------------------------------------------------------------ */

#define NCONC 100

START_TEST(test_h2_many_streams_one_connection) {
  h2srv *s = h2_start();
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  static txfer t[NCONC];
  reset_done();
  for (int i = 0; i < NCONC; i++) {
    txfer_init(&t[i], i % 2 ? "POST" : "GET", s->port, "/v2/models/m/infer");
    if (i % 2) {
      static struct iovec iov = {"{\"inputs\":[]}", 13};
      t[i].x.body = &iov;
      t[i].x.body_iovcnt = 1;
      t[i].x.body_len = 13;
    }
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  ck_assert(wait_done(NCONC));
  for (int i = 0; i < NCONC; i++) {
    ck_assert_int_eq(t[i].ndone, 1);
    ck_assert_msg(t[i].result == KINFER_OK, "%d: %s", i, t[i].message);
    ck_assert_int_eq(t[i].status, 200);
    ck_assert_int_eq(t[i].http_version, 20);
    ck_assert_str_eq(t[i].attempt_hdr, "1");
    ck_assert_ptr_nonnull(strstr(t[i].body, "h2 ok"));
  }
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 1);
  ck_assert_uint_eq(st.h2_requests, NCONC);
  ck_assert_int_eq(h2_count(s, &s->conns), 1);
  ck_assert_int_eq(h2_count(s, &s->requests), NCONC);
  ck_assert_int_gt(h2_count(s, &s->max_open), 1); /* really multiplexed */
  assert_idle(e);
  ki_engine_free(e);
  ki_engine_stats_get(NULL, &st);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_stream_limit) {
  h2srv *s = h2_start();
  s->max_streams = 2;
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  /* let SETTINGS arrive first */
  txfer w;
  txfer_init(&w, "GET", s->port, "/");
  run_one(e, &w);
  static txfer t[10];
  reset_done();
  for (int i = 0; i < 10; i++) {
    txfer_init(&t[i], "GET", s->port, "/");
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  ck_assert(wait_done(10));
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(t[i].result, KINFER_OK);
  ck_assert_int_le(h2_count(s, &s->max_open), 2);
  ck_assert_int_eq(h2_count(s, &s->conns), 1);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

/* Stream ids run out (after 2^31-1): the connection drains and the next
 * calls go to a new one, none failing.  Connections here start three ids
 * before the end. */
extern uint32_t ki_h2_first_stream_id; /* src/session/sess.h */

START_TEST(test_h2_stream_ids_exhausted) {
  h2srv *s = h2_start();
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_h2_first_stream_id = 0x7ffffffbu;
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 7; i++) {
    txfer t;
    txfer_init(&t, "GET", s->port, "/");
    run_one(e, &t);
    ck_assert_msg(t.result == KINFER_OK, "call %d: %s", i, t.message);
    ck_assert_int_eq(t.attempts, 1);
  }
  ki_h2_first_stream_id = 1;
  ck_assert_int_eq(h2_count(s, &s->conns), 3); /* 3 + 3 + 1 streams */
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

/* L4: many calls before the server's SETTINGS arrive, limit 5. */
START_TEST(test_h2_calls_before_settings) {
  h2srv *s = h2_start();
  s->max_streams = 5;
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  static txfer t[60];
  reset_done();
  for (int i = 0; i < 60; i++) {
    txfer_init(&t[i], "POST", s->port, "/v2/models/m/infer");
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  usleep(20000);
  h2_run(s);
  ck_assert(wait_done(60));
  for (int i = 0; i < 60; i++)
    ck_assert_msg(t[i].result == KINFER_OK, "%d: %s (attempts %d)", i,
                  t[i].message, t[i].attempts);
  ck_assert_int_eq(h2_count(s, &s->requests), 60);
  ck_assert_int_le(h2_count(s, &s->max_open), 5);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_refused_stream_retried) {
  h2srv *s = h2_start();
  s->refuse_first = 1;
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "POST", s->port, "/v2/models/m/infer");
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.attempts, 2);
  ck_assert_str_eq(t.attempt_hdr, "2");
  ck_assert_int_eq(h2_count(s, &s->requests), 1);

  /* refused every time: EREFUSED after retries + 1 attempts */
  pthread_mutex_lock(&s->mu);
  s->refused = 0;
  s->refuse_first = 1000;
  pthread_mutex_unlock(&s->mu);
  txfer_init(&t, "POST", s->port, "/v2/models/m/infer");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_EREFUSED);
  ck_assert_int_eq(t.attempts, cfg->retries + 1);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_deadline) {
  h2srv *s = h2_start();
  s->hang = true;
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/slow");
  int64_t t0 = ki_now_ns();
  t.x.deadline_ns = t0 + 300 * 1000000LL;
  run_one(e, &t);
  double secs = (double)(ki_now_ns() - t0) / 1e9;
  ck_assert_int_eq(t.result, KINFER_ETIMEOUT);
  ck_assert_ptr_nonnull(strstr(t.message, "read"));
  ck_assert(secs >= 0.25 && secs < 5);
  assert_idle(e);
  /* the connection stays usable for the next call */
  pthread_mutex_lock(&s->mu);
  s->hang = false;
  pthread_mutex_unlock(&s->mu);
  txfer_init(&t, "GET", s->port, "/fast");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_OK);
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 1);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_read_timeout) {
  h2srv *s = h2_start();
  s->hang = true;
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  cfg->read_timeout = 0.2;
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "GET", s->port, "/slow");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_ETIMEOUT);
  ck_assert_ptr_nonnull(strstr(t.message, "read"));
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_free_cancels_in_flight) {
  h2srv *s = h2_start();
  s->hang = true;
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  static txfer t[10];
  reset_done();
  for (int i = 0; i < 10; i++) {
    txfer_init(&t[i], "POST", s->port, "/x");
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  /* wait until the server saw them all */
  for (int i = 0; i < 500 && h2_count(s, &s->requests) < 10; i++)
    usleep(2000);
  ck_assert_int_eq(h2_count(s, &s->requests), 10);
  ki_engine_free(e);
  ck_assert_int_eq(g_done, 10);
  for (int i = 0; i < 10; i++) {
    ck_assert_int_eq(t[i].ndone, 1);
    ck_assert_int_eq(t[i].result, KINFER_ECANCELLED);
  }
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_free_cancels_queued) {
  /* connecting to a black hole: nothing accepts, nothing refuses */
  uint16_t port;
  int lfd = listen_tcp(&port);
  kinfer_config *cfg = test_config(false);
  ki_engine *e = ki_engine_new(cfg, NULL);
  static txfer t[20];
  reset_done();
  for (int i = 0; i < 20; i++) {
    txfer_init(&t[i], "GET", port, "/");
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  ki_engine_free(e);
  ck_assert_int_eq(g_done, 20);
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(t[i].ndone, 1);
    ck_assert_int_eq(t[i].result, KINFER_ECANCELLED);
  }
  close(lfd);
  kinfer_config_free(cfg);
}
END_TEST

START_TEST(test_h2c_fallback_to_h1) {
  h1srv *s = h1_start(H1_KEEPALIVE, false);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 3; i++) {
    txfer t;
    txfer_init(&t, "POST", s->port, "/v1/models/m:predict");
    run_one(e, &t);
    ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
    ck_assert_int_eq(t.status, 200);
    ck_assert_int_eq(t.http_version, 11);
  }
  /* one preface, then HTTP/1.1 remembered: two connections in all */
  ck_assert_int_eq(h1_count(s, &s->prefaces), 1);
  ck_assert_int_eq(h1_count(s, &s->requests), 3);
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 2);
  ck_assert_uint_eq(st.retries, 0);
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

/* A server closing on the h2c preface without a byte in reply: a request
 * that may be sent again is resent over HTTP/1.1 (and the origin is
 * remembered); one that may not is not resent, since a reset HTTP/2
 * connection looks the same and may have run it. */
START_TEST(test_h2c_fallback_on_close) {
  h1srv *s = h1_start(H1_KEEPALIVE, false);
  s->silent_pri = true;
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "POST", s->port, "/v1/models/m:predict");
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_EUNKNOWN_OUTCOME, "%s", t.message);
  ck_assert_int_eq(t.attempts, 1);
  ck_assert_int_eq(h1_count(s, &s->requests), 0);
  txfer_init(&t, "POST", s->port, "/v1/models/m:predict");
  t.x.idempotent = true;
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.http_version, 11);
  ck_assert_int_eq(h1_count(s, &s->requests), 1);
  txfer_init(&t, "POST", s->port, "/v1/models/m:predict");
  run_one(e, &t); /* remembered: straight to HTTP/1.1 */
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.http_version, 11);
  ck_assert_int_eq(h1_count(s, &s->requests), 2);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h1_stop(s);
}
END_TEST

/* A large upload in several borrowed segments: flow control, partial
 * writes and the data source. */
START_TEST(test_h2_large_upload) {
  h2srv *s = h2_start();
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  size_t sizes[3] = {3 * 1024 * 1024 + 7, 1, 5 * 1024 * 1024};
  struct iovec iov[3];
  uint32_t sum = 0;
  size_t total = 0;
  for (int i = 0; i < 3; i++) {
    unsigned char *b = malloc(sizes[i]);
    ck_assert_ptr_nonnull(b);
    for (size_t k = 0; k < sizes[i]; k++) {
      b[k] = (unsigned char)(k * 7 + (size_t)i);
      sum = sum * 31 + b[k];
    }
    iov[i].iov_base = b;
    iov[i].iov_len = sizes[i];
    total += sizes[i];
  }
  static txfer t[2];
  reset_done();
  for (int j = 0; j < 2; j++) {
    txfer_init(&t[j], "POST", s->port, "/v2/models/m/infer");
    t[j].x.body = iov;
    t[j].x.body_iovcnt = 3;
    t[j].x.body_len = total;
    ck_assert_int_eq(ki_engine_submit(e, &t[j].x), KINFER_OK);
  }
  ck_assert(wait_done(2));
  char want[64];
  snprintf(want, sizeof want, "len=%zu sum=%u", total, sum);
  for (int j = 0; j < 2; j++) {
    ck_assert_msg(t[j].result == KINFER_OK, "%s", t[j].message);
    ck_assert_msg(strstr(t[j].body, want), "%s vs %s", t[j].body, want);
  }
  for (int i = 0; i < 3; i++)
    free(iov[i].iov_base);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_body_limit) {
  h2srv *s = h2_start();
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  cfg->max_response_bytes = 8;
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 2; i++) {
    txfer t;
    txfer_init(&t, "GET", s->port, "/");
    run_one(e, &t);
    ck_assert_int_eq(t.result, KINFER_ELIMIT);
    ck_assert_int_eq(t.attempts, 1);
  }
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 1); /* only the streams reset */
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_goaway_below_streams) {
  h2srv *s = h2_start();
  s->goaway_at = 5;
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  static txfer t[20];
  reset_done();
  for (int i = 0; i < 20; i++) {
    txfer_init(&t[i], "POST", s->port, "/v2/models/m/infer");
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  /* The server starts only now: every request is on the first connection
   * (the kernel accepted it) when the GOAWAY comes. */
  h2_run(s);
  ck_assert(wait_done(20));
  int retried = 0;
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(t[i].ndone, 1);
    ck_assert_msg(t[i].result == KINFER_OK, "%d: %s", i, t[i].message);
    retried += t[i].attempts > 1;
  }
  /* streams above the last id went to a new connection, each run once */
  ck_assert_int_eq(h2_count(s, &s->requests), 20);
  ck_assert_int_eq(retried, 15);
  ck_assert_int_eq(h2_count(s, &s->conns), 2);
  assert_idle(e);
  ki_engine_stats st;
  for (int i = 0; i < 200; i++) {
    ki_engine_stats_get(e, &st);
    if (st.connections_open == 1)
      break;
    usleep(5000);
  }
  ck_assert_uint_eq(st.connections_open, 1); /* the drained one is closed */
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h2_connection_lost) {
  h2srv *s = h2_start();
  s->drop_first = 1;
  h2_run(s);
  kinfer_config *cfg = test_config(true);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  txfer_init(&t, "POST", s->port, "/v2/models/m/infer");
  run_one(e, &t);
  /* written, then lost: the server may have run it */
  ck_assert_int_eq(t.result, KINFER_EUNKNOWN_OUTCOME);
  ck_assert_int_eq(t.attempts, 1);
  pthread_mutex_lock(&s->mu);
  s->drop_first = 1;
  pthread_mutex_unlock(&s->mu);
  txfer_init(&t, "POST", s->port, "/v2/models/m/infer");
  t.x.idempotent = true;
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.attempts, 2);
  ck_assert_int_eq(t.http_version, 20); /* no fallback on a real h2 peer */
  assert_idle(e);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  h2_stop(s);
}
END_TEST

START_TEST(test_h1_pool_timeout) {
  uint16_t port;
  int lfd = listen_tcp(&port); /* accepts in the kernel, never answers */
  kinfer_config *cfg = test_config(false);
  cfg->max_connections = 1;
  cfg->pool_timeout = 0.2;
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer a, b;
  txfer_init(&a, "GET", port, "/hang");
  txfer_init(&b, "GET", port, "/queued");
  reset_done();
  ck_assert_int_eq(ki_engine_submit(e, &a.x), KINFER_OK);
  ck_assert_int_eq(ki_engine_submit(e, &b.x), KINFER_OK);
  ck_assert(wait_done(1));
  ck_assert_int_eq(b.ndone, 1);
  ck_assert_int_eq(b.result, KINFER_ETIMEOUT);
  ck_assert_ptr_nonnull(strstr(b.message, "pool"));
  ck_assert_int_eq(a.ndone, 0);
  ki_engine_free(e);
  ck_assert_int_eq(a.ndone, 1);
  ck_assert_int_eq(a.result, KINFER_ECANCELLED);
  close(lfd);
  kinfer_config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* TLS: a self-signed certificate made here, an OpenSSL HTTP/1.1 server      */
/* thread, and nghttpd for h2 over TLS                                       */
/* ------------------------------------------------------------------------ */

static char g_cert[192], g_key[192], g_dir[64];

static void make_cert(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/kinfer-check-%d", (int)getpid());
  mkdir(g_dir, 0700);
  snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
  snprintf(g_key, sizeof g_key, "%s/key.pem", g_dir);
  EVP_PKEY *pk = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(pk);
  ck_assert_ptr_nonnull(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, pk);
  X509_NAME *nm = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                             (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, nm);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
                                            "DNS:localhost,IP:127.0.0.1");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  ck_assert_int_gt(X509_sign(x, pk, EVP_sha256()), 0);
  FILE *f = fopen(g_cert, "w");
  PEM_write_X509(f, x);
  fclose(f);
  f = fopen(g_key, "w");
  PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(pk);
}

static void drop_cert(void) {
  unlink(g_cert);
  unlink(g_key);
  char idx[160];
  snprintf(idx, sizeof idx, "%s/index.html", g_dir);
  unlink(idx);
  rmdir(g_dir);
}

typedef struct tlssrv {
  int lfd, wake[2];
  uint16_t port;
  SSL_CTX *ctx;
  pthread_t thr;
  pthread_mutex_t mu;
  int requests, failed_handshakes;
  char alpn[16];
} tlssrv;

static int alpn_h1_only(SSL *ssl, const unsigned char **out,
                        unsigned char *outlen, const unsigned char *in,
                        unsigned int inlen, void *arg) {
  static const unsigned char mine[] = "\x08http/1.1";
  if (SSL_select_next_proto((unsigned char **)out, outlen, mine,
                            sizeof mine - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  return SSL_TLSEXT_ERR_OK;
}

static void tls_serve(tlssrv *s, int fd) {
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL *ssl = SSL_new(s->ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    pthread_mutex_lock(&s->mu);
    s->failed_handshakes++;
    pthread_mutex_unlock(&s->mu);
    ERR_clear_error();
    SSL_free(ssl);
    return;
  }
  const unsigned char *p;
  unsigned int n;
  SSL_get0_alpn_selected(ssl, &p, &n);
  char buf[4096];
  size_t len = 0;
  for (;;) {
    int r = SSL_read(ssl, buf + len, (int)(sizeof buf - len - 1));
    if (r <= 0)
      break;
    len += (size_t)r;
    buf[len] = '\0';
    char *end;
    while ((end = strstr(buf, "\r\n\r\n"))) {
      pthread_mutex_lock(&s->mu);
      s->requests++;
      pthread_mutex_unlock(&s->mu);
      char out[256];
      int k = snprintf(out, sizeof out,
                       "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n%.*s",
                       n ? n : 4, n ? (int)n : 4, n ? (const char *)p : "none");
      SSL_write(ssl, out, k);
      size_t used = (size_t)(end - buf) + 4;
      memmove(buf, buf + used, len - used + 1);
      len -= used;
    }
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ERR_clear_error();
}

static void *tls_main(void *arg) {
  tlssrv *s = arg;
  for (;;) {
    struct pollfd pf[2] = {{s->wake[0], POLLIN, 0}, {s->lfd, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0)
      continue;
    if (pf[0].revents)
      break;
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    tls_serve(s, fd);
    close(fd);
  }
  return NULL;
}

static tlssrv *tls_start(void) {
  tlssrv *s = calloc(1, sizeof *s);
  ck_assert_ptr_nonnull(s);
  pthread_mutex_init(&s->mu, NULL);
  s->ctx = SSL_CTX_new(TLS_server_method());
  ck_assert_int_eq(SSL_CTX_use_certificate_file(s->ctx, g_cert, SSL_FILETYPE_PEM), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(s->ctx, g_key, SSL_FILETYPE_PEM), 1);
  SSL_CTX_set_alpn_select_cb(s->ctx, alpn_h1_only, NULL);
  ck_assert_int_eq(pipe(s->wake), 0);
  s->lfd = listen_tcp(&s->port);
  ck_assert_int_eq(pthread_create(&s->thr, NULL, tls_main, s), 0);
  return s;
}

static void tls_stop(tlssrv *s) {
  ck_assert_int_eq(write(s->wake[1], "x", 1), 1);
  pthread_join(s->thr, NULL);
  close(s->lfd);
  close(s->wake[0]);
  close(s->wake[1]);
  SSL_CTX_free(s->ctx);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static void https_init(txfer *t, const char *host, uint16_t port,
                       const char *path) {
  txfer_init(t, "GET", port, path);
  snprintf(t->authority, sizeof t->authority, "%s:%u", host, port);
  snprintf(t->url, sizeof t->url, "https://%s:%u%s", host, port, path);
  t->x.host = host;
  t->x.https = true;
}

START_TEST(test_tls_h1_verified) {
  make_cert();
  tlssrv *s = tls_start();
  kinfer_config *cfg = test_config(false);
  cfg->ca_file = ki_strdup(g_cert);
  ki_engine *e = ki_engine_new(cfg, NULL);
  for (int i = 0; i < 3; i++) {
    txfer t;
    https_init(&t, "127.0.0.1", s->port, "/v2/health/ready");
    run_one(e, &t);
    ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
    ck_assert_int_eq(t.http_version, 11);
    ck_assert_str_eq(t.body, "http/1.1");
  }
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ck_assert_uint_eq(st.connections_opened, 1);
  /* by name: SNI and the DNS name in the certificate */
  txfer t;
  https_init(&t, "localhost", s->port, "/");
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  tls_stop(s);
  drop_cert();
}
END_TEST

START_TEST(test_tls_alpn_http11_with_http2_on) {
  make_cert();
  tlssrv *s = tls_start();
  kinfer_config *cfg = test_config(true);
  cfg->ca_file = ki_strdup(g_cert);
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  https_init(&t, "127.0.0.1", s->port, "/");
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ck_assert_int_eq(t.http_version, 11); /* no h2 preface sent */
  ck_assert_str_eq(t.body, "http/1.1");
  ki_engine_free(e);
  kinfer_config_free(cfg);
  tls_stop(s);
  drop_cert();
}
END_TEST

START_TEST(test_tls_verify_failure_not_retried) {
  make_cert();
  tlssrv *s = tls_start();
  kinfer_config *cfg = test_config(false); /* system CAs: ours is unknown */
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  https_init(&t, "127.0.0.1", s->port, "/");
  run_one(e, &t);
  ck_assert_int_eq(t.result, KINFER_ETLS);
  ck_assert_int_eq(t.attempts, 1);
  ck_assert_ptr_nonnull(strstr(t.message, "verif"));
  ki_engine_free(e);
  kinfer_config_free(cfg);

  /* verification off: accepted */
  cfg = test_config(false);
  cfg->verify = false;
  e = ki_engine_new(cfg, NULL);
  https_init(&t, "127.0.0.1", s->port, "/");
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  tls_stop(s);
  drop_cert();
}
END_TEST

START_TEST(test_tls_caller_ssl_ctx) {
  make_cert();
  tlssrv *s = tls_start();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, g_cert, NULL), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  kinfer_config *cfg = test_config(false);
  cfg->ssl_ctx = ctx; /* borrowed: used instead of ca_file / verify */
  ki_engine *e = ki_engine_new(cfg, NULL);
  txfer t;
  https_init(&t, "localhost", s->port, "/");
  run_one(e, &t);
  ck_assert_msg(t.result == KINFER_OK, "%s", t.message);
  ki_engine_free(e);
  SSL_CTX_free(ctx);
  kinfer_config_free(cfg);
  tls_stop(s);
  drop_cert();
}
END_TEST

/* nghttpd (Debian nghttp2-server) serves h2 over TLS, a real peer. */
static const char *find_nghttpd(void) {
  static const char *paths[] = {"/usr/sbin/nghttpd", "/usr/bin/nghttpd",
                                "/usr/local/bin/nghttpd"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    if (access(paths[i], X_OK) == 0)
      return paths[i];
  return NULL;
}

START_TEST(test_tls_h2_nghttpd) {
  const char *bin = find_nghttpd();
  ck_assert_msg(bin != NULL, "nghttpd not found: run tools/scripts/deps.sh --test "
                             "(Debian package nghttp2-server)");
  make_cert();
  char idx[160];
  snprintf(idx, sizeof idx, "%s/index.html", g_dir);
  FILE *f = fopen(idx, "w");
  fputs("hello over h2", f);
  fclose(f);
  uint16_t port;
  close(listen_tcp(&port));
  char ports[8];
  snprintf(ports, sizeof ports, "%u", port);
  char *argv[] = {(char *)bin, "-d", g_dir, "-a", "127.0.0.1", ports, g_key,
                  g_cert, NULL};
  pid_t pid;
  extern char **environ;
  ck_assert_int_eq(posix_spawn(&pid, bin, NULL, NULL, argv, environ), 0);
  for (int i = 0; i < 200; i++) { /* wait until it listens */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    if (rc == 0)
      break;
    usleep(10000);
  }
  kinfer_config *cfg = test_config(true);
  cfg->ca_file = ki_strdup(g_cert);
  ki_engine *e = ki_engine_new(cfg, NULL);
  static txfer t[20];
  reset_done();
  for (int i = 0; i < 20; i++) {
    https_init(&t[i], "127.0.0.1", port, "/");
    ck_assert_int_eq(ki_engine_submit(e, &t[i].x), KINFER_OK);
  }
  bool all = wait_done(20);
  ki_engine_stats st;
  ki_engine_stats_get(e, &st);
  ki_engine_free(e);
  kinfer_config_free(cfg);
  kill(pid, SIGTERM); /* before any assertion can end the test */
  waitpid(pid, NULL, 0);
  ck_assert(all);
  for (int i = 0; i < 20; i++) {
    ck_assert_msg(t[i].result == KINFER_OK, "%s", t[i].message);
    ck_assert_int_eq(t[i].status, 200);
    ck_assert_int_eq(t[i].http_version, 20);
    ck_assert_str_eq(t[i].body, "hello over h2");
  }
  ck_assert_uint_eq(st.connections_opened, 1);
  drop_cert();
}
END_TEST

static Suite *session_suite(void) {
  Suite *s = suite_create("session");
  TCase *h1 = tcase_create("http1");
  tcase_set_timeout(h1, 60);
  tcase_add_test(h1, test_h1_keepalive_reuse);
  tcase_add_test(h1, test_h1_post_iovecs);
  tcase_add_test(h1, test_h1_chunked);
  tcase_add_test(h1, test_h1_connection_close);
  tcase_add_test(h1, test_h1_informational_skipped);
  tcase_add_test(h1, test_h1_body_cut_short);
  tcase_add_test(h1, test_h1_conflicting_lengths);
  tcase_add_test(h1, test_h1_limits);
  tcase_add_test(h1, test_h1_server_closes_idle);
  tcase_add_test(h1, test_h1_unix_socket);
  tcase_add_test(h1, test_h1_stale_keepalive);
  tcase_add_test(h1, test_h1_one_byte_at_a_time);
  tcase_add_test(h1, test_connect_timeout);
  tcase_add_test(h1, test_connect_refused);
  tcase_add_test(h1, test_name_lookup);
  tcase_add_test(h1, test_verbose_log);
  tcase_add_test(h1, test_submit_invalid);
  suite_add_tcase(s, h1);
  TCase *h2 = tcase_create("http2");
  tcase_set_timeout(h2, 60);
  tcase_add_test(h2, test_h2_many_streams_one_connection);
  tcase_add_test(h2, test_h2_stream_limit);
  tcase_add_test(h2, test_h2_calls_before_settings);
  tcase_add_test(h2, test_h2_refused_stream_retried);
  tcase_add_test(h2, test_h2_deadline);
  tcase_add_test(h2, test_h2_read_timeout);
  tcase_add_test(h2, test_free_cancels_in_flight);
  tcase_add_test(h2, test_free_cancels_queued);
  tcase_add_test(h2, test_h2c_fallback_to_h1);
  tcase_add_test(h2, test_h2_goaway_below_streams);
  tcase_add_test(h2, test_h2c_fallback_on_close);
  tcase_add_test(h2, test_h2_body_limit);

  tcase_add_test(h2, test_h2_connection_lost);
  tcase_add_test(h1, test_h1_pool_timeout);
  suite_add_tcase(s, h2);
  TCase *up = tcase_create("upload");
  tcase_set_timeout(up, 60);
  tcase_add_test(up, test_h2_large_upload);
  tcase_add_test(up, test_h2_stream_ids_exhausted);
  suite_add_tcase(s, up);
  TCase *tls = tcase_create("tls");
  tcase_set_timeout(tls, 60);
  tcase_add_test(tls, test_tls_h1_verified);
  tcase_add_test(tls, test_tls_alpn_http11_with_http2_on);
  tcase_add_test(tls, test_tls_verify_failure_not_retried);
  tcase_add_test(tls, test_tls_caller_ssl_ctx);
  tcase_add_test(tls, test_tls_h2_nghttpd);
  suite_add_tcase(s, tls);
  return s;
}

KINFER_CHECK_MAIN(session_suite)
