/*
 * HTTP/2 codec on an nghttp2 client session.  Frames are collected with
 * nghttp2_session_mem_send into one buffer and written together; request
 * bodies are read from the caller's iovecs by the data source callback.
 *
 * Over cleartext the session starts with prior knowledge (h2c).  A server
 * that answers with HTTP/1.x bytes, or closes before sending anything, does
 * not speak HTTP/2: the origin is switched to HTTP/1.1 for good and the
 * requests, which it never processed, are sent again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "session/sess.h"

typedef struct h2 {
  nghttp2_session *s;
  ki_buf out;          /* serialized frames not yet written */
  size_t out_off;
  bool goaway;
  int32_t goaway_last_id;
  uint32_t goaway_code;
  unsigned served_at_goaway; /* streams this connection completed before */
  bool fallen_back;
  bool got_any;        /* the peer has sent something */
} h2;

static h2 *H(const ki_conn *c) { return c->proto; }

static ki_xfer_priv *stream_xfer(nghttp2_session *s, int32_t id) {
  return nghttp2_session_get_stream_user_data(s, id);
}

/* Takes |p| off the connection and out of nghttp2's reach. */
static void unbind(ki_conn *c, ki_xfer_priv *p) {
  if (p->stream_id > 0)
    nghttp2_session_set_stream_user_data(H(c)->s, p->stream_id, NULL);
  ki_conn_detach(c, p);
}

/* Fails one stream from inside a callback and resets it. */
static void fail_stream(ki_conn *c, ki_xfer_priv *p, int code,
                        const char *what) {
  nghttp2_submit_rst_stream(H(c)->s, NGHTTP2_FLAG_NONE, p->stream_id,
                            NGHTTP2_CANCEL);
  unbind(c, p);
  ki_xfer_fail(p, KI_FAIL_FATAL, code, "%s from %s", what, c->addr);
}

/* ---- nghttp2 callbacks ----------------------------------------------------- */

static int on_header(nghttp2_session *s, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *ud) {
  ki_conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  ki_xfer_priv *p = stream_xfer(s, frame->hd.stream_id);
  if (!p || p->resp_done)
    return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    int st = 0;
    for (size_t i = 0; i < valuelen && i < 3; i++)
      st = st * 10 + (value[i] - '0');
    if (p->resp_started) /* trailers carry no status */
      return 0;
    if (st >= 200) {
      p->status = st;
      p->resp_started = true;
    }
    return 0;
  }
  /* 1xx fields and trailers are not kept. */
  if (!p->resp_started || frame->headers.cat == NGHTTP2_HCAT_HEADERS)
    return 0;
  if (namelen > 0 && name[0] == ':')
    return 0;
  int rc = ki_xfer_add_header(p, (const char *)name, namelen,
                              (const char *)value, valuelen);
  if (rc == KINFER_ELIMIT)
    fail_stream(c, p, rc, "response headers exceed the configured limit");
  else if (rc != KINFER_OK)
    fail_stream(c, p, rc, "cannot store a response header");
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud) {
  ki_conn *c = ud;
  ki_xfer_priv *p = stream_xfer(s, id);
  if (!p)
    return 0;
  int rc = ki_xfer_add_body(p, data, len);
  if (rc == KINFER_ELIMIT)
    fail_stream(c, p, rc, "response body exceeds the configured limit");
  else if (rc != KINFER_OK)
    fail_stream(c, p, rc, "out of memory storing the response body");
  return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame,
                         void *ud) {
  ki_conn *c = ud;
  h2 *h = H(c);
  switch (frame->hd.type) {
  case NGHTTP2_GOAWAY:
    /* Streams above last_stream_id are closed by nghttp2 with
     * REFUSED_STREAM (not processed); new requests go elsewhere. */
    h->goaway = true;
    h->goaway_last_id = frame->goaway.last_stream_id;
    h->goaway_code = frame->goaway.error_code;
    h->served_at_goaway = c->served;
    c->draining = true;
    ki_pool_kick(c->o);
    break;
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
      c->settled = c->o->h2_seen = true;
    ki_pool_kick(c->o); /* the stream limit may have changed */
    break;
  case NGHTTP2_HEADERS:
  case NGHTTP2_DATA:
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      ki_xfer_priv *p = stream_xfer(s, frame->hd.stream_id);
      if (p && p->resp_started)
        p->resp_done = true;
    }
    break;
  default:
    break;
  }
  return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame,
                         void *ud) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  ki_xfer_priv *p = stream_xfer(s, frame->hd.stream_id);
  if (!p)
    return 0;
  /* Counted as written once serialized: conservative, a request that might
   * have reached the server is never resent unless idempotent. */
  p->req_written = true;
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
    p->req_done = true;
  return 0;
}

