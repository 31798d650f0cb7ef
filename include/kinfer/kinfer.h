/*
 * kinfer - a C client for KServe V1 and V2 (Open Inference Protocol) servers.
 *
 * Copyright (c) the kinfer authors.  MIT licence, see LICENSE.
 *
 * This header is the manual.  Conventions used throughout:
 *
 *  - Every public name starts with kinfer_ / KINFER_.  Objects are opaque.
 *    kinfer_<object>_new() returns the object or NULL when out of memory;
 *    kinfer_<object>_free(NULL) does nothing.
 *  - Fallible calls return int: KINFER_OK (0) or a negative KINFER_E* code.
 *    Where a call takes a kinfer_error *err (which may be NULL) it also fills
 *    it with the code, a human readable message and, for HTTP errors, the
 *    status.
 *  - Strings and buffers passed in are copied before the call returns, unless
 *    the function says it *borrows* them; then it says for how long.
 *  - A returned const pointer is owned by the object it came from and lives
 *    as long as that object does.
 *
 * Threads: a kinfer_client may be used from any number of threads at once.
 * Configs, requests, responses, parameter maps and header lists are not
 * shared objects: use each from one thread at a time.  Network I/O runs on
 * the client's I/O thread, except that a blocking call made while no other
 * thread is driving the connections drives them itself until its answer is
 * in (no hand-off to the I/O thread and back); meanwhile it also moves the
 * client's other calls along.  A kinfer_callback never runs there (a log
 * function may, as on the I/O thread).
 */
#ifndef KINFER_KINFER_H
#define KINFER_KINFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KINFER_STATIC)
#define KINFER_API
#elif defined(KINFER_BUILDING)
#define KINFER_API __attribute__((visibility("default")))
#else
#define KINFER_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                    */
/* ------------------------------------------------------------------------ */

#define KINFER_VERSION_MAJOR 0
#define KINFER_VERSION_MINOR 1
#define KINFER_VERSION_PATCH 0
#define KINFER_VERSION "0.1.0"

/* The version of the library the program runs with, e.g. "0.1.0". */
KINFER_API const char *kinfer_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* Codes are never renumbered. */
enum {
  KINFER_OK = 0,
  KINFER_EINVAL = -1,           /* bad argument (KServe: ValueError)          */
  KINFER_EUNSUPPORTED = -2,     /* protocol not supported for this call
                                   (KServe: UnsupportedProtocol)             */
  KINFER_EURL = -3,             /* base URL is not http:// or https://       */
  KINFER_EHTTP = -4,            /* server answered non-2xx (HTTPStatusError) */
  KINFER_ECONNECT = -5,         /* could not connect (DNS, refused,
                                   unreachable) after all retries: the
                                   request was NOT sent                      */
  KINFER_ETLS = -6,             /* TLS handshake or certificate verification */
  KINFER_ETIMEOUT = -7,         /* the deadline passed                       */
  KINFER_EBADRESPONSE = -8,     /* malformed response: JSON, binary layout,
                                   HTTP framing                              */
  KINFER_ENOMEM = -9,           /* out of memory                             */
  KINFER_EUNKNOWN_OUTCOME = -10,/* connection lost after the request was
                                   sent: the server may have run it          */
  KINFER_ECANCELLED = -11,      /* the client was closed under the call      */
  KINFER_EINPUT = -12,          /* the request cannot be encoded (KServe:
                                   InvalidInput): FP16 as JSON, no data, data
                                   size does not match the shape             */
  KINFER_ELIMIT = -13,          /* a configured limit was exceeded           */
  KINFER_EREFUSED = -14         /* the server refused the stream on every
                                   attempt (REFUSED_STREAM / GOAWAY): the
                                   request was NOT run                       */
};

/* Filled by every call that takes one.  A plain struct the caller owns. */
typedef struct kinfer_error {
  int code;          /* KINFER_E*, or KINFER_OK                              */
  int http_status;   /* for KINFER_EHTTP, else 0                             */
  int attempts;      /* attempts made, retries included (0 when nothing was
                        attempted, e.g. a bad argument)                      */
  char message[512]; /* human readable, NUL-terminated, never contains
                        credentials                                          */
} kinfer_error;

/* A static English description of a code ("unknown error code" for codes
 * this version does not know).  Never NULL. */
KINFER_API const char *kinfer_strerror(int code);

/* True when a request that failed with |code| was certainly not run by the
 * server, so the caller may send it again: KINFER_ECONNECT, KINFER_EREFUSED. */
KINFER_API bool kinfer_error_is_retriable(int code);

/* ------------------------------------------------------------------------ */
/* Header lists                                                               */
/* ------------------------------------------------------------------------ */

/* An ordered list of name/value pairs; names keep the case they were added
 * with and may repeat. */
typedef struct kinfer_headers kinfer_headers;

