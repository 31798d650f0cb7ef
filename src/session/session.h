/*
 * The session layer: an engine that moves HTTP requests and responses over
 * pooled connections (HTTP/2 streams or HTTP/1.1 keep-alive), with its own
 * I/O thread, timers and retry scheduling.  It knows nothing of tensors.
 *
 * Threading: ki_engine_submit and ki_engine_run may be called from any
 * thread.  Everything else in the engine runs on the thread that owns the
 * loop, one at a time: the engine's I/O thread, or a ki_engine_run caller
 * driving the loop itself.  done callbacks run there too.
 */
#ifndef KINFER_SESSION_H
#define KINFER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <kinfer/kinfer.h>

/* A parsed http:// or https:// URL. */
typedef struct ki_url {
  bool https;
  char *host;      /* IPv6 literals without brackets */
  uint16_t port;   /* explicit, or 80 / 443 */
  char *authority; /* host[:port] as written, for :authority and Host */
  char *path;      /* starts with '/'; "/" when the URL has none */
  char *query;     /* without '?', NULL when absent */
} ki_url;

/* Returns KINFER_OK, KINFER_EURL (not http/https, no host, bad port),
 * KINFER_ENOMEM.  On success the caller frees with ki_url_free. */
int ki_url_parse(const char *url, ki_url *out, kinfer_error *err);
void ki_url_free(ki_url *u);

typedef struct ki_xfer ki_xfer;
typedef struct ki_xfer_priv ki_xfer_priv;

/* One HTTP exchange.  The submitter fills the request part, the engine the
 * result part; done() runs exactly once per accepted submit, on the I/O
 * thread, and must not block.  The engine is finished with |x| when done()
 * is called (priv is already released and NULL), so done() may free or
 * reuse it; done() may call ki_engine_submit but never ki_engine_free. */
struct ki_xfer {
  /* -- request: borrowed by the engine until done() returns -------------- */
  const char *method;            /* "GET", "POST" */
  bool https;
  const char *host;              /* where to connect; may be NULL when the
                                    config names a unix socket */
  uint16_t port;
  const char *authority;         /* :authority / Host */
  const char *target;            /* path[?query], already percent-encoded */
  const char *url;               /* full URL, for logs and messages */
  const kinfer_headers *headers; /* extra headers (may be NULL); never
                                    Host, Content-Length, pseudo-headers */
  const struct iovec *body;      /* body segments, may be borrowed buffers */
  size_t body_iovcnt;
  size_t body_len;               /* sum of the segments */
  int64_t deadline_ns;           /* absolute CLOCK_MONOTONIC; 0 = none */
  bool idempotent;               /* may be resent after it was written */
  void (*done)(ki_xfer *x);
  void *user;

  /* -- result: valid inside done() ---------------------------------------- */
  int result;                    /* KINFER_OK: an HTTP answer arrived (any
                                    status); else KINFER_E*                  */
  int status;                    /* HTTP status when result == KINFER_OK     */
  kinfer_headers *resp_headers;  /* names lower-cased; owned by the engine
                                    until done() returns: done may take it
                                    (set the field to NULL)                   */
  char *resp_body;               /* malloc'd, NUL-terminated past resp_len;
                                    done may take it (set to NULL)            */
  size_t resp_len;
  int attempts;                  /* attempts made */
  int http_version;              /* 11 or 20 for the final attempt */
  char message[256];             /* detail for an error result */

  ki_xfer_priv *priv;            /* engine private */
};

typedef struct ki_engine ki_engine;

typedef struct ki_engine_stats {
  uint64_t requests, successes, failures, retries;
  uint64_t connections_opened, connections_open;
  uint64_t streams_in_flight, requests_queued;
  uint64_t bytes_sent, bytes_received;
  uint64_t h2_requests, h1_requests;
} ki_engine_stats;

/* Starts the I/O thread.  |cfg| is borrowed for the engine's lifetime (the
 * client's private copy).  Returns NULL with err filled on failure. */
ki_engine *ki_engine_new(const kinfer_config *cfg, kinfer_error *err);

/* Completes every pending exchange with KINFER_ECANCELLED (done() runs for
 * each), closes all connections, joins the I/O thread, frees.  NULL ok. */
void ki_engine_free(ki_engine *e);

/* Hands |x| to the engine.  Thread-safe.  On KINFER_OK done() will run
 * exactly once; on error it never runs.  Resets the result fields.
 * Requires method, authority, target, done, and host unless the config
 * names a unix socket (else KINFER_EINVAL).  Returns KINFER_OK,
 * KINFER_EINVAL, KINFER_ENOMEM, KINFER_ECANCELLED (engine shutting down). */
int ki_engine_submit(ki_engine *e, ki_xfer *x);

/* As ki_engine_submit, for a caller that will wait for done() anyway: when
 * no other thread is running the loop, the calling thread runs it until
 * |x| completes, with no hand-off to the I/O thread and back (done() then
 * has run when this returns).  Otherwise |x| is queued as by
 * ki_engine_submit.  Same arguments and return codes. */
int ki_engine_run(ki_engine *e, ki_xfer *x);

/* Releases the result fields of |x| (headers, body, priv) so the struct can
 * be reused or dropped.  Safe after done() ran. */
void ki_xfer_release(ki_xfer *x);

/* Thread-safe snapshot of the counters. */
void ki_engine_stats_get(ki_engine *e, ki_engine_stats *out);

#endif
