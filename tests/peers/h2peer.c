/*
 * peer_h2peer: a scripted HTTP/2 server (h2c, prior knowledge) for the
 * fault-matrix rows kinfer-server cannot produce (RELIABILITY.md R5, R11,
 * R12, L5, L8-L10, L12, L13, L16, S1-S7).  Frames are written as raw bytes,
 * header blocks through nghttp2's HPACK encoder, so each scenario decides
 * exactly which frames go out and when.
 *
 *   peer_h2peer --scenario NAME [--max-streams N] [--hold N] [--pings N]
 *               --port-file FILE
 *
 * Listens on 127.0.0.1 (a free port, written to FILE through a temporary
 * name and a rename) and serves each connection on its own thread.  A
 * connection opening with the HTTP/2 preface gets the scenario; any other
 * is read as one HTTP/1.1 request and answered with Connection: close:
 * GET /_executions answers the counters below, anything else like scenario
 * "ok" (what a client falling back from h2c sends).
 *
 * An inference request (POST .../infer) is answered with
 *   {"model_name":"m","outputs":[{"name":"o","datatype":"INT32",
 *    "shape":[1],"data":[7]}]}
 * and health requests with {"live":true} / {"ready":true}.  Scenarios change
 * what happens to inference requests:
 *
 *   ok           answer normally
 *   r11          HEADERS (200) and part of the body, then
 *                RST_STREAM(INTERNAL_ERROR)
 *   r12          GOAWAY(last_stream_id 0, ENHANCE_YOUR_CALM) on the first
 *                stream of every connection; nothing runs
 *   l5           SETTINGS_INITIAL_WINDOW_SIZE 0 and never a WINDOW_UPDATE:
 *                request bodies stall (requests without one are answered)
 *   l8           --pings N PINGs (default 50) when a request is complete,
 *                the answer once all are acknowledged (or after 3 s)
 *   l9           the first request: HEADERS and part of the body, then a
 *                TCP reset (SO_LINGER 0); later ones are answered
 *   l9-early     the first request: a TCP reset before any HEADERS
 *   close        first connection: hold requests until --hold N (default
 *                3) are complete, then close (FIN, no GOAWAY); later
 *                connections answer normally
 *   r5           first connection: hold until --hold N are complete, send
 *                GOAWAY whose last stream id is the second highest of them,
 *                answer those at or below it; the highest never runs
 *   l16          on the first DATA of a request: a complete response
 *                (HEADERS, DATA with END_STREAM), then RST_STREAM(NO_ERROR)
 *                without reading the rest; the stream window stays 65535
 *   canned       the model name selects a canned answer (see canned())
 *   cut          model "cut-K": answer with the first K bytes of
 *                SETTINGS, SETTINGS ACK, HEADERS, DATA and close (FIN);
 *                nothing is sent before, not even SETTINGS ACKs or PING
 *                ACKs
 *
 * GET /_executions answers (one line of JSON):
 *   executions    inference requests run (answered, or held and cut off)
 *   duplicates    request ids ("id" in the JSON body) run more than once
 *   connections   HTTP/2 connections accepted
 *   h1_requests   HTTP/1.1 requests other than /_executions
 *   ping_acks     PING ACKs received for the peer's own PINGs
 *   body_bytes    request DATA bytes received on inference streams
 *   cut_len       the full length of the byte string scenario cut sends
 *   answers       per HTTP/2 connection (the first 64), streams answered
 *
 * SIGTERM or SIGINT (also sent when the parent dies): stops, joins every
 * thread, exits 0.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define MAX_FRAME 16384
#define BIG_WINDOW (16 * 1024 * 1024)
#define MAX_STREAMS 128
#define MAX_CONNS 64

enum { F_DATA = 0, F_HEADERS = 1, F_PRIORITY = 2, F_RST = 3, F_SETTINGS = 4,
       F_PUSH = 5, F_PING = 6, F_GOAWAY = 7, F_WINDOW = 8, F_CONT = 9 };
enum { FL_ES = 0x1, FL_ACK = 0x1, FL_EH = 0x4, FL_PADDED = 0x8,
       FL_PRIORITY = 0x20 };

typedef enum scenario {
  SC_OK, SC_R11, SC_R12, SC_L5, SC_L8, SC_L9, SC_L9_EARLY, SC_CLOSE, SC_R5,
  SC_L16, SC_CANNED, SC_CUT
} scenario;

static const char *const scenario_names[] = {
    "ok", "r11", "r12", "l5", "l8", "l9", "l9-early", "close", "r5", "l16",
    "canned", "cut"};

static struct {
  scenario sc;
  uint32_t max_streams;
  int hold;
  int pings;
} opt = {SC_OK, 100, 3, 50};

static const char ok_json[] =
    "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\","
    "\"shape\":[1],\"data\":[7]}]}";

/* ---- counters (under mu) --------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  long executions, duplicates, connections, h1_requests, ping_acks;
  long body_bytes, cut_len;
  long answers[MAX_CONNS];
  char **ids;
  size_t nids;
  bool fault_done;
} st;

static int stop_rd = -1, stop_wr = -1;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fputs("peer_h2peer: out of memory\n", stderr);
    abort();
  }
  return q;
}

/* The request id in a JSON body ("id":"..."), or "" . */
static void body_id(const char *body, size_t len, char *id, size_t idlen) {
  id[0] = '\0';
  static const char key[] = "\"id\":\"";
  for (size_t i = 0; i + sizeof key - 1 <= len; i++) {
    if (memcmp(body + i, key, sizeof key - 1) != 0)
      continue;
    size_t j = i + sizeof key - 1, k = 0;
    while (j < len && body[j] != '"' && k + 1 < idlen)
      id[k++] = body[j++];
    id[k] = '\0';
    return;
  }
}