KINFER_API kinfer_headers *kinfer_headers_new(void);
KINFER_API void kinfer_headers_free(kinfer_headers *h);

/* Appends a copy of |name|: |value|.  The name must be a non-empty HTTP token
 * and neither may contain CR, LF or NUL.
 * Returns KINFER_OK, KINFER_EINVAL (NULL argument or forbidden character),
 * KINFER_ENOMEM. */
KINFER_API int kinfer_headers_add(kinfer_headers *h, const char *name,
                                  const char *value);

/* The value of the first header named |name| (ASCII case-insensitive), or
 * NULL. */
KINFER_API const char *kinfer_headers_get(const kinfer_headers *h,
                                          const char *name);

/* Number of pairs; the i-th name and value (NULL when i is out of range). */
KINFER_API size_t kinfer_headers_count(const kinfer_headers *h);
KINFER_API const char *kinfer_headers_name(const kinfer_headers *h, size_t i);
KINFER_API const char *kinfer_headers_value(const kinfer_headers *h, size_t i);

/* Removes every pair. */
KINFER_API void kinfer_headers_clear(kinfer_headers *h);

/* ------------------------------------------------------------------------ */
/* Configuration (KServe RESTConfig)                                          */
/* ------------------------------------------------------------------------ */

typedef struct kinfer_config kinfer_config;

/* Passed as a timeout: use the client's configured timeout
 * (KServe USE_CLIENT_DEFAULT). */
#define KINFER_TIMEOUT_DEFAULT (-1.0)
/* Passed as a timeout: no timeout at all (KServe None). */
#define KINFER_TIMEOUT_NONE (-2.0)

/* A new config with the defaults given at each setter below, or NULL. */
KINFER_API kinfer_config *kinfer_config_new(void);
KINFER_API void kinfer_config_free(kinfer_config *cfg);

/* Protocol: "v1" (default) or "v2", case-insensitive.  Any other non-empty
 * value is stored as given and makes every call that needs a protocol fail
 * with KINFER_EUNSUPPORTED, message "Unsupported protocol <p>.".
 * Returns KINFER_OK, KINFER_EINVAL (NULL or empty), KINFER_ENOMEM. */
KINFER_API int kinfer_config_set_protocol(kinfer_config *cfg, const char *p);

/* Extra attempts after the first one, for requests that were certainly not
 * run by the server (connection not established, stream refused).  Default
 * 3.  Returns KINFER_OK, KINFER_EINVAL (negative or above 100). */
KINFER_API int kinfer_config_set_retries(kinfer_config *cfg, int n);

/* Use HTTP/2 (default false).  https:// negotiates h2 by ALPN; http:// uses
 * HTTP/2 with prior knowledge (h2c).  Off means HTTP/1.1 with keep-alive. */
KINFER_API int kinfer_config_set_http2(kinfer_config *cfg, bool on);

/* The deadline of a whole call, retries included, in seconds (default 60).
 * KINFER_TIMEOUT_NONE disables it.  Also sets the connect, read, write and
 * pool timeouts to the same value, as httpx does for a float timeout.
 * Returns KINFER_OK, KINFER_EINVAL (not positive, NaN, and not
 * KINFER_TIMEOUT_NONE). */
KINFER_API int kinfer_config_set_timeout(kinfer_config *cfg, double seconds);

/* Separate timeouts, in seconds (each default 60; KINFER_TIMEOUT_NONE
 * disables one): connecting (TCP, and TLS handshake), waiting for response
 * bytes (read), writing the request (write), and waiting for a free
 * connection or stream slot (pool).  A call made with KINFER_TIMEOUT_DEFAULT
 * then has no overall deadline beyond these, as with httpx.Timeout.
 * Returns KINFER_OK, KINFER_EINVAL. */
KINFER_API int kinfer_config_set_timeouts(kinfer_config *cfg, double connect,
                                          double read, double write,
                                          double pool);

/* TLS client certificate for mutual TLS: PEM file paths for the certificate
 * (chain) and private key, and the key's password (may be NULL).  Stored;
 * read when the first https:// connection is made, so a missing file or a
 * wrong password fails that call with KINFER_ETLS (not kinfer_client_new).
 * A server that refuses the client's certificate is KINFER_ETLS too, never
 * retried.  Returns KINFER_OK, KINFER_EINVAL (NULL cert_pem),
 * KINFER_ENOMEM. */
KINFER_API int kinfer_config_set_cert(kinfer_config *cfg, const char *cert_pem,
                                      const char *key_pem,
                                      const char *key_password);

/* Verify the server's certificate and host name (default true). */
KINFER_API int kinfer_config_set_verify(kinfer_config *cfg, bool verify);

/* Trust anchors instead of the system store: a PEM bundle file, or an
 * OpenSSL hashed certificate directory. */
