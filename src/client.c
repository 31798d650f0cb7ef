/*
 * The client: validates arguments, builds URLs and headers by the protocol's
 * rules, encodes the request, hands the exchange to the engine (or to the
 * caller's transport), and turns the answer into a response or an error.
 */
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "client.h"
#include "config.h"
#include "internal.h"
#include "protocol/protocol.h"
#include "session/session.h"

typedef struct async_call async_call;

struct kinfer_client {
  kinfer_config *cfg; /* private copy */
  ki_engine *engine;  /* NULL when the config has a custom transport */
  _Atomic uint64_t requests, successes, failures;

  /* Asynchronous calls finish on a completion thread, started on first use,
   * so callbacks never run on the I/O thread. */
  pthread_rwlock_t submit_lock; /* submitters read, close writes         */
  bool closing;                 /* under submit_lock                     */
  pthread_mutex_t mu;           /* guards the fields below               */
  pthread_cond_t cv;
  async_call *head, *tail;      /* finished exchanges to deliver         */
  bool completer_started, completer_stop;
  pthread_t completer;
};

/* Everything one call needs; lives on the caller's stack. */
typedef struct call {
  kinfer_client *client;
  const char *method;
  ki_url url;
  char *target;         /* path[?query] */
  char *full_url;       /* for messages and logs */
  char *authority;      /* the caller's Host header, or the URL's */
  kinfer_headers *hdrs; /* everything we send besides framing headers */
  const struct iovec *iov;
  size_t iovcnt;
  size_t body_len;
  int64_t deadline_ns;
  bool idempotent;      /* this request may be resent after being written */

  /* result */
  int result;
  int status;
  kinfer_headers *resp_headers;
  char *body;
  size_t len;
  int attempts;
  char message[512];

  ki_xfer xfer;
  sem_t done;
} call;

/* ------------------------------------------------------------------------ */
/* Client lifetime                                                            */
/* ------------------------------------------------------------------------ */

kinfer_client *kinfer_client_new(const kinfer_config *cfg, kinfer_error *err) {
  ki_error_clear(err);
  kinfer_config *own = NULL;
  if (cfg) {
    own = ki_config_copy(cfg);
  } else {
    own = kinfer_config_new();
  }
  kinfer_client *c = calloc(1, sizeof *c);
  if (!own || !c) {
    kinfer_config_free(own);
    free(c);
    ki_error_set(err, KINFER_ENOMEM, "out of memory creating the client");
    return NULL;
  }
  c->cfg = own;
  pthread_rwlock_init(&c->submit_lock, NULL);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  if (!own->has_transport) {
    c->engine = ki_engine_new(own, err);
    if (!c->engine) {
      kinfer_client_close(c);
      return NULL;
    }
  }
  return c;
}

static void completer_stop(kinfer_client *c);

void kinfer_client_close(kinfer_client *c) {
  if (!c) return;
  /* No asynchronous submit is in progress once we hold the write lock, and
   * none starts after it: callbacks that submit get KINFER_ECANCELLED. */
  pthread_rwlock_wrlock(&c->submit_lock);
  c->closing = true;
  pthread_rwlock_unlock(&c->submit_lock);
  /* The engine completes whatever is in flight with KINFER_ECANCELLED; the
   * completion thread then delivers every one of them before it stops. */
  ki_engine_free(c->engine);
  completer_stop(c);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  pthread_rwlock_destroy(&c->submit_lock);
  kinfer_config_free(c->cfg);
  free(c);
}

const kinfer_config *ki_client_config(const kinfer_client *c) {
  return c->cfg;
}

/* ------------------------------------------------------------------------ */
/* URLs                                                                       */
/* ------------------------------------------------------------------------ */

static bool is_unreserved(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
         ch == '~';
}

int ki_append_path_segment(ki_buf *b, const char *seg) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)seg; *p; p++) {
    char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
    int rc = is_unreserved(*p) ? ki_buf_append(b, p, 1)
                               : ki_buf_append(b, enc, 3);
    if (rc) return rc;
  }
  return KINFER_OK;
}

/* The endpoint path relative to the base URL's path, e.g.
 * "v2/models/<m>/infer"; |model| may be NULL when the endpoint has none. */
static int endpoint_path(ki_buf *b, const char *prefix, const char *model,
                         const char *suffix) {
  int rc = ki_buf_append(b, prefix, strlen(prefix));
  if (!rc && model) rc = ki_append_path_segment(b, model);
  if (!rc && suffix) rc = ki_buf_append(b, suffix, strlen(suffix));
  return rc;
}

/* Joins the base path and |rel| with exactly one '/' (as KServe's client
 * does: "/serving" + "v2/health/live" = "/serving/v2/health/live"), keeps
 * the base query, and fills target / full_url. */
