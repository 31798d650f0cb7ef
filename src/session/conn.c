/*
 * Connections: non-blocking connect (TCP with TCP_NODELAY, or a unix
 * socket), name lookups on helper threads, socket I/O with MSG_NOSIGNAL,
 * connect and read/write timeouts, and the hand-over to the HTTP codec once
 * connected.  The transport functions ki_conn_recv / ki_conn_sendv are the
 * one place a TLS filter slots in between the socket and the codec.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "session/sess.h"

ssize_t ki_conn_recv(ki_conn *c, void *buf, size_t len) {
  ssize_t n;
  if (c->ssl)
    n = ki_tls_recv(c, buf, len);
  else
    do
      n = recv(c->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
  if (n > 0)
    KI_STAT_ADD(c->e, bytes_received, n);
  return n;
}

ssize_t ki_conn_sendv(ki_conn *c, const struct iovec *iov, int iovcnt) {
  struct msghdr mh = {.msg_iov = (struct iovec *)iov,
                      .msg_iovlen = (size_t)iovcnt};
  ssize_t n;
  /* MSG_NOSIGNAL: a peer that went away must never raise SIGPIPE in the
   * host process. */
  if (c->ssl)
    n = ki_tls_sendv(c, iov, iovcnt);
  else
    do
      n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
  if (n > 0) {
    KI_STAT_ADD(c->e, bytes_sent, n);
    c->last_io = ki_now_ns();
  }
  return n;
}

void ki_conn_mark_dirty(ki_conn *c) {
  if (c->state == KI_CS_OPEN && !ki_list_linked(&c->dirty_link))
    ki_list_push(&c->e->dirty, &c->dirty_link);
}

void ki_conn_attach(ki_conn *c, ki_xfer_priv *p) {
  ki_list_remove(&p->link);
  ki_list_push(&c->streams, &p->link);
  c->nstreams++;
  p->conn = c;
  p->proto = c->ops->name;
  p->x->http_version = c->ops->http_version;
  ki_xfer_set_state(p, KI_XS_ACTIVE);
  if (c->ops->http_version == 20)
    KI_STAT_ADD(c->e, h2_requests, 1);
  else
    KI_STAT_ADD(c->e, h1_requests, 1);
}

void ki_conn_detach(ki_conn *c, ki_xfer_priv *p) {
  if (p->conn != c)
    return;
  ki_list_remove(&p->link);
  c->nstreams--;
  p->conn = NULL;
  /* Neither queued nor in flight: the caller re-queues, retries or
   * completes it. */
  ki_xfer_set_state(p, KI_XS_DONE);
  c->last_io = ki_now_ns();
  ki_pool_kick(c->o);
}

/* ---- timeouts -------------------------------------------------------------- */

static void on_io_timeout(ki_engine *e, ki_timer *t) {
  ki_conn *c = KI_CONTAINER_OF(t, ki_conn, io_timer);
  double secs = c->want_write ? e->cfg->write_timeout : e->cfg->read_timeout;
  int64_t limit = ki_secs_to_ns(secs);
  if (c->nstreams == 0 || limit == 0)
    return;
  int64_t now = ki_now_ns();
  if (now - c->last_io < limit) {
    (void)ki_timer_arm(e, t, c->last_io + limit);
    return;
  }
  ki_conn_close(c, KINFER_ETIMEOUT, "timed out (%s) after %.3g s on %s",
                c->want_write ? "write" : "read", secs, c->addr);
}

void ki_conn_update(ki_conn *c) {
  if (c->state != KI_CS_OPEN)
    return;
  uint32_t ev = EPOLLIN | (c->want_write ? EPOLLOUT : 0);
  if (ki_engine_watch(c->e, c, ev) != KINFER_OK) {
    ki_conn_close(c, KINFER_ENOMEM, "cannot watch the socket: %s",
                  strerror(errno));
    return;
  }
  const kinfer_config *cfg = c->e->cfg;
  int64_t limit =
      ki_secs_to_ns(c->want_write ? cfg->write_timeout : cfg->read_timeout);
  if (c->nstreams > 0 && limit > 0) {
    if (!ki_timer_armed(&c->io_timer))
      (void)ki_timer_arm(c->e, &c->io_timer, c->last_io + limit);
  } else {
    ki_timer_disarm(c->e, &c->io_timer);
  }
}

/* ---- connect ------------------------------------------------------------- */

static void conn_connect_failed(ki_conn *c) {
  ki_pool_connect_failed(c, c->fail_cls, c->fail_code, c->fail_msg);
  ki_conn_close(c, c->fail_code, "%s", c->fail_msg);
}