KINFER_API int kinfer_config_set_ca_file(kinfer_config *cfg, const char *path);
KINFER_API int kinfer_config_set_ca_path(kinfer_config *cfg, const char *dir);

/* Use the caller's OpenSSL SSL_CTX * for https:// connections.  Borrowed:
 * the caller keeps it alive and unchanged for the lifetime of every client
 * made from this config.  The context decides trust (ca_file, ca_path and
 * verify are then ignored); kinfer still requires TLS >= 1.2, turns
 * renegotiation off, sets ALPN and the host-name check on each connection
 * (never on the context) and resumes sessions per origin.
 *
 * Every https:// connection (with or without a caller's context) resumes
 * the origin's last TLS session when the server allows it: a TLS 1.2
 * session is reused, each TLS 1.3 ticket is used once. */
KINFER_API int kinfer_config_set_ssl_ctx(kinfer_config *cfg, void *ssl_ctx);

/* Authentication sent with every request as an Authorization header, unless
 * the call's own headers carry one.  Setting one clears the other.
 * Credentials never appear in logs or error messages. */
KINFER_API int kinfer_config_set_auth_basic(kinfer_config *cfg,
                                            const char *user,
                                            const char *password);
KINFER_API int kinfer_config_set_auth_bearer(kinfer_config *cfg,
                                             const char *token);

/* Verbose: one log line per attempt (method, URL, status, protocol,
 * attempt, duration) at KINFER_LOG_INFO, and one per TLS handshake (full
 * or session resumed, version, cipher) at KINFER_LOG_DEBUG.  Default
 * false. */
KINFER_API int kinfer_config_set_verbose(kinfer_config *cfg, bool on);

enum { KINFER_LOG_ERROR = 0, KINFER_LOG_WARN = 1, KINFER_LOG_INFO = 2,
       KINFER_LOG_DEBUG = 3 };

/* Where log lines go (default: stderr).  |fn| may be called from any
 * thread, including the library's I/O thread; it must not call back into
 * the client.  |line| has no trailing newline.  fn NULL restores stderr. */
typedef void (*kinfer_log_fn)(void *ud, int level, const char *line);
KINFER_API int kinfer_config_set_log(kinfer_config *cfg, kinfer_log_fn fn,
                                     void *ud);

/* Connect to this Unix domain socket instead of the URL's host and port
 * (the URL still gives the scheme, Host header and path).  Default none. */
KINFER_API int kinfer_config_set_unix_socket(kinfer_config *cfg,
                                             const char *path);

/* The largest response body accepted (default 256 MiB); a larger one fails
 * the call with KINFER_ELIMIT.  Returns KINFER_OK, KINFER_EINVAL (0). */
KINFER_API int kinfer_config_set_max_response_bytes(kinfer_config *cfg,
                                                    size_t n);

/* The largest response header block accepted, names plus values (default
 * 64 KiB); larger fails the call with KINFER_ELIMIT. */
KINFER_API int kinfer_config_set_max_header_bytes(kinfer_config *cfg,
                                                  size_t n);

/* HTTP/1.1: keep-alive connections per origin (default 8).  Requests beyond
 * that wait, within the pool timeout, for one to come free. */
KINFER_API int kinfer_config_set_max_connections(kinfer_config *cfg,
                                                 unsigned n);

/* HTTP/2: the most streams this client opens at once on one connection,
 * below the server's own MAX_CONCURRENT_STREAMS (default 1000).  Further
 * requests wait, within the pool timeout. */
KINFER_API int kinfer_config_set_max_concurrent_streams(kinfer_config *cfg,
                                                        unsigned n);

/* HTTP/2: connections per origin (default 1).  With more than one, a new
 * connection opens when every open one is at its stream limit and requests
 * are waiting; with 1, they wait in the queue (within the pool timeout).
 * Returns KINFER_OK, KINFER_EINVAL (0 or above 1024). */
KINFER_API int kinfer_config_set_max_h2_connections(kinfer_config *cfg,
                                                    unsigned n);

/* Requests that may wait per origin for a connection or a stream slot
 * (default 65536).  Beyond that a call fails at once with KINFER_ELIMIT
 * rather than queueing without bound.  Each waiting request keeps its own
 * deadline and pool timeout.  Returns KINFER_OK, KINFER_EINVAL (0). */
KINFER_API int kinfer_config_set_max_queued(kinfer_config *cfg, size_t n);

/* HTTP/2 receive windows the client advertises: for the whole connection
 * and per stream (default 16 MiB each), so large tensors stream without
 * waiting on WINDOW_UPDATE round trips.  Each 65535 .. 2^31-1.
 * Returns KINFER_OK, KINFER_EINVAL. */
KINFER_API int kinfer_config_set_h2_windows(kinfer_config *cfg,
                                            unsigned connection,
                                            unsigned stream);

