/*
 * HTTP/1.1 codec: one request at a time per connection, keep-alive reuse,
 * Content-Length, chunked and close-delimited response bodies (RFC 9112).
 *
 * The request head is built once per attempt; the body goes out straight
 * from the caller's iovecs with sendmsg, never copied.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/sess.h"

#define H1_MAX_IOV 64

typedef enum h1_rstate {
  RS_IDLE,        /* no request in flight */
  RS_STATUS,      /* waiting for the status line */
  RS_HEADERS,     /* header fields */
  RS_BODY_LEN,    /* Content-Length body */
  RS_CHUNK_SIZE,  /* chunk-size line */
  RS_CHUNK_DATA,  /* chunk bytes */
  RS_CHUNK_CRLF,  /* the CRLF after chunk bytes */
  RS_TRAILERS,    /* trailer fields after the last chunk */
  RS_BODY_EOF     /* body delimited by the connection closing */
} h1_rstate;

typedef struct h1 {
  ki_xfer_priv *cur;
  ki_buf head;         /* request head */
  size_t head_off;
  size_t body_idx, body_off;
  bool reused;         /* served a request before this one */
  size_t resp_bytes;   /* response bytes read for cur */

  h1_rstate rs;
  ki_buf line;         /* a partial line */
  size_t head_bytes;   /* status line + fields, 1xx included */
  bool informational;  /* skipping a 1xx response's fields */
  bool http10;
  bool chunked, has_cl, conn_close, no_body;
  uint64_t cl, remaining;
} h1;

static h1 *H(const ki_conn *c) { return c->proto; }

static int h1_init(ki_conn *c) {
  h1 *h = calloc(1, sizeof *h);
  if (!h)
    return KINFER_ENOMEM;
  c->proto = h;
  return KINFER_OK;
}

static void h1_destroy(ki_conn *c) {
  h1 *h = H(c);
  if (!h)
    return;
  ki_buf_free(&h->head);
  ki_buf_free(&h->line);
  free(h);
  c->proto = NULL;
}

static bool h1_can_take(const ki_conn *c) {
  return H(c)->cur == NULL && H(c)->rs == RS_IDLE;
}

static int build_head(ki_buf *b, const ki_xfer_priv *p) {
  const ki_xfer *x = p->x;
  int rc = ki_buf_appendf(b, "%s %s HTTP/1.1\r\nHost: %s\r\n", x->method,
                          x->target, x->authority);
  if (rc == KINFER_OK && !ki_xfer_has_header(x, "user-agent"))
    rc = ki_buf_appendf(b, "User-Agent: kinfer/%s\r\n", KINFER_VERSION);
  if (rc == KINFER_OK)
    rc = ki_buf_appendf(b, "x-kinfer-attempt: %s\r\n", p->attempt_hdr);
  size_t n = x->headers ? kinfer_headers_count(x->headers) : 0;
  for (size_t i = 0; i < n && rc == KINFER_OK; i++)
    rc = ki_buf_appendf(b, "%s: %s\r\n", kinfer_headers_name(x->headers, i),
                        kinfer_headers_value(x->headers, i));
  bool needs_len = x->body_len > 0 || ki_strcasecmp(x->method, "POST") == 0 ||
                   ki_strcasecmp(x->method, "PUT") == 0;
  if (rc == KINFER_OK && needs_len)
    rc = ki_buf_appendf(b, "Content-Length: %zu\r\n", x->body_len);
  if (rc == KINFER_OK)
    rc = ki_buf_append(b, "\r\n", 2);
  return rc;
}

static int h1_start(ki_conn *c, ki_xfer_priv *p) {
  h1 *h = H(c);
  h->head.len = 0;
  int rc = build_head(&h->head, p);
  if (rc != KINFER_OK)
    return rc;
  h->head_off = h->body_idx = h->body_off = 0;
  h->reused = c->served > 0;
  h->resp_bytes = 0;
  h->rs = RS_STATUS;
  h->line.len = 0;
  h->head_bytes = 0;
  h->informational = h->http10 = false;
  h->chunked = h->has_cl = h->conn_close = false;
  h->no_body = ki_strcasecmp(p->x->method, "HEAD") == 0;
  h->cur = p;
  ki_conn_attach(c, p);
  return KINFER_OK;
}

/* Finishes the current exchange; |p| is handed back to the engine. */
static ki_xfer_priv *take_cur(ki_conn *c) {
  h1 *h = H(c);
  ki_xfer_priv *p = h->cur;
  h->cur = NULL;
  h->rs = RS_IDLE;
  if (p)
    ki_conn_detach(c, p);
  return p;
}

