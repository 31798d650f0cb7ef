/*
 * A scripted HTTP/1.1 server for the HTTP/1.1 rows of the fault matrix
 * (RELIABILITY.md L9, L12, L13, L17, R13, S1, S2, S5, S6, S8): it answers
 * each request with exact bytes, including the malformed, truncated and
 * reset answers a real server produces only by accident.
 *
 *   peer_h1peer --scenario NAME --port-file FILE
 *
 * It listens on 127.0.0.1 (an ephemeral port, written to FILE through a
 * temporary file and a rename) and serves each connection on its own
 * thread.  A request's answer is chosen by its V2 model name when that
 * names a scenario (POST /v2/models/NAME/infer), else by --scenario
 * (default "ok").  Scenarios that take a number end in "-N":
 *
 *   ok            a V2 answer with Content-Length, kept alive
 *   close         ... with "Connection: close"; the socket is left open, so
 *                 only the client can close it
 *   close-fin     ... with "Connection: close", then the server closes
 *   http10        an HTTP/1.0 answer with Content-Length; socket left open
 *   interim       100 Continue, 103 Early Hints and 102 Processing, then
 *                 the answer
 *   cl-te         both Content-Length and Transfer-Encoding: chunked
 *   two-cl        two different Content-Length fields
 *   chunk-ext     chunked, with chunk extensions
 *   chunk-tiny    chunked, one byte per chunk
 *   chunk-trailer chunked, with trailer fields
 *   chunk-upper   chunked, upper-case hex sizes with leading zeros
 *   chunk-bad     a chunk size that is not hex
 *   chunk-overflow a chunk size of 17 hex digits
 *   chunk-crlf    chunk data not followed by CRLF
 *   cl-neg        Content-Length: -1
 *   cl-overflow   a Content-Length of 21 digits
 *   cl-huge       Content-Length: 18446744073709551615
 *   te-gzip       Transfer-Encoding: gzip, chunked
 *   eof-body      no length, not chunked: the body ends with the connection
 *   idle-close    the answer, then the connection is closed when no next
 *                 request came within 100 ms (no "Connection: close"); the
 *                 close comes 20 ms after that decision, and a request
 *                 arriving in between is never read
 *   drop-second   the first request of a connection is answered, a later
 *                 one is read whole, then the connection is closed
 *   cut-len-K, cut-chunk-K, cut-eof-K
 *                 the first K bytes of the Content-Length, chunked or
 *                 close-delimited answer, then close; the body is the V2
 *                 body and 8 spaces, so that a cut in the spaces leaves a
 *                 complete JSON document
 *   short-body    Content-Length 100, then the 85-byte V2 body (a complete
 *                 JSON document), then close
 *   rst           the answer but its last 20 bytes, then (50 ms later) a
 *                 TCP reset
 *   pad-N, padchunk-N, padeof-N
 *                 an answer whose body is N bytes (JSON padded with spaces)
 *   some-headers  20 extra header fields (about 700 bytes)
 *   many-headers  200 extra header fields (about 7 KB)
 *   huge-header   one 8 KB header field
 *   binary-ok     a valid binary-extension answer (value 7)
 *   ihcl-large, ihcl-neg, ihcl-nan
 *                 Inference-Header-Content-Length beyond the body, negative,
 *                 not a number
 *   bds-beyond    binary_data_size past the end of the body
 *
 * A request with "Expect: 100-continue" and a body first gets
 * "100 Continue".  GET /_executions answers
 *   {"executions": N, "duplicates": 0, "connections": C, "injected": I}
 * N: inference requests read whole; C: connections accepted (the ones
 * that only asked /_executions excluded); I: request header fields named
 * X-Injected (a header injected through CR/LF).  SIGTERM ends the program
 * with status 0, and so does the end of the process that started it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY                                                                   \
  "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","  \
  "\"shape\":[1],\"data\":[7]}]}"
#define CUT_BODY BODY "        "
#define BIN_JSON                                                               \
  "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","  \
  "\"shape\":[1],\"parameters\":{\"binary_data_size\":%d}}]}"
#define CT "Content-Type: application/json\r\n"
#define MAX_HEAD (256 * 1024)

static const char *default_scenario = "ok";
static atomic_long executions, connections, injected;

/* ---- a growable byte buffer ---------------------------------------------- */

typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

static void buf_add(buf *b, const void *d, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
      abort();
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, d, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...) {
  char tmp[16384];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp)
    abort();
  buf_add(b, tmp, (size_t)n);
}

/* ---- socket helpers --------------------------------------------------------- */

static bool send_all(int fd, const char *d, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    d += w;
    n -= (size_t)w;
  }
  return true;
}

/* Closes with a TCP reset instead of a FIN. */
static void close_rst(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* Sends FIN, then waits (briefly) for the client to close its side, so that
 * bytes the client still sends do not turn the close into a reset that
 * could destroy the answer before the client has read it. */
static void close_fin(int fd) {
  shutdown(fd, SHUT_WR);
  char tmp[4096];
  struct pollfd pf = {fd, POLLIN, 0};
  while (poll(&pf, 1, 2000) > 0 && recv(fd, tmp, sizeof tmp, 0) > 0)
    ;
  close(fd);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- answers -------------------------------------------------------------- */

/* The V2 body padded with spaces to |n| bytes (never shorter than BODY). */
static void padded_body(buf *b, size_t n) {
  buf_str(b, BODY);
  while (b->len < n)
    buf_add(b, " ", 1);
}

static void answer_len(buf *out, const char *extra, const char *body,
                       size_t blen) {
  buf_printf(out, "HTTP/1.1 200 OK\r\n" CT "Content-Length: %zu\r\n%s\r\n",
             blen, extra);
  buf_add(out, body, blen);
}

/* |body| chunked, in chunks of |step| bytes; |ext| after each size,
 * |trailer| (whole lines) after the last chunk. */
static void chunk_body(buf *out, const char *body, size_t blen, size_t step,
                       const char *ext, bool upper, const char *trailer) {
  for (size_t off = 0; off < blen; off += step) {
    size_t n = blen - off < step ? blen - off : step;
    if (upper)
      buf_printf(out, "%04zX%s\r\n", n, ext);
    else
      buf_printf(out, "%zx%s\r\n", n, ext);
    buf_add(out, body + off, n);
    buf_str(out, "\r\n");
  }
  buf_printf(out, "0%s\r\n%s\r\n", ext, trailer);
}

static void answer_chunked(buf *out, const char *extra, const char *body,
                           size_t blen, size_t step, const char *ext,
                           bool upper, const char *trailer) {
  buf_printf(out, "HTTP/1.1 200 OK\r\n" CT "Transfer-Encoding: chunked\r\n%s\r\n",
             extra);
  chunk_body(out, body, blen, step, ext, upper, trailer);
}

static void answer_eof(buf *out, const char *body, size_t blen) {
  buf_str(out, "HTTP/1.1 200 OK\r\n" CT "\r\n");
  buf_add(out, body, blen);
}

/* A binary-extension answer: JSON with binary_data_size |bds|, then
 * |nbin| bytes of little-endian int32 7 (zero padded), and the given
 * Inference-Header-Content-Length value (NULL: the JSON's length). */
static void answer_binary(buf *out, int bds, size_t nbin, const char *ihcl) {
  buf body = {0};
  buf_printf(&body, BIN_JSON, bds);
  size_t jlen = body.len;
  const unsigned char seven[4] = {7, 0, 0, 0};
  for (size_t i = 0; i < nbin; i++)
    buf_add(&body, i < 4 ? &seven[i] : (const unsigned char *)"\0", 1);
  char hdr[128];
  if (ihcl)
    snprintf(hdr, sizeof hdr, "Inference-Header-Content-Length: %s\r\n", ihcl);
  else
    snprintf(hdr, sizeof hdr, "Inference-Header-Content-Length: %zu\r\n", jlen);
  buf_printf(out,
             "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
             "Content-Length: %zu\r\n%s\r\n",
             body.len, hdr);
  buf_add(out, body.data, body.len);
  free(body.data);
}

/* What to do with the connection after an answer. */
typedef enum after {
  KEEP,       /* wait for the next request */
  CLOSE,      /* close (FIN) */
  RESET,      /* close with a TCP reset */
  IDLE_CLOSE  /* close when no request comes within 100 ms */
} after;

static bool has_num_suffix(const char *name, const char *prefix, long *n) {
  size_t pl = strlen(prefix);
  if (strncmp(name, prefix, pl) != 0 || !name[pl])
    return false;
  char *end;
  *n = strtol(name + pl, &end, 10);
  return *end == '\0' && *n >= 0;
}

/* Builds the bytes for scenario |sc|, the |nreq|-th request (1-based) on
 * its connection.  Returns what to do afterwards; *limit, when not
 * SIZE_MAX, is how many of the bytes to send. */
static after build_answer(const char *sc, int nreq, buf *out, size_t *limit) {
  const size_t blen = sizeof BODY - 1;
  long n;
  *limit = SIZE_MAX;
  if (strcmp(sc, "close") == 0 || strcmp(sc, "close-fin") == 0) {
    answer_len(out, "Connection: close\r\n", BODY, blen);
    return sc[5] ? CLOSE : KEEP;
  }
  if (strcmp(sc, "http10") == 0) {
    buf_printf(out, "HTTP/1.0 200 OK\r\n" CT "Content-Length: %zu\r\n\r\n%s",
               blen, BODY);
    return KEEP;
  }
  if (strcmp(sc, "interim") == 0) {
    buf_str(out, "HTTP/1.1 100 Continue\r\n\r\n"
                 "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                 "HTTP/1.1 102 Processing\r\n\r\n");
    answer_len(out, "", BODY, blen);
    return KEEP;
  }
  if (strcmp(sc, "cl-te") == 0) {
    char extra[64];
    snprintf(extra, sizeof extra, "Content-Length: %zu\r\n", blen);
    answer_chunked(out, extra, BODY, blen, 16, "", false, "");
    return KEEP;
  }
  if (strcmp(sc, "two-cl") == 0) {
    char extra[64];
    snprintf(extra, sizeof extra, "Content-Length: %zu\r\n", blen + 1);
    answer_len(out, extra, BODY, blen);
    return KEEP;
  }
  if (strcmp(sc, "chunk-ext") == 0) {
    answer_chunked(out, "", BODY, blen, 10, ";name=value;quoted=\"a;b\" ; x",
                   false, "");
    return KEEP;
  }
  if (strcmp(sc, "chunk-tiny") == 0) {
    answer_chunked(out, "", BODY, blen, 1, "", false, "");
    return KEEP;
  }
  if (strcmp(sc, "chunk-trailer") == 0) {
    answer_chunked(out, "Trailer: X-Checksum, X-Other\r\n", BODY, blen, 30, "",
                   false, "X-Checksum: abc\r\nX-Other: 1\r\n");
    return KEEP;
  }
  if (strcmp(sc, "chunk-upper") == 0) {
    answer_chunked(out, "", BODY, blen, 0x2B, "", true, "");
    return KEEP;
  }
  if (strcmp(sc, "chunk-bad") == 0 || strcmp(sc, "chunk-overflow") == 0) {
    buf_printf(out, "HTTP/1.1 200 OK\r\n" CT "Transfer-Encoding: chunked\r\n\r\n"
               "%s\r\n%s\r\n0\r\n\r\n",
               sc[6] == 'b' ? "zz" : "1FFFFFFFFFFFFFFFF", BODY);
    return KEEP;
  }
  if (strcmp(sc, "chunk-crlf") == 0) {
    buf_printf(out, "HTTP/1.1 200 OK\r\n" CT "Transfer-Encoding: chunked\r\n\r\n"
               "%zx\r\n%sXX\r\n0\r\n\r\n", blen, BODY);
    return KEEP;
  }
  if (strcmp(sc, "cl-neg") == 0 || strcmp(sc, "cl-overflow") == 0 ||
      strcmp(sc, "cl-huge") == 0) {
    const char *v = sc[3] == 'n'   ? "-1"
                    : sc[3] == 'o' ? "100000000000000000000"
                                   : "18446744073709551615";
    buf_printf(out, "HTTP/1.1 200 OK\r\n" CT "Content-Length: %s\r\n\r\n%s", v,
               BODY);
    return KEEP;
  }
  if (strcmp(sc, "te-gzip") == 0) {
    buf_str(out, "HTTP/1.1 200 OK\r\n" CT "Transfer-Encoding: gzip, chunked\r\n\r\n");
    chunk_body(out, BODY, blen, 16, "", false, "");
    return KEEP;
  }
  if (strcmp(sc, "eof-body") == 0) {
    answer_eof(out, BODY, blen);
    return CLOSE;
  }
  if (strcmp(sc, "idle-close") == 0) {
    answer_len(out, "", BODY, blen);
    return IDLE_CLOSE;
  }
  if (strcmp(sc, "drop-second") == 0) {
    if (nreq > 1)
      return CLOSE; /* read whole, never answered */
    answer_len(out, "", BODY, blen);
    return KEEP;
  }
  if (has_num_suffix(sc, "cut-len-", &n)) {
    answer_len(out, "", CUT_BODY, sizeof CUT_BODY - 1);
    *limit = (size_t)n;
    return CLOSE;
  }
  if (has_num_suffix(sc, "cut-chunk-", &n)) {
    answer_chunked(out, "", CUT_BODY, sizeof CUT_BODY - 1, 32, ";e=1", false,
                   "X-T: 1\r\n");
    *limit = (size_t)n;
    return CLOSE;
  }
  if (has_num_suffix(sc, "cut-eof-", &n)) {
    answer_eof(out, CUT_BODY, sizeof CUT_BODY - 1);
    *limit = (size_t)n;
    return CLOSE;
  }
  if (strcmp(sc, "short-body") == 0) {
    buf_str(out, "HTTP/1.1 200 OK\r\n" CT "Content-Length: 100\r\n\r\n");
    buf_add(out, BODY, blen);
    return CLOSE;
  }
  if (strcmp(sc, "rst") == 0) {
    answer_len(out, "", BODY, blen);
    *limit = out->len - 20;
    return RESET;
  }
  if (has_num_suffix(sc, "pad-", &n) || has_num_suffix(sc, "padchunk-", &n) ||
      has_num_suffix(sc, "padeof-", &n)) {
    buf body = {0};
    padded_body(&body, (size_t)n);
    after a = KEEP;
    if (sc[3] == '-')
      answer_len(out, "", body.data, body.len);
    else if (sc[3] == 'c')
      answer_chunked(out, "", body.data, body.len, 256, "", false, "");
    else {
      answer_eof(out, body.data, body.len);
      a = CLOSE;
    }
    free(body.data);
    return a;
  }
  if (strcmp(sc, "some-headers") == 0 || strcmp(sc, "many-headers") == 0) {
    buf extra = {0};
    int count = sc[0] == 's' ? 20 : 200;
    for (int i = 0; i < count; i++)
      buf_printf(&extra, "X-Fill-%03d: 0123456789abcdef0123\r\n", i);
    answer_len(out, extra.data, BODY, blen);
    free(extra.data);
    return KEEP;
  }
  if (strcmp(sc, "huge-header") == 0) {
    buf extra = {0};
    buf_str(&extra, "X-Huge: ");
    for (int i = 0; i < 8192; i++)
      buf_add(&extra, "h", 1);
    buf_str(&extra, "\r\n");
    answer_len(out, extra.data, BODY, blen);
    free(extra.data);
    return KEEP;
  }
  if (strcmp(sc, "binary-ok") == 0) {
    answer_binary(out, 4, 4, NULL);
    return KEEP;
  }
  if (strcmp(sc, "ihcl-large") == 0) {
    answer_binary(out, 4, 4, "100000");
    return KEEP;
  }
  if (strcmp(sc, "ihcl-neg") == 0) {
    answer_binary(out, 4, 4, "-5");
    return KEEP;
  }
  if (strcmp(sc, "ihcl-nan") == 0) {
    answer_binary(out, 4, 4, "abc");
    return KEEP;
  }
  if (strcmp(sc, "bds-beyond") == 0) {
    answer_binary(out, 64, 4, NULL);
    return KEEP;
  }
  answer_len(out, "", BODY, blen);
  return KEEP;
}

/* ---- requests -------------------------------------------------------------- */

static bool is_scenario(const char *name) {
  static const char *const fixed[] = {
      "ok", "close", "close-fin", "http10", "interim", "cl-te", "two-cl",
      "chunk-ext", "chunk-tiny", "chunk-trailer", "chunk-upper", "chunk-bad",
      "chunk-overflow", "chunk-crlf", "cl-neg", "cl-overflow", "cl-huge",
      "te-gzip", "eof-body", "idle-close", "drop-second", "short-body",
      "rst", "some-headers", "many-headers", "huge-header", "binary-ok",
      "ihcl-large", "ihcl-neg", "ihcl-nan", "bds-beyond"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (strcmp(name, fixed[i]) == 0)
      return true;
  static const char *const numbered[] = {"cut-len-", "cut-chunk-", "cut-eof-",
                                         "pad-", "padchunk-", "padeof-"};
  long n;
  for (size_t i = 0; i < sizeof numbered / sizeof numbered[0]; i++)
    if (has_num_suffix(name, numbered[i], &n))
      return true;
  return false;
}

typedef struct request {
  char method[16];
  char target[1024];
  size_t content_length;
  bool expect_continue;
  bool chunked;
} request;

/* Parses the head in |h| (NUL-terminated, CRLF line ends). */
static bool parse_head(char *h, request *r) {
  memset(r, 0, sizeof *r);
  char *eol = strstr(h, "\r\n");
  if (!eol)
    return false;
  *eol = '\0';
  if (sscanf(h, "%15s %1023s", r->method, r->target) != 2)
    return false;
  for (char *line = eol + 2; *line; ) {
    char *end = strstr(line, "\r\n");
    if (!end)
      break;
    *end = '\0';
    char *colon = strchr(line, ':');
    if (colon) {
      *colon = '\0';
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      if (strcasecmp(line, "content-length") == 0)
        r->content_length = strtoul(v, NULL, 10);
      else if (strcasecmp(line, "expect") == 0 &&
               strcasecmp(v, "100-continue") == 0)
        r->expect_continue = true;
      else if (strcasecmp(line, "transfer-encoding") == 0)
        r->chunked = true;
      else if (strcasecmp(line, "x-injected") == 0)
        atomic_fetch_add(&injected, 1);
    }
    line = end + 2;
  }
  return true;
}

/* The model name of POST /v2/models/NAME/infer, into |out|. */
static void model_of(const char *target, char *out, size_t outlen) {
  out[0] = '\0';
  const char *p = strstr(target, "/models/");
  if (!p)
    return;
  p += 8;
  size_t n = strcspn(p, "/?");
  if (n >= outlen)
    n = outlen - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

typedef struct conn {
  int fd;
  buf in; /* bytes read and not yet used */
} conn;

/* Reads until |in| holds |want| bytes; false on EOF or error. */
static bool fill_to(conn *c, size_t want) {
  char tmp[16384];
  while (c->in.len < want) {
    ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    buf_add(&c->in, tmp, (size_t)r);
  }
  return true;
}

static void consume(conn *c, size_t n) {
  memmove(c->in.data, c->in.data + n, c->in.len - n);
  c->in.len -= n;
}

/* Reads one request: its head into |r| and its body (discarded).  Returns
 * false when the connection ended first. */
static bool read_request(conn *c, request *r) {
  char *end;
  for (;;) {
    if (c->in.len && (end = strstr(c->in.data, "\r\n\r\n")))
      break;
    if (c->in.len > MAX_HEAD || !fill_to(c, c->in.len + 1))
      return false;
  }
  size_t hlen = (size_t)(end - c->in.data) + 4;
  char *head = malloc(hlen + 1);
  if (!head)
    abort();
  memcpy(head, c->in.data, hlen);
  head[hlen] = '\0';
  bool ok = parse_head(head, r);
  free(head);
  consume(c, hlen);
  if (!ok || r->chunked) /* the client under test never sends chunked */
    return false;
  if (r->expect_continue && r->content_length > 0 &&
      !send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
    return false;
  if (!fill_to(c, r->content_length))
    return false;
  consume(c, r->content_length);
  return true;
}

static void answer_executions(conn *c) {
  buf body = {0}, out = {0};
  buf_printf(&body,
             "{\"executions\": %ld, \"duplicates\": 0, \"connections\": %ld, "
             "\"injected\": %ld}",
             atomic_load(&executions), atomic_load(&connections),
             atomic_load(&injected));
  buf_printf(&out,
             "HTTP/1.1 200 OK\r\n" CT "Content-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             body.len, body.data);
  send_all(c->fd, out.data, out.len);
  free(body.data);
  free(out.data);
}

/* True when the next request starts within |ms| milliseconds. */
static bool next_request_within(conn *c, int ms) {
  if (c->in.len)
    return true;
  struct pollfd pf = {c->fd, POLLIN, 0};
  return poll(&pf, 1, ms) > 0;
}

static void *serve(void *arg) {
  conn *c = arg;
  request r;
  for (int nreq = 1; read_request(c, &r); nreq++) {
    if (strcmp(r.target, "/_executions") == 0) {
      if (nreq == 1) /* the test's own query, not the client's connection */
        atomic_fetch_sub(&connections, 1);
      answer_executions(c);
      break;
    }
    atomic_fetch_add(&executions, 1);
    char model[256];
    model_of(r.target, model, sizeof model);
    const char *sc = is_scenario(model) ? model : default_scenario;
    buf out = {0};
    size_t limit;
    after a = build_answer(sc, nreq, &out, &limit);
    size_t n = out.len < limit ? out.len : limit;
    bool sent = n == 0 || send_all(c->fd, out.data, n);
    free(out.data);
    if (!sent)
      break;
    if (a == CLOSE) {
      close_fin(c->fd);
      c->fd = -1;
      break;
    }
    if (a == RESET) {
      sleep_ms(50); /* let the bytes reach the client before the reset */
      close_rst(c->fd);
      c->fd = -1;
      break;
    }
    if (a == IDLE_CLOSE && !next_request_within(c, 100)) {
      /* Decided to close: a request arriving from now on is written into
       * a connection that is going away, and is never read. */
      sleep_ms(20);
      break;
    }
  }
  if (c->fd >= 0)
    close(c->fd);
  free(c->in.data);
  free(c);
  return NULL;
}

/* ---- main -------------------------------------------------------------------- */

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static int write_port_file(const char *path, int port) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  fprintf(f, "%d\n", port);
  if (fclose(f) != 0)
    return -1;
  return rename(tmp, path);
}

int main(int argc, char **argv) {
  const char *port_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc)
      default_scenario = argv[++i];
    else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
      port_file = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--scenario NAME] --port-file FILE\n", argv[0]);
      return 2;
    }
  }
  if (!port_file) {
    fprintf(stderr, "%s: --port-file is required\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_term);
  /* A test that aborts (a sanitizer report) cannot stop its peers: end
   * with it, or the runner waits for the inherited output forever. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1)
    return 0;

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(lfd, 128) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
    perror("h1peer: listen");
    return 1;
  }
  if (write_port_file(port_file, ntohs(a.sin_port)) != 0) {
    perror("h1peer: port file");
    return 1;
  }
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      perror("h1peer: accept");
      return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    atomic_fetch_add(&connections, 1);
    conn *c = calloc(1, sizeof *c);
    if (!c)
      abort();
    c->fd = fd;
    /* Created detached: a thread that ends before a pthread_detach call
     * would count as leaked under ThreadSanitizer. */
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, serve, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      close(fd);
      free(c);
      continue;
    }
  }
}