/* Retry budget, so a failing server is not met with a retry storm: a token
 * bucket per client that every retry draws one token from.  It starts
 * full, holds at most max(10, 10 * per_second) tokens, and gains |ratio| of
 * a token per first attempt and |per_second| tokens a second (defaults 0.2
 * and 10: retries add at most about 20 % to the load, plus 10 a second).
 * A retriable failure that finds the bucket empty is returned as it is.
 * A negative |ratio| turns the budget off (retries are then bounded only by
 * the retry count and the deadline).  Returns KINFER_OK, KINFER_EINVAL. */
KINFER_API int kinfer_config_set_retry_budget(kinfer_config *cfg, double ratio,
                                              double per_second);

/* Backoff between attempts: exponential from |base| seconds (default 0.05)
 * doubling up to |cap| seconds (default 2), each delay drawn uniformly from
 * [delay/2, delay] (jitter).  All attempts stay within the call's deadline.
 * Returns KINFER_OK, KINFER_EINVAL (negative, or base > cap). */
KINFER_API int kinfer_config_set_retry_backoff(kinfer_config *cfg, double base,
                                               double cap);

/* HTTP/2 keepalive: a connection from which nothing has arrived for
 * |interval| seconds (default 30) is sent a PING; when nothing arrives
 * within |timeout| seconds after it (default 10), the connection is taken as
 * dead and closed: requests not yet sent go to a new connection, requests
 * already sent fail with KINFER_EUNKNOWN_OUTCOME (or are resent when
 * idempotent).  KINFER_TIMEOUT_NONE as |interval| turns PINGs off.
 * Returns KINFER_OK, KINFER_EINVAL. */
KINFER_API int kinfer_config_set_keepalive(kinfer_config *cfg, double interval,
                                           double timeout);

/* Answers whose HTTP status is one of |codes| (each 400..599, at most 64;
 * n 0 clears the list) are retried like a refused request, within the
 * retries, the backoff and the call's deadline; a Retry-After header
 * (seconds or an HTTP date; at most 60 s is honoured, malformed values are
 * ignored) sets the least wait.  When no retry is left, the last answer is
 * returned (KINFER_EHTTP).  Default: none — an HTTP status is never
 * retried unless listed here, since the server may have run the request.
 * Returns KINFER_OK, KINFER_EINVAL, KINFER_ENOMEM. */
KINFER_API int kinfer_config_set_retry_on_status(kinfer_config *cfg,
                                                 const int *codes, size_t n);

/* Declares every inference request idempotent (default false): one whose
 * connection was lost after it was written, before an answer, may be sent
 * again instead of failing with KINFER_EUNKNOWN_OUTCOME.  Health checks
 * (GET) are always treated as idempotent. */
KINFER_API int kinfer_config_set_idempotent(kinfer_config *cfg, bool on);

/* A request-level transport that replaces the network: for in-process
 * servers and mocks (KServe: RESTConfig.transport).  The library calls
 * round_trip once per attempt, on the calling thread, with the request
 * fully built (method, absolute URL, headers, body); the function fills the
 * response through the kinfer_transport_response_* calls and returns
 * KINFER_OK, or a KINFER_E* code for a transport failure (it may also fill
 * err's message).  Retries are not applied to a custom transport. */
typedef struct kinfer_transport_request kinfer_transport_request;
typedef struct kinfer_transport_response kinfer_transport_response;

KINFER_API const char *
kinfer_transport_request_method(const kinfer_transport_request *r);
KINFER_API const char *
kinfer_transport_request_url(const kinfer_transport_request *r);
KINFER_API const kinfer_headers *
kinfer_transport_request_headers(const kinfer_transport_request *r);
/* The request body, contiguous; *len receives its size. */
KINFER_API const void *
kinfer_transport_request_body(const kinfer_transport_request *r, size_t *len);

KINFER_API int kinfer_transport_response_set_status(kinfer_transport_response *r,
                                                    int status);
/* The response's header list, to fill with kinfer_headers_add. */
KINFER_API kinfer_headers *
kinfer_transport_response_headers(kinfer_transport_response *r);
/* Copies |len| bytes as the response body (replacing any earlier one). */
KINFER_API int kinfer_transport_response_set_body(kinfer_transport_response *r,
                                                  const void *body, size_t len);

typedef struct kinfer_transport {
  int (*round_trip)(void *ud, const kinfer_transport_request *req,
                    kinfer_transport_response *resp, kinfer_error *err);
} kinfer_transport;

/* |t| is copied; |ud| is borrowed for the lifetime of the clients made from
 * this config.  t NULL removes the transport. */
KINFER_API int kinfer_config_set_transport(kinfer_config *cfg,
                                           const kinfer_transport *t, void *ud);

/* ------------------------------------------------------------------------ */
/* Datatypes, parameters, tensors                                             */
/* ------------------------------------------------------------------------ */