static void h1_cancel(ki_conn *c, ki_xfer_priv *p) {
  if (H(c)->cur != p)
    return;
  take_cur(c);
  /* The response is in an unknown state: the connection cannot be reused. */
  c->draining = true;
}

static void finish_ok(ki_conn *c) {
  h1 *h = H(c);
  ki_xfer_priv *p = h->cur;
  p->resp_done = true;
  /* A response that arrived before the whole request went out (an early
   * 413, say) leaves the connection mid-request: not reusable. */
  if (h->conn_close || h->http10 || !p->req_done)
    c->draining = true;
  c->served++;
  take_cur(c);
  ki_xfer_succeed(p);
}

/* Fails the current exchange with a response error; the connection is
 * closed by the caller (the codec returns |code|). */
static int fail_cur(ki_conn *c, int code, const char *fmt, ...)
    KI_PRINTF(3, 4);
static int fail_cur(ki_conn *c, int code, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->draining = true;
  ki_xfer_priv *p = take_cur(c);
  if (p)
    ki_xfer_fail(p, KI_FAIL_FATAL, code, "%s from %s", msg, c->addr);
  return code;
}

/* ---- response parsing --------------------------------------------------- */

static bool parse_u64(const char *s, size_t n, int base, uint64_t *out) {
  if (n == 0)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int d;
    char ch = s[i];
    if (ch >= '0' && ch <= '9')
      d = ch - '0';
    else if (base == 16 && ch >= 'a' && ch <= 'f')
      d = ch - 'a' + 10;
    else if (base == 16 && ch >= 'A' && ch <= 'F')
      d = ch - 'A' + 10;
    else
      return false;
    if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
      return false;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  *out = v;
  return true;
}

static int on_status_line(ki_conn *c, const char *s, size_t n) {
  h1 *h = H(c);
  if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
      s[8] != ' ' || s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
      s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' '))
    return fail_cur(c, KINFER_EBADRESPONSE, "malformed HTTP/1 status line");
  int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  h->http10 = s[7] == '0';
  if (status == 101)
    return fail_cur(c, KINFER_EBADRESPONSE, "unexpected 101 response");
  h->informational = status < 200;
  if (!h->informational) {
    h->cur->status = status;
    h->cur->resp_started = true;
  }
  h->rs = RS_HEADERS;
  return KINFER_OK;
}

static bool has_token(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok);
  for (size_t i = 0; i + tl <= n; i++) {
    if (ki_strncasecmp(v + i, tok, tl) != 0)
      continue;
    bool start = i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t';
    size_t e = i + tl;
    bool end = e == n || v[e] == ',' || v[e] == ' ' || v[e] == '\t';
    if (start && end)
      return true;
  }
  return false;
}

static int on_field(ki_conn *c, const char *s, size_t n) {
  h1 *h = H(c);
  if (s[0] == ' ' || s[0] == '\t')
    return fail_cur(c, KINFER_EBADRESPONSE, "obsolete header line folding");
  const char *colon = memchr(s, ':', n);
  if (!colon || colon == s)
    return fail_cur(c, KINFER_EBADRESPONSE, "malformed header field");
  size_t nl = (size_t)(colon - s);
  for (size_t i = 0; i < nl; i++)
    if (s[i] == ' ' || s[i] == '\t')
      return fail_cur(c, KINFER_EBADRESPONSE, "malformed header name");
  const char *v = colon + 1, *ve = s + n;
  while (v < ve && (*v == ' ' || *v == '\t'))
    v++;
  while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
    ve--;
  size_t vl = (size_t)(ve - v);
  if (h->informational)
    return KINFER_OK;

  if (nl == 14 && ki_strncasecmp(s, "content-length", nl) == 0) {
    uint64_t cl;
    if (!parse_u64(v, vl, 10, &cl) || (h->has_cl && cl != h->cl))
      return fail_cur(c, KINFER_EBADRESPONSE, "invalid Content-Length");
    h->has_cl = true;
    h->cl = cl;
  } else if (nl == 17 && ki_strncasecmp(s, "transfer-encoding", nl) == 0) {
    /* Only "chunked" (last) can be decoded here. */
    if (vl != 7 || ki_strncasecmp(v, "chunked", 7) != 0)
      return fail_cur(c, KINFER_EBADRESPONSE,
                      "unsupported Transfer-Encoding");
    h->chunked = true;
  } else if (nl == 10 && ki_strncasecmp(s, "connection", nl) == 0) {
    if (has_token(v, vl, "close"))
      h->conn_close = true;
  }
  int rc = ki_xfer_add_header(h->cur, s, nl, v, vl);
  if (rc == KINFER_ELIMIT)
    return fail_cur(c, rc, "response headers larger than %zu bytes",
                    c->e->cfg->max_header_bytes);
  if (rc != KINFER_OK)
    return fail_cur(c, rc, "cannot store a response header");
  return KINFER_OK;
}