static void count_execution(const char *body, size_t len) {
  char id[128];
  body_id(body, len, id, sizeof id);
  pthread_mutex_lock(&mu);
  st.executions++;
  if (id[0]) {
    bool seen = false;
    for (size_t i = 0; i < st.nids && !seen; i++)
      seen = strcmp(st.ids[i], id) == 0;
    if (seen) {
      st.duplicates++;
    } else {
      st.ids = xrealloc(st.ids, (st.nids + 1) * sizeof *st.ids);
      st.ids[st.nids] = xrealloc(NULL, strlen(id) + 1);
      strcpy(st.ids[st.nids++], id);
    }
  }
  pthread_mutex_unlock(&mu);
}

/* True once per peer: the first request a one-time fault applies to. */
static bool take_fault(void) {
  pthread_mutex_lock(&mu);
  bool first = !st.fault_done;
  st.fault_done = true;
  pthread_mutex_unlock(&mu);
  return first;
}

/* ---- byte strings and frames ------------------------------------------------ */

typedef struct bytes {
  uint8_t *p;
  size_t len, cap;
} bytes;

static void b_put(bytes *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = xrealloc(b->p, b->cap);
  }
  if (n)
    memcpy(b->p + b->len, d, n);
  b->len += n;
}

static void b_puts(bytes *b, const char *s) { b_put(b, s, strlen(s)); }

static void b_free(bytes *b) {
  free(b->p);
  *b = (bytes){0};
}

static void put_frame(bytes *b, uint8_t type, uint8_t flags, int32_t sid,
                      const void *payload, size_t n) {
  uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type,
                  flags, (uint8_t)((uint32_t)sid >> 24) & 0x7f,
                  (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
  b_put(b, h, sizeof h);
  b_put(b, payload, n);
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* SETTINGS with |n| (id, value) pairs. */
static void put_settings(bytes *b, const uint32_t (*iv)[2], size_t n) {
  uint8_t pl[6 * 8];
  for (size_t i = 0; i < n; i++) {
    pl[i * 6] = (uint8_t)(iv[i][0] >> 8);
    pl[i * 6 + 1] = (uint8_t)iv[i][0];
    put_u32(pl + i * 6 + 2, iv[i][1]);
  }
  put_frame(b, F_SETTINGS, 0, 0, pl, n * 6);
}

static void put_window_update(bytes *b, int32_t sid, uint32_t inc) {
  uint8_t pl[4];
  put_u32(pl, inc & 0x7fffffff);
  put_frame(b, F_WINDOW, 0, sid, pl, 4);
}

static void put_rst(bytes *b, int32_t sid, uint32_t code) {
  uint8_t pl[4];
  put_u32(pl, code);
  put_frame(b, F_RST, 0, sid, pl, 4);
}

static void put_goaway(bytes *b, int32_t last, uint32_t code) {
  uint8_t pl[8];
  put_u32(pl, (uint32_t)last & 0x7fffffff);
  put_u32(pl + 4, code);
  put_frame(b, F_GOAWAY, 0, 0, pl, 8);
}

/* A header block split into HEADERS and CONTINUATION frames. */
static void put_headers(nghttp2_hd_deflater *def, bytes *b, int32_t sid,
                        const nghttp2_nv *nva, size_t n, bool end_stream) {
  size_t bound = nghttp2_hd_deflate_bound(def, nva, n);
  uint8_t *blk = xrealloc(NULL, bound);
  ssize_t len = nghttp2_hd_deflate_hd(def, blk, bound, nva, n);
  if (len < 0) {
    fprintf(stderr, "peer_h2peer: HPACK: %s\n", nghttp2_strerror((int)len));
    abort();
  }
  size_t off = 0;
  bool first = true;
  do {
    size_t k = (size_t)len - off > MAX_FRAME ? MAX_FRAME : (size_t)len - off;
    bool last = off + k == (size_t)len;
    uint8_t flags = (last ? FL_EH : 0) | (first && end_stream ? FL_ES : 0);
    put_frame(b, first ? F_HEADERS : F_CONT, flags, sid, blk + off, k);
    off += k;
    first = false;
  } while (off < (size_t)len);
  free(blk);
}

static void put_data(bytes *b, int32_t sid, const void *d, size_t n,
                     bool end_stream) {
  size_t off = 0;
  do {
    size_t k = n - off > MAX_FRAME ? MAX_FRAME : n - off;
    bool last = off + k == n;
    put_frame(b, F_DATA, last && end_stream ? FL_ES : 0, sid,
              (const uint8_t *)d + off, k);
    off += k;
  } while (off < n);
}

#define NV(n, v)                                                               \
  ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v),          \
                NGHTTP2_NV_FLAG_NONE})

/* HEADERS (status, content-type, content-length, then |extra|). */
static void put_response_headers(nghttp2_hd_deflater *def, bytes *b,
                                 int32_t sid, const char *status,
                                 const char *ctype, size_t body_len,
                                 const nghttp2_nv *extra, size_t nextra,
                                 bool end_stream) {
  char clen[24];
  snprintf(clen, sizeof clen, "%zu", body_len);
  nghttp2_nv *nva = xrealloc(NULL, (nextra + 3) * sizeof *nva);
  nva[0] = NV(":status", status);
  nva[1] = NV("content-type", ctype);
  nva[2] = NV("content-length", clen);
  for (size_t i = 0; i < nextra; i++)
    nva[3 + i] = extra[i];
  put_headers(def, b, sid, nva, nextra + 3, end_stream);
  free(nva);
}