static int build_target(call *k, const char *rel) {
  ki_buf t = {0}, u = {0};
  const char *path = k->url.path;
  size_t plen = strlen(path);
  int rc = ki_buf_append(&t, path, plen);
  if (!rc && rel) {
    bool slash = plen > 0 && path[plen - 1] == '/';
    if (!slash && rel[0] != '/') rc = ki_buf_append(&t, "/", 1);
    if (!rc) rc = ki_buf_append(&t, rel, strlen(rel));
  }
  if (!rc && k->url.query) {
    rc = ki_buf_append(&t, "?", 1);
    if (!rc) rc = ki_buf_append(&t, k->url.query, strlen(k->url.query));
  }
  /* Appends, not ki_buf_appendf: this runs for every call. */
  const char *scheme = k->url.https ? "https://" : "http://";
  if (!rc) rc = ki_buf_append(&u, scheme, strlen(scheme));
  if (!rc) rc = ki_buf_append(&u, k->url.authority, strlen(k->url.authority));
  if (!rc) rc = ki_buf_append(&u, t.data, t.len);
  if (rc) {
    ki_buf_free(&t);
    ki_buf_free(&u);
    return KINFER_ENOMEM;
  }
  k->target = ki_buf_steal(&t, NULL);
  k->full_url = ki_buf_steal(&u, NULL);
  return KINFER_OK;
}

/* ------------------------------------------------------------------------ */
/* Call preparation                                                           */
/* ------------------------------------------------------------------------ */

static int resolve_deadline(const kinfer_config *cfg, double timeout,
                            int64_t *deadline, kinfer_error *err) {
  double s;
  if (timeout == KINFER_TIMEOUT_DEFAULT) {
    s = cfg->timeout;
  } else if (timeout == KINFER_TIMEOUT_NONE) {
    s = -1.0;
  } else if (timeout > 0 && isfinite(timeout) && timeout <= 1e9) {
    s = timeout;
  } else {
    return ki_error_set(err, KINFER_EINVAL,
                        "timeout must be positive, KINFER_TIMEOUT_DEFAULT or "
                        "KINFER_TIMEOUT_NONE");
  }
  *deadline = s < 0 ? 0 : ki_now_ns() + (int64_t)(s * 1e9);
  return KINFER_OK;
}

/* Headers whose meaning belongs to the connection, not to the caller.
 * HTTP/2 forbids them; over HTTP/1.1 the library manages them itself. */