static void on_connect_timer(ki_engine *e, ki_timer *t) {
  ki_conn *c = KI_CONTAINER_OF(t, ki_conn, connect_timer);
  if (c->fail_code == KINFER_OK) {
    c->fail_code = KINFER_ETIMEOUT;
    c->fail_cls = KI_FAIL_CONNECT;
    snprintf(c->fail_msg, sizeof c->fail_msg,
             "timed out (connect) after %.3g s connecting to %s",
             e->cfg->connect_timeout, c->addr);
  }
  conn_connect_failed(c);
}

/* Records a connect failure and reports it from the timer, so that opening
 * a connection never re-enters the pool that asked for it. */
static void conn_defer_failure(ki_conn *c, int code, const char *fmt, ...)
    KI_PRINTF(3, 4);
static void conn_defer_failure(ki_conn *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
  va_end(ap);
  c->fail_code = code;
  c->fail_cls = KI_FAIL_CONNECT;
  c->state = KI_CS_CONNECTING;
  if (ki_timer_arm(c->e, &c->connect_timer, 0) != KINFER_OK)
    conn_connect_failed(c); /* out of memory: report right away */
}

static void addr_text(ki_conn *c, const struct sockaddr *sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const void *)sa;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(c->addr, sizeof c->addr, "%s:%u", ip, ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const void *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(c->addr, sizeof c->addr, "[%s]:%u", ip, ntohs(in6->sin6_port));
  }
}

/* Starts a connect to |sa|: 0 when under way (or done), else an errno. */
static int connect_addr(ki_conn *c, const struct sockaddr *sa, socklen_t len) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno;
  if (sa->sa_family != AF_UNIX) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  int rc;
  do
    rc = connect(fd, sa, len);
  while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) {
    int saved = errno;
    close(fd);
    return saved;
  }
  c->fd = fd;
  c->state = KI_CS_CONNECTING;
  if (ki_engine_watch(c->e, c, EPOLLOUT) != KINFER_OK) {
    int saved = errno;
    close(fd);
    c->fd = -1;
    return saved ? saved : ENOMEM;
  }
  return 0;
}

/* Tries the next resolved address; reports failure once none is left. */
static void connect_next(ki_conn *c) {
  for (; c->ai_cur; c->ai_cur = c->ai_cur->ai_next) {
    addr_text(c, c->ai_cur->ai_addr);
    int err = connect_addr(c, c->ai_cur->ai_addr, c->ai_cur->ai_addrlen);
    if (err == 0)
      return;
    c->last_errno = err;
  }
  conn_defer_failure(c, KINFER_ECONNECT, "cannot connect to %s (%s:%u): %s",
                     c->addr, c->o->host, c->o->port,
                     strerror(c->last_errno ? c->last_errno : ECONNREFUSED));
}

static void connect_unix(ki_conn *c, const char *path) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(c->addr, sizeof c->addr, "unix:%s", path);
  if (strlen(path) >= sizeof sun.sun_path) {
    conn_defer_failure(c, KINFER_ECONNECT, "cannot connect to %s: path too long",
                       c->addr);
    return;
  }
  memcpy(sun.sun_path, path, strlen(path) + 1);
  int err = connect_addr(c, (struct sockaddr *)&sun, sizeof sun);
  if (err) {
    c->last_errno = err;
    conn_defer_failure(c, KINFER_ECONNECT, "cannot connect to %s: %s", c->addr,
                       strerror(err));
  }
}

static void *resolve_main(void *arg) {
  ki_resolve_job *job = arg;
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
  job->rc = getaddrinfo(job->host, job->port, &hints, &job->res);
  ki_engine *e = job->e;
  pthread_mutex_lock(&e->mu);
  ki_list_push(&e->resolved, &job->link);
  pthread_mutex_unlock(&e->mu);
  ki_engine_wake(e);
  return NULL;
}

static void start_resolve(ki_conn *c) {
  ki_engine *e = c->e;
  ki_resolve_job *job = calloc(1, sizeof *job);
  if (!job || !(job->host = ki_strdup(c->o->host))) {
    free(job);
    conn_defer_failure(c, KINFER_ENOMEM, "out of memory");
    return;
  }
  job->e = e;
  job->conn = c;
  snprintf(job->port, sizeof job->port, "%u", c->o->port);
  pthread_mutex_lock(&e->mu);
  ki_list_push(&e->jobs, &job->all);
  int rc = pthread_create(&job->thread, NULL, resolve_main, job);
  if (rc != 0)
    ki_list_remove(&job->all);
  pthread_mutex_unlock(&e->mu);
  if (rc != 0) {
    free(job->host);
    free(job);
    conn_defer_failure(c, KINFER_ECONNECT, "cannot resolve %s: %s",
                       c->o->host, strerror(rc));
    return;
  }
  c->job = job;
  c->state = KI_CS_RESOLVING;
}