static void put_response(nghttp2_hd_deflater *def, bytes *b, int32_t sid,
                         const char *status, const char *ctype,
                         const nghttp2_nv *extra, size_t nextra,
                         const void *body, size_t len) {
  put_response_headers(def, b, sid, status, ctype, len, extra, nextra, len == 0);
  if (len)
    put_data(b, sid, body, len, true);
}

/* What scenario cut sends in full: SETTINGS, SETTINGS ACK, HEADERS, DATA. */
static void put_cut_sequence(nghttp2_hd_deflater *def, bytes *b, int32_t sid) {
  const uint32_t iv[][2] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  put_settings(b, iv, 1);
  put_frame(b, F_SETTINGS, FL_ACK, 0, NULL, 0);
  put_response(def, b, sid, "200", "application/json", NULL, 0, ok_json,
               sizeof ok_json - 1);
}

/* ---- canned answers (scenario canned) ------------------------------------- */

typedef struct canned_answer {
  const char *status, *ctype;
  nghttp2_nv extra[512];
  size_t nextra;
  char *names[512]; /* owned storage behind extra */
  char *values[512];
  bytes body;
} canned_answer;

static void add_header(canned_answer *a, const char *name, const char *value) {
  size_t i = a->nextra++;
  a->names[i] = strdup(name);
  a->values[i] = strdup(value);
  if (!a->names[i] || !a->values[i])
    abort();
  a->extra[i] = NV(a->names[i], a->values[i]);
}

static void answer_free(canned_answer *a) {
  for (size_t i = 0; i < a->nextra; i++) {
    free(a->names[i]);
    free(a->values[i]);
  }
  b_free(&a->body);
}

/* An output list of one tensor |tensor| (the inside of {...}). */
static void json_with(bytes *b, const char *tensor) {
  b_puts(b, "{\"model_name\":\"m\",\"outputs\":[{");
  b_puts(b, tensor);
  b_puts(b, "}]}");
}

/* Binary answer: |json| then |tail|, Inference-Header-Content-Length
 * |ihcl| (NULL: the JSON's length). */
static void binary_answer(canned_answer *a, const char *json, const void *tail,
                          size_t tlen, const char *ihcl) {
  char len[24];
  snprintf(len, sizeof len, "%zu", strlen(json));
  a->ctype = "application/octet-stream";
  add_header(a, "inference-header-content-length", ihcl ? ihcl : len);
  b_puts(&a->body, json);
  b_put(&a->body, tail, tlen);
}

/* Fills |a| for model |name|; false for an unknown name. */
static bool canned(const char *name, canned_answer *a) {
  a->status = "200";
  a->ctype = "application/json";
  bytes *b = &a->body;
  if (strcmp(name, "ok") == 0 || strcmp(name, "m") == 0) {
    b_puts(b, ok_json);
  } else if (strcmp(name, "big_body") == 0) { /* S1: about 200 KB, valid */
    b_puts(b, "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\",\"datatype\":"
              "\"INT32\",\"shape\":[100000],\"data\":[7");
    for (int i = 1; i < 100000; i++)
      b_puts(b, ",7");
    b_puts(b, "]}]}");
  } else if (strcmp(name, "huge_header") == 0) { /* S2: one 30 KB value */
    char *v = xrealloc(NULL, 30001);
    memset(v, 'a', 30000);
    v[30000] = '\0';
    add_header(a, "x-pad", v);
    free(v);
    b_puts(b, ok_json);
  } else if (strcmp(name, "many_headers") == 0) { /* S2: 400 x 50 bytes */
    for (int i = 0; i < 400; i++) {
      char n[16];
      snprintf(n, sizeof n, "x-pad-%03d", i);
      add_header(a, n, "0123456789012345678901234567890123456789");
    }
    b_puts(b, ok_json);
  } else if (strcmp(name, "deep_array") == 0) { /* S3 */
    b_puts(b, "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\",\"datatype\":"
              "\"INT32\",\"shape\":[1],\"data\":");
    for (int i = 0; i < 10000; i++)
      b_puts(b, "[");
    b_puts(b, "7");
    for (int i = 0; i < 10000; i++)
      b_puts(b, "]");
    b_puts(b, "}]}");
  } else if (strcmp(name, "deep_object") == 0) { /* S3 */
    for (int i = 0; i < 10000; i++)
      b_puts(b, "{\"a\":");
    b_puts(b, "1");
    for (int i = 0; i < 10000; i++)
      b_puts(b, "}");
  } else if (strcmp(name, "truncated") == 0) { /* S3 */
    b_put(b, ok_json, sizeof ok_json - 1 - 3);
  } else if (strcmp(name, "trailing_garbage") == 0) { /* S3 */
    b_puts(b, ok_json);
    b_puts(b, " xyz");
  } else if (strcmp(name, "bad_utf8_name") == 0) { /* S3 */
    json_with(b, "\"name\":\"o\xc3\x28\",\"datatype\":\"INT32\",\"shape\":[1],"
                 "\"data\":[7]");
  } else if (strcmp(name, "bad_utf8_key") == 0) { /* S3 */
    b_puts(b, "{\"model_name\":\"m\",\"\xff\xfe\":1,\"outputs\":[{\"name\":\"o\","
              "\"datatype\":\"INT32\",\"shape\":[1],\"data\":[7]}]}");
  } else if (strcmp(name, "shape_overflow") == 0) { /* S4 */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[4294967296,"
                 "4294967296,4294967296],\"data\":[7]");
  } else if (strcmp(name, "shape_overflow_bytes") == 0) { /* S4: n*4 wraps */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":"
                 "[4611686018427387904],\"data\":[7]");
  } else if (strcmp(name, "negative_dim") == 0) { /* S4 */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[-1],"
                 "\"data\":[7]");
  } else if (strcmp(name, "count_short") == 0) { /* S4 */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[3],"
                 "\"data\":[7]");
  } else if (strcmp(name, "count_long") == 0) { /* S4 */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[1],"
                 "\"data\":[7,8]");
  } else if (strcmp(name, "unknown_datatype") == 0) { /* S7 */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT33\",\"shape\":[1],"
                 "\"data\":[7]");
  } else if (strcmp(name, "string_in_int32") == 0) { /* S7 */
    json_with(b, "\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[1],"
                 "\"data\":[\"x\"]");
  } else if (strcmp(name, "binary_ok") == 0) { /* control for S5/S6 */
    const uint8_t seven[4] = {7, 0, 0, 0};
    binary_answer(a, "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\","
                     "\"datatype\":\"INT32\",\"shape\":[1],\"parameters\":"
                     "{\"binary_data_size\":4}}]}",
                  seven, 4, NULL);
  } else if (strcmp(name, "ihcl_too_big") == 0) { /* S5 */
    binary_answer(a, ok_json, NULL, 0, "1000");
  } else if (strcmp(name, "ihcl_negative") == 0) { /* S5 */
    binary_answer(a, ok_json, NULL, 0, "-5");
  } else if (strcmp(name, "ihcl_nan") == 0) { /* S5 */
    binary_answer(a, ok_json, NULL, 0, "abc");
  } else if (strcmp(name, "binary_beyond") == 0) { /* S6: 16 announced, 8 sent */
    const uint8_t eight[8] = {0};
    binary_answer(a, "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\","
                     "\"datatype\":\"INT32\",\"shape\":[4],\"parameters\":"
                     "{\"binary_data_size\":16}}]}",
                  eight, 8, NULL);
  } else if (strcmp(name, "bytes_prefix_beyond") == 0) { /* S6 */
    const uint8_t elem[8] = {100, 0, 0, 0, 'a', 'b', 'c', 'd'};
    binary_answer(a, "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"o\","
                     "\"datatype\":\"BYTES\",\"shape\":[1],\"parameters\":"
                     "{\"binary_data_size\":8}}]}",
                  elem, 8, NULL);
  } else {
    return false;
  }
  return true;
}

