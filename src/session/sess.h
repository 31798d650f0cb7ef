/*
 * Private to src/session/: the engine, connection, pool and protocol codec
 * types.  Everything here runs on the engine's I/O thread unless a comment
 * says otherwise.
 */
#ifndef KINFER_SESSION_SESS_H
#define KINFER_SESSION_SESS_H

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "internal.h"
#include "retry.h"
#include "session/session.h"

#define KI_CONTAINER_OF(ptr, type, member)                                     \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Size of one socket read, and of the HTTP/2 output buffer. */
#define KI_READ_CHUNK (64 * 1024)
#define KI_H2_OUTBUF (64 * 1024)

/* ---- intrusive doubly linked list (circular, with a head node) --------- */

typedef struct ki_list {
  struct ki_list *prev, *next;
} ki_list;

static inline void ki_list_init(ki_list *h) { h->prev = h->next = h; }
static inline bool ki_list_empty(const ki_list *h) { return h->next == h; }
static inline bool ki_list_linked(const ki_list *n) { return n->next != NULL; }
static inline void ki_list_push(ki_list *h, ki_list *n) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}
static inline void ki_list_remove(ki_list *n) {
  if (!n->next)
    return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}
static inline ki_list *ki_list_first(ki_list *h) {
  return ki_list_empty(h) ? NULL : h->next;
}

/* ---- timers ------------------------------------------------------------ */

typedef struct ki_timer ki_timer;
typedef void (*ki_timer_fn)(ki_engine *e, ki_timer *t);
struct ki_timer {
  int64_t when; /* absolute CLOCK_MONOTONIC ns */
  size_t idx;   /* position in the heap; KI_TIMER_IDLE when not armed */
  ki_timer_fn fn;
};
#define KI_TIMER_IDLE SIZE_MAX

void ki_timer_init(ki_timer *t, ki_timer_fn fn);
/* Arms (or re-arms) |t|.  Returns KINFER_OK or KINFER_ENOMEM. */
int ki_timer_arm(ki_engine *e, ki_timer *t, int64_t when);
void ki_timer_disarm(ki_engine *e, ki_timer *t);
static inline bool ki_timer_armed(const ki_timer *t) {
  return t->idx != KI_TIMER_IDLE;
}
/* Converts a config timeout in seconds (negative: none) to ns, 0 = none. */
int64_t ki_secs_to_ns(double s);

/* ---- exchanges ----------------------------------------------------------- */

typedef struct ki_conn ki_conn;
typedef struct ki_origin ki_origin;

typedef enum ki_xstate {
  KI_XS_SUBMITTED, /* in the submission queue                       */
  KI_XS_WAITING,   /* in its origin's wait queue                    */
  KI_XS_ACTIVE,    /* on a connection                               */
  KI_XS_BACKOFF,   /* waiting for its next attempt                  */
  KI_XS_DONE
} ki_xstate;

struct ki_xfer_priv {
  ki_xfer *x;
  ki_engine *e;
  ki_origin *origin;
  ki_conn *conn;       /* while KI_XS_ACTIVE                            */
  ki_list link;        /* submission queue, wait queue, or conn streams */
  ki_xstate state;
  ki_timer deadline;   /* the xfer's overall deadline                   */
  ki_timer wait;       /* pool timeout (waiting) or backoff             */
  int retries_used;
  int requeues;        /* ki_xfer_requeue's count                       */
  int64_t attempt_start;
  const char *proto;   /* "h2" / "http/1.1" of the current attempt     */

  /* The current attempt. */
  int32_t stream_id;   /* HTTP/2 */
  bool req_written;    /* some byte of the request went out             */
  bool req_done;       /* all of the request went out                   */
  bool resp_started;   /* a final status line / HEADERS arrived         */
  bool resp_done;
  size_t iov_idx, iov_off; /* body cursor for the HTTP/2 data source     */
  int status;
  kinfer_headers *hdrs;
  size_t hdr_bytes;
  ki_buf body;
  char attempt_hdr[16];

  /* Why the last attempt failed. */
  int err_code;
  char err_msg[256];
};

/* The attempt on |p| failed.  |p| must already be detached from any
 * connection.  Applies the retry policy: backs off and resends, or
 * completes the xfer with |code| and the formatted message. */
void ki_xfer_fail(ki_xfer_priv *p, ki_fail_class cls, int code,
                  const char *fmt, ...) KI_PRINTF(4, 5);
/* The connection under |p| was lost (|p| already detached): fails the
 * attempt by how far it got.  Not written: not sent (retried); response
 * begun: cut short (never retried); otherwise outcome unknown (retried only
 * when idempotent), which |stale_idle| marks as a reused HTTP/1.1
 * connection that the server had closed while idle. */
