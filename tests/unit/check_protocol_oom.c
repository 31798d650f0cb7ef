/*
 * Allocation failures in the protocol module: fail the n-th allocation for
 * every n over a request or response cycle.  Each failure must surface as
 * KINFER_ENOMEM (or a NULL object), never a crash, and every allocation made
 * during the cycle must be freed.
 *
 * Only allocations made by kinfer are failed: json-c 0.16 itself is not
 * safe against allocation failure (a failed key strdup in
 * json_object_object_add_ex is passed to strlen).
 *
 * The allocator is replaced by wrappers around glibc's own entry points, so
 * this file is skipped under AddressSanitizer (which owns malloc there).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto_int.h"
#include "protocol/protocol.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KI_OOM_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KI_OOM_SKIP 1
#endif
#endif

#ifndef KI_OOM_SKIP
#include <dlfcn.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

/* ---- a counting, failing allocator ---------------------------------------- */

static bool active;        /* inside a measured cycle                       */
static long fail_at = -1;  /* index of the allocation to fail               */
static long seen;          /* allocations eligible for failure so far       */
static bool failed;        /* the failure was injected                      */

#define SLOTS (1u << 18)
static void *live[SLOTS];  /* pointers allocated during the cycle           */
static long nlive;

static size_t slot_of(void *p) {
  return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 46) & (SLOTS - 1);
}

static void track(void *p) {
  if (!p || !active) return;
  size_t i = slot_of(p);
  while (live[i]) i = (i + 1) & (SLOTS - 1);
  live[i] = p;
  nlive++;
}

static void untrack(void *p) {
  if (!p || !nlive) return;
  size_t i = slot_of(p);
  for (size_t k = 0; k < SLOTS && live[i]; k++, i = (i + 1) & (SLOTS - 1)) {
    if (live[i] != p) continue;
    /* Backward-shift deletion keeps probe chains intact. */
    live[i] = NULL;
    nlive--;
    size_t j = (i + 1) & (SLOTS - 1);
    while (live[j]) {
      void *q = live[j];
      live[j] = NULL;
      nlive--;
      track(q);
      j = (j + 1) & (SLOTS - 1);
    }
    return;
  }
}

/* True when |caller| is in this executable, where kinfer is linked
 * statically; callers in shared libraries (json-c, and libc internals such
 * as duplocale that json-c copes without) are left alone. */
static bool from_kinfer(void *caller) {
  Dl_info mine, info;
  bool saved = active;
  active = false; /* dladdr may allocate */
  bool r = dladdr(caller, &info) && dladdr((void *)from_kinfer, &mine) &&
           info.dli_fbase == mine.dli_fbase;
  active = saved;
  return r;
}

static bool should_fail(void *caller) {
  if (!active || failed) return false;
  if (!from_kinfer(caller)) return false;
  if (seen++ != fail_at) return false;
  failed = true;
  if (getenv("KI_OOM_DEBUG")) {
    Dl_info info;
    active = false;
    if (dladdr(caller, &info))
      fprintf(stderr, "fail #%ld from %s+%#lx\n", fail_at, info.dli_fname,
              (unsigned long)((char *)caller - (char *)info.dli_fbase));
    active = true;
  }
  return true;
}

void *malloc(size_t n) {
  if (should_fail(__builtin_return_address(0))) return NULL;
  void *p = __libc_malloc(n);
  track(p);
  return p;
}

void *calloc(size_t a, size_t b) {
  if (should_fail(__builtin_return_address(0))) return NULL;
  void *p = __libc_calloc(a, b);
  track(p);
  return p;
}

void *realloc(void *old, size_t n) {
  if (should_fail(__builtin_return_address(0))) return NULL;
  void *p = __libc_realloc(old, n);
  if (p || n == 0) untrack(old);
  track(p);
  return p;
}

void free(void *p) {
  untrack(p);
  __libc_free(p);
}

char *strdup(const char *s) {
  if (should_fail(__builtin_return_address(0))) return NULL;
  size_t n = strlen(s) + 1;
  char *p = __libc_malloc(n);
  if (p) memcpy(p, s, n);
  track(p);
  return p;
}

/* ---- cycles ----------------------------------------------------------------- */

/* A cycle returns KINFER_OK, or the error it ended with. */
typedef int (*cycle_fn)(void);

static int build_request(kinfer_request **out) {
  *out = NULL;
  kinfer_request *r = kinfer_request_new();
  if (!r) return KINFER_ENOMEM;
  int rc = KINFER_ENOMEM;
  int64_t shape[] = {2, 2};
  static const float f[] = {0.1f, 2, 3, -4};
  static const char *el[] = {"a", "bc", "", "d"};
  kinfer_input *a = kinfer_request_add_input(r, "a", KINFER_FP32, shape, 2);
  kinfer_input *b = kinfer_request_add_input(r, "b", KINFER_BYTES, shape, 2);
  kinfer_input *c = kinfer_request_add_input(r, "c", KINFER_FP32, shape, 2);
  kinfer_requested_output *o = kinfer_request_add_output(r, "y");
  if (!a || !b || !c || !o) goto out;
  if ((rc = kinfer_request_set_id(r, "id-1")) ||
      (rc = kinfer_input_set_data(a, f, sizeof f)) ||
      (rc = kinfer_input_set_bytes(b, el, NULL, 4)) ||
      (rc = kinfer_input_borrow_data(c, f, sizeof f)) ||
      (rc = kinfer_params_set_string(kinfer_input_parameters(a), "k", "v")) ||
      (rc = kinfer_params_set_double(kinfer_request_parameters(r), "t", 0.5)) ||
      (rc = kinfer_params_set_int(kinfer_requested_output_parameters(o), "n", 1)))
    goto out;
  kinfer_input_set_binary(c, true);
  kinfer_requested_output_set_binary(o, true);
  *out = r;
  return KINFER_OK;
out:
  kinfer_request_free(r);
  return rc;
}