/* ---- HTTP/2 connections ------------------------------------------------------ */

typedef struct stream {
  int32_t id;
  char method[16];
  char path[256];
  char body[4096]; /* the first bytes, for the request id */
  size_t kept, body_len;
  bool complete;   /* END_STREAM received */
  bool handled;    /* answered, held or dropped: nothing more to do */
  bool held;
  bool reset;      /* RST_STREAM from the client */
  bool waiting;    /* l8: PINGs out, answer pending */
  double since;
} stream;

typedef struct conn {
  int fd;
  int num; /* 1-based HTTP/2 connection number */
  nghttp2_hd_inflater *inf;
  nghttp2_hd_deflater *def;
  bytes in;
  bytes hb;        /* a header block being collected */
  int32_t hb_sid;
  uint8_t hb_flags;
  stream *streams[MAX_STREAMS];
  size_t nstreams;
  int seen;        /* streams opened by the client */
  long acks;
  bool dead;       /* stop serving */
  bool draining;   /* write side shut: read until EOF */
  double drain_until;
  double hold_since;
  bool goaway_sent;
} conn;

static void send_bytes(conn *c, const void *d, size_t n) {
  const uint8_t *p = d;
  while (n > 0 && c->fd >= 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      c->dead = true;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void send_b(conn *c, bytes *b) {
  send_bytes(c, b->p, b->len);
  b_free(b);
}

/* Closes with a TCP reset: unsent and unread data are dropped. */
static void reset_close(conn *c) {
  struct linger l = {1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(c->fd);
  c->fd = -1;
  c->dead = true;
}

/* Sends FIN, then reads until the client closes too (or 2 s pass), so
 * the client sees a clean end of stream rather than a reset. */
static void fin_close(conn *c) {
  if (c->fd >= 0)
    shutdown(c->fd, SHUT_WR);
  c->draining = true;
  c->drain_until = now_s() + 2;
}

static stream *find_stream(conn *c, int32_t id) {
  for (size_t i = 0; i < c->nstreams; i++)
    if (c->streams[i]->id == id)
      return c->streams[i];
  return NULL;
}

static stream *new_stream(conn *c, int32_t id) {
  if (c->nstreams == MAX_STREAMS) { /* forget finished streams */
    size_t k = 0;
    for (size_t i = 0; i < c->nstreams; i++) {
      if (c->streams[i]->handled && (c->streams[i]->complete || c->streams[i]->reset))
        free(c->streams[i]);
      else
        c->streams[k++] = c->streams[i];
    }
    c->nstreams = k;
    if (k == MAX_STREAMS)
      return NULL;
  }
  stream *s = xrealloc(NULL, sizeof *s);
  memset(s, 0, sizeof *s);
  s->id = id;
  c->streams[c->nstreams++] = s;
  c->seen++;
  return s;
}

static bool is_infer(const stream *s) {
  return strcmp(s->method, "POST") == 0 && strstr(s->path, "/infer") != NULL;
}

/* The model name of /v2/models/NAME/infer (into |out|). */
static void model_of(const char *path, char *out, size_t n) {
  out[0] = '\0';
  const char *p = strstr(path, "/models/");
  if (!p)
    return;
  p += 8;
  size_t k = 0;
  while (p[k] && p[k] != '/' && k + 1 < n) {
    out[k] = p[k];
    k++;
  }
  out[k] = '\0';
}

static void note_answer(conn *c) {
  pthread_mutex_lock(&mu);
  if (c->num <= MAX_CONNS)
    st.answers[c->num - 1]++;
  pthread_mutex_unlock(&mu);
}

/* A normal answer for |s| (inference or health). */
static void answer(conn *c, stream *s) {
  bytes b = {0};
  const char *body = ok_json;
  const char *status = "200";
  if (!is_infer(s)) {
    if (strstr(s->path, "/health/live"))
      body = "{\"live\":true}";
    else if (strstr(s->path, "/health/ready"))
      body = "{\"ready\":true}";
    else if (strstr(s->path, "/ready"))
      body = "{\"name\":\"m\",\"ready\":true}";
    else {
      status = "404";
      body = "{\"error\":\"not found\"}";
    }
  } else {
    count_execution(s->body, s->kept);
  }
  put_response(c->def, &b, s->id, status, "application/json", NULL, 0, body,
               strlen(body));
  send_b(c, &b);
  note_answer(c);
  s->handled = true;
}

static void answer_canned(conn *c, stream *s) {
  char model[128];
  model_of(s->path, model, sizeof model);
  canned_answer a = {0};
  if (!canned(model, &a)) {
    answer_free(&a);
    a = (canned_answer){0};
    a.status = "404";
    a.ctype = "application/json";
    b_puts(&a.body, "{\"error\":\"no such canned answer\"}");
  }
  count_execution(s->body, s->kept);
  bytes b = {0};
  put_response(c->def, &b, s->id, a.status, a.ctype, a.extra, a.nextra,
               a.body.p, a.body.len);
  send_b(c, &b);
  answer_free(&a);
  note_answer(c);
  s->handled = true;
}

/* HEADERS and the first 20 bytes of the body, no END_STREAM. */
static void send_partial(conn *c, stream *s) {
  bytes b = {0};
  put_response_headers(c->def, &b, s->id, "200", "application/json",
                       sizeof ok_json - 1, NULL, 0, false);
  put_data(&b, s->id, ok_json, 20, false);
  send_b(c, &b);
}

static void send_pings(conn *c, int n) {
  bytes b = {0};
  for (int i = 0; i < n; i++) {
    uint8_t pl[8] = {'h', '2', 'p', 'e', 'e', 'r', (uint8_t)(i >> 8), (uint8_t)i};
    put_frame(&b, F_PING, 0, 0, pl, 8);
  }
  send_b(c, &b);
}

/* scenario r5: GOAWAY below the highest held stream; answer the rest. */
static void r5_goaway(conn *c) {
  int32_t top = 0, last = 0;
  for (size_t i = 0; i < c->nstreams; i++)
    if (c->streams[i]->held && c->streams[i]->id > top)
      top = c->streams[i]->id;
  for (size_t i = 0; i < c->nstreams; i++)
    if (c->streams[i]->held && c->streams[i]->id < top && c->streams[i]->id > last)
      last = c->streams[i]->id;
  bytes b = {0};
  put_goaway(&b, last, NGHTTP2_NO_ERROR);
  send_b(c, &b);
  c->goaway_sent = true;
  for (size_t i = 0; i < c->nstreams; i++) {
    stream *s = c->streams[i];
    if (s->held && s->id <= last) {
      s->held = false;
      answer(c, s);
    }
  }
}

static int held_count(const conn *c) {
  int n = 0;
  for (size_t i = 0; i < c->nstreams; i++)
    n += c->streams[i]->held;
  return n;
}

/* Acts on the streams and timers of |c| by scenario. */
static void step(conn *c) {
  for (size_t i = 0; i < c->nstreams && !c->dead && !c->draining; i++) {
    stream *s = c->streams[i];
    if (s->handled || s->reset)
      continue;
    if (opt.sc == SC_L16 && is_infer(s) && (s->body_len > 0 || s->complete)) {
      /* A complete early answer while the upload goes on, then the end of
       * the stream without reading the rest. */
      count_execution(s->body, s->kept);
      bytes b = {0};
      put_response(c->def, &b, s->id, "200", "application/json", NULL, 0,
                   ok_json, sizeof ok_json - 1);
      if (!s->complete)
        put_rst(&b, s->id, NGHTTP2_NO_ERROR);
      send_b(c, &b);
      note_answer(c);
      s->handled = true;
      continue;
    }
    if (s->waiting) {
      if (c->acks >= opt.pings || now_s() - s->since > 3) {
        s->waiting = false;
        answer(c, s);
      }
      continue;
    }
    if (!s->complete || s->held)
      continue;
    if (opt.sc == SC_R12 && !c->goaway_sent) {
      /* Whatever the stream: nothing is processed on this connection. */
      bytes b = {0};
      put_goaway(&b, 0, NGHTTP2_ENHANCE_YOUR_CALM);
      send_b(c, &b);
      c->goaway_sent = true;
      s->handled = true;
      continue;
    }
    if (opt.sc == SC_R12) {
      s->handled = true; /* above last_stream_id: ignored */
      continue;
    }
    if (!is_infer(s)) {
      answer(c, s);
      continue;
    }
    switch (opt.sc) {
    case SC_R11:
      count_execution(s->body, s->kept);
      send_partial(c, s);
      sleep_ms(20);
      {
        bytes b = {0};
        put_rst(&b, s->id, NGHTTP2_INTERNAL_ERROR);
        send_b(c, &b);
      }
      s->handled = true;
      break;
    case SC_L8:
      send_pings(c, opt.pings);
      s->waiting = true;
      s->since = now_s();
      break;
    case SC_L9:
    case SC_L9_EARLY:
      if (!take_fault()) {
        answer(c, s);
        break;
      }
      count_execution(s->body, s->kept);
      if (opt.sc == SC_L9)
        send_partial(c, s);
      sleep_ms(50); /* let those bytes reach the client before the reset */
      reset_close(c);
      return;
    case SC_CLOSE:
    case SC_R5:
      if (c->num != 1 || c->goaway_sent) {
        answer(c, s);
        break;
      }
      s->held = true;
      if (opt.sc == SC_CLOSE) /* it reached the model; its answer never leaves */
        count_execution(s->body, s->kept);
      if (held_count(c) >= opt.hold && c->hold_since == 0)
        c->hold_since = now_s();
      break;
    case SC_CANNED:
      answer_canned(c, s);
      break;
    case SC_CUT: {
      char model[64];
      model_of(s->path, model, sizeof model);
      long k = strncmp(model, "cut-", 4) == 0 ? strtol(model + 4, NULL, 10) : LONG_MAX;
      count_execution(s->body, s->kept);
      bytes b = {0};
      put_cut_sequence(c->def, &b, s->id);
      if (k >= 0 && (size_t)k < b.len)
        b.len = (size_t)k;
      send_b(c, &b);
      s->handled = true;
      fin_close(c);
      return;
    }
    default:
      answer(c, s);
      break;
    }
  }
  if (c->dead || c->draining || c->hold_since == 0)
    return;
  if (opt.sc == SC_CLOSE && now_s() - c->hold_since >= 0.2) {
    /* The held requests ran; their answers are lost with the connection. */
    fin_close(c);
  } else if (opt.sc == SC_R5 && !c->goaway_sent && now_s() - c->hold_since >= 0.05) {
    r5_goaway(c);
  }
}

static void on_header_field(stream *s, const nghttp2_nv *nv) {
  if (nv->namelen == 7 && memcmp(nv->name, ":method", 7) == 0 &&
      nv->valuelen < sizeof s->method) {
    memcpy(s->method, nv->value, nv->valuelen);
    s->method[nv->valuelen] = '\0';
  } else if (nv->namelen == 5 && memcmp(nv->name, ":path", 5) == 0 &&
             nv->valuelen < sizeof s->path) {
    memcpy(s->path, nv->value, nv->valuelen);
    s->path[nv->valuelen] = '\0';
  }
}

/* A complete header block for hb_sid.  Returns -1 on a decoding error. */
static int end_headers(conn *c) {
  stream *s = find_stream(c, c->hb_sid);
  bool trailers = s != NULL;
  if (!s && !(s = new_stream(c, c->hb_sid)))
    return -1;
  const uint8_t *in = c->hb.p;
  size_t inlen = c->hb.len;
  for (;;) {
    nghttp2_nv nv;
    int fl = 0;
    ssize_t r = nghttp2_hd_inflate_hd2(c->inf, &nv, &fl, in, inlen, 1);
    if (r < 0)
      return -1;
    in += r;
    inlen -= (size_t)r;
    if ((fl & NGHTTP2_HD_INFLATE_EMIT) && !trailers)
      on_header_field(s, &nv);
    if (fl & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(c->inf);
      break;
    }
    if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && inlen == 0)
      break;
  }
  if (c->hb_flags & FL_ES)
    s->complete = true;
  c->hb.len = 0;
  c->hb_sid = 0;
  return 0;
}

/* Strips padding (and a HEADERS priority block); -1 when malformed. */
static int unpad(uint8_t type, uint8_t flags, const uint8_t **p, size_t *n) {
  size_t pad = 0;
  if (flags & FL_PADDED) {
    if (*n < 1)
      return -1;
    pad = (*p)[0];
    (*p)++;
    (*n)--;
  }
  if (type == F_HEADERS && (flags & FL_PRIORITY)) {
    if (*n < 5)
      return -1;
    *p += 5;
    *n -= 5;
  }
  if (pad > *n)
    return -1;
  *n -= pad;
  return 0;
}

static int on_frame(conn *c, uint8_t type, uint8_t flags, int32_t sid,
                    const uint8_t *p, size_t n) {
  bool quiet = opt.sc == SC_CUT; /* nothing but the cut sequence goes out */
  bytes b = {0};
  switch (type) {
  case F_DATA: {
    size_t flen = n;
    if (unpad(type, flags, &p, &n) < 0)
      return -1;
    stream *s = find_stream(c, sid);
    if (s) {
      if (s->kept < sizeof s->body) {
        size_t k = sizeof s->body - s->kept < n ? sizeof s->body - s->kept : n;
        memcpy(s->body + s->kept, p, k);
        s->kept += k;
      }
      s->body_len += n;
      if (flags & FL_ES)
        s->complete = true;
      if (is_infer(s)) {
        pthread_mutex_lock(&mu);
        st.body_bytes += (long)n;
        pthread_mutex_unlock(&mu);
      }
    }
    /* The connection window is given back as data arrives (but for l5,
     * where nothing is); stream windows start large but for l5 and l16. */
    if (flen && opt.sc != SC_L5 && !quiet)
      put_window_update(&b, 0, (uint32_t)flen);
    break;
  }
  case F_HEADERS:
    if (unpad(type, flags, &p, &n) < 0)
      return -1;
    c->hb.len = 0;
    c->hb_sid = sid;
    c->hb_flags = flags;
    b_put(&c->hb, p, n);
    if ((flags & FL_EH) && end_headers(c) < 0)
      return -1;
    break;
  case F_CONT:
    if (sid != c->hb_sid)
      return -1;
    b_put(&c->hb, p, n);
    if ((flags & FL_EH) && end_headers(c) < 0)
      return -1;
    break;
  case F_RST: {
    stream *s = find_stream(c, sid);
    if (s)
      s->reset = true;
    break;
  }
  case F_SETTINGS:
    if (!(flags & FL_ACK) && !quiet)
      put_frame(&b, F_SETTINGS, FL_ACK, 0, NULL, 0);
    break;
  case F_PING:
    if (n != 8)
      return -1;
    if (flags & FL_ACK) {
      if (memcmp(p, "h2peer", 6) == 0) {
        c->acks++;
        pthread_mutex_lock(&mu);
        st.ping_acks++;
        pthread_mutex_unlock(&mu);
      }
    } else if (!quiet) {
      put_frame(&b, F_PING, FL_ACK, 0, p, 8);
    }
    break;
  default: /* PRIORITY, WINDOW_UPDATE, GOAWAY, unknown: nothing to do */
    break;
  }
  if (b.len)
    send_b(c, &b);
  b_free(&b);
  return 0;
}

/* Parses every complete frame in c->in. */
static int on_input(conn *c) {
  size_t off = 0;
  while (c->in.len - off >= 9 && !c->dead) {
    const uint8_t *h = c->in.p + off;
    size_t n = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
    if (c->in.len - off < 9 + n)
      break;
    int32_t sid = (int32_t)(get_u32(h + 5) & 0x7fffffff);
    if (on_frame(c, h[3], h[4], sid, h + 9, n) < 0)
      return -1;
    off += 9 + n;
  }
  if (off) {
    memmove(c->in.p, c->in.p + off, c->in.len - off);
    c->in.len -= off;
  }
  return 0;
}

static void send_preamble(conn *c) {
  bytes b = {0};
  switch (opt.sc) {
  case SC_CUT:
    return; /* the cut sequence carries SETTINGS */
  case SC_L5: {
    const uint32_t iv[][2] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, opt.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}};
    put_settings(&b, iv, 2);
    break;
  }
  case SC_L16: {
    const uint32_t iv[][2] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, opt.max_streams}};
    put_settings(&b, iv, 1);
    put_window_update(&b, 0, BIG_WINDOW);
    break;
  }
  default: {
    const uint32_t iv[][2] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, opt.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, BIG_WINDOW}};
    put_settings(&b, iv, 2);
    put_window_update(&b, 0, BIG_WINDOW);
    break;
  }
  }
  send_b(c, &b);
}

