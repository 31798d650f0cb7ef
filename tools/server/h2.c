/*
 * HTTP/2 server side on nghttp2's session API. The session never touches
 * the socket: received bytes go in through nghttp2_session_mem_recv and
 * frames come out through nghttp2_session_mem_send into the connection's
 * output buffer, which loop.c writes in one go.
 *
 * Fault options handled here: --refuse-every (RST_STREAM REFUSED_STREAM
 * before the model runs) and --goaway-after (graceful two-phase GOAWAY:
 * a shutdown notice and a PING, then the real GOAWAY once the PING is
 * acknowledged), and --stall-window (SETTINGS_INITIAL_WINDOW_SIZE 0 and no
 * WINDOW_UPDATE ever, so a client's request body stalls).
 */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define WINDOW_SIZE (16 * 1024 * 1024)
#define WRITE_HIGH_WATER (64 * 1024)

const char ks_h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

typedef struct h2_stream {
  struct h2_stream *prev, *next;  /* all live streams of the connection */
  ks_request req;
  ks_response resp;
  size_t sent;
  size_t header_bytes;
  int error;              /* answer this status instead of routing */
  const char *error_msg;
  bool head;
} h2_stream;

typedef struct h2_state {
  nghttp2_session *session;
  h2_stream *live;        /* nghttp2_session_del does not close streams */
  unsigned streams;       /* streams opened by the peer */
  bool shutdown_notice;   /* --goaway-after phase one sent */
  bool goaway;            /* phase two sent */
} h2_state;

static nghttp2_session *session_of(ks_conn *c)
{
  return ((h2_state *)c->proto_data)->session;
}

static void stream_fail(h2_stream *s, int status, const char *msg)
{
  if (!s->error) {
    s->error = status;
    s->error_msg = msg;
  }
  ks_buf_free(&s->req.body);
}

/* ---- responses ------------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *flags, nghttp2_data_source *source,
                         void *user_data)
{
  h2_stream *s = source->ptr;
  size_t n = s->resp.body.len - s->sent;
  if (n > length)
    n = length;
  if (n)
    memcpy(buf, s->resp.body.data + s->sent, n);
  s->sent += n;
  if (s->sent == s->resp.body.len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
                  NGHTTP2_NV_FLAG_NO_COPY_NAME}

static int submit_response(ks_conn *c, int32_t stream_id, h2_stream *s, ks_response *resp)
{
  s->resp = *resp;
  resp->body = (ks_buf){0};
  s->sent = 0;
  char status[8], length[24], header_length[24], retry[16];
  snprintf(status, sizeof status, "%d", s->resp.status);
  snprintf(length, sizeof length, "%zu", s->resp.body.len);
  nghttp2_nv nva[5] = {NV(":status", status), NV("content-type", s->resp.content_type),
                       NV("content-length", length)};
  size_t n = 3;
  if (s->resp.header_length >= 0) {
    snprintf(header_length, sizeof header_length, "%lld", (long long)s->resp.header_length);
    nva[n++] = (nghttp2_nv)NV("inference-header-content-length", header_length);
  }
  if (s->resp.retry_after >= 0) {
    snprintf(retry, sizeof retry, "%d", s->resp.retry_after);
    nva[n++] = (nghttp2_nv)NV("retry-after", retry);
  }
  nghttp2_data_provider body = {.source.ptr = s, .read_callback = read_body};
  bool empty = s->head || s->resp.body.len == 0;
  return nghttp2_submit_response(session_of(c), stream_id, nva, n, empty ? NULL : &body);
}

static int submit_error(ks_conn *c, int32_t stream_id, h2_stream *s, int status,
                        const char *msg)
{
  ks_response r;
  ks_response_init(&r);
  ks_response_error(&r, status, msg);
  ks_conn_log(c, s->req.method[0] ? s->req.method : "-", s->req.path ? s->req.path : "-",
              status);
  int rc = submit_response(c, stream_id, s, &r);
  ks_response_free(&r);
  return rc;
}

/* --refuse-every: true when this inference stream is to be refused. */
static bool refuse_now(const ks_request *req)
{
  return ks_cfg.refuse_every && ks_is_execution(req) &&
         ks_stats_next_refuse_seq() % ks_cfg.refuse_every == 0;
}

