/* Ordered header lists. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

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
  for (size_t i = 0; i < h->n; i++) {
    free(h->v[i].name);
    free(h->v[i].value);
  }
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

static bool valid_name(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!is_tchar((unsigned char)*s)) return false;
  return true;
}

static bool valid_value(const char *s) {
  /* NUL cannot be inside a C string; CR and LF could split the header. */
  return strpbrk(s, "\r\n") == NULL;
}

int kinfer_headers_add(kinfer_headers *h, const char *name,
                       const char *value) {
  if (!h || !name || !value || !valid_name(name) || !valid_value(value))
    return KINFER_EINVAL;
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    header_pair *v = realloc(h->v, cap * sizeof *v);
    if (!v) return KINFER_ENOMEM;
    h->v = v;
    h->cap = cap;
  }
  char *n = strdup(name), *val = strdup(value);
  if (!n || !val) {
    free(n);
    free(val);
    return KINFER_ENOMEM;
  }
  h->v[h->n].name = n;
  h->v[h->n].value = val;
  h->n++;
  return KINFER_OK;
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