static int on_headers_end(ki_conn *c) {
  h1 *h = H(c);
  if (h->informational) { /* 1xx: the real response follows */
    h->rs = RS_STATUS;
    return KINFER_OK;
  }
  ki_xfer_priv *p = h->cur;
  if (h->chunked && h->has_cl)
    return fail_cur(c, KINFER_EBADRESPONSE,
                    "both Content-Length and Transfer-Encoding in response");
  if (h->no_body || p->status == 204 || p->status == 304) {
    finish_ok(c);
    return KINFER_OK;
  }
  if (h->chunked) {
    h->rs = RS_CHUNK_SIZE;
  } else if (h->has_cl) {
    size_t max = c->e->cfg->max_response_bytes;
    if (max && h->cl > max)
      return fail_cur(c, KINFER_ELIMIT, "response body of %llu bytes exceeds "
                      "the limit of %zu", (unsigned long long)h->cl, max);
    h->remaining = h->cl;
    h->rs = RS_BODY_LEN;
    if (h->remaining == 0)
      finish_ok(c);
  } else {
    h->rs = RS_BODY_EOF;
    h->conn_close = true;
  }
  return KINFER_OK;
}

static int on_chunk_size(ki_conn *c, const char *s, size_t n) {
  h1 *h = H(c);
  size_t len = 0;
  while (len < n && s[len] != ';' && s[len] != ' ' && s[len] != '\t')
    len++;
  uint64_t sz;
  if (!parse_u64(s, len, 16, &sz))
    return fail_cur(c, KINFER_EBADRESPONSE, "malformed chunk size");
  h->remaining = sz;
  h->rs = sz ? RS_CHUNK_DATA : RS_TRAILERS;
  return KINFER_OK;
}

/* Handles one complete line (without CRLF) in the line-based states. */
static int on_line(ki_conn *c, const char *s, size_t n) {
  h1 *h = H(c);
  switch (h->rs) {
  case RS_STATUS:
    if (n == 0) /* tolerate a stray CRLF between 1xx and the response */
      return KINFER_OK;
    return on_status_line(c, s, n);
  case RS_HEADERS:
    return n == 0 ? on_headers_end(c) : on_field(c, s, n);
  case RS_CHUNK_SIZE:
    return on_chunk_size(c, s, n);
  case RS_CHUNK_CRLF:
    if (n != 0)
      return fail_cur(c, KINFER_EBADRESPONSE, "malformed chunk terminator");
    h->rs = RS_CHUNK_SIZE;
    return KINFER_OK;
  case RS_TRAILERS:
    if (n == 0)
      finish_ok(c);
    return KINFER_OK; /* trailer fields are ignored */
  default:
    return KINFER_EBADRESPONSE;
  }
}

static bool in_head(h1_rstate rs) {
  return rs == RS_STATUS || rs == RS_HEADERS;
}

/* Consumes up to one line from |d|; returns bytes used or -1 on error. */
static ssize_t feed_line(ki_conn *c, const uint8_t *d, size_t n, int *rc) {
  h1 *h = H(c);
  const uint8_t *nl = memchr(d, '\n', n);
  size_t take = nl ? (size_t)(nl - d) + 1 : n;
  size_t limit = c->e->cfg->max_header_bytes;
  if (in_head(h->rs) || h->rs == RS_TRAILERS) {
    h->head_bytes += take;
    if (limit && h->head_bytes > limit) {
      *rc = fail_cur(c, KINFER_ELIMIT,
                     "response headers larger than %zu bytes", limit);
      return -1;
    }
  } else if (h->line.len + take > 1024) {
    *rc = fail_cur(c, KINFER_EBADRESPONSE, "chunk size line too long");
    return -1;
  }
  if ((*rc = ki_buf_append(&h->line, d, take)) != KINFER_OK) {
    *rc = fail_cur(c, *rc, "out of memory");
    return -1;
  }
  if (!nl)
    return (ssize_t)take;
  size_t len = h->line.len - 1;
  if (len > 0 && h->line.data[len - 1] == '\r')
    len--;
  h->line.len = 0;
  *rc = on_line(c, h->line.data, len);
  return *rc == KINFER_OK ? (ssize_t)take : -1;
}