/* A request is complete (END_STREAM seen). */
static int on_request(ks_conn *c, int32_t stream_id, h2_stream *s)
{
  nghttp2_session *session = session_of(c);
  if (s->error)
    return submit_error(c, stream_id, s, s->error, s->error_msg);
  if (!s->req.path || !s->req.method[0])
    return submit_error(c, stream_id, s, 400, "missing :method or :path");
  if (refuse_now(&s->req)) {
    if (ks_cfg.verbosity > 0)
      ks_log("h2 %s %s refused", s->req.method, s->req.path);
    return nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
                                     NGHTTP2_REFUSED_STREAM);
  }
  s->head = strcmp(s->req.method, "HEAD") == 0;
  ks_response resp;
  ks_response_init(&resp);
  int rc = ks_conn_dispatch(c, stream_id, &s->req, &resp);
  if (rc > 0)
    rc = submit_response(c, stream_id, s, &resp);
  else if (rc < 0)
    c->dead = c->abrupt = true;
  ks_response_free(&resp);
  return rc < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

/* ---- nghttp2 callbacks ----------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                            void *user_data)
{
  ks_conn *c = user_data;
  h2_state *st = c->proto_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  h2_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  /* resets this stream only */
  s->req.header_length = -1;
  ks_response_init(&s->resp);
  s->next = st->live;
  if (st->live)
    st->live->prev = s;
  st->live = s;
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
  if (ks_cfg.goaway_after && ++st->streams == ks_cfg.goaway_after && !st->shutdown_notice) {
    nghttp2_submit_shutdown_notice(session);
    nghttp2_submit_ping(session, NGHTTP2_FLAG_NONE, NULL);
    st->shutdown_notice = true;
  }
  return 0;
}

static int parse_length(const uint8_t *v, size_t n, int64_t *out)
{
  if (n == 0 || n > 18)
    return -1;
  int64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (v[i] - '0');
  }
  *out = x;
  return 0;
}

static void store_header(h2_stream *s, const uint8_t *name, size_t namelen,
                         const uint8_t *value, size_t valuelen)
{
  int64_t len;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
  if (IS(":method")) {
    if (valuelen >= sizeof s->req.method)
      stream_fail(s, 405, "Method Not Allowed");
    else
      memcpy(s->req.method, value, valuelen + 1);
  } else if (IS(":path")) {
    free(s->req.path);
    s->req.path = ks_request_path((const char *)value, valuelen);
    if (!s->req.path)
      stream_fail(s, 500, "out of memory");
  } else if (IS("content-length")) {
    if (parse_length(value, valuelen, &len) == 0 && (uint64_t)len > ks_cfg.max_body)
      stream_fail(s, 413, "request body too large");
  } else if (IS("inference-header-content-length")) {
    s->req.header_length_bad = parse_length(value, valuelen, &len) < 0;
    s->req.header_length = s->req.header_length_bad ? -1 : len;
  }
#undef IS
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
  h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!s || frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  s->header_bytes += namelen + valuelen + 32;
  if (s->header_bytes > KS_MAX_HEADER_BYTES)
    stream_fail(s, 431, "request header fields too large");
  else
    store_header(s, name, namelen, value, valuelen);
  return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
  h2_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
  if (!s || s->error)
    return 0;
  if (len > ks_cfg.max_body - s->req.body.len || ks_buf_append(&s->req.body, data, len) < 0)
    stream_fail(s, 413, "request body too large");
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
  ks_conn *c = user_data;
  h2_state *st = c->proto_data;
  switch (frame->hd.type) {
  case NGHTTP2_HEADERS:
  case NGHTTP2_DATA:
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
      if (s)
        return on_request(c, frame->hd.stream_id, s);
    }
    return 0;
  case NGHTTP2_PING:
    if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && st->shutdown_notice && !st->goaway) {
      st->goaway = true;
      return nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE,
                                   nghttp2_session_get_last_proc_stream_id(session),
                                   NGHTTP2_NO_ERROR, NULL, 0);
    }
    return 0;
  default:
    return 0;
  }
}

