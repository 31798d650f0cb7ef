/*
 * HTTP/1.1 server side (RFC 9112): keep-alive, Connection: close,
 * Content-Length and chunked bodies, Expect: 100-continue and pipelining.
 * Requests on a connection are answered strictly in order: while one is
 * being answered (possibly after --delay-ms) the next stays in c->in.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"

#define PAUSE_INPUT_BYTES (1024 * 1024)  /* buffered input while answering */
#define MAX_CHUNK_LINE 1024

typedef enum { PH_HEADERS, PH_BODY, PH_CHUNK_SIZE, PH_CHUNK_DATA, PH_CHUNK_CRLF,
               PH_TRAILERS } h1_phase;

typedef struct h1_state {
  h1_phase phase;
  size_t scan;            /* where the search for the header end resumes */
  ks_request req;
  uint64_t left;          /* body or chunk bytes still expected */
  bool chunked;
  bool keep_alive;
  bool head;
  bool http10;
  bool busy;              /* a request is being answered */
} h1_state;

typedef struct h1_headers {
  int64_t content_length; /* -1 if absent */
  bool chunked;
  bool has_te;
  bool expect_continue;
  bool conn_close;
  bool conn_keep_alive;
} h1_headers;

/* ---- responses -------------------------------------------------------------- */

static void h1_write(ks_conn *c, const ks_response *r, bool head, bool keep_alive, bool http10)
{
  ks_buf *b = &c->out;
  int rc = ks_buf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
                         r->status, ks_status_text(r->status), r->content_type, r->body.len);
  if (r->header_length >= 0)
    rc |= ks_buf_printf(b, "Inference-Header-Content-Length: %lld\r\n",
                        (long long)r->header_length);
  if (r->retry_after >= 0)
    rc |= ks_buf_printf(b, "Retry-After: %d\r\n", r->retry_after);
  if (!keep_alive)
    rc |= ks_buf_puts(b, "Connection: close\r\n");
  else if (http10)
    rc |= ks_buf_puts(b, "Connection: keep-alive\r\n");
  rc |= ks_buf_puts(b, "\r\n");
  if (!head)
    rc |= ks_buf_append(b, r->body.data, r->body.len);
  if (rc || !keep_alive)
    c->closing = true;
}

/* Answers a request that could not be parsed, and closes. */
static int h1_fail(ks_conn *c, int status, const char *msg)
{
  ks_response r;
  ks_response_init(&r);
  ks_response_error(&r, status, msg);
  h1_write(c, &r, false, false, false);
  ks_conn_log(c, "-", "-", status);
  ks_response_free(&r);
  return -1;
}

/* ---- request head ------------------------------------------------------------ */

static bool is_tchar(int ch)
{
  return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool has_token(const char *value, const char *token)
{
  size_t n = strlen(token);
  for (const char *p = value; *p;) {
    p += strspn(p, " \t,");
    size_t len = strcspn(p, ",");
    size_t trim = len;
    while (trim && (p[trim - 1] == ' ' || p[trim - 1] == '\t'))
      trim--;
    if (trim == n && strncasecmp(p, token, n) == 0)
      return true;
    p += len;
  }
  return false;
}

static int parse_u64(const char *s, uint64_t *out)
{
  if (!*s)
    return -1;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

static int on_header(h1_state *h, h1_headers *hd, const char *name, char *value)
{
  uint64_t v;
  if (strcasecmp(name, "content-length") == 0) {
    if (parse_u64(value, &v) < 0 || v > INT64_MAX ||
        (hd->content_length >= 0 && (uint64_t)hd->content_length != v))
      return -1;
    hd->content_length = (int64_t)v;
  } else if (strcasecmp(name, "transfer-encoding") == 0) {
    hd->has_te = true;
    hd->chunked = strcasecmp(value, "chunked") == 0;
  } else if (strcasecmp(name, "connection") == 0) {
    hd->conn_close |= has_token(value, "close");
    hd->conn_keep_alive |= has_token(value, "keep-alive");
  } else if (strcasecmp(name, "expect") == 0) {
    hd->expect_continue = strcasecmp(value, "100-continue") == 0;
  } else if (strcasecmp(name, "inference-header-content-length") == 0) {
    bool ok = parse_u64(value, &v) == 0 && v <= INT64_MAX;
    h->req.header_length = ok ? (int64_t)v : -1;
    h->req.header_length_bad = !ok;
  }
  return 0;
}

/* Splits one header line in place; returns -1 if malformed. */
static int split_header(char *line, char **name, char **value)
{
  char *colon = strchr(line, ':');
  if (!colon || colon == line)
    return -1;
  for (char *p = line; p < colon; p++)
    if (!is_tchar((unsigned char)*p))
      return -1;
  *colon = '\0';
  char *v = colon + 1;
  v += strspn(v, " \t");
  size_t n = strlen(v);
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    v[--n] = '\0';
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
      return -1;
  *name = line;
  *value = v;
  return 0;
}

/* Parses "METHOD target HTTP/1.x"; sets the method, path and version. */
static int parse_request_line(h1_state *h, char *line, bool *http10)
{
  char *sp1 = strchr(line, ' ');
  char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || (size_t)(sp1 - line) >= sizeof h->req.method || sp1 == line)
    return -1;
  *sp1 = *sp2 = '\0';
  for (char *p = line; *p; p++)
    if (!is_tchar((unsigned char)*p))
      return -1;
  const char *version = sp2 + 1;
  if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
    return -1;
  *http10 = version[7] == '0';
  char *target = sp1 + 1;
  if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
    target = strchr(strstr(target, "//") + 2, '/');  /* absolute form */
    if (!target)
      target = "/";
  }
  if (target[0] != '/')
    return -1;
  memcpy(h->req.method, line, (size_t)(sp1 - line) + 1);
  h->req.path = ks_request_path(target, strlen(target));
  return h->req.path ? 0 : -1;
}

