/* Internal pieces of the client shared with other files. */
#ifndef KINFER_CLIENT_H
#define KINFER_CLIENT_H

#include <kinfer/kinfer.h>

#include "internal.h"

/* Appends |seg| percent-encoded as one URL path segment (everything but
 * RFC 3986 unreserved characters is encoded). */
int ki_append_path_segment(ki_buf *b, const char *seg);

const kinfer_config *ki_client_config(const kinfer_client *c);

#endif