static void stream_free(h2_state *st, h2_stream *s)
{
  if (s->prev)
    s->prev->next = s->next;
  else
    st->live = s->next;
  if (s->next)
    s->next->prev = s->prev;
  ks_request_free(&s->req);
  ks_response_free(&s->resp);
  free(s);
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
  ks_conn *c = user_data;
  h2_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
  if (!s)
    return 0;
  nghttp2_session_set_stream_user_data(session, stream_id, NULL);
  stream_free(c->proto_data, s);
  return 0;
}

/* ---- the connection ---------------------------------------------------------- */

static int h2_on_read(ks_conn *c, const uint8_t *data, size_t len)
{
  ssize_t rv = nghttp2_session_mem_recv(session_of(c), data, len);
  if (rv < 0) {
    if (c->dead)
      return -1;
    if (ks_cfg.verbosity > 0)
      ks_log("h2: %s", nghttp2_strerror((int)rv));
    c->closing = true;  /* send what nghttp2 queued (GOAWAY), then close */
  }
  return 0;
}

static int h2_fill(ks_conn *c)
{
  nghttp2_session *session = session_of(c);
  while (ks_conn_pending(c) < WRITE_HIGH_WATER) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    if (ks_buf_append(&c->out, data, (size_t)n) < 0)
      return -1;
  }
  return 0;
}

static void h2_respond(ks_conn *c, int32_t stream_id, ks_response *resp)
{
  h2_stream *s = nghttp2_session_get_stream_user_data(session_of(c), stream_id);
  if (s && submit_response(c, stream_id, s, resp) != 0)
    nghttp2_submit_rst_stream(session_of(c), NGHTTP2_FLAG_NONE, stream_id,
                              NGHTTP2_INTERNAL_ERROR);
}

static bool h2_done(ks_conn *c)
{
  nghttp2_session *session = session_of(c);
  return c->eof || (!nghttp2_session_want_read(session) && !nghttp2_session_want_write(session));
}

static bool h2_want_read(ks_conn *c)
{
  return true;
}

static void h2_free(ks_conn *c)
{
  h2_state *st = c->proto_data;
  if (!st)
    return;
  nghttp2_session_del(st->session);
  while (st->live)
    stream_free(st, st->live);
  free(st);
  c->proto_data = NULL;
}

static const ks_proto h2_proto = {
  "h2", h2_on_read, h2_fill, h2_respond, h2_done, h2_want_read, h2_free,
};

static int session_new(nghttp2_session **session, ks_conn *c)
{
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return -1;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option *opt = NULL;
  int rc = nghttp2_option_new(&opt);
  if (rc == 0) {
    /* --stall-window: nghttp2 would give back the window as data arrives. */
    nghttp2_option_set_no_auto_window_update(opt, ks_cfg.stall_window);
    rc = nghttp2_session_server_new2(session, cb, c, opt);
    nghttp2_option_del(opt);
  }
  nghttp2_session_callbacks_del(cb);
  return rc == 0 ? 0 : -1;
}

int ks_h2_start(ks_conn *c)
{
  h2_state *st = calloc(1, sizeof *st);
  if (!st)
    return -1;
  if (session_new(&st->session, c) < 0) {
    free(st);
    return -1;
  }
  c->proto = &h2_proto;
  c->proto_data = st;
  nghttp2_settings_entry settings[] = {
    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, ks_cfg.max_streams},
    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, ks_cfg.stall_window ? 0 : WINDOW_SIZE},
    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, KS_MAX_HEADER_BYTES},
  };
  if (nghttp2_submit_settings(st->session, NGHTTP2_FLAG_NONE, settings,
                              sizeof settings / sizeof settings[0]) != 0 ||
      (!ks_cfg.stall_window &&
       nghttp2_session_set_local_window_size(st->session, NGHTTP2_FLAG_NONE, 0,
                                             WINDOW_SIZE) != 0))
    return -1;
  int rc = 0;
  if (c->in.len)
    rc = h2_on_read(c, (const uint8_t *)c->in.data, c->in.len);
  ks_buf_free(&c->in);
  return rc;
}
