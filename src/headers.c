/* Ordered header lists. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* name and value share one allocation: name, NUL, value, NUL. */
typedef struct header_pair {
  char *name;
  char *value;
} header_pair;

struct kinfer_headers {
  header_pair *v;
  size_t n, cap;
};

kinfer_headers *kinfer_headers_new(void) {
  return calloc(1, sizeof(kinfer_headers));
}

void kinfer_headers_clear(kinfer_headers *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n; i++)
    free(h->v[i].name);
  h->n = 0;
}

void kinfer_headers_free(kinfer_headers *h) {
  if (!h) return;
  kinfer_headers_clear(h);
  free(h->v);
  free(h);
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool valid_name(const char *s, size_t n) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)s[i])) return false;
  return true;
}

static bool valid_value(const char *s, size_t n) {
  /* NUL would end the C string; CR and LF could split the header. */
  return !memchr(s, '\0', n) && !memchr(s, '\r', n) && !memchr(s, '\n', n);
}

int ki_headers_addn(kinfer_headers *h, const char *name, size_t nlen,
                    const char *value, size_t vlen, bool lower) {
  if (!h || !name || !value || !valid_name(name, nlen) ||
      !valid_value(value, vlen))
    return KINFER_EINVAL;
  if (nlen > SIZE_MAX / 2 - 2 || vlen > SIZE_MAX / 2) return KINFER_ENOMEM;
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    header_pair *v = realloc(h->v, cap * sizeof *v);
    if (!v) return KINFER_ENOMEM;
    h->v = v;
    h->cap = cap;
  }
  char *buf = malloc(nlen + vlen + 2);
  if (!buf) return KINFER_ENOMEM;
  for (size_t i = 0; i < nlen; i++) {
    char c = name[i];
    buf[i] = lower && c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
  }
  buf[nlen] = '\0';
  if (vlen) memcpy(buf + nlen + 1, value, vlen);
  buf[nlen + 1 + vlen] = '\0';
  h->v[h->n].name = buf;
  h->v[h->n].value = buf + nlen + 1;
  h->n++;
  return KINFER_OK;
}

int kinfer_headers_add(kinfer_headers *h, const char *name,
                       const char *value) {
  if (!name || !value) return KINFER_EINVAL;
  return ki_headers_addn(h, name, strlen(name), value, strlen(value), false);
}

const char *kinfer_headers_get(const kinfer_headers *h, const char *name) {
  if (!h || !name) return NULL;
  for (size_t i = 0; i < h->n; i++)
    if (ki_strcasecmp(h->v[i].name, name) == 0) return h->v[i].value;
  return NULL;
}

size_t kinfer_headers_count(const kinfer_headers *h) { return h ? h->n : 0; }

const char *kinfer_headers_name(const kinfer_headers *h, size_t i) {
  return (h && i < h->n) ? h->v[i].name : NULL;
}

const char *kinfer_headers_value(const kinfer_headers *h, size_t i) {
  return (h && i < h->n) ? h->v[i].value : NULL;
}
