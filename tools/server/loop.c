/*
 * Worker threads: epoll loop, accept, socket and TLS I/O, protocol
 * selection and the queue of delayed executions (--delay-ms).
 *
 * All workers share one listening socket, registered with EPOLLEXCLUSIVE so
 * a new connection wakes one worker. A connection stays on the worker that
 * accepted it. Because every delayed execution waits the same --delay-ms,
 * the queue is kept in due order simply by appending.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "conn.h"

#define READ_CHUNK (64 * 1024)
#define WRITE_HIGH_WATER (64 * 1024)
#define PLAIN_READ_BUDGET 16  /* reads per event before yielding */

typedef struct ks_job {
  struct ks_job *next;
  uint64_t due_ms;
  ks_conn *conn;            /* NULL once the connection is gone */
  int32_t stream_id;
  ks_request req;
} ks_job;

struct ks_worker {
  int epfd;
  int listen_fd;
  int wake_fd;
  SSL_CTX *tls;
  pthread_t thread;
  ks_conn *conns;
  ks_job *jobs, *jobs_tail;
  bool stop;
};

static char listen_tag, wake_tag;  /* epoll cookies for non-connection fds */

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- socket and TLS I/O ----------------------------------------------------
 * Both return bytes moved, 0 for end of stream, -1 for "would block" and -2
 * for an error. */

static ssize_t conn_recv(ks_conn *c, void *buf, size_t n)
{
  if (c->ssl) {
    int r = SSL_read(c->ssl, buf, (int)n);
    if (r > 0)
      return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return -1;
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -2;
  }
  for (;;) {
    ssize_t r = recv(c->fd, buf, n, 0);
    if (r >= 0)
      return r;
    if (errno == EINTR)
      continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
  }
}

static ssize_t conn_send(ks_conn *c, const void *buf, size_t n)
{
  if (c->ssl) {
    int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
      return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return -1;
    ERR_clear_error();
    return -2;
  }
  for (;;) {
    ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0)
      return r;
    if (errno == EINTR)
      continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
  }
}

size_t ks_conn_pending(const ks_conn *c)
{
  return c->out.len - c->out_off;
}

/* Writes as much output as the socket takes, refilling from the protocol. */
static int conn_flush(ks_conn *c)
{
  for (;;) {
    if (c->proto && ks_conn_pending(c) < WRITE_HIGH_WATER && c->proto->fill(c) < 0)
      return -1;
    if (ks_conn_pending(c) == 0) {
      c->out.len = c->out_off = 0;
      return 0;
    }
    ssize_t n = conn_send(c, c->out.data + c->out_off, ks_conn_pending(c));
    if (n == -1)
      break;
    if (n < 0)
      return -1;
    c->out_off += (size_t)n;
  }
  if (c->out_off > c->out.len / 2) {  /* keep the buffer from creeping */
    ks_buf_consume(&c->out, c->out_off);
    c->out_off = 0;
  }
  return 0;
}

/* ---- connections ------------------------------------------------------------ */

static void conn_close(ks_conn *c)
{
  ks_worker *w = c->worker;
  for (ks_job *j = w->jobs; j; j = j->next)
    if (j->conn == c)
      j->conn = NULL;
  if (c->proto)
    c->proto->free(c);
  if (c->ssl) {
    if (!c->abrupt && !c->handshaking)
      SSL_shutdown(c->ssl);  /* best effort close_notify */
    SSL_free(c->ssl);
  }
  if (c->abrupt) {
    struct linger lg = {1, 0};  /* RST, as a crashed peer would */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else if (!c->eof) {
    /* Unread input makes close() send RST, which can destroy a response
     * still in flight (a 413 or 400 sent before the request ended): read
     * off what has already arrived first. */
    shutdown(c->fd, SHUT_WR);
    char buf[4096];
    for (int i = 0; i < 64 && recv(c->fd, buf, sizeof buf, 0) > 0; i++)
      ;
  }
  epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  ks_buf_free(&c->in);
  ks_buf_free(&c->out);
  free(c);
}

static void conn_update_events(ks_conn *c)
{
  uint32_t ev = 0;
  if (!c->closing && !c->eof && (!c->proto || c->proto->want_read(c)))
    ev |= EPOLLIN;
  if (ks_conn_pending(c) > 0 || c->tls_want_write)
    ev |= EPOLLOUT;
  if (ev == c->events)
    return;
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &e);
  c->events = ev;
}