typedef enum kinfer_datatype {
  KINFER_BOOL,
  KINFER_UINT8,
  KINFER_UINT16,
  KINFER_UINT32,
  KINFER_UINT64,
  KINFER_INT8,
  KINFER_INT16,
  KINFER_INT32,
  KINFER_INT64,
  KINFER_FP16,
  KINFER_FP32,
  KINFER_FP64,
  KINFER_BYTES,
  KINFER_BF16
} kinfer_datatype;

/* The protocol's name of |t| ("FP32"), or NULL for a value out of range. */
KINFER_API const char *kinfer_datatype_name(kinfer_datatype t);
/* Parses a protocol name (exact case).  Returns KINFER_OK or KINFER_EINVAL. */
KINFER_API int kinfer_datatype_from_name(const char *name,
                                         kinfer_datatype *out);
/* Bytes per element; 0 for BYTES and for values out of range. */
KINFER_API size_t kinfer_datatype_size(kinfer_datatype t);

/* A parameters map (V2 "parameters"): string keys to string, int64, bool or
 * double values.  Setting an existing key replaces its value. */
typedef struct kinfer_params kinfer_params;

KINFER_API int kinfer_params_set_string(kinfer_params *p, const char *key,
                                        const char *v);
KINFER_API int kinfer_params_set_int(kinfer_params *p, const char *key,
                                     int64_t v);
KINFER_API int kinfer_params_set_bool(kinfer_params *p, const char *key,
                                      bool v);
KINFER_API int kinfer_params_set_double(kinfer_params *p, const char *key,
                                        double v);
/* set_double refuses NaN and infinities (KINFER_EINVAL): JSON has neither.
 * Getters return KINFER_EINVAL for a missing key or a value of another
 * type.  A string returned lives until the key is set again or the map is
 * freed. */
KINFER_API int kinfer_params_get_string(const kinfer_params *p,
                                        const char *key, const char **v);
KINFER_API int kinfer_params_get_int(const kinfer_params *p, const char *key,
                                     int64_t *v);
KINFER_API int kinfer_params_get_bool(const kinfer_params *p, const char *key,
                                      bool *v);
KINFER_API int kinfer_params_get_double(const kinfer_params *p,
                                        const char *key, double *v);
KINFER_API size_t kinfer_params_count(const kinfer_params *p);
/* The i-th key in insertion order, or NULL. */
KINFER_API const char *kinfer_params_key(const kinfer_params *p, size_t i);

/* A read-only view of one tensor of a response. */
typedef struct kinfer_tensor kinfer_tensor;

KINFER_API const char *kinfer_tensor_name(const kinfer_tensor *t);
/* The datatype (KINFER_BYTES for NULL). */
KINFER_API kinfer_datatype kinfer_tensor_datatype(const kinfer_tensor *t);
KINFER_API size_t kinfer_tensor_ndim(const kinfer_tensor *t);
KINFER_API const int64_t *kinfer_tensor_shape(const kinfer_tensor *t);
KINFER_API size_t kinfer_tensor_element_count(const kinfer_tensor *t);
/* The elements: little-endian, row-major, typed as the datatype (BOOL: one
 * byte 0 or 1 per element).  NULL for BYTES and for an empty tensor.
 * Outputs received in binary form are views into the response body, not
 * copies, and need not be aligned for their type: read them with memcpy
 * (or through a pointer to an aligned copy) on platforms that care. */
KINFER_API const void *kinfer_tensor_data(const kinfer_tensor *t);
/* Bytes of data: element count x element size; for BYTES, the sum of the
 * element lengths. */
KINFER_API size_t kinfer_tensor_nbytes(const kinfer_tensor *t);
/* The i-th element of a BYTES tensor.  Returns KINFER_OK, KINFER_EINVAL
 * (not BYTES, or i out of range). */
KINFER_API int kinfer_tensor_bytes_at(const kinfer_tensor *t, size_t i,
                                      const char **ptr, size_t *len);
KINFER_API const kinfer_params *kinfer_tensor_parameters(const kinfer_tensor *t);

/* ------------------------------------------------------------------------ */
/* Requests (KServe InferRequest)                                             */
/* ------------------------------------------------------------------------ */

typedef struct kinfer_request kinfer_request;
typedef struct kinfer_input kinfer_input;
typedef struct kinfer_requested_output kinfer_requested_output;

KINFER_API kinfer_request *kinfer_request_new(void);
KINFER_API void kinfer_request_free(kinfer_request *r);

/* Declares this request idempotent (default false), as
 * kinfer_config_set_idempotent does for every request: when its connection
 * is lost after it was written, before an answer, it may be sent again
 * instead of failing with KINFER_EUNKNOWN_OUTCOME.  Also for requests made
 * by kinfer_request_from_json.  Returns KINFER_OK, KINFER_EINVAL (NULL). */
