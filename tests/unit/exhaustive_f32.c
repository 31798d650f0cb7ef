/*
 * Every float32 bit pattern: its shortest text (ki_num_fmt_f32) parses back
 * (ki_num_parse_f32, and the C library's strtof) to the same bits, is a
 * valid JSON number, and, for one pattern in 251, has exactly as many
 * significant digits as the shortest "%.*e" text that reads back.
 *
 * Not part of the quick suite (check_numtext samples the same properties).
 * Usage: exhaustive_f32 [threads] (default 2).  Exit status 0 when all pass.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/numtext.h"

#define SAMPLE 251

typedef struct job {
  uint64_t lo, hi; /* bit patterns [lo, hi) */
  uint64_t failures;
  uint64_t checked;
} job;

/* Significant digits of a JSON number text (trailing zeros of the
 * significand not counted). */
static int sig_digits(const char *s) {
  int n = 0, last = 0;
  bool started = false;
  for (; *s && *s != 'e'; s++) {
    if (*s < '0' || *s > '9') continue;
    if (*s != '0') started = true;
    if (!started) continue;
    n++;
    if (*s != '0') last = n;
  }
  return last;
}

static int reference_digits(float f) {
  char tmp[64];
  for (int p = 1; p <= 9; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, (double)f);
    if (strtof(tmp, NULL) == f) return p;
  }
  return 99;
}

static void report(job *j, uint32_t bits, const char *text, const char *what) {
  if (j->failures++ < 20)
    fprintf(stderr, "%08x -> \"%s\": %s\n", bits, text, what);
}

static void *run(void *arg) {
  job *j = arg;
  locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  char buf[KI_NUM_BUFSIZE];
  for (uint64_t b = j->lo; b < j->hi; b++) {
    uint32_t bits = (uint32_t)b;
    float f, back;
    memcpy(&f, &bits, 4);
    size_t n = ki_num_fmt_f32(buf, f);
    if (!isfinite(f)) {
      if (n != 0) report(j, bits, buf, "non-finite value printed");
      continue;
    }
    j->checked++;
    if (n == 0 || n > KI_NUM_F32_MAXLEN || strlen(buf) != n) {
      report(j, bits, buf, "bad length");
      continue;
    }
    if (!ki_num_parse_f32(buf, n, &back) || memcmp(&back, &f, 4) != 0) {
      report(j, bits, buf, "ki_num_parse_f32 does not read it back");
      continue;
    }
    char *end;
    back = strtof_l(buf, &end, c);
    if (*end || memcmp(&back, &f, 4) != 0) {
      report(j, bits, buf, "strtof does not read it back");
      continue;
    }
    if (b % SAMPLE == 0 && f != 0 && sig_digits(buf) > reference_digits(f))
      report(j, bits, buf, "not the shortest");
  }
  freelocale(c);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  if (threads < 1 || threads > 64) threads = 2;
  job jobs[64];
  pthread_t tid[64];
  uint64_t total = UINT64_C(1) << 32, step = total / (uint64_t)threads;
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){step * (uint64_t)i,
                    i == threads - 1 ? total : step * (uint64_t)(i + 1), 0, 0};
    if (pthread_create(&tid[i], NULL, run, &jobs[i])) return 2;
  }
  uint64_t failures = 0, checked = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    failures += jobs[i].failures;
    checked += jobs[i].checked;
  }
  printf("exhaustive_f32: %llu finite patterns checked, %llu failures\n",
         (unsigned long long)checked, (unsigned long long)failures);
  return failures ? 1 : 0;
}