static bool is_hop_by_hop(const char *name) {
  static const char *const names[] = {"connection", "keep-alive",
                                      "proxy-connection", "te", "upgrade"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (ki_strcasecmp(name, names[i]) == 0) return true;
  return false;
}

/* Builds the header list sent with the call: the caller's headers (minus
 * Host, which becomes the authority, and hop-by-hop headers), then content
 * type, binary length and Authorization unless the caller gave them. */
static int build_headers(call *k, const kinfer_headers *user,
                         const ki_encoded *enc, kinfer_error *err) {
  const kinfer_config *cfg = k->client->cfg;
  k->hdrs = kinfer_headers_new();
  if (!k->hdrs) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  for (size_t i = 0; i < kinfer_headers_count(user); i++) {
    const char *n = kinfer_headers_name(user, i);
    const char *v = kinfer_headers_value(user, i);
    if (ki_strcasecmp(n, "content-length") == 0 ||
        ki_strcasecmp(n, "transfer-encoding") == 0)
      return ki_error_set(err, KINFER_EINVAL,
                          "header '%s' is set by the library", n);
    if (ki_strcasecmp(n, "host") == 0) {
      if (!k->authority && !(k->authority = ki_strdup(v)))
        return ki_error_set(err, KINFER_ENOMEM, "out of memory");
      continue;
    }
    if (is_hop_by_hop(n)) continue;
    if (kinfer_headers_add(k->hdrs, n, v))
      return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  }
  int rc = KINFER_OK;
  if (enc) {
    if (!kinfer_headers_get(k->hdrs, "content-type") || enc->binary)
      rc = kinfer_headers_add(k->hdrs, "content-type", enc->content_type);
    if (!rc && enc->binary) {
      char n[32];
      ki_fmt_u64(n, enc->json.len);
      rc = kinfer_headers_add(k->hdrs, "inference-header-content-length", n);
    }
  }
  if (!rc && cfg->auth_header && !kinfer_headers_get(k->hdrs, "authorization"))
    rc = kinfer_headers_add(k->hdrs, "authorization", cfg->auth_header);
  if (rc) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  return KINFER_OK;
}

static void call_cleanup(call *k) {
  ki_url_free(&k->url);
  free(k->target);
  free(k->full_url);
  free(k->authority);
  kinfer_headers_free(k->hdrs);
  kinfer_headers_free(k->resp_headers);
  free(k->body);
}

/* First half of preparing a call, everything that does not depend on the
 * body: parses the base URL, builds the target from |rel| (NULL: the base
 * URL itself) and the deadline.  Checked before the body is encoded, in the
 * order KServe's client reports errors. */
static int call_begin(call *k, kinfer_client *c, const char *method,
                      const char *base_url, const char *rel, double timeout,
                      kinfer_error *err) {
  memset(k, 0, sizeof *k);
  k->client = c;
  k->method = method;
  int rc = ki_url_parse(base_url, &k->url, err);
  if (rc) return rc;
  if (build_target(k, rel))
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  return resolve_deadline(c->cfg, timeout, &k->deadline_ns, err);
}

/* Second half: the headers and the body (|enc| NULL: no body). */
static int call_set_body(call *k, const kinfer_headers *user,
                         const ki_encoded *enc, kinfer_error *err) {
  int rc = build_headers(k, user, enc, err);
  if (rc) return rc;
  if (!k->authority && !(k->authority = ki_strdup(k->url.authority)))
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  if (enc) {
    k->iov = enc->iov;
    k->iovcnt = enc->iovcnt;
    k->body_len = enc->total;
  }
  return KINFER_OK;
}

/* ------------------------------------------------------------------------ */
/* Performing a call                                                          */
/* ------------------------------------------------------------------------ */

static void on_xfer_done(ki_xfer *x) {
  call *k = x->user;
  sem_post(&k->done);
}

static int harvest(call *k);

/* Fills the exchange from the prepared call. */
static void xfer_fill(call *k, void (*done)(ki_xfer *)) {
  ki_xfer *x = &k->xfer;
  x->method = k->method;
  x->https = k->url.https;
  x->host = k->url.host;
  x->port = k->url.port;
  x->authority = k->authority;
  x->target = k->target;
  x->url = k->full_url;
  x->headers = k->hdrs;
  x->body = k->iov;
  x->body_iovcnt = k->iovcnt;
  x->body_len = k->body_len;
  x->deadline_ns = k->deadline_ns;
  x->idempotent = strcmp(k->method, "GET") == 0 || k->idempotent ||
                  k->client->cfg->idempotent;
  x->done = done;
  x->user = k;
}

static int perform_engine(call *k) {
  ki_xfer *x = &k->xfer;
  xfer_fill(k, on_xfer_done);
  if (sem_init(&k->done, 0, 0) != 0) return KINFER_ENOMEM;
  /* The calling thread drives the loop itself when it is free: no hand-off
   * to the I/O thread and back for a lone synchronous call. */
  int rc = ki_engine_run(k->client->engine, x);
  if (rc) {
    sem_destroy(&k->done);
    snprintf(k->message, sizeof k->message, "%s", kinfer_strerror(rc));
    return rc;
  }
  while (sem_wait(&k->done) != 0) {
    /* EINTR: a signal arrived; keep waiting for the engine. */
  }
  sem_destroy(&k->done);
  return harvest(k);
}

/* Moves the engine's result out of the exchange into the call. */
static int harvest(call *k) {
  ki_xfer *x = &k->xfer;
  k->result = x->result;
  k->status = x->status;
  k->attempts = x->attempts;
  k->resp_headers = x->resp_headers;
  x->resp_headers = NULL;
  k->body = x->resp_body;
  k->len = x->resp_len;
  x->resp_body = NULL;
  snprintf(k->message, sizeof k->message, "%s", x->message);
  ki_xfer_release(x);
  return k->result;
}

/* The caller's transport: one round trip on the calling thread. */
struct kinfer_transport_request {
  const call *k;
  ki_buf body;
};

struct kinfer_transport_response {
  int status;
  kinfer_headers *headers;
  ki_buf body;
};

const char *kinfer_transport_request_method(const kinfer_transport_request *r) {
  return r ? r->k->method : NULL;
}

const char *kinfer_transport_request_url(const kinfer_transport_request *r) {
  return r ? r->k->full_url : NULL;
}

const kinfer_headers *
kinfer_transport_request_headers(const kinfer_transport_request *r) {
  return r ? r->k->hdrs : NULL;
}

const void *kinfer_transport_request_body(const kinfer_transport_request *r,
                                          size_t *len) {
  if (len) *len = r ? r->body.len : 0;
  return r && r->body.len ? r->body.data : NULL;
}

int kinfer_transport_response_set_status(kinfer_transport_response *r,
                                         int status) {
  if (!r || status < 100 || status > 999) return KINFER_EINVAL;
  r->status = status;
  return KINFER_OK;
}

kinfer_headers *kinfer_transport_response_headers(kinfer_transport_response *r) {
  return r ? r->headers : NULL;
}

int kinfer_transport_response_set_body(kinfer_transport_response *r,
                                       const void *body, size_t len) {
  if (!r || (!body && len)) return KINFER_EINVAL;
  r->body.len = 0;
  return ki_buf_append(&r->body, body, len);
}

static int perform_transport(call *k) {
  const kinfer_config *cfg = k->client->cfg;
  kinfer_transport_request req = {.k = k};
  kinfer_transport_response resp = {0};
  kinfer_error terr;
  ki_error_clear(&terr);
  int rc = KINFER_OK;
  for (size_t i = 0; i < k->iovcnt && !rc; i++)
    rc = ki_buf_append(&req.body, k->iov[i].iov_base, k->iov[i].iov_len);
  if (!rc && !(resp.headers = kinfer_headers_new())) rc = KINFER_ENOMEM;
  if (!rc && kinfer_headers_get(k->hdrs, "host") == NULL)
    rc = kinfer_headers_add(k->hdrs, "host", k->authority);
  if (!rc) rc = kinfer_headers_add(k->hdrs, "x-kinfer-attempt", "1");
  int64_t t0 = ki_now_ns();
  if (!rc) {
    k->attempts = 1;
    rc = cfg->transport.round_trip(cfg->transport_ud, &req, &resp, &terr);
    if (rc > 0) rc = KINFER_EINVAL; /* a transport must return KINFER_E* */
    if (!rc && resp.status == 0) {
      rc = KINFER_EBADRESPONSE;
      snprintf(terr.message, sizeof terr.message,
               "the transport set no response status");
    }
  }
  if (cfg->verbose)
    ki_log(cfg, KINFER_LOG_INFO, "%s %s -> %d (transport) attempt 1 %.3f ms",
           k->method, k->full_url, rc ? rc : resp.status,
           (double)(ki_now_ns() - t0) / 1e6);
  ki_buf_free(&req.body);
  if (rc) {
    snprintf(k->message, sizeof k->message, "%s",
             terr.message[0] ? terr.message : kinfer_strerror(rc));
    kinfer_headers_free(resp.headers);
    ki_buf_free(&resp.body);
    return rc;
  }
  /* Response header names are lower-cased, as from the network. */
  k->resp_headers = kinfer_headers_new();
  for (size_t i = 0; k->resp_headers && i < kinfer_headers_count(resp.headers);
       i++) {
    char name[256];
    const char *n = kinfer_headers_name(resp.headers, i);
    size_t j = 0;
    for (; n[j] && j + 1 < sizeof name; j++)
      name[j] = (n[j] >= 'A' && n[j] <= 'Z') ? (char)(n[j] + 32) : n[j];
    name[j] = '\0';
    if (kinfer_headers_add(k->resp_headers, name,
                           kinfer_headers_value(resp.headers, i)))
      rc = KINFER_ENOMEM;
  }
  if (!k->resp_headers) rc = KINFER_ENOMEM;
  kinfer_headers_free(resp.headers);
  k->status = resp.status;
  k->body = ki_buf_steal(&resp.body, &k->len);
  return rc;
}

/* Fills |err| from the outcome |rc| of a performed exchange. */
static int call_outcome(const call *k, int rc, kinfer_error *err) {
  if (err) err->attempts = k->attempts;
  if (rc)
    return ki_error_set(err, rc, "%s %s: %s", k->method, k->full_url,
                        k->message[0] ? k->message : kinfer_strerror(rc));
  return KINFER_OK;
}

/* Runs the exchange and leaves the answer in k.  Returns KINFER_OK when an
 * HTTP answer (any status) arrived. */
static int call_perform(call *k, kinfer_error *err) {
  int rc = k->client->engine ? perform_engine(k) : perform_transport(k);
  return call_outcome(k, rc, err);
}

/* ------------------------------------------------------------------------ */
/* HTTP errors, in the form KServe's client raises them                       */
/* ------------------------------------------------------------------------ */

static const char *reason_phrase(int status) {
  switch (status) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "";
  }
}

