/*
 * sync.c: one V2 inference call, synchronously.
 *
 *   example-sync http://127.0.0.1:8000
 *
 * Sends two INT32 tensors to the add_sub model of kinfer-server and prints
 * their sum and difference.
 */
#include <stdio.h>

#include <kinfer/kinfer.h>

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8000";

  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true); /* h2c; falls back to HTTP/1.1 */
  kinfer_error err;
  kinfer_client *client = kinfer_client_new(cfg, &err);
  kinfer_config_free(cfg); /* the client keeps its own copy */
  if (!client) {
    fprintf(stderr, "client: %s\n", err.message);
    return 1;
  }

  int64_t shape[] = {1, 4};
  int32_t a[] = {1, 2, 3, 4}, b[] = {10, 20, 30, 40};
  kinfer_request *req = kinfer_request_new();
  kinfer_input_set_data(kinfer_request_add_input(req, "INPUT0", KINFER_INT32, shape, 2), a, sizeof a);
  kinfer_input_set_data(kinfer_request_add_input(req, "INPUT1", KINFER_INT32, shape, 2), b, sizeof b);

  kinfer_response *resp = NULL;
  int rc = kinfer_infer(client, url, req, "add_sub", NULL, NULL, false,
                        KINFER_TIMEOUT_DEFAULT, &resp, &err);
  if (rc != KINFER_OK) {
    fprintf(stderr, "infer: %s: %s\n", kinfer_strerror(rc), err.message);
  } else {
    for (size_t i = 0; i < kinfer_response_output_count(resp); i++) {
      const kinfer_tensor *t = kinfer_response_output(resp, i);
      const int32_t *v = kinfer_tensor_data(t);
      printf("%s:", kinfer_tensor_name(t));
      for (size_t j = 0; j < kinfer_tensor_element_count(t); j++) printf(" %d", v[j]);
      printf("\n");
    }
  }
  kinfer_response_free(resp);
  kinfer_request_free(req);
  kinfer_client_close(client);
  return rc == KINFER_OK ? 0 : 1;
}