static int feed_body(ki_conn *c, const uint8_t *d, size_t n, size_t *used) {
  h1 *h = H(c);
  size_t take = n;
  if (h->rs != RS_BODY_EOF && take > h->remaining)
    take = (size_t)h->remaining;
  int rc = ki_xfer_add_body(h->cur, d, take);
  if (rc == KINFER_ELIMIT)
    return fail_cur(c, rc, "response body exceeds the limit of %zu bytes",
                    c->e->cfg->max_response_bytes);
  if (rc != KINFER_OK)
    return fail_cur(c, rc, "out of memory");
  *used = take;
  if (h->rs == RS_BODY_EOF)
    return KINFER_OK;
  h->remaining -= take;
  if (h->remaining == 0) {
    if (h->rs == RS_BODY_LEN)
      finish_ok(c);
    else
      h->rs = RS_CHUNK_CRLF;
  }
  return KINFER_OK;
}

static int h1_on_read(ki_conn *c, const uint8_t *d, size_t n) {
  h1 *h = H(c);
  if (h->cur)
    h->resp_bytes += n;
  while (n > 0) {
    if (h->rs == RS_IDLE || !h->cur) {
      /* Bytes nobody asked for: the connection is out of step. */
      c->draining = true;
      return KINFER_EBADRESPONSE;
    }
    size_t used = 0;
    int rc = KINFER_OK;
    if (h->rs == RS_BODY_LEN || h->rs == RS_CHUNK_DATA || h->rs == RS_BODY_EOF) {
      rc = feed_body(c, d, n, &used);
    } else {
      ssize_t u = feed_line(c, d, n, &rc);
      used = u > 0 ? (size_t)u : 0;
    }
    if (rc != KINFER_OK)
      return rc;
    d += used;
    n -= used;
  }
  return KINFER_OK;
}

static void h1_on_eof(ki_conn *c) {
  h1 *h = H(c);
  if (h->cur && h->rs == RS_BODY_EOF)
    finish_ok(c);
}

static int h1_flush(ki_conn *c) {
  h1 *h = H(c);
  ki_xfer_priv *p = h->cur;
  c->want_write = false;
  while (p && !p->req_done) {
    struct iovec iov[H1_MAX_IOV];
    int n = 0;
    if (h->head_off < h->head.len) {
      iov[n].iov_base = h->head.data + h->head_off;
      iov[n++].iov_len = h->head.len - h->head_off;
    }
    const ki_xfer *x = p->x;
    for (size_t i = h->body_idx; i < x->body_iovcnt && n < H1_MAX_IOV; i++) {
      size_t off = i == h->body_idx ? h->body_off : 0;
      if (x->body[i].iov_len == off)
        continue;
      iov[n].iov_base = (char *)x->body[i].iov_base + off;
      iov[n++].iov_len = x->body[i].iov_len - off;
    }
    if (n == 0) {
      p->req_done = true;
      break;
    }
    ssize_t w = ki_conn_sendv(c, iov, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->want_write = true;
        return KINFER_OK;
      }
      c->last_errno = errno;
      return KINFER_EUNKNOWN_OUTCOME;
    }
    p->req_written = true;
    size_t left = (size_t)w;
    size_t hd = h->head.len - h->head_off;
    size_t step = left < hd ? left : hd;
    h->head_off += step;
    left -= step;
    while (left > 0 && h->body_idx < x->body_iovcnt) {
      size_t avail = x->body[h->body_idx].iov_len - h->body_off;
      size_t s = left < avail ? left : avail;
      h->body_off += s;
      left -= s;
      if (h->body_off == x->body[h->body_idx].iov_len) {
        h->body_idx++;
        h->body_off = 0;
      }
    }
  }
  return KINFER_OK;
}

/* How the in-flight exchange failed when the connection went away. */
static void h1_fail_all(ki_conn *c, int code, const char *msg) {
  h1 *h = H(c);
  bool reused = h->reused, nothing_read = h->resp_bytes == 0;
  ki_xfer_priv *p = take_cur(c);
  if (!p)
    return;
  if (code != KINFER_EUNKNOWN_OUTCOME)
    ki_xfer_fail(p, KI_FAIL_FATAL, code, "%s", msg);
  else
    ki_xfer_fail_lost(p, reused && nothing_read, msg);
}

const ki_proto_ops ki_h1_ops = {
    .name = "http/1.1",
    .http_version = 11,
    .init = h1_init,
    .destroy = h1_destroy,
    .can_take = h1_can_take,
    .start = h1_start,
    .cancel = h1_cancel,
    .on_read = h1_on_read,
    .on_eof = h1_on_eof,
    .flush = h1_flush,
    .fail_all = h1_fail_all,
};