static void serve_h2(int fd, const uint8_t *rest, size_t nrest) {
  conn *c = xrealloc(NULL, sizeof *c);
  memset(c, 0, sizeof *c);
  c->fd = fd;
  pthread_mutex_lock(&mu);
  c->num = (int)++st.connections;
  pthread_mutex_unlock(&mu);
  if (nghttp2_hd_inflate_new(&c->inf) != 0 ||
      nghttp2_hd_deflate_new(&c->def, 4096) != 0)
    abort();
  b_put(&c->in, rest, nrest);
  send_preamble(c);
  if (on_input(c) < 0)
    c->dead = true;
  uint8_t buf[65536];
  while (!c->dead) {
    if (!c->draining)
      step(c);
    if (c->dead)
      break;
    if (c->draining && now_s() > c->drain_until)
      break;
    struct pollfd pf[2] = {{c->fd, POLLIN, 0}, {stop_rd, POLLIN, 0}};
    if (poll(pf, 2, 20) < 0 && errno != EINTR)
      break;
    if (pf[1].revents)
      break;
    if (!pf[0].revents)
      continue;
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    if (c->draining)
      continue;
    b_put(&c->in, buf, (size_t)r);
    if (on_input(c) < 0)
      break;
  }
  if (c->fd >= 0)
    close(c->fd);
  for (size_t i = 0; i < c->nstreams; i++)
    free(c->streams[i]);
  nghttp2_hd_inflate_del(c->inf);
  nghttp2_hd_deflate_del(c->def);
  b_free(&c->in);
  b_free(&c->hb);
  free(c);
}