KINFER_API int kinfer_request_set_idempotent(kinfer_request *r, bool on);

/* The request "id" (sent only when set).  NULL clears it. */
KINFER_API int kinfer_request_set_id(kinfer_request *r, const char *id);
/* The request-level parameters map, owned by the request (NULL for a
 * request made by kinfer_request_from_json: its JSON carries its own). */
KINFER_API kinfer_params *kinfer_request_parameters(kinfer_request *r);

/* Adds an input tensor; |name| and |shape| are copied.  Returns the input,
 * owned by the request, or NULL (NULL/empty name, unknown datatype, a
 * negative dimension, ndim above 32, a request made by
 * kinfer_request_from_json, out of memory). */
KINFER_API kinfer_input *kinfer_request_add_input(kinfer_request *r,
                                                  const char *name,
                                                  kinfer_datatype t,
                                                  const int64_t *shape,
                                                  size_t ndim);
/* The tensor's elements, little-endian, row-major (BOOL: one byte each; a
 * BYTES input takes its serialized form, each element a 4-byte
 * little-endian length then its bytes).  set_data copies; borrow_data does
 * not: |data| must stay valid and unchanged until the request is freed (for
 * an asynchronous call, until its completion).  Whether nbytes matches the
 * shape is checked when the request is sent (KINFER_EINPUT).
 * Returns KINFER_OK, KINFER_EINVAL (NULL input, NULL data with nbytes > 0,
 * nbytes above PTRDIFF_MAX), KINFER_ENOMEM. */
KINFER_API int kinfer_input_set_data(kinfer_input *in, const void *data,
                                     size_t nbytes);
KINFER_API int kinfer_input_borrow_data(kinfer_input *in, const void *data,
                                        size_t nbytes);
/* BYTES elements: |count| strings of lens[i] bytes each, copied; with
 * |lens| NULL each element is a NUL-terminated string.  Returns KINFER_OK,
 * KINFER_EINVAL (not a BYTES input, a NULL element with a non-zero or
 * unknown length, an element of 4 GiB or more), KINFER_ENOMEM. */
KINFER_API int kinfer_input_set_bytes(kinfer_input *in,
                                      const char *const *elems,
                                      const size_t *lens, size_t count);
/* Send this input with the binary tensor extension (V2). */
KINFER_API int kinfer_input_set_binary(kinfer_input *in, bool binary);
KINFER_API kinfer_params *kinfer_input_parameters(kinfer_input *in);

/* Names an output to return (V2 "outputs"). */
KINFER_API kinfer_requested_output *
kinfer_request_add_output(kinfer_request *r, const char *name);
KINFER_API int kinfer_requested_output_set_binary(kinfer_requested_output *o,
                                                  bool binary);
KINFER_API kinfer_params *
kinfer_requested_output_parameters(kinfer_requested_output *o);
/* Ask for every output in binary form ("binary_data_output"). */
KINFER_API int kinfer_request_set_binary_outputs(kinfer_request *r, bool on);

/* The "dict" form: |json| (|len| bytes) is checked to be one JSON object
 * and sent as given (V1 instances/inputs, or V2 JSON).  Returns the request
 * or NULL with err filled (KINFER_EINVAL for text that is not a JSON
 * object). */
KINFER_API kinfer_request *kinfer_request_from_json(const char *json,
                                                    size_t len,
                                                    kinfer_error *err);

/* ------------------------------------------------------------------------ */
/* Responses (KServe InferResponse)                                           */
/* ------------------------------------------------------------------------ */

typedef struct kinfer_response kinfer_response;

KINFER_API void kinfer_response_free(kinfer_response *r);
/* The HTTP status of the answer. */
KINFER_API int kinfer_response_status(const kinfer_response *r);
/* V2 "model_name", "model_version", "id"; NULL when absent. */
KINFER_API const char *kinfer_response_model_name(const kinfer_response *r);
KINFER_API const char *kinfer_response_model_version(const kinfer_response *r);
KINFER_API const char *kinfer_response_id(const kinfer_response *r);
/* The response-level parameters (an empty map when absent). */
KINFER_API const kinfer_params *
kinfer_response_parameters(const kinfer_response *r);
KINFER_API size_t kinfer_response_output_count(const kinfer_response *r);
/* The i-th output, or NULL when out of range. */
KINFER_API const kinfer_tensor *kinfer_response_output(const kinfer_response *r,
                                                       size_t i);
KINFER_API const kinfer_tensor *
kinfer_response_output_by_name(const kinfer_response *r, const char *name);
/* The JSON text: the whole body, or the JSON part of a binary body.  Not
 * NUL-terminated in general; *len (when len is not NULL) receives its
 * length. */