/* Ends one round of work on a connection: write, then close or re-arm. */
static void conn_settle(ks_conn *c)
{
  if (!c->dead && conn_flush(c) < 0)
    c->dead = true;
  bool drained = ks_conn_pending(c) == 0;
  bool done = c->proto ? c->proto->done(c) : c->eof;
  if (c->dead || (drained && (c->closing || done))) {
    conn_close(c);
    return;
  }
  conn_update_events(c);
}

static int choose_protocol(ks_conn *c, bool h2)
{
  return h2 ? ks_h2_start(c) : ks_h1_start(c);
}

/* Cleartext: HTTP/2 prior knowledge starts with the connection preface. */
static int sniff(ks_conn *c, const char *p, size_t n)
{
  if (ks_buf_append(&c->in, p, n) < 0)
    return -1;
  size_t m = c->in.len < KS_H2_PREFACE_LEN ? c->in.len : KS_H2_PREFACE_LEN;
  bool maybe_h2 = !ks_cfg.h1_only && memcmp(c->in.data, ks_h2_preface, m) == 0;
  if (maybe_h2 && m < KS_H2_PREFACE_LEN)
    return 0;
  return choose_protocol(c, maybe_h2);
}

static int conn_handshake(ks_conn *c)
{
  c->tls_want_write = false;
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->handshaking = false;
    return choose_protocol(c, !ks_cfg.h1_only && ks_tls_selected_h2(c->ssl));
  }
  switch (SSL_get_error(c->ssl, r)) {
  case SSL_ERROR_WANT_READ:
    return 0;
  case SSL_ERROR_WANT_WRITE:
    c->tls_want_write = true;
    return 0;
  default:
    ERR_clear_error();
    return -1;
  }
}

static void conn_on_readable(ks_conn *c)
{
  if (c->handshaking) {
    if (conn_handshake(c) < 0)
      c->dead = true;
    if (c->handshaking || c->dead)
      return;
  }
  char buf[READ_CHUNK];
  for (int i = 0; c->ssl || i < PLAIN_READ_BUDGET; i++) {
    if (c->dead || c->closing || c->eof || (c->proto && !c->proto->want_read(c)))
      return;
    ssize_t n = conn_recv(c, buf, sizeof buf);
    if (n == -1)
      return;
    if (n == 0) {
      /* The peer is done sending: answer what it asked, then close. */
      c->eof = true;
      return;
    }
    if (n == -2) {
      c->dead = true;
      return;
    }
    int rc = c->proto ? c->proto->on_read(c, (const uint8_t *)buf, (size_t)n)
                      : sniff(c, buf, (size_t)n);
    if (rc < 0)
      c->dead = true;
  }
}

static void conn_on_event(ks_conn *c, uint32_t events)
{
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
    conn_on_readable(c);
  else if (c->handshaking && (events & EPOLLOUT) && conn_handshake(c) < 0)
    c->dead = true;
  conn_settle(c);
}

static void conn_new(ks_worker *w, int fd)
{
  ks_conn *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  c->worker = w;
  c->fd = fd;
  if (w->tls) {
    c->ssl = SSL_new(w->tls);
    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
      SSL_free(c->ssl);
      close(fd);
      free(c);
      return;
    }
    SSL_set_accept_state(c->ssl);
    c->handshaking = true;
  }
  c->events = EPOLLIN;
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
    SSL_free(c->ssl);
    close(fd);
    free(c);
    return;
  }
  c->next = w->conns;
  if (w->conns)
    w->conns->prev = c;
  w->conns = c;
}

static void on_accept(ks_worker *w)
{
  for (int i = 0; i < 64; i++) {
    int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return;  /* EAGAIN, or out of descriptors: try again on the next event */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_new(w, fd);
  }
}

/* ---- dispatch and delayed executions --------------------------------------- */

void ks_conn_log(ks_conn *c, const char *method, const char *path, int status)
{
  if (ks_cfg.verbosity > 0)
    ks_log("%s %s %s %d", c->proto ? c->proto->name : "-", method, path, status);
}

/* --drop-after: true when this execution is the one after which the
 * connection is cut. */
static bool drop_now(ks_conn *c)
{
  return ks_cfg.drop_after && ++c->executions == ks_cfg.drop_after;
}

int ks_conn_dispatch(ks_conn *c, int32_t stream_id, ks_request *req, ks_response *resp)
{
  bool exec = ks_is_execution(req);
  if (exec && ks_cfg.delay_ms) {
    ks_job *j = calloc(1, sizeof *j);
    if (!j) {
      ks_request_free(req);
      ks_response_error(resp, 500, "out of memory");
      return 1;
    }
    j->due_ms = now_ms() + ks_cfg.delay_ms;
    j->conn = c;
    j->stream_id = stream_id;
    j->req = *req;
    memset(req, 0, sizeof *req);
    ks_worker *w = c->worker;
    if (w->jobs_tail)
      w->jobs_tail->next = j;
    else
      w->jobs = j;
    w->jobs_tail = j;
    return 0;
  }
  ks_handle(req, resp);
  ks_conn_log(c, req->method, req->path, resp->status);
  ks_request_free(req);
  return exec && drop_now(c) ? -1 : 1;
}