/* ---- HTTP/1.1 ---------------------------------------------------------------- */

static void stats_json(bytes *b) {
  char line[256];
  pthread_mutex_lock(&mu);
  snprintf(line, sizeof line,
           "{\"executions\":%ld,\"duplicates\":%ld,\"connections\":%ld,"
           "\"h1_requests\":%ld,\"ping_acks\":%ld,\"body_bytes\":%ld,"
           "\"cut_len\":%ld,\"answers\":[",
           st.executions, st.duplicates, st.connections, st.h1_requests,
           st.ping_acks, st.body_bytes, st.cut_len);
  b_puts(b, line);
  for (long i = 0; i < st.connections && i < MAX_CONNS; i++) {
    snprintf(line, sizeof line, "%s%ld", i ? "," : "", st.answers[i]);
    b_puts(b, line);
  }
  pthread_mutex_unlock(&mu);
  b_puts(b, "]}\n");
}

/* One request, one answer, close. */
static void serve_h1(int fd, const uint8_t *first, size_t nfirst) {
  bytes in = {0};
  b_put(&in, first, nfirst);
  uint8_t buf[16384];
  char *end = NULL;
  size_t body_at = 0, clen = 0;
  for (;;) {
    if (!end && in.len) {
      b_put(&in, "", 1);
      in.len--;
      end = strstr((char *)in.p, "\r\n\r\n");
      if (end) {
        body_at = (size_t)(end - (char *)in.p) + 4;
        for (char *l = strstr((char *)in.p, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
          if (strncasecmp(l + 2, "content-length:", 15) == 0)
            clen = strtoul(l + 17, NULL, 10);
      }
    }
    if (end && in.len >= body_at + clen)
      break;
    if (in.len > 64 * 1024 * 1024)
      goto out;
    struct pollfd pf[2] = {{fd, POLLIN, 0}, {stop_rd, POLLIN, 0}};
    if (poll(pf, 2, 5000) <= 0 || pf[1].revents)
      goto out;
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0)
      goto out;
    b_put(&in, buf, (size_t)r);
    end = NULL; /* the buffer may have moved */
  }
  char method[16] = "", path[256] = "";
  sscanf((char *)in.p, "%15s %255s", method, path);
  bytes body = {0};
  if (strcmp(path, "/_executions") == 0) {
    stats_json(&body);
  } else {
    pthread_mutex_lock(&mu);
    st.h1_requests++;
    pthread_mutex_unlock(&mu);
    if (strcmp(method, "POST") == 0 && strstr(path, "/infer")) {
      count_execution((char *)in.p + body_at, clen);
      b_puts(&body, ok_json);
    } else if (strstr(path, "/health/live")) {
      b_puts(&body, "{\"live\":true}");
    } else {
      b_puts(&body, "{\"ready\":true}");
    }
  }
  char head[160];
  int hn = snprintf(head, sizeof head,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    body.len);
  conn c = {.fd = fd};
  send_bytes(&c, head, (size_t)hn);
  send_bytes(&c, body.p, body.len);
  b_free(&body);
out:
  b_free(&in);
  close(fd);
}

/* ---- accepting ---------------------------------------------------------------- */

static void *conn_main(void *arg) {
  int fd = (int)(intptr_t)arg;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint8_t head[PREFACE_LEN];
  size_t n = 0;
  /* Enough bytes to tell the HTTP/2 preface from an HTTP/1.1 request. */
  while (n < PREFACE_LEN && (n < 4 || memcmp(head, PREFACE, 4) == 0)) {
    struct pollfd pf[2] = {{fd, POLLIN, 0}, {stop_rd, POLLIN, 0}};
    if (poll(pf, 2, 5000) <= 0 || pf[1].revents) {
      close(fd);
      return NULL;
    }
    ssize_t r = recv(fd, head + n, PREFACE_LEN - n, 0);
    if (r <= 0) {
      close(fd);
      return NULL;
    }
    n += (size_t)r;
  }
  if (n == PREFACE_LEN && memcmp(head, PREFACE, PREFACE_LEN) == 0)
    serve_h2(fd, NULL, 0);
  else
    serve_h1(fd, head, n);
  return NULL;
}

static void *signal_main(void *arg) {
  sigset_t *set = arg;
  int sig = 0;
  sigwait(set, &sig);
  if (write(stop_wr, "x", 1) < 0)
    perror("peer_h2peer: write");
  return NULL;
}

static int write_port_file(const char *path, int port) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
    return -1;
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  int bad = fprintf(f, "%d\n", port) < 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int usage(void) {
  fputs("usage: peer_h2peer --scenario NAME [--max-streams N] [--hold N] "
        "[--pings N] --port-file FILE\n",
        stderr);
  return 2;
}

int main(int argc, char **argv) {
  const char *port_file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      return usage();
    i++;
    if (strcmp(a, "--port-file") == 0) {
      port_file = v;
    } else if (strcmp(a, "--scenario") == 0) {
      size_t k = 0, nsc = sizeof scenario_names / sizeof scenario_names[0];
      while (k < nsc && strcmp(scenario_names[k], v) != 0)
        k++;
      if (k == nsc) {
        fprintf(stderr, "peer_h2peer: unknown scenario '%s'\n", v);
        return 2;
      }
      opt.sc = (scenario)k;
    } else if (strcmp(a, "--max-streams") == 0) {
      opt.max_streams = (uint32_t)strtoul(v, NULL, 10);
    } else if (strcmp(a, "--hold") == 0) {
      opt.hold = atoi(v);
    } else if (strcmp(a, "--pings") == 0) {
      opt.pings = atoi(v);
    } else {
      return usage();
    }
  }
  if (!port_file)
    return usage();

  {
    nghttp2_hd_deflater *def;
    if (nghttp2_hd_deflate_new(&def, 4096) != 0)
      return 1;
    bytes b = {0};
    put_cut_sequence(def, &b, 1);
    st.cut_len = (long)b.len;
    b_free(&b);
    nghttp2_hd_deflate_del(def);
  }

  /* A test program that dies without stopping the peer must not leave it
   * running (holding the test's output open). */
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
  int pfd[2];
  if (pipe(pfd) != 0) {
    perror("peer_h2peer: pipe");
    return 1;
  }
  stop_rd = pfd[0];
  stop_wr = pfd[1];

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(lfd, 128) != 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
    perror("peer_h2peer: listen");
    return 1;
  }
  if (write_port_file(port_file, ntohs(addr.sin_port)) != 0) {
    perror("peer_h2peer: port file");
    return 1;
  }
  pthread_t sig_thread;
  pthread_create(&sig_thread, NULL, signal_main, &set);

  pthread_t *threads = NULL;
  size_t nthreads = 0;
  for (;;) {
    struct pollfd pf[2] = {{lfd, POLLIN, 0}, {stop_rd, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pf[1].revents)
      break;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      continue;
    threads = xrealloc(threads, (nthreads + 1) * sizeof *threads);
    if (pthread_create(&threads[nthreads], NULL, conn_main, (void *)(intptr_t)fd) != 0) {
      close(fd);
      continue;
    }
    nthreads++;
  }
  close(lfd);
  for (size_t i = 0; i < nthreads; i++)
    pthread_join(threads[i], NULL);
  free(threads);
  pthread_join(sig_thread, NULL);
  for (size_t i = 0; i < st.nids; i++)
    free(st.ids[i]);
  free(st.ids);
  close(stop_rd);
  close(stop_wr);
  unlink(port_file);
  return 0;
}