KINFER_API const char *kinfer_response_json(const kinfer_response *r,
                                            size_t *len);

/* ------------------------------------------------------------------------ */
/* The client (KServe InferenceRESTClient)                                    */
/* ------------------------------------------------------------------------ */

typedef struct kinfer_client kinfer_client;

/* A client using a copy of |cfg| (NULL: defaults).  It starts one I/O
 * thread; connections are opened on first use and kept.  Returns the client
 * or NULL with err filled. */
KINFER_API kinfer_client *kinfer_client_new(const kinfer_config *cfg,
                                            kinfer_error *err);

/* Fails what is still in flight with KINFER_ECANCELLED, closes every
 * connection, stops the I/O thread and frees the client.  NULL is a no-op.
 * No other call on the client may be running or start. */
KINFER_API void kinfer_client_close(kinfer_client *c);

/*
 * Inference.  v1: POST {base_url}/v1/models/{model_name}:predict;
 * v2: POST {base_url}/v2/models/{model_name}/infer; with |is_graph_endpoint|,
 * POST {base_url} itself whatever the protocol.
 *
 * |base_url| must start with http:// or https:// (KINFER_EURL); its path is
 * kept and joined to the endpoint with one '/'; its query is kept.  The model
 * name is percent-encoded as a path segment.  |headers| (may be NULL) are
 * sent as well.  |response_headers|, when not NULL, is cleared and filled
 * with the answer's headers, names lower-cased, on success only.  |timeout|
 * in seconds bounds the whole call, retries included (KINFER_TIMEOUT_DEFAULT:
 * the client's; KINFER_TIMEOUT_NONE: none).
 *
 * On KINFER_OK, *out receives the response, which the caller frees.
 * Returns KINFER_OK or:
 *   KINFER_EINVAL        NULL c/data/out, or model_name NULL without
 *                        is_graph_endpoint ("model_name should not be 'None'")
 *   KINFER_EUNSUPPORTED  the config's protocol is not v1 or v2
 *   KINFER_EURL          base_url is not http:// or https://
 *   KINFER_EINPUT        the request cannot be encoded
 *   KINFER_EHTTP         the server answered non-2xx: err->http_status, and
 *                        err->message "<error>, '<code> <reason>' for url
 *                        '<url>'"
 *   KINFER_ECONNECT, KINFER_ETLS, KINFER_ETIMEOUT, KINFER_EUNKNOWN_OUTCOME,
 *   KINFER_EREFUSED, KINFER_EBADRESPONSE, KINFER_ELIMIT, KINFER_ENOMEM,
 *   KINFER_ECANCELLED
 */
KINFER_API int kinfer_infer(kinfer_client *c, const char *base_url,
                            const kinfer_request *data, const char *model_name,
                            const kinfer_headers *headers,
                            kinfer_headers *response_headers,
                            bool is_graph_endpoint, double timeout,
                            kinfer_response **out, kinfer_error *err);

/*
 * Explanation (V1 only): POST {base_url}/v1/models/{model_name}:explain with
 * |data|; the answer is kept as JSON (kinfer_response_json).  v2:
 * KINFER_EUNSUPPORTED.  Other arguments and errors as for kinfer_infer.
 */
KINFER_API int kinfer_explain(kinfer_client *c, const char *base_url,
                              const char *model_name,
                              const kinfer_request *data,
                              const kinfer_headers *headers, double timeout,
                              kinfer_response **out, kinfer_error *err);

/*
 * Health.  The answer is stored in *ready / *live.
 *   is_server_ready  v1: KINFER_EUNSUPPORTED;     v2: GET /v2/health/ready
 *   is_server_live   v1: GET {base_url}/;         v2: GET /v2/health/live
 *   is_model_ready   v1: GET /v1/models/{m};      v2: GET /v2/models/{m}/ready
 * A 2xx answer reads "ready" / "live" (v1 live: "status": "alive") from its
 * JSON body, and an empty 2xx body means true; 503 means false; any other
 * status is KINFER_EHTTP.  v2 is_model_ready is true on any 2xx and false on
 * any other status.  Connection and TLS failures are errors, never false.
 * Returns KINFER_OK or an error as for kinfer_infer.
 */
KINFER_API int kinfer_is_server_ready(kinfer_client *c, const char *base_url,
                                      const kinfer_headers *headers,
                                      double timeout, bool *ready,
                                      kinfer_error *err);
KINFER_API int kinfer_is_server_live(kinfer_client *c, const char *base_url,
                                     const kinfer_headers *headers,
                                     double timeout, bool *live,
                                     kinfer_error *err);
KINFER_API int kinfer_is_model_ready(kinfer_client *c, const char *base_url,
                                     const char *model_name,
                                     const kinfer_headers *headers,
                                     double timeout, bool *ready,
                                     kinfer_error *err);