/* The server's own words: the JSON body's "error" (or "detail") string, or
 * a printable prefix of the body. */
static void error_text(const char *body, size_t len, char *out, size_t cap) {
  out[0] = '\0';
  if (!body || !len) return;
  json_tokener *tok = json_tokener_new_ex(32);
  json_object *root = tok ? json_tokener_parse_ex(tok, body, (int)(len > INT32_MAX ? INT32_MAX : len)) : NULL;
  json_object *v = NULL;
  if (root && json_object_is_type(root, json_type_object) &&
      (json_object_object_get_ex(root, "error", &v) ||
       json_object_object_get_ex(root, "detail", &v))) {
    const char *s = json_object_is_type(v, json_type_string)
                        ? json_object_get_string(v)
                        : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    snprintf(out, cap, "%s", s ? s : "");
  } else {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap && n < 200; i++) {
      unsigned char ch = (unsigned char)body[i];
      out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    out[n] = '\0';
  }
  json_object_put(root);
  json_tokener_free(tok);
}

static int http_error(call *k, kinfer_error *err) {
  char text[320];
  error_text(k->body, k->len, text, sizeof text);
  if (err) err->http_status = k->status;
  const char *reason = reason_phrase(k->status);
  return ki_error_set(err, KINFER_EHTTP, "%s, '%d%s%s' for url '%s'", text,
                      k->status, *reason ? " " : "", reason, k->full_url);
}

static bool is_2xx(int status) { return status >= 200 && status <= 299; }

static int counted(kinfer_client *c, int rc);
static const char *unsupported(kinfer_client *c, kinfer_error *err);

/* ------------------------------------------------------------------------ */
/* Inference and explanation                                                  */
/* ------------------------------------------------------------------------ */

static int copy_response_headers(const kinfer_headers *from,
                                 kinfer_headers *to) {
  kinfer_headers_clear(to);
  for (size_t i = 0; i < kinfer_headers_count(from); i++)
    if (kinfer_headers_add(to, kinfer_headers_name(from, i),
                           kinfer_headers_value(from, i)))
      return KINFER_ENOMEM;
  return KINFER_OK;
}

/* Turns a POST's HTTP answer into a response: status check, response
 * headers, decoding.  Consumes k->body. */
