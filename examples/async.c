/*
 * async.c: many calls in flight from one thread, results delivered to a
 * callback.
 *
 *   example-async http://127.0.0.1:8000
 *
 * Sends 100 add_sub calls without waiting, then waits until every callback
 * has run and prints how many succeeded.
 */
#include <pthread.h>
#include <stdio.h>

#include <kinfer/kinfer.h>

enum { CALLS = 100 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done, ok;

/* Runs on a library thread, once per accepted call.  It owns resp. */
static void on_result(void *user_data, int status, kinfer_response *resp,
                      const kinfer_error *err) {
  int n = (int)(intptr_t)user_data;
  bool right = false;
  if (status == KINFER_OK) {
    const int32_t *sum = kinfer_tensor_data(kinfer_response_output_by_name(resp, "OUTPUT0"));
    right = sum && sum[0] == n + 1;
  } else {
    fprintf(stderr, "call %d: %s\n", n, err->message);
  }
  kinfer_response_free(resp);
  pthread_mutex_lock(&mu);
  ok += right;
  done++;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8000";
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true); /* all 100 calls share one connection */
  kinfer_client *client = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  if (!client) return 1;

  int submitted = 0;
  for (int n = 0; n < CALLS; n++) {
    int64_t shape[] = {1};
    int32_t a = n, b = 1;
    kinfer_request *req = kinfer_request_new();
    kinfer_input_set_data(kinfer_request_add_input(req, "INPUT0", KINFER_INT32, shape, 1), &a, sizeof a);
    kinfer_input_set_data(kinfer_request_add_input(req, "INPUT1", KINFER_INT32, shape, 1), &b, sizeof b);
    if (kinfer_infer_async(client, url, req, "add_sub", NULL, false,
                           KINFER_TIMEOUT_DEFAULT, on_result, (void *)(intptr_t)n) == KINFER_OK)
      submitted++;
    kinfer_request_free(req); /* the call keeps what it needs */
  }

  pthread_mutex_lock(&mu);
  while (done < submitted) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  printf("%d of %d calls answered correctly\n", ok, CALLS);
  kinfer_client_close(client);
  return ok == CALLS ? 0 : 1;
}
