/*
 * threads.c: one client shared by many threads, each calling synchronously.
 *
 *   example-threads http://127.0.0.1:8000
 *
 * Eight threads make 50 calls each through the same kinfer_client; over
 * HTTP/2 they all share one connection.
 */
#include <pthread.h>
#include <stdio.h>

#include <kinfer/kinfer.h>

enum { THREADS = 8, CALLS = 50 };

static kinfer_client *client;
static const char *url;

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg, good = 0;
  for (int n = 0; n < CALLS; n++) {
    int64_t shape[] = {2};
    int32_t a[] = {id, n}, b[] = {1, 1};
    kinfer_request *req = kinfer_request_new();
    kinfer_input_set_data(kinfer_request_add_input(req, "INPUT0", KINFER_INT32, shape, 1), a, sizeof a);
    kinfer_input_set_data(kinfer_request_add_input(req, "INPUT1", KINFER_INT32, shape, 1), b, sizeof b);
    kinfer_response *resp = NULL;
    kinfer_error err;
    if (kinfer_infer(client, url, req, "add_sub", NULL, NULL, false, 10, &resp, &err) == KINFER_OK) {
      const int32_t *sum = kinfer_tensor_data(kinfer_response_output_by_name(resp, "OUTPUT0"));
      good += sum[0] == id + 1 && sum[1] == n + 1;
    } else {
      fprintf(stderr, "thread %d: %s\n", id, err.message);
    }
    kinfer_response_free(resp);
    kinfer_request_free(req);
  }
  return (void *)(intptr_t)good;
}

int main(int argc, char **argv) {
  url = argc > 1 ? argv[1] : "http://127.0.0.1:8000";
  kinfer_config *cfg = kinfer_config_new();
  kinfer_config_set_protocol(cfg, "v2");
  kinfer_config_set_http2(cfg, true);
  client = kinfer_client_new(cfg, NULL);
  kinfer_config_free(cfg);
  if (!client) return 1;

  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
  int good = 0;
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(th[i], &r);
    good += (int)(intptr_t)r;
  }
  kinfer_stats st;
  kinfer_client_stats(client, &st);
  printf("%d of %d calls answered correctly over %llu connection(s)\n", good,
         THREADS * CALLS, (unsigned long long)st.connections_opened);
  kinfer_client_close(client);
  return good == THREADS * CALLS ? 0 : 1;
}
