/*
 * Small helpers shared by every layer: error filling, strings, a growable
 * buffer, logging.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int ki_error_vset(kinfer_error *err, int code, const char *fmt, va_list ap) {
  if (err) {
    err->code = code;
    if (fmt) {
      vsnprintf(err->message, sizeof err->message, fmt, ap);
    } else {
      snprintf(err->message, sizeof err->message, "%s", kinfer_strerror(code));
    }
  }
  return code;
}

int ki_error_set(kinfer_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ki_error_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

void ki_error_clear(kinfer_error *err) {
  if (err) {
    err->code = KINFER_OK;
    err->http_status = 0;
    err->attempts = 0;
    err->message[0] = '\0';
  }
}

char *ki_strdup(const char *s) { return s ? strdup(s) : NULL; }

char *ki_strndup(const char *s, size_t n) {
  if (!s) return NULL;
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

int ki_strncasecmp(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int ca = ascii_lower((unsigned char)a[i]);
    int cb = ascii_lower((unsigned char)b[i]);
    if (ca != cb) return ca - cb;
    if (ca == 0) return 0;
  }
  return 0;
}

int ki_strcasecmp(const char *a, const char *b) {
  return ki_strncasecmp(a, b, (size_t)-1);
}

int ki_buf_reserve(ki_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len - 1) return KINFER_ENOMEM;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return KINFER_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *p = realloc(b->data, cap);
  if (!p) return KINFER_ENOMEM;
  b->data = p;
  b->cap = cap;
  return KINFER_OK;
}

int ki_buf_append(ki_buf *b, const void *p, size_t n) {
  if (ki_buf_reserve(b, n) != KINFER_OK) return KINFER_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return KINFER_OK;
}

size_t ki_fmt_u64(char *out, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

int ki_buf_appendf(ki_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return KINFER_EINVAL;
  if (ki_buf_reserve(b, (size_t)n) != KINFER_OK) return KINFER_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return KINFER_OK;
}

void ki_buf_free(ki_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *ki_buf_steal(ki_buf *b, size_t *len) {
  char *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void ki_log(const kinfer_config *cfg, int level, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (cfg && cfg->log_fn) {
    cfg->log_fn(cfg->log_ud, level, line);
    return;
  }
  static const char *names[] = {"error", "warn", "info", "debug"};
  const char *name = (level >= 0 && level <= 3) ? names[level] : "log";
  /* One fprintf call keeps lines from different threads whole. */
  fprintf(stderr, "kinfer: %s: %s\n", name, line);
}
