/*
 * Internal helpers shared by every layer.  Nothing here is public API.
 */
#ifndef KINFER_INTERNAL_H
#define KINFER_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <kinfer/kinfer.h>

#if defined(__GNUC__)
#define KI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define KI_UNUSED __attribute__((unused))
#else
#define KI_PRINTF(a, b)
#define KI_UNUSED
#endif

/* Fills |err| (may be NULL) with |code| and a formatted message, and returns
 * |code|, so callers can write `return ki_error_set(err, KINFER_EINVAL, ..)`.
 * Leaves http_status and attempts as they are. */
int ki_error_set(kinfer_error *err, int code, const char *fmt, ...)
    KI_PRINTF(3, 4);
int ki_error_vset(kinfer_error *err, int code, const char *fmt, va_list ap)
    KI_PRINTF(3, 0);
/* Resets |err| (may be NULL) to KINFER_OK with an empty message. */
void ki_error_clear(kinfer_error *err);

/* Monotonic clock in nanoseconds. */
static inline int64_t ki_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* strdup that returns NULL for NULL. */
char *ki_strdup(const char *s);
char *ki_strndup(const char *s, size_t n);
/* ASCII case-insensitive comparisons (locale independent). */
int ki_strcasecmp(const char *a, const char *b);
int ki_strncasecmp(const char *a, const char *b, size_t n);

/* A growable byte buffer.  data is always NUL-terminated when cap > 0. */
typedef struct ki_buf {
  char *data;
  size_t len;
  size_t cap;
} ki_buf;

int ki_buf_reserve(ki_buf *b, size_t extra); /* KINFER_OK or KINFER_ENOMEM */
int ki_buf_append(ki_buf *b, const void *p, size_t n);
int ki_buf_appendf(ki_buf *b, const char *fmt, ...) KI_PRINTF(2, 3);
/* Writes |v| in decimal and a NUL to |out| (at least 21 bytes); returns the
 * length.  For hot paths, where snprintf costs more than the rest. */
size_t ki_fmt_u64(char *out, uint64_t v);
/* kinfer_headers_add with lengths (the bytes need no NUL); |lower|
 * lower-cases the name as it is stored. */
int ki_headers_addn(kinfer_headers *h, const char *name, size_t nlen,
                    const char *value, size_t vlen, bool lower);
void ki_buf_free(ki_buf *b);
/* Hands the bytes to the caller (who free()s them) and resets |b|. */
char *ki_buf_steal(ki_buf *b, size_t *len);

/* Logging through the config's sink. */
void ki_log(const kinfer_config *cfg, int level, const char *fmt, ...)
    KI_PRINTF(3, 4);

#endif
