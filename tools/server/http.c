/* The protocol-neutral request and response shared by HTTP/1.1 and HTTP/2. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

void ks_request_free(ks_request *r)
{
  free(r->path);
  ks_buf_free(&r->body);
  r->path = NULL;
}

void ks_response_init(ks_response *r)
{
  r->status = 200;
  r->content_type = "application/json";
  r->header_length = -1;
  r->retry_after = -1;
  r->body = (ks_buf){0};
}

void ks_response_free(ks_response *r)
{
  ks_buf_free(&r->body);
}

void ks_response_error(ks_response *r, int status, const char *msg)
{
  ks_buf_reset(&r->body);
  r->status = status;
  r->content_type = "application/json";
  r->header_length = -1;
  if (ks_buf_puts(&r->body, "{\"error\": ") < 0 ||
      ks_buf_json_str(&r->body, msg, strlen(msg)) < 0 ||
      ks_buf_puts(&r->body, "}") < 0) {
    /* Out of memory: an empty body still carries the status. */
    ks_buf_reset(&r->body);
  }
}

const char *ks_status_text(int status)
{
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 413: return "Payload Too Large";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

char *ks_request_path(const char *target, size_t n)
{
  size_t len = 0;
  while (len < n && target[len] != '?' && target[len] != '#')
    len++;
  size_t skip = 0;
  if (ks_cfg.path_prefix) {
    size_t p = ks_cfg.path_prefix_len;
    bool inside = len >= p && memcmp(target, ks_cfg.path_prefix, p) == 0 &&
                  (len == p || target[p] == '/');
    if (!inside)
      return strdup("");
    skip = p;
  }
  if (len == skip) /* the prefix itself is the root */
    return strdup("/");
  return strndup(target + skip, len - skip);
}
