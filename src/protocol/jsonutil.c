/*
 * JSON text helpers: string escaping, UTF-8 validation, bounded parsing.
 */
#include <limits.h>
#include <string.h>

#include "proto_int.h"

int ki_json_write_string(ki_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  /* Worst case every byte becomes \u00XX. */
  size_t need;
  if (!ki_mul_size(n, 6, &need) || !ki_add_size(need, 2, &need) ||
      ki_buf_reserve(b, need))
    return KINFER_ENOMEM;
  char *o = b->data + b->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c >= 0x20) {
      *o++ = (char)c;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      *o++ = '\\';
      *o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = hex[c >> 4];
      o[5] = hex[c & 15];
      o += 6;
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  b->data[b->len] = '\0';
  return KINFER_OK;
}

/* Length of the UTF-8 sequence starting at s[i], or 0 when invalid
 * (overlong forms, surrogates and values above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i) {
  unsigned char c = s[i];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3;
  else if (c >= 0xF0 && c <= 0xF4) len = 4;
  else return 0;
  if (c == 0xE0) lo = 0xA0;
  if (c == 0xED) hi = 0x9F;
  if (c == 0xF0) lo = 0x90;
  if (c == 0xF4) hi = 0x8F;
  if (n - i < len) return 0;
  if (s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
  return len;
}

bool ki_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq(u, n, i);
    if (!k) return false;
    i += k;
  }
  return true;
}

static bool only_space(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      return false;
  return true;
}

int ki_json_parse(const char *s, size_t n, int depth, const char *what,
                  int code, json_object **out, kinfer_error *err) {
  *out = NULL;
  if (n > (size_t)INT_MAX - 1)
    return ki_error_set(err, code, "%s: too large to parse", what);
  json_tokener *tok = json_tokener_new_ex(depth);
  if (!tok) return ki_error_set(err, KINFER_ENOMEM, "out of memory");
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
                                  JSON_TOKENER_ALLOW_TRAILING_CHARS);
  json_object *obj = json_tokener_parse_ex(tok, s ? s : "", (int)n);
  enum json_tokener_error jerr = json_tokener_get_error(tok);
  size_t end = json_tokener_get_parse_end(tok);
  if (!obj && jerr == json_tokener_continue && end == n) {
    /* A bare number at the very end only completes on a delimiter. */
    obj = json_tokener_parse_ex(tok, " ", 1);
    jerr = json_tokener_get_error(tok);
  }
  json_tokener_free(tok);
  int rc = KINFER_OK;
  if (!obj) {
    rc = ki_error_set(err, code, "%s is not valid JSON: %s at offset %zu", what,
                      jerr == json_tokener_continue
                          ? "unexpected end of text"
                          : json_tokener_error_desc(jerr),
                      end);
  } else if (end > n || !only_space(s + end, n - end)) {
    rc = ki_error_set(err, code, "%s: unexpected text after the JSON at offset %zu",
                      what, end);
  }
  if (rc) {
    json_object_put(obj);
    return rc;
  }
  *out = obj;
  return KINFER_OK;
}
