/*
 * Number text for tensor data: the shortest decimal that reads back to the
 * same value, and exact parsing.  Independent of the process locale.
 *
 * This is the one place that turns numbers into text and back, so that a
 * faster algorithm (Ryu / Schubfach, Eisel-Lemire) can replace it without
 * touching the encoders.
 */
#ifndef KINFER_NUMTEXT_H
#define KINFER_NUMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for any output below, NUL included. */
#define KI_NUM_BUFSIZE 40

/* Each writes a JSON number into |out| (KI_NUM_BUFSIZE bytes), NUL
 * terminated, and returns its length.  The float forms write the shortest
 * text that parses back to exactly |v|: 0.1f is "0.1", not
 * "0.10000000149011612".  |v| must be finite (0 is returned otherwise). */
size_t ki_num_fmt_f32(char *out, float v);
size_t ki_num_fmt_f64(char *out, double v);
size_t ki_num_fmt_i64(char *out, int64_t v);
size_t ki_num_fmt_u64(char *out, uint64_t v);

/* Parses the JSON number text |s| (|n| bytes) as the nearest float /
 * double.  Returns false for text that is not a JSON number, or whose value
 * is beyond the type's finite range. */
bool ki_num_parse_f32(const char *s, size_t n, float *out);
bool ki_num_parse_f64(const char *s, size_t n, double *out);

#endif
