/*
 * Per-origin pools.  An origin is (scheme, host, port); with a unix socket
 * configured every origin connects to that socket.  Requests wait in the
 * origin's queue, with their pool timeout, until a connection can take them:
 * HTTP/2 connections take streams up to their concurrency limit, HTTP/1.1
 * connections one request at a time, up to cfg->max_connections of them.
 */
#include <stdlib.h>
#include <string.h>

#include "session/sess.h"

bool ki_origin_wants_h2(const ki_origin *o) {
  return o->e->cfg->http2 && !o->h1_only;
}

ki_origin *ki_origin_get(ki_engine *e, const ki_xfer *x) {
  const char *host = x->host ? x->host : "localhost";
  for (ki_list *l = e->origins.next; l != &e->origins; l = l->next) {
    ki_origin *o = KI_CONTAINER_OF(l, ki_origin, link);
    if (o->https == x->https && o->port == x->port &&
        ki_strcasecmp(o->host, host) == 0)
      return o;
  }
  ki_origin *o = calloc(1, sizeof *o);
  if (!o || !(o->host = ki_strdup(host))) {
    free(o);
    return NULL;
  }
  o->e = e;
  o->https = x->https;
  o->port = x->port;
  ki_list_init(&o->conns);
  ki_list_init(&o->waiting);
  ki_list_push(&e->origins, &o->link);
  return o;
}

void ki_origin_free(ki_origin *o) {
  if (!o)
    return;
  ki_tls_origin_free(o);
  free(o->host);
  free(o);
}

void ki_pool_kick(ki_origin *o) {
  if (!ki_list_linked(&o->kick_link))
    ki_list_push(&o->e->kicks, &o->kick_link);
}

void ki_pool_enqueue(ki_xfer_priv *p) {
  ki_origin *o = p->origin;
  ki_xfer_attempt_begin(p);
  p->proto = ki_origin_wants_h2(o) ? "h2" : "http/1.1";
  ki_list_remove(&p->link);
  ki_list_push(&o->waiting, &p->link);
  ki_xfer_set_state(p, KI_XS_WAITING);
  ki_xfer_wait_pool(p);
  ki_pool_kick(o);
}

void ki_pool_unqueue(ki_xfer_priv *p) {
  ki_list_remove(&p->link);
  ki_timer_disarm(p->e, &p->wait);
  ki_xfer_set_state(p, KI_XS_DONE);
}

static bool conn_live(const ki_conn *c) {
  return c->state != KI_CS_CLOSED && !c->draining;
}

static ki_conn *find_ready(ki_origin *o) {
  for (ki_list *l = o->conns.next; l != &o->conns; l = l->next) {
    ki_conn *c = KI_CONTAINER_OF(l, ki_conn, link);
    if (c->state == KI_CS_OPEN && !c->draining && c->ops->can_take(c))
      return c;
  }
  return NULL;
}

/* Opens connections for what is still waiting after the ready ones took
 * their share. */
static void open_more(ki_origin *o) {
  ki_engine *e = o->e;
  size_t live = 0, pending = 0, waiting = o->nwaiting;
  bool h2 = ki_origin_wants_h2(o);
  for (ki_list *l = o->conns.next; l != &o->conns; l = l->next) {
    ki_conn *c = KI_CONTAINER_OF(l, ki_conn, link);
    if (!conn_live(c))
      continue;
    live++;
    /* An HTTP/2 connection takes one stream until the server's SETTINGS
     * say how many: it is not full yet, only young. */
    if (c->state != KI_CS_OPEN || (h2 && c->ops == &ki_h2_ops && !c->settled))
      pending++;
  }

  size_t want;
  if (h2) {
    /* Multiplexed connections: another only when every live one is at its
     * stream limit (or draining) and the config allows more. */
    size_t max = e->cfg->max_h2_connections ? e->cfg->max_h2_connections : 1;
    want = live == 0 || (pending == 0 && live < max) ? 1 : 0;
  } else {
    size_t max = e->cfg->max_connections ? e->cfg->max_connections : 1;
    want = waiting > pending ? waiting - pending : 0;
    if (live + want > max)
      want = max > live ? max - live : 0;
  }
  for (; want > 0; want--) {
    if (!ki_conn_open(e, o)) {
      ki_xfer_priv *p = KI_CONTAINER_OF(o->waiting.next, ki_xfer_priv, link);
      ki_pool_unqueue(p);
      ki_xfer_fail(p, KI_FAIL_FATAL, KINFER_ENOMEM, "out of memory");
      return;
    }
  }
}

void ki_pool_dispatch(ki_origin *o) {
  while (!ki_list_empty(&o->waiting)) {
    ki_conn *c = find_ready(o);
    if (!c)
      break;
    ki_xfer_priv *p = KI_CONTAINER_OF(o->waiting.next, ki_xfer_priv, link);
    ki_pool_unqueue(p);
    int rc = c->ops->start(c, p);
    if (rc != KINFER_OK) {
      ki_xfer_fail(p, KI_FAIL_FATAL, rc, "cannot start %s %s: %s",
                   p->x->method, p->x->target, kinfer_strerror(rc));
      continue;
    }
    ki_conn_mark_dirty(c);
  }
  if (!ki_list_empty(&o->waiting))
    open_more(o);
}

void ki_pool_connect_failed(ki_conn *c, ki_fail_class cls, int code,
                            const char *msg) {
  ki_origin *o = c->o;
  bool others = false;
  for (ki_list *l = o->conns.next; l != &o->conns; l = l->next) {
    ki_conn *k = KI_CONTAINER_OF(l, ki_conn, link);
    if (k != c && conn_live(k))
      others = true;
  }
  /* Every waiter counted on this connection unless others are coming: an
   * HTTP/1.1 pool then loses one connection's worth, the head waiter. */
  bool all = !others || ki_origin_wants_h2(o);
  while (!ki_list_empty(&o->waiting)) {
    ki_xfer_priv *p = KI_CONTAINER_OF(o->waiting.next, ki_xfer_priv, link);
    ki_pool_unqueue(p);
    ki_xfer_fail(p, cls, code, "%s", msg);
    if (!all)
      break;
  }
}