/* A stream above the last id of a graceful GOAWAY (NO_ERROR) from a
 * connection that has served requests: the routine end of a connection
 * (nginx after every 1000 requests, a proxy restarting), not overload.
 * The request goes to another connection at once, spending neither a
 * retry nor the retry budget.  Returns false when the usual refused-stream
 * retry rules apply (ENHANCE_YOUR_CALM and the like, a connection that
 * served nothing). */
static bool drained(ki_conn *c, ki_xfer_priv *p) {
  h2 *h = H(c);
  if (!h->goaway || p->stream_id <= h->goaway_last_id ||
      h->goaway_code != NGHTTP2_NO_ERROR || h->served_at_goaway == 0)
    return false;
  return ki_xfer_requeue(p, "stream above the last id of a graceful GOAWAY");
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code,
                           void *ud) {
  ki_conn *c = ud;
  ki_xfer_priv *p = stream_xfer(s, id);
  if (!p)
    return 0;
  unbind(c, p);
  c->served++;
  /* RST_STREAM(NO_ERROR) after a complete response only stops our upload. */
  if (p->resp_done) {
    ki_xfer_succeed(p);
  } else if (error_code == NGHTTP2_REFUSED_STREAM && drained(c, p)) {
    /* resent at once on another connection */
  } else if (error_code == NGHTTP2_REFUSED_STREAM) {
    ki_xfer_fail(p, KI_FAIL_REFUSED, KINFER_EREFUSED,
                 "stream refused by %s (REFUSED_STREAM or GOAWAY)", c->addr);
  } else if (p->resp_started) {
    ki_xfer_fail(p, KI_FAIL_FATAL, KINFER_EBADRESPONSE,
                 "stream reset by %s mid-response (%s)", c->addr,
                 nghttp2_http2_strerror(error_code));
  } else if (!p->req_written) {
    ki_xfer_fail(p, KI_FAIL_NOT_SENT, KINFER_ECONNECT,
                 "stream closed by %s before the request was sent (%s)",
                 c->addr, nghttp2_http2_strerror(error_code));
  } else {
    ki_xfer_fail(p, KI_FAIL_LOST, KINFER_EUNKNOWN_OUTCOME,
                 "stream reset by %s after the request was sent (%s)", c->addr,
                 nghttp2_http2_strerror(error_code));
  }
  return 0;
}

/* A request nghttp2 could not send (the connection got a GOAWAY before its
 * turn came, or ran out of stream ids): never on the wire, so it is sent
 * again elsewhere.  No stream exists, so look it up by id. */
static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *frame,
                             int lib_error, void *ud) {
  ki_conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  for (ki_list *l = c->streams.next; l != &c->streams; l = l->next) {
    ki_xfer_priv *p = KI_CONTAINER_OF(l, ki_xfer_priv, link);
    if (p->stream_id != frame->hd.stream_id)
      continue;
    unbind(c, p);
    ki_xfer_fail(p, KI_FAIL_NOT_SENT, KINFER_EREFUSED,
                 "request not sent on %s: %s", c->addr,
                 nghttp2_strerror(lib_error));
    break;
  }
  return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *ud) {
  ki_xfer_priv *p = stream_xfer(s, id);
  if (!p)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const ki_xfer *x = p->x;
  size_t n = 0;
  while (n < length && p->iov_idx < x->body_iovcnt) {
    const struct iovec *v = &x->body[p->iov_idx];
    size_t k = v->iov_len - p->iov_off;
    if (k > length - n)
      k = length - n;
    memcpy(buf + n, (const char *)v->iov_base + p->iov_off, k);
    n += k;
    p->iov_off += k;
    if (p->iov_off == v->iov_len) {
      p->iov_idx++;
      p->iov_off = 0;
    }
  }
  if (p->iov_idx >= x->body_iovcnt)
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* ---- codec ---------------------------------------------------------------- */

uint32_t ki_h2_first_stream_id = 1;

static bool ids_left(h2 *h) {
  return nghttp2_session_get_next_stream_id(h->s) <= INT32_MAX;
}

static int h2_init(ki_conn *c) {
  h2 *h = calloc(1, sizeof *h);
  if (!h)
    return KINFER_ENOMEM;
  c->proto = h;
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return KINFER_ENOMEM;
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cb,
                                                           on_frame_not_send);
  nghttp2_option *opt = NULL;
  int rv = nghttp2_option_new(&opt);
  if (rv == 0) {
    /* Server push is never wanted. */
    nghttp2_option_set_max_reserved_remote_streams(opt, 0);
    rv = nghttp2_session_client_new2(&h->s, cb, c, opt);
    nghttp2_option_del(opt);
  }
  nghttp2_session_callbacks_del(cb);
  if (rv != 0)
    return KINFER_ENOMEM;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, c->e->cfg->h2_stream_window},
  };
  rv = nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv,
                               sizeof iv / sizeof iv[0]);
  if (rv == 0)
    rv = nghttp2_session_set_local_window_size(
        h->s, NGHTTP2_FLAG_NONE, 0, (int32_t)c->e->cfg->h2_conn_window);
  if (rv == 0 && ki_h2_first_stream_id != 1)
    rv = nghttp2_session_set_next_stream_id(h->s, (int32_t)ki_h2_first_stream_id);
  int64_t interval = ki_secs_to_ns(c->e->cfg->keepalive_interval);
  if (rv == 0 && interval > 0) {
    c->last_rx = ki_now_ns();
    (void)ki_timer_arm(c->e, &c->ping_timer, c->last_rx + interval);
  }
  return rv == 0 ? KINFER_OK : KINFER_ENOMEM;
}

