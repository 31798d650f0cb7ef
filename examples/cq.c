/*
 * cq.c: calls completed through a completion queue instead of callbacks,
 * the way the Go binding drains results in batches.
 *
 *   example-cq http://127.0.0.1:8000
 */
#include <stdio.h>

#include <kinfer/kinfer.h>

enum { CALLS = 64 };

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8000";
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  kinfer_client *client = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  kinfer_cq *cq = kinfer_cq_new();
  if (!client || !cq) return 1;

  int pending = 0;
  for (int n = 0; n < CALLS; n++) {
    int64_t shape[] = {1};
    float a = (float)n, b = 0.5f;
    kinfer_request *req = kinfer_request_new();
    kinfer_input_set_data(kinfer_request_add_input(req, "INPUT0", KINFER_FP32, shape, 1), &a, sizeof a);
    kinfer_input_set_data(kinfer_request_add_input(req, "INPUT1", KINFER_FP32, shape, 1), &b, sizeof b);
    /* The tag comes back with the completion: here, the call's number. */
    if (kinfer_infer_cq(client, url, req, "add_sub", NULL, false, 10, cq, (uintptr_t)n) == KINFER_OK)
      pending++;
    kinfer_request_free(req);
  }

  int ok = 0, batches = 0;
  kinfer_completion batch[16];
  while (pending > 0) {
    int got = kinfer_cq_next(cq, batch, 16, 10.0); /* up to 16 at a time */
    if (got <= 0) break;
    batches++;
    for (int i = 0; i < got; i++) {
      kinfer_completion *c = &batch[i];
      if (c->status == KINFER_OK) {
        const float *sum = kinfer_tensor_data(kinfer_response_output_by_name(c->resp, "OUTPUT0"));
        ok += sum[0] == (float)c->tag + 0.5f;
      } else {
        fprintf(stderr, "call %lu: %s\n", (unsigned long)c->tag, c->err.message);
      }
      kinfer_response_free(c->resp);
    }
    pending -= got;
  }
  printf("%d of %d calls answered correctly\n", ok, CALLS);
  kinfer_cq_free(cq);
  kinfer_client_close(client);
  return ok == CALLS ? 0 : 1;
}
