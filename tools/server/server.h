/*
 * kinfer-server: a reference KServe V1/V2 (Open Inference Protocol) REST
 * server with fault injection, used by kinfer's tests and benchmarks.
 *
 * This header holds what every module shares: the configuration, a growable
 * byte buffer, the protocol-neutral request and response, the router and the
 * execution counters. Connection and protocol internals live in conn.h, the
 * tensor codec and the models in tensor.h.
 */
#ifndef KS_SERVER_H
#define KS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef KS_VERSION
#define KS_VERSION "0.1.0"  /* the build may pass the project version */
#endif
#define KS_NAME "kinfer-server"

#define KS_MAX_HEADER_BYTES (64u * 1024u)
#define KS_DEFAULT_MAX_BODY ((size_t)512 * 1024 * 1024)
#define KS_JSON_MAX_DEPTH 64

/* ---- configuration (set once by main before any worker starts) ---------- */

typedef struct ks_config {
  const char *host;       /* listen address; NULL or "" means any */
  const char *port;       /* "0" picks a free port */
  const char *port_file;  /* written after listen(), atomically */
  const char *tls_cert;
  const char *tls_key;
  const char *tls_client_ca; /* require client certificates from this CA */
  int threads;
  uint32_t max_streams;
  unsigned delay_ms;
  int verbosity;          /* -1 quiet, 0 normal, 1 verbose */
  size_t max_body;
  bool h1_only;
  bool no_alpn_h2;
  unsigned refuse_every;  /* h2: REFUSED_STREAM for every N-th inference */
  unsigned goaway_after;  /* h2: two-phase GOAWAY after N streams */
  bool stall_window;      /* h2: stream window 0, never a WINDOW_UPDATE */
  unsigned drop_after;    /* close TCP after the N-th execution on a conn */
  int status_code;        /* with status_every: answer this instead */
  unsigned status_every;
  int retry_after;        /* seconds, -1 for none */
  const char *path_prefix; /* serve under this path, or NULL */
  size_t path_prefix_len;  /* without a trailing '/' */
} ks_config;

extern ks_config ks_cfg;

void ks_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- growable byte buffer ----------------------------------------------- */

typedef struct ks_buf {
  char *data;
  size_t len;
  size_t cap;
} ks_buf;

/* All return 0 or -1 on allocation failure (the buffer is unchanged). */
int ks_buf_reserve(ks_buf *b, size_t extra);
int ks_buf_append(ks_buf *b, const void *p, size_t n);
int ks_buf_puts(ks_buf *b, const char *s);
int ks_buf_printf(ks_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
int ks_buf_json_str(ks_buf *b, const char *s, size_t n);
void ks_buf_consume(ks_buf *b, size_t n);
void ks_buf_reset(ks_buf *b);
void ks_buf_free(ks_buf *b);

/* ---- protocol-neutral request and response ------------------------------ */

typedef struct ks_request {
  char method[16];
  char *path;             /* owned, without the query string */
  int64_t header_length;  /* Inference-Header-Content-Length, -1 if absent */
  bool header_length_bad; /* present but not a non-negative number */
  ks_buf body;
} ks_request;

typedef struct ks_response {
  int status;
  const char *content_type;  /* static string */
  int64_t header_length;     /* -1: do not send Inference-Header-Content-Length */
  int retry_after;           /* -1: no Retry-After */
  ks_buf body;
} ks_response;

void ks_request_free(ks_request *r);
/* The routing path of a request target (|n| bytes): without the query, and
 * without --path-prefix ("" when outside it, which no route matches).
 * Malloc'd; NULL when out of memory. */
char *ks_request_path(const char *target, size_t n);
void ks_response_init(ks_response *r);
void ks_response_free(ks_response *r);
/* Replaces the response with `status` and body {"error": msg}. */
void ks_response_error(ks_response *r, int status, const char *msg);
const char *ks_status_text(int status);

/* ---- router ------------------------------------------------------------- */

/* True if the request would run a model (POST to infer/predict/explain). */
bool ks_is_execution(const ks_request *req);
/* Answers one request; always fills resp. */
void ks_handle(const ks_request *req, ks_response *resp);

/* ---- execution counters (thread-safe) ----------------------------------- */

int ks_stats_init(void);
void ks_stats_free(void);
/* Counts one model execution; id may be NULL (no client-supplied id). */
void ks_stats_record(const char *id);
void ks_stats_get(uint64_t *executions, uint64_t *duplicates);
/* Next value of a process-wide counter starting at 1 (for --*-every). */
uint64_t ks_stats_next_status_seq(void);
uint64_t ks_stats_next_refuse_seq(void);

#endif
