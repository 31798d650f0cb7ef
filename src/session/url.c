/*
 * Base URL parsing: http:// and https:// only, as the client accepts them.
 *
 * Userinfo ("user:pass@host") is rejected rather than ignored: silently
 * dropping credentials would send an unauthenticated request, and keeping
 * them would put a secret into every URL we log.  Credentials belong in
 * kinfer_config_set_auth_basic().
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "session/session.h"

#define KI_URL_SCHEME_MSG "Base url should have 'http://' or 'https://' protocol"

static int url_fail(ki_url *u, kinfer_error *err, int code, const char *msg,
                    const char *url) {
  ki_url_free(u);
  if (code == KINFER_ENOMEM)
    return ki_error_set(err, code, "out of memory parsing url");
  if (url)
    return ki_error_set(err, code, "%s: '%.200s'", msg, url);
  return ki_error_set(err, code, "%s", msg);
}

/* Parses the decimal port in [p, end); 1..65535. */
static bool parse_port(const char *p, const char *end, uint16_t *out) {
  if (p == end || end - p > 5)
    return false;
  unsigned long v = 0;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9')
      return false;
    v = v * 10 + (unsigned long)(*p - '0');
  }
  if (v < 1 || v > 65535)
    return false;
  *out = (uint16_t)v;
  return true;
}

/* Splits the authority [a, end) into host and port. */
static int parse_authority(ki_url *u, const char *a, const char *end,
                           kinfer_error *err, const char *url) {
  const char *host, *host_end, *port = NULL;
  if (memchr(a, '@', (size_t)(end - a)))
    return url_fail(u, err, KINFER_EURL,
                    "credentials in the url are not supported (use "
                    "kinfer_config_set_auth_basic)", NULL);
  if (a < end && *a == '[') {
    host = a + 1;
    host_end = memchr(host, ']', (size_t)(end - host));
    if (!host_end || host_end == host)
      return url_fail(u, err, KINFER_EURL, "bad IPv6 literal in url", url);
    const char *after = host_end + 1;
    if (after < end) {
      if (*after != ':')
        return url_fail(u, err, KINFER_EURL, "bad IPv6 literal in url", url);
      port = after + 1;
    }
    for (const char *q = host; q < host_end; q++)
      if (!(*q == ':' || *q == '.' || *q == '%' || (*q >= '0' && *q <= '9') ||
            (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F')))
        return url_fail(u, err, KINFER_EURL, "bad IPv6 literal in url", url);
  } else {
    host = a;
    host_end = memchr(a, ':', (size_t)(end - a));
    if (host_end)
      port = host_end + 1;
    else
      host_end = end;
  }
  if (host_end == host)
    return url_fail(u, err, KINFER_EURL, "url has no host", url);
  if (port) {
    if (!parse_port(port, end, &u->port))
      return url_fail(u, err, KINFER_EURL, "bad port in url", url);
  } else {
    u->port = u->https ? 443 : 80;
  }
  u->host = ki_strndup(host, (size_t)(host_end - host));
  u->authority = ki_strndup(a, (size_t)(end - a));
  if (!u->host || !u->authority)
    return url_fail(u, err, KINFER_ENOMEM, NULL, NULL);
  return KINFER_OK;
}

int ki_url_parse(const char *url, ki_url *out, kinfer_error *err) {
  memset(out, 0, sizeof *out);
  if (!url)
    return url_fail(out, err, KINFER_EURL, KI_URL_SCHEME_MSG, NULL);
  /* Control characters and spaces could split a request line or a Host
   * header: such a URL is refused whole. */
  for (const unsigned char *q = (const unsigned char *)url; *q; q++)
    if (*q <= 0x20 || *q == 0x7f)
      return url_fail(out, err, KINFER_EURL,
                      "url contains a space or control character", NULL);
  const char *p;
  if (ki_strncasecmp(url, "http://", 7) == 0) {
    p = url + 7;
  } else if (ki_strncasecmp(url, "https://", 8) == 0) {
    out->https = true;
    p = url + 8;
  } else {
    return url_fail(out, err, KINFER_EURL, KI_URL_SCHEME_MSG, NULL);
  }
  size_t alen = strcspn(p, "/?#");
  int rc = parse_authority(out, p, p + alen, err, url);
  if (rc != KINFER_OK)
    return rc;
  p += alen;

  size_t plen = strcspn(p, "?#");
  out->path = plen ? ki_strndup(p, plen) : ki_strdup("/");
  if (!out->path)
    return url_fail(out, err, KINFER_ENOMEM, NULL, NULL);
  p += plen;
  if (*p == '?') {
    p++;
    out->query = ki_strndup(p, strcspn(p, "#"));
    if (!out->query)
      return url_fail(out, err, KINFER_ENOMEM, NULL, NULL);
  }
  /* A fragment is never sent to the server: dropped. */
  return KINFER_OK;
}

void ki_url_free(ki_url *u) {
  if (!u)
    return;
  free(u->host);
  free(u->authority);
  free(u->path);
  free(u->query);
  memset(u, 0, sizeof *u);
}