static void run_job(ks_job *j)
{
  ks_response resp;
  ks_response_init(&resp);
  ks_handle(&j->req, &resp);
  ks_conn *c = j->conn;
  if (c) {
    ks_conn_log(c, j->req.method, j->req.path, resp.status);
    if (drop_now(c)) {
      c->dead = c->abrupt = true;
    } else {
      c->proto->respond(c, j->stream_id, &resp);
      /* Input paused while answering may sit decrypted inside OpenSSL,
       * where epoll cannot see it. */
      if (c->ssl && SSL_pending(c->ssl) > 0)
        conn_on_readable(c);
    }
    conn_settle(c);
  }
  ks_response_free(&resp);
  ks_request_free(&j->req);
  free(j);
}

static void run_due_jobs(ks_worker *w)
{
  uint64_t now = now_ms();
  while (w->jobs && w->jobs->due_ms <= now) {
    ks_job *j = w->jobs;
    w->jobs = j->next;
    if (!w->jobs)
      w->jobs_tail = NULL;
    run_job(j);
  }
}

static int next_timeout(ks_worker *w)
{
  if (!w->jobs)
    return -1;
  uint64_t now = now_ms();
  return w->jobs->due_ms <= now ? 0 : (int)(w->jobs->due_ms - now);
}

/* ---- workers ----------------------------------------------------------------- */

static void *worker_main(void *arg)
{
  ks_worker *w = arg;
  struct epoll_event ev[256];
  while (!w->stop) {
    int n = epoll_wait(w->epfd, ev, 256, next_timeout(w));
    if (n < 0 && errno != EINTR)
      break;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.ptr == &listen_tag)
        on_accept(w);
      else if (ev[i].data.ptr == &wake_tag)
        w->stop = true;
      else
        conn_on_event(ev[i].data.ptr, ev[i].events);
    }
    run_due_jobs(w);
  }
  return NULL;
}

static int worker_init(ks_worker *w, int listen_fd, SSL_CTX *tls)
{
  memset(w, 0, sizeof *w);
  w->listen_fd = listen_fd;
  w->tls = tls;
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->epfd < 0 || w->wake_fd < 0)
    return -1;
  struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag};
  struct epoll_event we = {.events = EPOLLIN, .data.ptr = &wake_tag};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, listen_fd, &le) < 0 ||
      epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &we) < 0)
    return -1;
  return 0;
}

static void worker_destroy(ks_worker *w)
{
  while (w->conns)
    conn_close(w->conns);
  while (w->jobs) {
    ks_job *j = w->jobs;
    w->jobs = j->next;
    ks_request_free(&j->req);
    free(j);
  }
  if (w->epfd >= 0)
    close(w->epfd);
  if (w->wake_fd >= 0)
    close(w->wake_fd);
}

int ks_listen(const char *host, const char *port, int *bound_port)
{
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, KS_NAME ": %s:%s: %s\n", host ? host : "", port, gai_strerror(rc));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, KS_NAME ": cannot listen on %s:%s: %s\n", host ? host : "", port,
            strerror(err));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &len);
  *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

int ks_workers_run(int listen_fd, SSL_CTX *tls, int nthreads)
{
  ks_worker *w = calloc((size_t)nthreads, sizeof *w);
  if (!w)
    return -1;
  int started = 0, rc = 0;
  for (; started < nthreads; started++) {
    if (worker_init(&w[started], listen_fd, tls) < 0 ||
        pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0) {
      fprintf(stderr, KS_NAME ": cannot start worker: %s\n", strerror(errno));
      worker_destroy(&w[started]);
      rc = -1;
      break;
    }
  }
  if (rc == 0) {
    /* SIGINT and SIGTERM are blocked in every thread; wait for them here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    sigwait(&set, &sig);
  }
  for (int i = 0; i < started; i++) {
    uint64_t one = 1;
    if (write(w[i].wake_fd, &one, sizeof one) < 0)
      w[i].stop = true;
  }
  for (int i = 0; i < started; i++) {
    pthread_join(w[i].thread, NULL);
    worker_destroy(&w[i]);
  }
  free(w);
  return rc;
}