void ki_xfer_fail_lost(ki_xfer_priv *p, bool stale_idle, const char *msg);
/* The attempt produced a whole response (status, headers, body in |p|).
 * |p| must already be detached from its connection. */
void ki_xfer_succeed(ki_xfer_priv *p);
/* Starts a new attempt at once without spending a retry: used after the
 * h2c prior-knowledge fallback, where the request was never processed. */
void ki_xfer_resend(ki_xfer_priv *p);
/* Sends |p| (detached, certainly not processed) again at once, on another
 * connection, without spending a retry or the retry budget: for streams a
 * connection's graceful shutdown left out.  At most KI_REQUEUE_MAX times
 * per xfer; returns false beyond that (the caller then fails it). */
#define KI_REQUEUE_MAX 8
bool ki_xfer_requeue(ki_xfer_priv *p, const char *why);
/* Arms the pool timeout for a waiting |p| (cfg->pool_timeout). */
void ki_xfer_wait_pool(ki_xfer_priv *p);
/* Moves |p| to |st|, keeping the queued / in-flight gauges right. */
void ki_xfer_set_state(ki_xfer_priv *p, ki_xstate st);
/* Resets the per-attempt fields before an attempt starts. */
int ki_xfer_attempt_begin(ki_xfer_priv *p);
/* Appends a response header (name lower-cased) with the header-size limit;
 * returns KINFER_OK, KINFER_ELIMIT or KINFER_ENOMEM. */
int ki_xfer_add_header(ki_xfer_priv *p, const char *name, size_t nlen,
                       const char *value, size_t vlen);
/* Appends response body bytes with the body-size limit. */
int ki_xfer_add_body(ki_xfer_priv *p, const void *data, size_t len);
/* True when the caller already sent a header called |name|. */
bool ki_xfer_has_header(const ki_xfer *x, const char *name);

/* ---- connections --------------------------------------------------------- */

/* The HTTP codec behind a connection, chosen once it is connected (after
 * the TLS handshake and ALPN, when there is TLS). */
typedef struct ki_proto_ops {
  const char *name; /* "h2", "http/1.1" */
  int http_version; /* 20, 11 */
  int (*init)(ki_conn *c);
  void (*destroy)(ki_conn *c);
  /* True when the connection can take one more request now. */
  bool (*can_take)(const ki_conn *c);
  /* Starts |p| on |c|; on error |p| is left untouched. */
  int (*start)(ki_conn *c, ki_xfer_priv *p);
  /* Detaches |p| (deadline passed); the codec resets or closes. */
  void (*cancel)(ki_conn *c, ki_xfer_priv *p);
  /* Bytes from the peer.  Returns KINFER_OK or an error: the connection is
   * then closed with it. */
  int (*on_read)(ki_conn *c, const uint8_t *data, size_t len);
  /* The peer closed the connection (EOF); codecs that delimit a body by
   * close finish it here. */
  void (*on_eof)(ki_conn *c);
  /* Writes what is pending.  KINFER_OK (possibly with c->want_write set)
   * or an error (the connection is closed). */
  int (*flush)(ki_conn *c);
  /* The connection is going away: fail or resend every attached xfer. */
  void (*fail_all)(ki_conn *c, int code, const char *msg);
} ki_proto_ops;

extern const ki_proto_ops ki_h1_ops;
extern const ki_proto_ops ki_h2_ops;
/* The first stream id of new HTTP/2 connections: 1, or (in tests) an odd
 * id close to 2^31 to run out of stream ids quickly. */
extern uint32_t ki_h2_first_stream_id;

/* Keepalive: PINGs an HTTP/2 connection that has been silent for the
 * configured interval, and closes it (as lost) when the answer does not
 * come within the keepalive timeout. */
void ki_h2_on_ping_timer(ki_engine *e, ki_timer *t);

typedef enum ki_cstate {
  KI_CS_RESOLVING,
  KI_CS_CONNECTING,
  KI_CS_HANDSHAKE,    /* TLS handshake under way */
  KI_CS_OPEN,
  KI_CS_CLOSED
} ki_cstate;

/* A name lookup run on a helper thread, so getaddrinfo never blocks the
 * loop.  The thread fills res/rc, moves the job to the engine's resolved
 * list under the engine mutex and wakes the loop. */
typedef struct ki_resolve_job {
  ki_list link;      /* engine's resolved list (under e->mu) */
  ki_list all;       /* engine's list of live jobs (under e->mu) */
  ki_engine *e;
  ki_conn *conn;     /* NULL once the connection gave up on it (I/O thread) */
  pthread_t thread;
  char *host;
  char port[8];
  struct addrinfo *res;
  int rc;
} ki_resolve_job;