/* ------------------------------------------------------------------------ */
/* Asynchronous calls                                                         */
/* ------------------------------------------------------------------------ */

/* Called exactly once per accepted asynchronous call, on a library
 * completion thread (never on the I/O thread, never on the caller's stack).
 * |status| is KINFER_OK with |resp| set (the callback owns it and frees it
 * with kinfer_response_free), or an error code with |resp| NULL and |err|
 * describing it.  |err| lives only during the callback.  A slow callback
 * delays other callbacks of the same client, but neither its network I/O
 * nor its completion queues' deliveries. */
typedef void (*kinfer_callback)(void *user_data, int status,
                                kinfer_response *resp, const kinfer_error *err);

/* kinfer_infer without waiting: the arguments mean the same, and are
 * checked before it returns.  |data| may be freed as soon as this returns,
 * unless it borrows input data (kinfer_input_borrow_data): that must stay
 * valid until the callback runs.  |headers| is copied.
 * Returns KINFER_OK (the callback will run exactly once) or an error as for
 * kinfer_infer (KINFER_EINVAL, KINFER_EUNSUPPORTED, KINFER_EURL,
 * KINFER_EINPUT, KINFER_ENOMEM, KINFER_ECANCELLED when the client is
 * closing); then the callback never runs. */
KINFER_API int kinfer_infer_async(kinfer_client *c, const char *base_url,
                                  const kinfer_request *data,
                                  const char *model_name,
                                  const kinfer_headers *headers,
                                  bool is_graph_endpoint, double timeout,
                                  kinfer_callback cb, void *user_data);

/* A completion queue: for callers that must not be called back (Go through
 * cgo).  Calls submitted with kinfer_infer_cq push one completion each
 * (decoded, as soon as the answer is in: no callback and no other queue
 * holds it up); any thread may wait for them with kinfer_cq_next. */
typedef struct kinfer_cq kinfer_cq;

typedef struct kinfer_completion {
  uintptr_t tag;         /* as given to kinfer_infer_cq                      */
  int status;            /* KINFER_OK or KINFER_E*                            */
  kinfer_response *resp; /* owned by the receiver; NULL on error             */
  kinfer_error err;      /* details when status is an error                  */
} kinfer_completion;

KINFER_API kinfer_cq *kinfer_cq_new(void);
/* Frees the queue and any completions not taken (their responses too).
 * No call may still be headed for it: close the clients that use it, or
 * drain every call first. */
KINFER_API void kinfer_cq_free(kinfer_cq *q);

/* As kinfer_infer_async, but the completion is pushed to |q| with |tag|. */
KINFER_API int kinfer_infer_cq(kinfer_client *c, const char *base_url,
                               const kinfer_request *data,
                               const char *model_name,
                               const kinfer_headers *headers,
                               bool is_graph_endpoint, double timeout,
                               kinfer_cq *q, uintptr_t tag);

/* Waits up to |timeout| seconds (0: do not wait; KINFER_TIMEOUT_NONE:
 * forever) for at least one completion, then takes up to |max| of them
 * into |out|.  Returns how many (0 on timeout or after kinfer_cq_wakeup),
 * or KINFER_EINVAL. */
KINFER_API int kinfer_cq_next(kinfer_cq *q, kinfer_completion *out, size_t max,
                              double timeout);

/* Makes one blocked (or the next) kinfer_cq_next return, from any thread. */
KINFER_API void kinfer_cq_wakeup(kinfer_cq *q);

/* ------------------------------------------------------------------------ */
/* Observability                                                              */
/* ------------------------------------------------------------------------ */

/* Counters since the client was made.  The struct may grow at its end (the
 * reserved words); fields are never reordered. */
typedef struct kinfer_stats {
  uint64_t requests;           /* calls made (infer, explain, health)       */
  uint64_t successes;          /* calls that returned KINFER_OK             */
  uint64_t failures;           /* calls that returned an error              */
  uint64_t retries;            /* attempts beyond the first                 */
  uint64_t connections_opened; /* connections established, ever            */
  uint64_t connections_open;   /* connections open now                      */
  uint64_t streams_in_flight;  /* requests on the wire now                  */
  uint64_t requests_queued;    /* requests waiting for a connection/stream  */
  uint64_t bytes_sent;         /* bytes written to sockets                  */
  uint64_t bytes_received;     /* bytes read from sockets                   */
  uint64_t h2_requests;        /* attempts sent over HTTP/2                 */
  uint64_t h1_requests;        /* attempts sent over HTTP/1.1               */
  uint64_t reserved[8];
} kinfer_stats;

/* Fills |out| with a snapshot of the client's counters.  Thread-safe.
 * Returns KINFER_OK or KINFER_EINVAL (NULL argument). */
KINFER_API int kinfer_client_stats(const kinfer_client *c, kinfer_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* KINFER_KINFER_H */
