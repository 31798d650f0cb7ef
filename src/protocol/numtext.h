/*
 * Number text for tensor data: the shortest decimal that reads back to the
 * same value, and exact parsing.  Independent of the process locale.
 *
 * Printing is Schubfach (R. Giulietti, "The Schubfach way to render
 * doubles", 2020); parsing is the Eisel-Lemire algorithm (D. Lemire,
 * "Number Parsing at a Gigabyte per Second", 2021) with strtod_l in the "C"
 * locale as the exact fallback for the rare inputs it cannot decide.
 */
#ifndef KINFER_NUMTEXT_H
#define KINFER_NUMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for any output below, NUL included. */
#define KI_NUM_BUFSIZE 40
/* The longest text the f32 / f64 / integer forms write (NUL excluded):
 * "-0.00000123456789", "-0.0000012345678901234567",
 * "-9223372036854775808". */
#define KI_NUM_F32_MAXLEN 17
#define KI_NUM_F64_MAXLEN 25
#define KI_NUM_INT_MAXLEN 20

/* Each writes a JSON number into |out| (KI_NUM_BUFSIZE bytes), NUL
 * terminated, and returns its length.  The float forms write the shortest
 * text that parses back to exactly |v|: 0.1f is "0.1", not
 * "0.10000000149011612".  |v| must be finite (0 is returned otherwise).
 *
 * Layout: integral values with at most 15 digits plainly ("100",
 * "16777216"); a decimal point when the value is at least 1e-6 and the
 * point falls within the first 21 digits ("12345678.875", "0.0000015");
 * otherwise d.ddde+x / d.ddde-x ("1e+30", "1.5e-7").  Negative zero is
 * "-0.0" (a bare "-0" reads back as the integer 0 in most parsers). */
size_t ki_num_fmt_f32(char *out, float v);
size_t ki_num_fmt_f64(char *out, double v);
size_t ki_num_fmt_i64(char *out, int64_t v);
size_t ki_num_fmt_u64(char *out, uint64_t v);

/* Parses the JSON number text |s| (|n| bytes) as the nearest float /
 * double (round half to even).  Returns false for text that is not a JSON
 * number, or whose value is beyond the type's finite range.  Values too
 * small for the type round to (signed) zero or a subnormal, as strtod
 * does: "1e-400" is 0. */
bool ki_num_parse_f32(const char *s, size_t n, float *out);
bool ki_num_parse_f64(const char *s, size_t n, double *out);

/* ---- token interface for the data codec ---------------------------------- */

/* A JSON number as scanned: the value is (-1)^neg * w * 10^q when
 * !truncated. */
typedef struct ki_num {
  const char *s;     /* the text                                           */
  size_t n;
  uint64_t w;        /* the significant digits (the first 19)              */
  int64_t q;
  bool neg;
  bool integer;      /* no fraction and no exponent: a JSON integer        */
  bool truncated;    /* more than 19 significant digits                    */
} ki_num;

/* Scans the JSON number at the start of |s| (at most |n| bytes): returns
 * its length, or 0 when |s| does not start with a JSON number.  The
 * number ends where the grammar does ("01" scans as "0"): the caller
 * checks what follows. */
size_t ki_num_scan(const char *s, size_t n, ki_num *num);
/* The nearest float / double; false beyond the finite range. */
bool ki_num_to_f32(const ki_num *num, float *out);
bool ki_num_to_f64(const ki_num *num, double *out);
/* A JSON integer within [-neg_max, pos_max] as two's complement bits;
 * false for a fraction, an exponent or a value out of range. */
bool ki_num_to_int(const ki_num *num, uint64_t pos_max, uint64_t neg_max,
                   uint64_t *bits);

#endif