static int encode_cycle(enum ki_protocol proto) {
  kinfer_request *r;
  int rc = build_request(&r);
  if (rc) return rc;
  ki_encoded e;
  kinfer_error err;
  rc = ki_encode_request(r, proto, &e, &err);
  if (!rc) rc = ki_encoded_detach(&e, r);
  ki_encoded_free(&e);
  kinfer_request_free(r);
  return rc;
}

static int encode_v2(void) { return encode_cycle(KI_PROTO_V2); }
static int encode_v1(void) { return encode_cycle(KI_PROTO_V1); }

static int decode_cycle(enum ki_decode_mode mode, const char *text, size_t len,
                        const char *ihcl) {
  char *body = malloc(len);
  if (!body) return KINFER_ENOMEM;
  memcpy(body, text, len);
  kinfer_response *resp;
  kinfer_error err;
  int rc = ki_decode_response(mode, body, len, ihcl, &resp, &err);
  if (!rc) kinfer_response_free(resp);
  return rc;
}

static const char v2_json[] =
    "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"x\",\"parameters\":"
    "{\"a\":\"b\",\"c\":1},\"outputs\":[{\"name\":\"o\",\"datatype\":\"FP32\","
    "\"shape\":[2,2],\"parameters\":{\"p\":true},\"data\":[[1,2.5],[3,4]]},"
    "{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"x\",\"yz\"]}]}";

static int decode_v2(void) {
  return decode_cycle(KI_DECODE_V2, v2_json, sizeof v2_json - 1, NULL);
}

static int decode_binary(void) {
  static const char body[] =
      "{\"outputs\":[{\"name\":\"o\",\"datatype\":\"INT32\",\"shape\":[1],"
      "\"parameters\":{\"binary_data_size\":4}},{\"name\":\"s\",\"datatype\":"
      "\"BYTES\",\"shape\":[1],\"parameters\":{\"binary_data_size\":5}}]}"
      "\1\0\0\0\1\0\0\0z";
  char ihcl[16];
  snprintf(ihcl, sizeof ihcl, "%zu", sizeof body - 1 - 9);
  return decode_cycle(KI_DECODE_V2, body, sizeof body - 1, ihcl);
}

/* The same two bodies through the json-c path (the one-pass V2 decoder
 * off). */
static int decode_v2_jsonc(void) {
  ki_v2_fast_set_enabled(false);
  int rc = decode_v2();
  ki_v2_fast_set_enabled(true);
  return rc;
}

static int decode_binary_jsonc(void) {
  ki_v2_fast_set_enabled(false);
  int rc = decode_binary();
  ki_v2_fast_set_enabled(true);
  return rc;
}

static int decode_v1(void) {
  static const char body[] = "{\"predictions\":[[1,2],[3,4.5]]}";
  return decode_cycle(KI_DECODE_AUTO, body, sizeof body - 1, NULL);
}

static int from_json(void) {
  static const char text[] = "{\"instances\":[[1,2]]}";
  kinfer_error err;
  kinfer_request *r = kinfer_request_from_json(text, sizeof text - 1, &err);
  if (!r) return err.code;
  ki_encoded e;
  int rc = ki_encode_request(r, KI_PROTO_V1, &e, &err);
  ki_encoded_free(&e);
  kinfer_request_free(r);
  return rc;
}

/* Runs |fn| failing allocation 0, 1, 2, ... until a run needs no failure. */
static void sweep(cycle_fn fn, size_t which) {
  int rc = fn(); /* warm up one-time allocations */
  ck_assert_int_eq(rc, KINFER_OK);
  for (long n = 0;; n++) {
    fail_at = n;
    seen = 0;
    failed = false;
    nlive = 0;
    memset(live, 0, sizeof live);
    active = true;
    rc = fn();
    active = false;
    ck_assert_msg(nlive == 0, "cycle %zu, allocation %ld failed: %ld blocks leaked",
                  which, n, nlive);
    if (!failed) {
      ck_assert_int_eq(rc, KINFER_OK);
      break;
    }
    ck_assert_msg(rc == KINFER_ENOMEM, "cycle %zu, allocation %ld failed: rc %d",
                  which, n, rc);
  }
}

START_TEST(oom_ours) {
  cycle_fn fns[] = {encode_v2,       encode_v1,           decode_v2,
                    decode_binary,   decode_v2_jsonc,     decode_binary_jsonc,
                    decode_v1,       from_json};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) sweep(fns[i], i);
}
END_TEST

#endif /* KI_OOM_SKIP */

int main(void) {
  Suite *s = suite_create("protocol_oom");
  TCase *tc = tcase_create("core");
#ifndef KI_OOM_SKIP
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, oom_ours);
#endif
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed_n = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed_n ? EXIT_FAILURE : EXIT_SUCCESS;
}