static int finish_post(call *k, enum ki_decode_mode mode,
                       kinfer_headers *response_headers, kinfer_response **out,
                       kinfer_error *err) {
  if (!is_2xx(k->status)) return http_error(k, err);
  if (response_headers && copy_response_headers(k->resp_headers, response_headers))
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  const char *ihcl =
      mode == KI_DECODE_V1
          ? NULL
          : kinfer_headers_get(k->resp_headers, "inference-header-content-length");
  char *body = k->body;
  k->body = NULL; /* the decoder owns it from here, whatever happens */
  int rc = ki_decode_response(mode, body, k->len, ihcl, out, err);
  if (!rc) ki_response_set_status(*out, k->status);
  return rc;
}

/* POSTs |data| to |rel| (NULL: the base URL) and decodes the answer. */
static int post_and_decode(kinfer_client *c, const char *base_url,
                           const char *rel, const kinfer_request *data,
                           enum ki_protocol enc_proto,
                           enum ki_decode_mode mode,
                           const kinfer_headers *headers,
                           kinfer_headers *response_headers, double timeout,
                           kinfer_response **out, kinfer_error *err) {
  ki_encoded enc;
  memset(&enc, 0, sizeof enc);
  call k;
  int rc = call_begin(&k, c, "POST", base_url, rel, timeout, err);
  if (!rc) k.idempotent = ki_request_idempotent(data);
  if (!rc) rc = ki_encode_request(data, enc_proto, &enc, err);
  if (!rc) rc = call_set_body(&k, headers, &enc, err);
  if (!rc) rc = call_perform(&k, err);
  if (!rc) rc = finish_post(&k, mode, response_headers, out, err);
  call_cleanup(&k);
  ki_encoded_free(&enc);
  return counted(c, rc);
}

static const char *unsupported(kinfer_client *c, kinfer_error *err) {
  ki_error_set(err, KINFER_EUNSUPPORTED, "Unsupported protocol %s.",
               c->cfg->protocol);
  return NULL;
}

/* Where an infer call goes and how its bodies are written and read.
 * Validates the arguments in KServe's order (model name, then protocol). */
typedef struct route {
  ki_buf rel;                  /* relative path; empty data: the base URL */
  bool graph;
  enum ki_protocol enc_proto;
  enum ki_decode_mode mode;
} route;

static int infer_route(kinfer_client *c, const char *model_name,
                       bool is_graph_endpoint, route *rt, kinfer_error *err) {
  memset(rt, 0, sizeof *rt);
  if (!is_graph_endpoint && !model_name)
    return ki_error_set(err, KINFER_EINVAL, "model_name should not be 'None'");
  enum ki_protocol proto = ki_config_protocol(c->cfg);
  if (is_graph_endpoint) {
    rt->graph = true;
    rt->enc_proto = proto == KI_PROTO_V1 ? KI_PROTO_V1 : KI_PROTO_V2;
    rt->mode = KI_DECODE_AUTO;
    return KINFER_OK;
  }
  if (proto == KI_PROTO_UNSUPPORTED) {
    unsupported(c, err);
    return KINFER_EUNSUPPORTED;
  }
  rt->enc_proto = proto;
  rt->mode = proto == KI_PROTO_V1 ? KI_DECODE_V1 : KI_DECODE_V2;
  int rc = proto == KI_PROTO_V1
               ? endpoint_path(&rt->rel, "v1/models/", model_name, ":predict")
               : endpoint_path(&rt->rel, "v2/models/", model_name, "/infer");
  if (rc) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  return KINFER_OK;
}

int kinfer_infer(kinfer_client *c, const char *base_url,
                 const kinfer_request *data, const char *model_name,
                 const kinfer_headers *headers,
                 kinfer_headers *response_headers, bool is_graph_endpoint,
                 double timeout, kinfer_response **out, kinfer_error *err) {
  ki_error_clear(err);
  if (out) *out = NULL;
  if (!c || !base_url || !data || !out)
    return ki_error_set(err, KINFER_EINVAL,
                        "client, base_url, data and out must not be NULL");
  route rt;
  int rc = infer_route(c, model_name, is_graph_endpoint, &rt, err);
  if (!rc)
    rc = post_and_decode(c, base_url, rt.graph ? NULL : rt.rel.data, data,
                         rt.enc_proto, rt.mode, headers, response_headers,
                         timeout, out, err);
  ki_buf_free(&rt.rel);
  return rc;
}