void ki_conn_on_resolved(ki_resolve_job *job) {
  ki_engine *e = job->e;
  pthread_join(job->thread, NULL);
  pthread_mutex_lock(&e->mu);
  ki_list_remove(&job->all);
  pthread_mutex_unlock(&e->mu);
  ki_conn *c = job->conn;
  if (c) {
    c->job = NULL;
    if (job->rc != 0) {
      snprintf(c->addr, sizeof c->addr, "%s:%u", c->o->host, c->o->port);
      conn_defer_failure(c, KINFER_ECONNECT, "cannot resolve %s: %s",
                         c->o->host, gai_strerror(job->rc));
    } else {
      c->ai = c->ai_cur = job->res;
      job->res = NULL;
      connect_next(c);
    }
  }
  if (job->res)
    freeaddrinfo(job->res);
  free(job->host);
  free(job);
}

ki_conn *ki_conn_open(ki_engine *e, ki_origin *o) {
  ki_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->e = e;
  c->o = o;
  c->fd = -1;
  c->id = ++e->next_conn_id;
  c->state = KI_CS_CONNECTING;
  ki_list_init(&c->streams);
  ki_timer_init(&c->connect_timer, on_connect_timer);
  ki_timer_init(&c->io_timer, on_io_timeout);
  ki_timer_init(&c->ping_timer, ki_h2_on_ping_timer);
  ki_list_push(&o->conns, &c->link);
  snprintf(c->addr, sizeof c->addr, "%s:%u", o->host, o->port);

  int64_t ct = ki_secs_to_ns(e->cfg->connect_timeout);
  if (ct > 0)
    (void)ki_timer_arm(e, &c->connect_timer, ki_now_ns() + ct);

  if (e->cfg->unix_socket) {
    connect_unix(c, e->cfg->unix_socket);
    return c;
  }
  /* Numeric hosts need no lookup: resolve them here without blocking. */
  char port[8];
  snprintf(port, sizeof port, "%u", o->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(o->host, port, &hints, &res);
  if (rc == 0) {
    c->ai = c->ai_cur = res;
    connect_next(c);
  } else if (rc == EAI_MEMORY) {
    conn_defer_failure(c, KINFER_ENOMEM, "out of memory");
  } else {
    start_resolve(c);
  }
  return c;
}

/* The socket connected: pick the codec and start serving the queue. */
static void conn_established(ki_conn *c) {
  ki_engine *e = c->e;
  ki_timer_disarm(e, &c->connect_timer);
  if (c->ai) {
    freeaddrinfo(c->ai);
    c->ai = c->ai_cur = NULL;
  }
  if (c->ssl) {
    /* ALPN decided: h2 only when the server selected it. */
    c->h2_attempt = false;
    c->ops = ki_tls_alpn_h2(c) ? &ki_h2_ops : &ki_h1_ops;
  } else {
    bool h2 = ki_origin_wants_h2(c->o);
    /* Prior knowledge stays an attempt (that may fall back to HTTP/1.1)
     * until the origin has answered in HTTP/2 once. */
    c->h2_attempt = h2 && !c->o->h2_seen;
    c->ops = h2 ? &ki_h2_ops : &ki_h1_ops;
  }
  c->state = KI_CS_OPEN;
  c->last_io = ki_now_ns();
  KI_STAT_ADD(e, connections_opened, 1);
  KI_STAT_ADD(e, connections_open, 1);
  int rc = c->ops->init(c);
  if (rc != KINFER_OK) {
    ki_conn_close(c, rc, "cannot set up %s on %s", c->ops->name, c->addr);
    return;
  }
  ki_conn_mark_dirty(c); /* the h2 preface goes out this turn */
  ki_conn_update(c);
  ki_pool_kick(c->o);
}

/* TLS failures are not retried: a certificate does not get better. */
static void tls_failed(ki_conn *c, int code, const char *msg) {
  ki_pool_connect_failed(c, KI_FAIL_FATAL, code, msg);
  ki_conn_close(c, code, "%s", msg);
}

static void conn_read(ki_conn *c);

bool ki_conn_tls_refused(ki_conn *c) {
  if (!c->ssl || c->got_bytes)
    return false;
  char alert[200];
  if (!ki_tls_peer_alert(c, alert, sizeof alert)) {
    /* A write failed first: the alert may still wait unread. */
    uint8_t buf[512];
    (void)ki_tls_recv(c, buf, sizeof buf);
    if (!ki_tls_peer_alert(c, alert, sizeof alert))
      return false;
  }
  /* The server refused the TLS session (with TLS 1.3 it judges a client
   * certificate after the client's handshake ended): nothing was
   * processed, and another attempt would not fare better. */
  tls_failed(c, KINFER_ETLS, alert);
  return true;
}

static void drive_handshake(ki_conn *c) {
  char msg[200];
  int rc = ki_tls_handshake(c, msg, sizeof msg);
  if (rc > 0) {
    conn_established(c);
    /* The server's first bytes may have arrived with the handshake. */
    if (c->state == KI_CS_OPEN && ki_tls_pending(c))
      conn_read(c);
  } else if (rc < 0)
    tls_failed(c, KINFER_ETLS, msg);
}

static void on_connect_ready(ki_conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == 0 && c->o->https) {
    char msg[200];
    int rc = ki_tls_start(c, msg, sizeof msg);
    if (rc != KINFER_OK) {
      tls_failed(c, rc, msg);
      return;
    }
    c->state = KI_CS_HANDSHAKE;
    drive_handshake(c);
    return;
  }
  if (err == 0) {
    conn_established(c);
    return;
  }
  ki_engine_unwatch(c->e, c);
  close(c->fd);
  c->fd = -1;
  c->last_errno = err;
  if (c->ai_cur) {
    c->ai_cur = c->ai_cur->ai_next;
    connect_next(c);
  } else {
    conn_defer_failure(c, KINFER_ECONNECT, "cannot connect to %s: %s", c->addr,
                       strerror(err));
  }
}

