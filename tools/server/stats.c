/*
 * Execution counters for GET /_executions: how many times any model ran, and
 * how many client-supplied request ids ran more than once. Reliability tests
 * read them to prove that a request reached the model at most once.
 *
 * Ids are remembered as 64-bit hashes in an open-addressing table (a
 * collision between two distinct ids is a 2^-64 event per pair). To keep a
 * long benchmark from growing the table without end, only the first
 * MAX_TRACKED distinct ids are remembered.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "server.h"

#define MAX_TRACKED (1u << 22)

typedef struct id_slot {
  uint64_t hash;     /* 0: empty */
  uint32_t runs;
} id_slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static id_slot *slots;
static size_t nslots, nused;
static uint64_t executions, duplicates;
static atomic_uint_fast64_t status_seq, refuse_seq;

static uint64_t hash_id(const char *s)
{
  uint64_t h = 1469598103934665603ull;  /* FNV-1a, then a 64-bit finalizer */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h ? h : 1;
}

static id_slot *find_slot(id_slot *tab, size_t n, uint64_t hash)
{
  size_t i = (size_t)hash & (n - 1);
  while (tab[i].hash && tab[i].hash != hash)
    i = (i + 1) & (n - 1);
  return &tab[i];
}

static int grow(void)
{
  size_t n = nslots ? nslots * 2 : 1024;
  id_slot *tab = calloc(n, sizeof *tab);
  if (!tab)
    return -1;
  for (size_t i = 0; i < nslots; i++)
    if (slots[i].hash)
      *find_slot(tab, n, slots[i].hash) = slots[i];
  free(slots);
  slots = tab;
  nslots = n;
  return 0;
}

int ks_stats_init(void)
{
  return grow();
}

void ks_stats_free(void)
{
  free(slots);
  slots = NULL;
  nslots = nused = 0;
}

void ks_stats_record(const char *id)
{
  uint64_t hash = id ? hash_id(id) : 0;
  pthread_mutex_lock(&lock);
  executions++;
  if (hash) {
    id_slot *s = find_slot(slots, nslots, hash);
    if (!s->hash && nused < MAX_TRACKED) {
      s->hash = hash;
      nused++;
    }
    if (s->hash && ++s->runs == 2)
      duplicates++;
    if (nused * 2 >= nslots)
      grow();  /* on failure the table just fills up further */
  }
  pthread_mutex_unlock(&lock);
}

void ks_stats_get(uint64_t *exec, uint64_t *dups)
{
  pthread_mutex_lock(&lock);
  *exec = executions;
  *dups = duplicates;
  pthread_mutex_unlock(&lock);
}

uint64_t ks_stats_next_status_seq(void)
{
  return atomic_fetch_add(&status_seq, 1) + 1;
}

uint64_t ks_stats_next_refuse_seq(void)
{
  return atomic_fetch_add(&refuse_seq, 1) + 1;
}