struct ki_conn {
  ki_engine *e;
  ki_origin *o;
  ki_list link;       /* origin's connection list */
  ki_list dirty_link; /* engine's list of connections to flush */
  ki_list streams;    /* attached xfers (ki_xfer_priv.link) */
  unsigned nstreams;
  uint64_t id;
  int fd;
  ki_cstate state;
  bool draining;      /* no new requests (GOAWAY, Connection: close) */
  bool want_write;    /* EPOLLOUT wanted */
  bool in_epoll;
  uint32_t events;
  bool got_bytes;     /* the peer sent something on this connection */
  bool settled;       /* HTTP/2: the server's SETTINGS arrived */
  bool h2_attempt;    /* prior-knowledge h2c: may fall back to HTTP/1.1 */
  unsigned served;    /* requests completed on this connection */
  struct addrinfo *ai, *ai_cur;
  ki_resolve_job *job;
  char addr[80];      /* for messages: "127.0.0.1:8080", "unix:/path" */
  int last_errno;
  int fail_code;      /* a connect failure to report from the timer */
  ki_fail_class fail_cls;
  char fail_msg[200];
  ki_timer connect_timer;
  ki_timer io_timer;  /* read/write timeout while something is in flight */
  ki_timer ping_timer; /* HTTP/2 keepalive (ki_h2_on_ping_timer)          */
  int64_t last_rx;    /* when the peer last sent bytes                    */
  int64_t ping_sent;  /* when an unanswered keepalive PING went out, or 0 */
  int64_t last_io;
  const ki_proto_ops *ops;
  void *proto;
  struct ssl_st *ssl; /* the TLS filter, NULL for cleartext */
};

/* Socket I/O through the connection's transport (the place a TLS filter
 * slots in).  Return bytes, 0 on EOF (recv), or -1 with errno set. */
ssize_t ki_conn_recv(ki_conn *c, void *buf, size_t len);
ssize_t ki_conn_sendv(ki_conn *c, const struct iovec *iov, int iovcnt);

/* Opens a connection for |o| (resolving off the loop when needed). */
ki_conn *ki_conn_open(ki_engine *e, ki_origin *o);
/* Closes |c| now: fails its xfers with |code|/|msg| (through the codec),
 * releases the socket and frees it.  Never call from inside a codec
 * callback; codecs return an error instead. */
void ki_conn_close(ki_conn *c, int code, const char *fmt, ...)
    KI_PRINTF(3, 4);
/* A TLS connection failed before the server sent anything: when a fatal
 * alert from the server explains it (a refused client certificate), closes
 * it as KINFER_ETLS, failing its requests, and returns true. */
bool ki_conn_tls_refused(ki_conn *c);
/* Asks for a flush at the end of this loop turn. */
void ki_conn_mark_dirty(ki_conn *c);
/* Re-evaluates epoll interest and the I/O timer. */
void ki_conn_update(ki_conn *c);
/* Attaches / detaches an xfer to / from the connection's stream list. */
void ki_conn_attach(ki_conn *c, ki_xfer_priv *p);
void ki_conn_detach(ki_conn *c, ki_xfer_priv *p);
/* epoll callback. */
void ki_conn_on_events(ki_conn *c, uint32_t events);
/* Delivers a finished name lookup (I/O thread). */
void ki_conn_on_resolved(ki_resolve_job *job);

/* ---- TLS filter (tls.c) ---------------------------------------------------- */

/* Sets up TLS on the connected socket of |c| (SNI, host name check, ALPN).
 * KINFER_OK, or KINFER_ETLS / KINFER_ENOMEM with |msg| filled. */
int ki_tls_start(ki_conn *c, char *msg, size_t msglen);
/* Drives the handshake: 1 done, 0 in progress (epoll interest updated),
 * -1 failed with |msg| filled. */
int ki_tls_handshake(ki_conn *c, char *msg, size_t msglen);
/* True when ALPN selected h2. */
bool ki_tls_alpn_h2(const ki_conn *c);
/* True when the peer sent a fatal TLS alert on |c| (its description, e.g.
 * "certificate required", in |msg|): the connection failed as TLS, not as
 * a lost connection. */
bool ki_tls_peer_alert(const ki_conn *c, char *msg, size_t msglen);
/* True when decrypted bytes wait inside the TLS object. */
bool ki_tls_pending(const ki_conn *c);
ssize_t ki_tls_recv(ki_conn *c, void *buf, size_t len);
ssize_t ki_tls_sendv(ki_conn *c, const struct iovec *iov, int iovcnt);
void ki_tls_free(ki_conn *c);
/* Releases the engine's TLS context and BIO method. */
void ki_tls_engine_free(ki_engine *e);
/* Releases the TLS session kept for |o|. */
void ki_tls_origin_free(ki_origin *o);