/* Applies the framing headers: how the body is delimited. */
static int start_body(ks_conn *c, h1_state *h, const h1_headers *hd)
{
  if (hd->has_te && hd->content_length >= 0)
    return h1_fail(c, 400, "both Content-Length and Transfer-Encoding");
  if (hd->has_te && !hd->chunked)
    return h1_fail(c, 501, "unsupported Transfer-Encoding");
  if (hd->content_length > 0 && (uint64_t)hd->content_length > ks_cfg.max_body)
    return h1_fail(c, 413, "request body too large");
  h->chunked = hd->chunked;
  h->left = hd->content_length > 0 ? (uint64_t)hd->content_length : 0;
  h->phase = h->chunked ? PH_CHUNK_SIZE : PH_BODY;
  bool has_body = h->chunked || h->left > 0;
  if (has_body && hd->expect_continue && (h->chunked || c->in.len < h->left))
    ks_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
  return 0;
}

static int parse_head(ks_conn *c, h1_state *h, size_t head_len)
{
  char *head = strndup(c->in.data, head_len + 2);  /* keep the last CRLF */
  if (!head)
    return -1;
  ks_buf_consume(&c->in, head_len + 4);
  h->scan = 0;
  h1_headers hd = {.content_length = -1};
  bool http10 = false;
  bool nul = strlen(head) != head_len + 2;  /* NUL bytes in the head */
  char *save = NULL, *line = strtok_r(head, "\n", &save);
  int rc = 0;
  for (size_t i = 0; line && rc == 0 && !nul; i++, line = strtok_r(NULL, "\n", &save)) {
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\r') {
      rc = -1;
      break;
    }
    line[n - 1] = '\0';
    char *name, *value;
    if (i == 0)
      rc = parse_request_line(h, line, &http10);
    else if (line[0] == ' ' || line[0] == '\t' || split_header(line, &name, &value) < 0)
      rc = -1;
    else
      rc = on_header(h, &hd, name, value);
  }
  free(head);
  if (rc < 0 || nul || !h->req.path)
    return h1_fail(c, 400, "malformed request head");
  h->http10 = http10;
  h->keep_alive = http10 ? hd.conn_keep_alive && !hd.conn_close : !hd.conn_close;
  h->head = strcmp(h->req.method, "HEAD") == 0;
  return start_body(c, h, &hd);
}

/* ---- request body ------------------------------------------------------------- */

static int take_body(ks_conn *c, h1_state *h)
{
  size_t n = c->in.len < h->left ? c->in.len : (size_t)h->left;
  if (ks_buf_append(&h->req.body, c->in.data, n) < 0)
    return h1_fail(c, 413, "request body too large");
  ks_buf_consume(&c->in, n);
  h->left -= n;
  return 0;
}

/* Returns 1 when a line is available (without CRLF, length in *len). */
static int take_line(ks_conn *c, size_t *len)
{
  char *eol = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
  if (!eol)
    return c->in.len > MAX_CHUNK_LINE ? -1 : 0;
  *len = (size_t)(eol - c->in.data);
  if (*len == 0 || c->in.data[*len - 1] != '\r' || *len > MAX_CHUNK_LINE)
    return -1;
  (*len)--;
  return 1;
}

static int chunk_size(ks_conn *c, h1_state *h)
{
  size_t len;
  int rc = take_line(c, &len);
  if (rc <= 0)
    return rc < 0 ? h1_fail(c, 400, "malformed chunk size") : 0;
  uint64_t size = 0;
  size_t i = 0;
  for (; i < len && isxdigit((unsigned char)c->in.data[i]); i++) {
    if (size >> 60)
      return h1_fail(c, 400, "malformed chunk size");
    char ch = c->in.data[i];
    size = size * 16 + (uint64_t)(isdigit((unsigned char)ch) ? ch - '0' : (tolower(ch) - 'a' + 10));
  }
  if (i == 0 || (i < len && c->in.data[i] != ';' && c->in.data[i] != ' ' && c->in.data[i] != '\t'))
    return h1_fail(c, 400, "malformed chunk size");
  if (size > ks_cfg.max_body - h->req.body.len)
    return h1_fail(c, 413, "request body too large");
  ks_buf_consume(&c->in, len + 2);
  h->left = size;
  h->phase = size ? PH_CHUNK_DATA : PH_TRAILERS;
  return 1;
}

