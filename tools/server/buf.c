/* Growable byte buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int ks_buf_reserve(ks_buf *b, size_t extra)
{
  if (extra <= b->cap - b->len)
    return 0;
  if (extra > SIZE_MAX / 2 - b->len)
    return -1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int ks_buf_append(ks_buf *b, const void *p, size_t n)
{
  if (n == 0)
    return 0;
  if (ks_buf_reserve(b, n) < 0)
    return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int ks_buf_puts(ks_buf *b, const char *s)
{
  return ks_buf_append(b, s, strlen(s));
}

int ks_buf_printf(ks_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || ks_buf_reserve(b, (size_t)n + 1) < 0)
    return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int ks_buf_json_str(ks_buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  if (ks_buf_reserve(b, n + 2) < 0)
    return -1;
  b->data[b->len++] = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    char esc[7];
    size_t elen = 0;
    switch (ch) {
    case '"': memcpy(esc, "\\\"", 2); elen = 2; break;
    case '\\': memcpy(esc, "\\\\", 2); elen = 2; break;
    case '\n': memcpy(esc, "\\n", 2); elen = 2; break;
    case '\r': memcpy(esc, "\\r", 2); elen = 2; break;
    case '\t': memcpy(esc, "\\t", 2); elen = 2; break;
    default:
      if (ch < 0x20) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[ch >> 4];
        esc[5] = hex[ch & 15];
        elen = 6;
      }
    }
    int rc = elen ? ks_buf_append(b, esc, elen) : ks_buf_append(b, &s[i], 1);
    if (rc < 0)
      return -1;
  }
  return ks_buf_append(b, "\"", 1);
}

void ks_buf_consume(ks_buf *b, size_t n)
{
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void ks_buf_reset(ks_buf *b)
{
  b->len = 0;
}

void ks_buf_free(ks_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