/* ---- pools ------------------------------------------------------------- */

struct ki_origin {
  ki_engine *e;
  ki_list link;      /* engine's origin list */
  bool https;
  char *host;
  uint16_t port;
  bool h1_only;      /* h2c prior knowledge failed here: HTTP/1.1 from now */
  bool h2_seen;      /* ...or worked here: no fallback from now */
  struct ssl_session_st *tls_session; /* resumable session (tls.c) */
  ki_list conns;     /* ki_conn.link */
  ki_list waiting;   /* ki_xfer_priv.link */
  size_t nwaiting;   /* xfers in |waiting| (state KI_XS_WAITING) */
  ki_list kick_link; /* engine's list of origins to dispatch */
};

ki_origin *ki_origin_get(ki_engine *e, const ki_xfer *x);
void ki_origin_free(ki_origin *o);
/* Queues |p| for a connection and schedules a dispatch. */
void ki_pool_enqueue(ki_xfer_priv *p);
/* Removes a waiting |p| from its queue (deadline or shutdown). */
void ki_pool_unqueue(ki_xfer_priv *p);
/* Schedules a dispatch of |o|'s queue at the end of the loop turn. */
void ki_pool_kick(ki_origin *o);
/* Hands waiting xfers to connections, opening connections as needed. */
void ki_pool_dispatch(ki_origin *o);
/* A connection of |o| could not be established: fails the xfers that were
 * waiting for it. */
void ki_pool_connect_failed(ki_conn *c, ki_fail_class cls, int code,
                            const char *msg);
/* True when the origin should speak HTTP/2 (prior knowledge or ALPN). */
bool ki_origin_wants_h2(const ki_origin *o);

/* ---- the engine ------------------------------------------------------------ */

struct ki_engine {
  const kinfer_config *cfg;
  int epfd, evfd;
  /* The I/O thread sleeps on outerfd, an epoll set holding only epfd, so a
   * caller driving the loop itself (ki_engine_run) can mute epfd there and
   * the I/O thread is not woken for events that caller handles. */
  int outerfd;
  pthread_t thread;
  bool thread_started;
  /* Held by whichever thread runs the loop: the I/O thread, or a caller of
   * ki_engine_run.  Everything below marked "I/O thread only" is guarded by
   * it; the I/O thread releases it only while it sleeps. */
  pthread_mutex_t loop_mu;
  int64_t idle_until;         /* when the sleeping I/O thread will wake by
                                 itself (INT64_MAX: never); under loop_mu */
  atomic_bool wake_pending;   /* an eventfd write not yet consumed */

  pthread_mutex_t mu; /* guards: submitq, stopping, resolved, jobs */
  ki_list submitq;
  bool stopping;
  ki_list resolved;   /* finished lookup jobs */
  ki_list jobs;       /* every live lookup job */

  /* I/O thread only (more exactly: the loop's owner, under loop_mu). */
  ki_timer **heap;
  size_t nheap, capheap;
  ki_list origins;
  ki_list dirty;      /* connections to flush this turn */
  ki_list kicks;      /* origins to dispatch this turn */
  ki_list backoff;    /* xfers waiting for their next attempt */
  ki_list graveyard;  /* closed connections, freed at the end of the turn */
  uint64_t rng;
  ki_retry_budget budget;
  uint64_t next_conn_id;
  bool shutting_down; /* the loop is failing everything */
  uint8_t *rbuf;      /* KI_READ_CHUNK bytes */
  struct ssl_ctx_st *ssl_ctx; /* created on the first https connection */
  struct bio_method_st *bio_meth;
  char ssl_ctx_err[200];      /* why the context could not be made */

  struct {
    _Atomic uint64_t requests, successes, failures, retries;
    _Atomic uint64_t connections_opened, connections_open;
    _Atomic uint64_t streams_in_flight, requests_queued;
    _Atomic uint64_t bytes_sent, bytes_received;
    _Atomic uint64_t h2_requests, h1_requests;
  } st;
};

#define KI_STAT_ADD(e, f, n)                                                   \
  atomic_fetch_add_explicit(&(e)->st.f, (uint64_t)(n), memory_order_relaxed)
#define KI_STAT_SUB(e, f, n)                                                   \
  atomic_fetch_sub_explicit(&(e)->st.f, (uint64_t)(n), memory_order_relaxed)

/* Registers |fd| with epoll for |c| (data.ptr = c). */
int ki_engine_watch(ki_engine *e, ki_conn *c, uint32_t events);
void ki_engine_unwatch(ki_engine *e, ki_conn *c);
/* Wakes the loop (any thread). */
void ki_engine_wake(ki_engine *e);

#endif
