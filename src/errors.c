/* Error codes and version. */
#include "internal.h"

const char *kinfer_version(void) { return KINFER_VERSION; }

const char *kinfer_strerror(int code) {
  switch (code) {
  case KINFER_OK: return "success";
  case KINFER_EINVAL: return "invalid argument";
  case KINFER_EUNSUPPORTED: return "protocol not supported for this call";
  case KINFER_EURL: return "base URL is not http:// or https://";
  case KINFER_EHTTP: return "server answered with an error status";
  case KINFER_ECONNECT: return "could not connect";
  case KINFER_ETLS: return "TLS handshake or certificate verification failed";
  case KINFER_ETIMEOUT: return "timed out";
  case KINFER_EBADRESPONSE: return "malformed response";
  case KINFER_ENOMEM: return "out of memory";
  case KINFER_EUNKNOWN_OUTCOME:
    return "connection lost after the request was sent; outcome unknown";
  case KINFER_ECANCELLED: return "cancelled";
  case KINFER_EINPUT: return "request cannot be encoded";
  case KINFER_ELIMIT: return "configured limit exceeded";
  case KINFER_EREFUSED: return "server refused the request";
  default: return "unknown error code";
  }
}

bool kinfer_error_is_retriable(int code) {
  return code == KINFER_ECONNECT || code == KINFER_EREFUSED;
}
