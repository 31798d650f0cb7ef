/*
 * The configuration object.  Clients hold their own copy (ki_config_copy),
 * so the session layer may read every field without locks.
 */
#ifndef KINFER_CONFIG_H
#define KINFER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <kinfer/kinfer.h>

enum ki_protocol { KI_PROTO_V1 = 1, KI_PROTO_V2 = 2, KI_PROTO_UNSUPPORTED = 0 };

struct kinfer_config {
  char *protocol;            /* as given; default "v1" */
  int retries;               /* default 3 */
  bool http2;                /* default false */
  double timeout;            /* overall deadline, seconds; <0: none */
  double connect_timeout;    /* seconds; <0: none */
  double read_timeout;
  double write_timeout;
  double pool_timeout;
  bool timeout_is_tuple;     /* set_timeouts was the last call: no overall */
  char *cert_file, *key_file, *key_password;
  bool verify;               /* default true */
  char *ca_file, *ca_path;
  void *ssl_ctx;             /* borrowed SSL_CTX * */
  char *auth_header;         /* full Authorization value, or NULL */
  bool verbose;
  kinfer_log_fn log_fn;      /* NULL: stderr */
  void *log_ud;
  kinfer_transport transport;
  void *transport_ud;
  bool has_transport;
  char *unix_socket;
  size_t max_response_bytes; /* default 256 MiB */
  size_t max_header_bytes;   /* default 64 KiB */
  unsigned max_connections;  /* HTTP/1.1 per origin, default 8 */
  unsigned max_concurrent_streams; /* HTTP/2 per connection, default 1000 */
  unsigned max_h2_connections; /* HTTP/2 per origin, default 1 */
  size_t max_queued;         /* waiting requests per origin, default 65536 */
  unsigned h2_conn_window;   /* HTTP/2 receive windows, default 16 MiB */
  unsigned h2_stream_window;
  double budget_ratio;       /* retry budget: tokens per first attempt,
                                default 0.2; <0: no budget */
  double budget_per_second;  /* ... and per second, default 10 */
  double backoff_base;       /* seconds, default 0.05 */
  double backoff_cap;        /* seconds, default 2 */
  int *retry_status;         /* statuses retried (opt-in), or NULL */
  size_t n_retry_status;
  bool idempotent;           /* POSTs may be resent after being written */
  double keepalive_interval; /* HTTP/2 PING after this much silence; <0 off */
  double keepalive_timeout;  /* ... and close when unanswered this long    */
};

/* True when the caller asked for answers with |status| to be retried. */
bool ki_config_retry_status(const kinfer_config *cfg, int status);

/* Deep copy; NULL on ENOMEM. */
kinfer_config *ki_config_copy(const kinfer_config *src);
/* KI_PROTO_V1, KI_PROTO_V2 or KI_PROTO_UNSUPPORTED. */
enum ki_protocol ki_config_protocol(const kinfer_config *cfg);

#endif