void ki_h2_on_ping_timer(ki_engine *e, ki_timer *t) {
  ki_conn *c = KI_CONTAINER_OF(t, ki_conn, ping_timer);
  h2 *h = H(c);
  if (c->state != KI_CS_OPEN || !h || h->fallen_back)
    return;
  int64_t now = ki_now_ns();
  int64_t interval = ki_secs_to_ns(e->cfg->keepalive_interval);
  int64_t timeout = ki_secs_to_ns(e->cfg->keepalive_timeout);
  if (c->ping_sent && c->last_rx < c->ping_sent) {
    /* Nothing at all since our PING, not even its ACK. */
    if (timeout > 0 && now - c->ping_sent >= timeout) {
      ki_conn_close(c, KINFER_EUNKNOWN_OUTCOME,
                    "no answer to PING from %s within %.3g s", c->addr,
                    e->cfg->keepalive_timeout);
      return;
    }
    (void)ki_timer_arm(e, t, timeout > 0 ? c->ping_sent + timeout : now + interval);
    return;
  }
  c->ping_sent = 0;
  if (now - c->last_rx < interval) {
    (void)ki_timer_arm(e, t, c->last_rx + interval);
    return;
  }
  if (nghttp2_submit_ping(h->s, NGHTTP2_FLAG_NONE, NULL) != 0) {
    ki_conn_close(c, KINFER_ENOMEM, "cannot send PING to %s", c->addr);
    return;
  }
  c->ping_sent = now;
  ki_conn_mark_dirty(c);
  (void)ki_timer_arm(e, t, now + (timeout > 0 ? timeout : interval));
}

static void h2_destroy(ki_conn *c) {
  h2 *h = H(c);
  if (!h)
    return;
  nghttp2_session_del(h->s);
  ki_buf_free(&h->out);
  free(h);
  c->proto = NULL;
}