int kinfer_explain(kinfer_client *c, const char *base_url,
                   const char *model_name, const kinfer_request *data,
                   const kinfer_headers *headers, double timeout,
                   kinfer_response **out, kinfer_error *err) {
  ki_error_clear(err);
  if (out) *out = NULL;
  if (!c || !base_url || !data || !out || !model_name)
    return ki_error_set(err, KINFER_EINVAL,
                        "client, base_url, model_name, data and out must not "
                        "be NULL");
  if (ki_config_protocol(c->cfg) != KI_PROTO_V1) {
    unsupported(c, err);
    return KINFER_EUNSUPPORTED;
  }
  ki_buf rel = {0};
  if (endpoint_path(&rel, "v1/models/", model_name, ":explain"))
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  int rc = post_and_decode(c, base_url, rel.data, data, KI_PROTO_V1,
                           KI_DECODE_V1, headers, NULL, timeout, out, err);
  ki_buf_free(&rel);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Counters                                                                   */
/* ------------------------------------------------------------------------ */

/* Counts a finished public call and passes its result through. */
static int counted(kinfer_client *c, int rc) {
  atomic_fetch_add_explicit(&c->requests, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(rc ? &c->failures : &c->successes, 1,
                            memory_order_relaxed);
  return rc;
}

int kinfer_client_stats(const kinfer_client *c, kinfer_stats *out) {
  if (!c || !out) return KINFER_EINVAL;
  memset(out, 0, sizeof *out);
  kinfer_client *mc = (kinfer_client *)c;
  out->requests = atomic_load_explicit(&mc->requests, memory_order_relaxed);
  out->successes = atomic_load_explicit(&mc->successes, memory_order_relaxed);
  out->failures = atomic_load_explicit(&mc->failures, memory_order_relaxed);
  if (c->engine) {
    ki_engine_stats s;
    ki_engine_stats_get(c->engine, &s);
    out->retries = s.retries;
    out->connections_opened = s.connections_opened;
    out->connections_open = s.connections_open;
    out->streams_in_flight = s.streams_in_flight;
    out->requests_queued = s.requests_queued;
    out->bytes_sent = s.bytes_sent;
    out->bytes_received = s.bytes_received;
    out->h2_requests = s.h2_requests;
    out->h1_requests = s.h1_requests;
  }
  return KINFER_OK;
}

/* ------------------------------------------------------------------------ */
/* Health                                                                     */
/* ------------------------------------------------------------------------ */

enum health_rule {
  HEALTH_FIELD,      /* 2xx: read a boolean field; 503: false; else error */
  HEALTH_V1_STATUS,  /* 2xx: "status" == "alive"; 503: false; else error  */
  HEALTH_ANY_2XX     /* 2xx: true; anything else: false                   */
};

static bool body_is_blank(const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strchr(" \t\r\n", b[i])) return false;
  return true;
}

static int read_health_body(call *k, enum health_rule rule, const char *field,
                            bool *answer, kinfer_error *err) {
  if (!k->body || body_is_blank(k->body, k->len)) {
    *answer = true;
    return KINFER_OK;
  }
  json_tokener *tok = json_tokener_new_ex(32);
  json_object *root = NULL, *v = NULL;
  if (tok && k->len <= INT32_MAX) {
    root = json_tokener_parse_ex(tok, k->body, (int)k->len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != k->len) {
      json_object_put(root);
      root = NULL;
    }
  }
  json_tokener_free(tok);
  int rc = KINFER_OK;
  if (!root || !json_object_is_type(root, json_type_object) ||
      !json_object_object_get_ex(root, field, &v)) {
    rc = ki_error_set(err, KINFER_EBADRESPONSE,
                      "health answer from '%s' is not a JSON object with "
                      "\"%s\"",
                      k->full_url, field);
  } else if (rule == HEALTH_V1_STATUS &&
             json_object_is_type(v, json_type_string)) {
    *answer = ki_strcasecmp(json_object_get_string(v), "alive") == 0;
  } else if (rule == HEALTH_FIELD && json_object_is_type(v, json_type_boolean)) {
    *answer = json_object_get_boolean(v);
  } else {
    rc = ki_error_set(err, KINFER_EBADRESPONSE,
                      "health answer from '%s' has a \"%s\" of the wrong type",
                      k->full_url, field);
  }
  json_object_put(root);
  return rc;
}

static int health_call(kinfer_client *c, const char *base_url, const char *rel,
                       enum health_rule rule, const char *field,
                       const kinfer_headers *headers, double timeout,
                       bool *answer, kinfer_error *err) {
  call k;
  int rc = call_begin(&k, c, "GET", base_url, rel, timeout, err);
  if (!rc) rc = call_set_body(&k, headers, NULL, err);
  if (!rc) rc = call_perform(&k, err);
  if (!rc) {
    if (rule == HEALTH_ANY_2XX)
      *answer = is_2xx(k.status);
    else if (k.status == 503)
      *answer = false;
    else if (!is_2xx(k.status))
      rc = http_error(&k, err);
    else
      rc = read_health_body(&k, rule, field, answer, err);
  }
  call_cleanup(&k);
  return counted(c, rc);
}

static int health_args(kinfer_client *c, const char *base_url, bool *answer,
                       kinfer_error *err) {
  ki_error_clear(err);
  if (!c || !base_url || !answer)
    return ki_error_set(err, KINFER_EINVAL,
                        "client, base_url and the answer pointer must not be "
                        "NULL");
  *answer = false;
  return KINFER_OK;
}

int kinfer_is_server_ready(kinfer_client *c, const char *base_url,
                           const kinfer_headers *headers, double timeout,
                           bool *ready, kinfer_error *err) {
  int rc = health_args(c, base_url, ready, err);
  if (rc) return rc;
  if (ki_config_protocol(c->cfg) != KI_PROTO_V2) {
    unsupported(c, err);
    return KINFER_EUNSUPPORTED;
  }
  return health_call(c, base_url, "v2/health/ready", HEALTH_FIELD, "ready",
                     headers, timeout, ready, err);
}

int kinfer_is_server_live(kinfer_client *c, const char *base_url,
                          const kinfer_headers *headers, double timeout,
                          bool *live, kinfer_error *err) {
  int rc = health_args(c, base_url, live, err);
  if (rc) return rc;
  switch (ki_config_protocol(c->cfg)) {
  case KI_PROTO_V1:
    return health_call(c, base_url, "", HEALTH_V1_STATUS, "status", headers,
                       timeout, live, err);
  case KI_PROTO_V2:
    return health_call(c, base_url, "v2/health/live", HEALTH_FIELD, "live",
                       headers, timeout, live, err);
  default:
    unsupported(c, err);
    return KINFER_EUNSUPPORTED;
  }
}

int kinfer_is_model_ready(kinfer_client *c, const char *base_url,
                          const char *model_name,
                          const kinfer_headers *headers, double timeout,
                          bool *ready, kinfer_error *err) {
  int rc = health_args(c, base_url, ready, err);
  if (rc) return rc;
  if (!model_name)
    return ki_error_set(err, KINFER_EINVAL, "model_name should not be 'None'");
  enum ki_protocol proto = ki_config_protocol(c->cfg);
  if (proto == KI_PROTO_UNSUPPORTED) {
    unsupported(c, err);
    return KINFER_EUNSUPPORTED;
  }
  ki_buf rel = {0};
  rc = proto == KI_PROTO_V1 ? endpoint_path(&rel, "v1/models/", model_name, NULL)
                            : endpoint_path(&rel, "v2/models/", model_name,
                                            "/ready");
  if (rc) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  rc = health_call(c, base_url, rel.data,
                   proto == KI_PROTO_V1 ? HEALTH_FIELD : HEALTH_ANY_2XX,
                   "ready", headers, timeout, ready, err);
  ki_buf_free(&rel);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Asynchronous calls and completion queues                                   */
/* ------------------------------------------------------------------------ */

typedef struct cq_node {
  kinfer_completion c;
  struct cq_node *next;
} cq_node;

struct kinfer_cq {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cq_node *head, *tail;
  unsigned wakeups;
};

/* One asynchronous call: the prepared call plus its encoded body, which it
 * owns, and where the result goes. */
struct async_call {
  call k;
  ki_encoded enc;
  enum ki_decode_mode mode;
  kinfer_callback cb;
  void *user_data;
  kinfer_cq *cq;
  cq_node *node; /* allocated up front: a completion is never lost to ENOMEM */
  async_call *next;
};

static void cq_push(kinfer_cq *q, cq_node *n) {
  n->next = NULL;
  pthread_mutex_lock(&q->mu);
  if (q->tail)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* Finishes one call and delivers it: on the completion thread for a
 * callback or a custom transport, on the loop's thread for a completion
 * queue (see on_async_xfer_done). */
static void async_deliver(async_call *a) {
  kinfer_client *c = a->k.client;
  kinfer_error err;
  ki_error_clear(&err);
  kinfer_response *resp = NULL;
  int rc = c->engine ? harvest(&a->k) : perform_transport(&a->k);
  rc = call_outcome(&a->k, rc, &err);
  if (!rc) rc = finish_post(&a->k, a->mode, NULL, &resp, &err);
  counted(c, rc);
  if (a->cb) {
    a->cb(a->user_data, rc, resp, &err);
  } else {
    a->node->c.status = rc;
    a->node->c.resp = resp;
    a->node->c.err = err;
    cq_push(a->cq, a->node);
    a->node = NULL;
  }
  call_cleanup(&a->k);
  ki_encoded_free(&a->enc);
  free(a->node);
  free(a);
}

static void *completer_main(void *arg) {
  kinfer_client *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->head && !c->completer_stop) pthread_cond_wait(&c->cv, &c->mu);
    if (!c->head) break; /* stopping, and nothing left to deliver */
    async_call *batch = c->head;
    c->head = c->tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (batch) {
      async_call *next = batch->next;
      async_deliver(batch);
      batch = next;
    }
    pthread_mutex_lock(&c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static void completer_enqueue(kinfer_client *c, async_call *a) {
  a->next = NULL;
  pthread_mutex_lock(&c->mu);
  if (c->tail)
    c->tail->next = a;
  else
    c->head = a;
  c->tail = a;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Runs on the loop's thread.  A callback may take its time, so callbacks
 * run on the completion thread; a completion-queue entry is decoded and
 * queued right here, so a slow callback (or another queue's slow consumer)
 * never holds it up. */
static void on_async_xfer_done(ki_xfer *x) {
  call *k = x->user;
  async_call *a = (async_call *)k;
  if (!a->cb) {
    async_deliver(a);
    return;
  }
  completer_enqueue(k->client, a);
}

static int completer_start(kinfer_client *c) {
  int rc = KINFER_OK;
  pthread_mutex_lock(&c->mu);
  if (!c->completer_started) {
    if (pthread_create(&c->completer, NULL, completer_main, c) == 0)
      c->completer_started = true;
    else
      rc = KINFER_ENOMEM;
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static void completer_stop(kinfer_client *c) {
  pthread_mutex_lock(&c->mu);
  bool started = c->completer_started;
  c->completer_stop = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  if (started) pthread_join(c->completer, NULL);
}

static int async_submit(kinfer_client *c, const char *base_url,
                        const kinfer_request *data, const char *model_name,
                        const kinfer_headers *headers, bool is_graph_endpoint,
                        double timeout, kinfer_callback cb, void *user_data,
                        kinfer_cq *q, uintptr_t tag, kinfer_error *err) {
  route rt;
  int rc = infer_route(c, model_name, is_graph_endpoint, &rt, err);
  if (rc) return rc;
  async_call *a = calloc(1, sizeof *a);
  if (!a || (q && !(a->node = calloc(1, sizeof *a->node)))) {
    free(a);
    ki_buf_free(&rt.rel);
    return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  }
  a->mode = rt.mode;
  a->cb = cb;
  a->user_data = user_data;
  a->cq = q;
  if (a->node) a->node->c.tag = tag;
  rc = call_begin(&a->k, c, "POST", base_url, rt.graph ? NULL : rt.rel.data,
                  timeout, err);
  ki_buf_free(&rt.rel);
  if (!rc) a->k.idempotent = ki_request_idempotent(data);
  if (!rc) rc = ki_encode_request(data, rt.enc_proto, &a->enc, err);
  /* The request may be freed when we return: own what it does not borrow. */
  if (!rc && ki_encoded_detach(&a->enc, data))
    rc = ki_error_set(err, KINFER_ENOMEM, "out of memory");
  if (!rc) rc = call_set_body(&a->k, headers, &a->enc, err);
  if (!rc) rc = completer_start(c);
  if (!rc) {
    pthread_rwlock_rdlock(&c->submit_lock);
    if (c->closing) {
      rc = ki_error_set(err, KINFER_ECANCELLED, "the client is closing");
    } else if (c->engine) {
      xfer_fill(&a->k, on_async_xfer_done);
      rc = ki_engine_submit(c->engine, &a->k.xfer);
      if (rc) ki_error_set(err, rc, "%s", kinfer_strerror(rc));
    } else {
      completer_enqueue(c, a); /* the transport runs on the completion thread */
    }
    pthread_rwlock_unlock(&c->submit_lock);
  }
  if (rc) {
    call_cleanup(&a->k);
    ki_encoded_free(&a->enc);
    free(a->node);
    free(a);
  }
  return rc;
}

int kinfer_infer_async(kinfer_client *c, const char *base_url,
                       const kinfer_request *data, const char *model_name,
                       const kinfer_headers *headers, bool is_graph_endpoint,
                       double timeout, kinfer_callback cb, void *user_data) {
  if (!c || !base_url || !data || !cb) return KINFER_EINVAL;
  return async_submit(c, base_url, data, model_name, headers,
                      is_graph_endpoint, timeout, cb, user_data, NULL, 0, NULL);
}

int kinfer_infer_cq(kinfer_client *c, const char *base_url,
                    const kinfer_request *data, const char *model_name,
                    const kinfer_headers *headers, bool is_graph_endpoint,
                    double timeout, kinfer_cq *q, uintptr_t tag) {
  if (!c || !base_url || !data || !q) return KINFER_EINVAL;
  return async_submit(c, base_url, data, model_name, headers,
                      is_graph_endpoint, timeout, NULL, NULL, q, tag, NULL);
}

kinfer_cq *kinfer_cq_new(void) {
  kinfer_cq *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, &ca);
  pthread_condattr_destroy(&ca);
  return q;
}

void kinfer_cq_free(kinfer_cq *q) {
  if (!q) return;
  for (cq_node *n = q->head, *next; n; n = next) {
    next = n->next;
    kinfer_response_free(n->c.resp);
    free(n);
  }
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

int kinfer_cq_next(kinfer_cq *q, kinfer_completion *out, size_t max,
                   double timeout) {
  if (!q || !out || max == 0 || max > INT32_MAX) return KINFER_EINVAL;
  if (!(timeout >= 0 || timeout == KINFER_TIMEOUT_NONE) || isnan(timeout))
    return KINFER_EINVAL;
  struct timespec until;
  if (timeout > 0) {
    clock_gettime(CLOCK_MONOTONIC, &until);
    double whole = floor(timeout > 1e9 ? 1e9 : timeout);
    until.tv_sec += (time_t)whole;
    until.tv_nsec += (long)((timeout - whole) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&q->mu);
  while (!q->head && !q->wakeups && timeout != 0) {
    if (timeout == KINFER_TIMEOUT_NONE) {
      pthread_cond_wait(&q->cv, &q->mu);
    } else if (pthread_cond_timedwait(&q->cv, &q->mu, &until) != 0) {
      break; /* timed out */
    }
  }
  size_t n = 0;
  cq_node *taken = q->head;
  cq_node *last = NULL;
  for (cq_node *it = q->head; it && n < max; it = it->next) {
    last = it;
    n++;
  }
  if (n) {
    q->head = last->next;
    if (!q->head) q->tail = NULL;
    last->next = NULL;
  } else if (q->wakeups) {
    q->wakeups--;
  }
  pthread_mutex_unlock(&q->mu);
  for (size_t i = 0; i < n; i++) {
    cq_node *next = taken->next;
    out[i] = taken->c;
    free(taken);
    taken = next;
  }
  return (int)n;
}

void kinfer_cq_wakeup(kinfer_cq *q) {
  if (!q) return;
  pthread_mutex_lock(&q->mu);
  q->wakeups++;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}
