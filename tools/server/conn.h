/*
 * Workers, connections and the HTTP protocols behind them.
 *
 * Each worker thread owns one epoll instance, the connections it accepted
 * and a queue of delayed model executions; nothing here is shared between
 * workers, so no locks are taken on the request path. A connection starts
 * with an optional TLS handshake, then picks HTTP/2 or HTTP/1.1 (by ALPN, or
 * on cleartext by the HTTP/2 connection preface) and forwards its bytes to
 * that protocol through a small vtable.
 */
#ifndef KS_CONN_H
#define KS_CONN_H

#include <openssl/ssl.h>

#include "server.h"

typedef struct ks_conn ks_conn;
typedef struct ks_worker ks_worker;

typedef struct ks_proto {
  const char *name;
  /* Consumes received bytes; returns -1 to close the connection at once. */
  int (*on_read)(ks_conn *c, const uint8_t *data, size_t len);
  /* Moves pending protocol output into c->out; returns -1 on fatal error. */
  int (*fill)(ks_conn *c);
  /* Delivers the answer to a delayed request (stream_id is 0 for h1). */
  void (*respond)(ks_conn *c, int32_t stream_id, ks_response *resp);
  /* True once the protocol is done and the connection may close (checked
   * with nothing left to write; c->eof says the peer stopped sending). */
  bool (*done)(ks_conn *c);
  /* True while the protocol accepts more input. */
  bool (*want_read)(ks_conn *c);
  void (*free)(ks_conn *c);
} ks_proto;

struct ks_conn {
  ks_worker *worker;
  int fd;
  SSL *ssl;
  bool handshaking;
  bool closing;             /* close once out is written */
  bool eof;                 /* the peer sent everything it will send */
  const ks_proto *proto;    /* NULL until chosen */
  void *proto_data;
  ks_buf in;                /* received, not yet consumed (sniffing, h1) */
  ks_buf out;               /* bytes waiting to be written */
  size_t out_off;           /* how much of out is already written */
  bool tls_want_write;      /* the handshake waits for a writable socket */
  bool dead;                /* close at the end of the current event */
  bool abrupt;              /* close without TLS close_notify (--drop-after) */
  uint32_t events;          /* epoll mask currently registered */
  unsigned executions;      /* model runs on this connection (--drop-after) */
  ks_conn *prev, *next;
};

/* Dispatches a complete request. Returns 1 and fills resp when the answer
 * is ready now; returns 0 when the request was queued (--delay-ms) and will
 * reach proto->respond later; returns -1 when the connection must be dropped
 * at once (--drop-after). Takes ownership of req in every case. */
int ks_conn_dispatch(ks_conn *c, int32_t stream_id, ks_request *req,
                     ks_response *resp);
/* With --verbose, logs one line for an answered request. */
void ks_conn_log(ks_conn *c, const char *method, const char *path, int status);
/* Output bytes not yet written. */
size_t ks_conn_pending(const ks_conn *c);

/* ---- workers (loop.c) --------------------------------------------------- */

/* Creates the listening socket and returns its fd, or -1 (message printed). */
int ks_listen(const char *host, const char *port, int *bound_port);
/* Serves with nthreads workers until SIGINT or SIGTERM arrives (both must be
 * blocked in the calling thread), then closes every connection. Returns 0,
 * or -1 if a worker could not start. */
int ks_workers_run(int listen_fd, SSL_CTX *tls, int nthreads);

/* ---- protocols ---------------------------------------------------------- */

/* Each takes over a connection; bytes already read are in c->in. */
int ks_h1_start(ks_conn *c);
int ks_h2_start(ks_conn *c);
/* Length of the HTTP/2 client connection preface. */
#define KS_H2_PREFACE_LEN 24
extern const char ks_h2_preface[];

/* ---- TLS (tls.c) -------------------------------------------------------- */

SSL_CTX *ks_tls_ctx_new(const char *cert, const char *key, bool offer_h2);
/* Requires and verifies a client certificate signed by a CA in |ca_file|
 * (PEM).  Returns 0, or -1 with a message on stderr. */
int ks_tls_require_client_ca(SSL_CTX *ctx, const char *ca_file);
/* After the handshake: true if ALPN selected "h2". */
bool ks_tls_selected_h2(SSL *ssl);

#endif