static bool h2_can_take(const ki_conn *c) {
  h2 *h = H(c);
  if (h->goaway || h->fallen_back || !ids_left(h))
    return false;
  /* Until the server's SETTINGS say how many streams it takes, one: more
   * could exceed a small limit and be refused.  They arrive within the
   * first round trip, and the waiting requests go then. */
  uint32_t lim = c->settled
                     ? nghttp2_session_get_remote_settings(
                           h->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                     : 1;
  uint32_t mine = c->e->cfg->max_concurrent_streams;
  if (mine && mine < lim)
    lim = mine;
  return c->nstreams < lim;
}

static void nv_set(nghttp2_nv *nv, const char *n, size_t nl, const char *v,
                   uint8_t flags) {
  nv->name = (uint8_t *)n;
  nv->namelen = nl;
  nv->value = (uint8_t *)v;
  nv->valuelen = strlen(v);
  nv->flags = flags;
}

static bool has_upper(const char *s) {
  for (; *s; s++)
    if (*s >= 'A' && *s <= 'Z')
      return true;
  return false;
}

static int h2_start(ki_conn *c, ki_xfer_priv *p) {
  h2 *h = H(c);
  const ki_xfer *x = p->x;
  size_t nh = x->headers ? kinfer_headers_count(x->headers) : 0;
  /* Most requests carry a few headers: the name-value array lives on the
   * stack then, and a name is copied only to lower-case it. */
  nghttp2_nv nva_stack[24];
  char *lower_stack[16];
  bool small = nh + 8 <= sizeof nva_stack / sizeof nva_stack[0];
  nghttp2_nv *nva = small ? nva_stack : calloc(nh + 8, sizeof *nva);
  char **lower = small ? lower_stack : calloc(nh + 1, sizeof *lower);
  size_t nlower = 0;
  char clen[24];
  int rc = KINFER_ENOMEM;
  if (!nva || !lower)
    goto out;
  size_t n = 0;
  nv_set(&nva[n++], ":method", 7, x->method, NGHTTP2_NV_FLAG_NONE);
  nv_set(&nva[n++], ":scheme", 7, x->https ? "https" : "http",
         NGHTTP2_NV_FLAG_NONE);
  nv_set(&nva[n++], ":authority", 10, x->authority, NGHTTP2_NV_FLAG_NONE);
  nv_set(&nva[n++], ":path", 5, x->target, NGHTTP2_NV_FLAG_NONE);
  if (!ki_xfer_has_header(x, "user-agent"))
    nv_set(&nva[n++], "user-agent", 10, "kinfer/" KINFER_VERSION,
           NGHTTP2_NV_FLAG_NONE);
  nv_set(&nva[n++], "x-kinfer-attempt", 16, p->attempt_hdr,
         NGHTTP2_NV_FLAG_NONE);
  bool needs_len = x->body_len > 0 || ki_strcasecmp(x->method, "POST") == 0 ||
                   ki_strcasecmp(x->method, "PUT") == 0;
  if (needs_len) {
    ki_fmt_u64(clen, x->body_len);
    nv_set(&nva[n++], "content-length", 14, clen, NGHTTP2_NV_FLAG_NONE);
  }
  /* HTTP/2 field names are lower case. */
  for (size_t i = 0; i < nh; i++) {
    const char *name = kinfer_headers_name(x->headers, i);
    if (has_upper(name)) {
      char *l = ki_strdup(name);
      if (!l)
        goto out;
      lower[nlower++] = l;
      for (char *q = l; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
          *q = (char)(*q + 32);
      name = l;
    }
    nv_set(&nva[n], name, strlen(name), kinfer_headers_value(x->headers, i),
           NGHTTP2_NV_FLAG_NONE);
    n++;
  }
  nghttp2_data_provider prd = {.source.ptr = p, .read_callback = read_body};
  int32_t id = nghttp2_submit_request(h->s, NULL, nva, n,
                                      x->body_len > 0 ? &prd : NULL, p);
  if (id < 0) {
    rc = id == NGHTTP2_ERR_NOMEM ? KINFER_ENOMEM : KINFER_EBADRESPONSE;
    goto out;
  }
  p->stream_id = id;
  ki_conn_attach(c, p);
  if (!ids_left(h)) {
    /* That was the last stream id: the connection drains, and a new one
     * takes the next requests. */
    c->draining = true;
    ki_pool_kick(c->o);
  }
  rc = KINFER_OK;
out:
  for (size_t i = 0; i < nlower; i++)
    free(lower[i]);
  if (lower != lower_stack)
    free(lower);
  if (nva != nva_stack)
    free(nva);
  return rc;
}

static void h2_cancel(ki_conn *c, ki_xfer_priv *p) {
  nghttp2_submit_rst_stream(H(c)->s, NGHTTP2_FLAG_NONE, p->stream_id,
                            NGHTTP2_CANCEL);
  unbind(c, p);
}

/* The peer does not speak HTTP/2: resend everything over HTTP/1.1. */
static void fall_back(ki_conn *c) {
  h2 *h = H(c);
  h->fallen_back = true;
  c->draining = true;
  c->o->h1_only = true;
  if (c->e->cfg->verbose)
    ki_log(c->e->cfg, KINFER_LOG_INFO,
           "%s does not speak HTTP/2 with prior knowledge: using HTTP/1.1",
           c->addr);
  while (!ki_list_empty(&c->streams)) {
    ki_xfer_priv *p = KI_CONTAINER_OF(c->streams.next, ki_xfer_priv, link);
    unbind(c, p);
    ki_xfer_resend(p);
  }
}

static bool looks_like_h1(const uint8_t *d, size_t n) {
  static const char pfx[] = "HTTP/1.";
  size_t k = n < 7 ? n : 7;
  return memcmp(d, pfx, k) == 0;
}

static int h2_on_read(ki_conn *c, const uint8_t *d, size_t n) {
  h2 *h = H(c);
  if (c->h2_attempt && !h->got_any && looks_like_h1(d, n)) {
    fall_back(c);
    return KINFER_EBADRESPONSE; /* closes the connection; nothing attached */
  }
  h->got_any = true;
  ssize_t rv = nghttp2_session_mem_recv(h->s, d, n);
  if (rv < 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "HTTP/2 protocol error from %s: %s", c->addr,
             nghttp2_strerror((int)rv));
    c->draining = true;
    while (!ki_list_empty(&c->streams)) {
      ki_xfer_priv *p = KI_CONTAINER_OF(c->streams.next, ki_xfer_priv, link);
      unbind(c, p);
      ki_xfer_fail(p, KI_FAIL_FATAL, KINFER_EBADRESPONSE, "%s", msg);
    }
    return KINFER_EBADRESPONSE;
  }
  if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s))
    c->draining = true;
  return KINFER_OK;
}