/* Advances the body state machine. Returns 1 when the request is complete,
 * 0 when more input is needed, -1 when the connection is closing. */
static int parse_body(ks_conn *c, h1_state *h)
{
  for (;;) {
    size_t len;
    int rc;
    switch (h->phase) {
    case PH_BODY:
      if (take_body(c, h) < 0)
        return -1;
      return h->left == 0 ? 1 : 0;
    case PH_CHUNK_SIZE:
      if ((rc = chunk_size(c, h)) <= 0)
        return rc;
      break;
    case PH_CHUNK_DATA:
      if (take_body(c, h) < 0)
        return -1;
      if (h->left)
        return 0;
      h->phase = PH_CHUNK_CRLF;
      break;
    case PH_CHUNK_CRLF:
      if (c->in.len < 2)
        return 0;
      if (memcmp(c->in.data, "\r\n", 2) != 0)
        return h1_fail(c, 400, "malformed chunk");
      ks_buf_consume(&c->in, 2);
      h->phase = PH_CHUNK_SIZE;
      break;
    case PH_TRAILERS:
      if ((rc = take_line(c, &len)) <= 0)
        return rc < 0 ? h1_fail(c, 400, "malformed trailer") : 0;
      ks_buf_consume(&c->in, len + 2);
      if (len == 0)
        return 1;
      break;
    default:
      return -1;
    }
  }
}

/* Returns 1 when a complete request is in h->req, 0 when more input is
 * needed, -1 when the connection is closing. */
static int parse_step(ks_conn *c, h1_state *h)
{
  if (h->phase == PH_HEADERS) {
    /* RFC 9112 2.2: ignore empty lines before a request line. */
    while (h->scan == 0 && c->in.len >= 2 && memcmp(c->in.data, "\r\n", 2) == 0)
      ks_buf_consume(&c->in, 2);
    size_t from = h->scan > 3 ? h->scan - 3 : 0;
    char *end = c->in.len > from ? memmem(c->in.data + from, c->in.len - from, "\r\n\r\n", 4)
                                 : NULL;
    if (!end) {
      h->scan = c->in.len;
      if (c->in.len > KS_MAX_HEADER_BYTES)
        return h1_fail(c, 431, "request header fields too large");
      return 0;
    }
    if ((size_t)(end - c->in.data) > KS_MAX_HEADER_BYTES)
      return h1_fail(c, 431, "request header fields too large");
    h->req.header_length = -1;
    if (parse_head(c, h, (size_t)(end - c->in.data)) < 0)
      return -1;
  }
  return parse_body(c, h);
}

/* ---- the connection ------------------------------------------------------------- */

static void h1_reset(h1_state *h)
{
  ks_request_free(&h->req);
  memset(&h->req, 0, sizeof h->req);
  h->phase = PH_HEADERS;
  h->scan = 0;
  h->left = 0;
}

static void h1_send(ks_conn *c, h1_state *h, const ks_response *resp)
{
  h1_write(c, resp, h->head, h->keep_alive, h->http10);
  h->busy = false;
}

static int h1_process(ks_conn *c)
{
  h1_state *h = c->proto_data;
  while (!h->busy && !c->closing && !c->dead) {
    int rc = parse_step(c, h);
    if (rc <= 0)
      return rc < 0 && !c->closing ? -1 : 0;
    ks_request req = h->req;
    memset(&h->req, 0, sizeof h->req);
    h1_reset(h);
    h->busy = true;
    ks_response resp;
    ks_response_init(&resp);
    rc = ks_conn_dispatch(c, 0, &req, &resp);
    if (rc < 0)
      c->dead = c->abrupt = true;
    else if (rc > 0)
      h1_send(c, h, &resp);
    ks_response_free(&resp);
  }
  return 0;
}

static int h1_on_read(ks_conn *c, const uint8_t *data, size_t len)
{
  if (ks_buf_append(&c->in, data, len) < 0)
    return -1;
  return h1_process(c);
}

static int h1_fill(ks_conn *c)
{
  return 0;
}

static void h1_respond(ks_conn *c, int32_t stream_id, ks_response *resp)
{
  h1_send(c, c->proto_data, resp);
  if (h1_process(c) < 0)
    c->dead = true;
}

static bool h1_done(ks_conn *c)
{
  h1_state *h = c->proto_data;
  return c->eof && !h->busy;
}

static bool h1_want_read(ks_conn *c)
{
  h1_state *h = c->proto_data;
  return !(h->busy && c->in.len >= PAUSE_INPUT_BYTES);
}

static void h1_free(ks_conn *c)
{
  h1_state *h = c->proto_data;
  if (h)
    ks_request_free(&h->req);
  free(h);
  c->proto_data = NULL;
}

static const ks_proto h1_proto = {
  "http/1.1", h1_on_read, h1_fill, h1_respond, h1_done, h1_want_read, h1_free,
};

int ks_h1_start(ks_conn *c)
{
  h1_state *h = calloc(1, sizeof *h);
  if (!h)
    return -1;
  c->proto = &h1_proto;
  c->proto_data = h;
  return h1_process(c);
}