static void conn_read(ki_conn *c) {
  ki_engine *e = c->e;
  /* A bounded number of chunks per turn keeps one busy connection from
   * starving the others. */
  for (int i = 0; c->state == KI_CS_OPEN; i++) {
    /* ...but bytes already decrypted must be taken now: epoll will not
     * report them again. */
    if (i >= 4 && !ki_tls_pending(c))
      break;
    ssize_t n = ki_conn_recv(c, e->rbuf, KI_READ_CHUNK);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      c->last_errno = errno;
      if (ki_conn_tls_refused(c))
        return;
      ki_conn_close(c, KINFER_EUNKNOWN_OUTCOME, "connection to %s lost: %s",
                    c->addr, strerror(errno));
      return;
    }
    if (n == 0) {
      c->ops->on_eof(c);
      if (c->state == KI_CS_OPEN)
        ki_conn_close(c, KINFER_EUNKNOWN_OUTCOME,
                      "connection to %s closed by the server", c->addr);
      return;
    }
    c->got_bytes = true;
    c->last_io = c->last_rx = ki_now_ns();
    int rc = c->ops->on_read(c, e->rbuf, (size_t)n);
    if (rc != KINFER_OK) {
      if (c->state == KI_CS_OPEN)
        ki_conn_close(c, rc, "protocol error on %s", c->addr);
      return;
    }
    if ((size_t)n < KI_READ_CHUNK && !ki_tls_pending(c))
      break;
  }
  ki_conn_mark_dirty(c);
}

void ki_conn_on_events(ki_conn *c, uint32_t events) {
  if (c->state == KI_CS_CONNECTING) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      on_connect_ready(c);
    return;
  }
  if (c->state == KI_CS_HANDSHAKE) {
    drive_handshake(c);
    return;
  }
  if (c->state != KI_CS_OPEN)
    return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
    conn_read(c);
  if (c->state == KI_CS_OPEN && (events & EPOLLOUT))
    ki_conn_mark_dirty(c);
}

void ki_conn_close(ki_conn *c, int code, const char *fmt, ...) {
  if (c->state == KI_CS_CLOSED)
    return;
  ki_engine *e = c->e;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  bool was_open = c->state == KI_CS_OPEN;
  c->state = KI_CS_CLOSED;
  ki_timer_disarm(e, &c->connect_timer);
  ki_timer_disarm(e, &c->io_timer);
  ki_timer_disarm(e, &c->ping_timer);
  ki_list_remove(&c->dirty_link);
  if (c->job)
    c->job->conn = NULL; /* the lookup finishes on its own and is reaped */
  if (c->ssl)
    ki_tls_free(c);
  if (c->fd >= 0) {
    ki_engine_unwatch(e, c);
    close(c->fd);
    c->fd = -1;
  }
  if (was_open)
    KI_STAT_SUB(e, connections_open, 1);
  if (c->ops) {
    c->ops->fail_all(c, code, msg);
    c->ops->destroy(c);
  }
  if (c->ai)
    freeaddrinfo(c->ai);
  c->ai = c->ai_cur = NULL;
  ki_origin *o = c->o;
  ki_list_remove(&c->link);
  ki_list_push(&e->graveyard, &c->link);
  if (!e->shutting_down)
    ki_pool_kick(o);
}