static void h2_on_eof(ki_conn *c) {}

/* Collects frames into the output buffer (up to KI_H2_OUTBUF) and writes
 * them, until nghttp2 has nothing more or the socket is full. */
static int h2_flush(ki_conn *c) {
  h2 *h = H(c);
  c->want_write = false;
  for (;;) {
    if (h->out_off == h->out.len) {
      h->out.len = h->out_off = 0;
      while (h->out.len < KI_H2_OUTBUF) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(h->s, &data);
        if (n < 0) {
          c->draining = true;
          return n == NGHTTP2_ERR_NOMEM ? KINFER_ENOMEM : KINFER_EBADRESPONSE;
        }
        if (n == 0)
          break;
        if (ki_buf_append(&h->out, data, (size_t)n) != KINFER_OK)
          return KINFER_ENOMEM;
      }
      if (h->out.len == 0)
        return KINFER_OK;
    }
    struct iovec iov = {.iov_base = h->out.data + h->out_off,
                        .iov_len = h->out.len - h->out_off};
    ssize_t w = ki_conn_sendv(c, &iov, 1);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->want_write = true;
        return KINFER_OK;
      }
      c->last_errno = errno;
      return KINFER_EUNKNOWN_OUTCOME;
    }
    h->out_off += (size_t)w;
  }
}

static bool all_resendable(ki_conn *c) {
  for (ki_list *l = c->streams.next; l != &c->streams; l = l->next) {
    ki_xfer_priv *p = KI_CONTAINER_OF(l, ki_xfer_priv, link);
    if (p->req_written && !p->x->idempotent)
      return false;
  }
  return true;
}

/* The connection is going away: every stream still attached is resent,
 * retried or failed according to what is known of it. */
static void h2_fail_all(ki_conn *c, int code, const char *msg) {
  h2 *h = H(c);
  if (code == KINFER_EUNKNOWN_OUTCOME && c->h2_attempt && !h->got_any &&
      !h->fallen_back && !ki_list_empty(&c->streams) && all_resendable(c)) {
    /* Closed on our preface without a byte in reply: most likely no
     * HTTP/2 here.  But a reset also discards an HTTP/2 server's SETTINGS
     * unread, so this is no proof the requests were ignored: only when
     * every one may be sent again (an HTTP/1.x answer is proof, see
     * h2_on_read). */
    fall_back(c);
    return;
  }
  while (!ki_list_empty(&c->streams)) {
    ki_xfer_priv *p = KI_CONTAINER_OF(c->streams.next, ki_xfer_priv, link);
    unbind(c, p);
    if (code != KINFER_EUNKNOWN_OUTCOME)
      ki_xfer_fail(p, KI_FAIL_FATAL, code, "%s", msg);
    else if (h->goaway && p->stream_id > h->goaway_last_id && drained(c, p))
      continue;
    else if (h->goaway && p->stream_id > h->goaway_last_id)
      ki_xfer_fail(p, KI_FAIL_REFUSED, KINFER_EREFUSED,
                   "%s; the request was not processed (GOAWAY)", msg);
    else
      ki_xfer_fail_lost(p, false, msg);
  }
}

const ki_proto_ops ki_h2_ops = {
    .name = "h2",
    .http_version = 20,
    .init = h2_init,
    .destroy = h2_destroy,
    .can_take = h2_can_take,
    .start = h2_start,
    .cancel = h2_cancel,
    .on_read = h2_on_read,
    .on_eof = h2_on_eof,
    .flush = h2_flush,
    .fail_all = h2_fail_all,
};
