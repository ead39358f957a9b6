/*
 * transport/loop.c: the event loop. One thread, one epoll instance: the
 * listening socket, the wake-up eventfd, every connection. Each turn it
 * handles the ready sockets, then takes host names the resolver finished,
 * reads the node's membership when it changed, and walks the peers once:
 * addresses to follow, connections to make, queues to write, timeouts.
 * loop.h says which file does what.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "transport/loop.h"

/* ---- the node ----------------------------------------------------------- */

/* Reads the node's membership when it changed: the members' addresses
 * (mu). Returns 1 when something was read. */
int tl_sync_membership(struct loop *L, int force)
{
    struct craft_tcp *t = L->t;
    craft_status *st = NULL;
    uint64_t v = 0;
    pthread_mutex_lock(&t->node_mu);
    if (t->node == NULL) {
        pthread_mutex_unlock(&t->node_mu);
        return 0;
    }
    if (!force && craft_node_membership_version(t->node) == t->mver) {
        pthread_mutex_unlock(&t->node_mu);
        return 0;
    }
    int rv = craft_node_membership(t->node, &st, &v);
    pthread_mutex_unlock(&t->node_mu);
    if (rv != CRAFT_OK) {
        return 0; /* no memory: next turn */
    }
    size_t n = craft_status_member_count(st);
    pthread_mutex_lock(&t->mu);
    for (size_t k = 0; k < t->npeers; k++) {
        t->peers[k]->is_member = 0;
    }
    for (size_t k = 0; k < n; k++) {
        uint64_t id = 0;
        const void *a = NULL;
        size_t len = 0;
        craft_status_member(st, k, &id, NULL, NULL, NULL, NULL);
        craft_status_member_addr(st, k, &a, &len);
        if (id == t->o.node_id) {
            continue;
        }
        struct tpeer *p = tt_peer_get(t, id);
        if (p == NULL) {
            continue; /* no memory: no connection to it for now */
        }
        p->is_member = 1;
        p->was_member = 1;
        /* Opaque bytes to the engine; to us "host:port" text. */
        if (len > 0 && len <= CRAFT_MAX_ADDR_BYTES &&
            memchr(a, 0, len) == NULL) {
            memcpy(p->member, a, len);
            p->member[len] = 0;
        } else {
            p->member[0] = 0;
        }
    }
    pthread_mutex_unlock(&t->mu);
    L->have_members = n > 0;
    t->mver = v;
    craft_status_free(st);
    return 1;
}

/* ---- the walk over the peers -------------------------------------------- */

/* The address to use for p and where it comes from (mu held). */
static const char *desired_of(const struct tpeer *p, const char **source)
{
    if (p->over[0] != 0) {
        *source = "override";
        return p->over;
    }
    if (p->is_member && p->member[0] != 0) {
        *source = "membership";
        return p->member;
    }
    if (p->hello[0] != 0) {
        *source = "hello";
        return p->hello;
    }
    *source = "none";
    return "";
}

/* Closes everything of a server that left the membership. */
static void peer_removed(struct loop *L, struct tpeer *p)
{
    struct craft_tcp *t = L->t;
    tl_out_reset(L, p, "removed");
    struct conn *c = t->ins;
    while (c != NULL) {
        struct conn *nx = c->next;
        if (c->peer == p) {
            tl_in_close(L, c, "removed", 0);
        }
        c = nx;
    }
    tl_drop_queue(t, p, "no_address");
}

/* Removes p from the table and frees it, keeping its counters in the
 * totals. */
static void peer_delete(struct craft_tcp *t, size_t k)
{
    pthread_mutex_lock(&t->mu);
    struct tpeer *p = t->peers[k];
    t->peers[k] = t->peers[--t->npeers];
    for (int id = 1; id < TT_NMETRICS; id++) {
        atomic_fetch_add(&t->gm[id], atomic_load(&p->m[id]));
    }
    /* A send that found p before holds pmu: wait for it. */
    pthread_mutex_lock(&p->pmu);
    pthread_mutex_unlock(&p->pmu);
    pthread_mutex_unlock(&t->mu);
    tt_peer_free(t, p);
}

/* One peer's turn. Returns 1 when it was deleted; *next gets the time it
 * needs the loop again. */
static int peer_turn(struct loop *L, size_t k, int64_t now, int64_t *next)
{
    struct craft_tcp *t = L->t;
    char want[TT_ADDR_CAP];
    const char *source;

    pthread_mutex_lock(&t->mu);
    struct tpeer *p = t->peers[k];
    snprintf(want, sizeof(want), "%s", desired_of(p, &source));
    int eager = p->is_member || p->over[0] != 0;
    int removed = p->was_member && !p->is_member && p->over[0] == 0 &&
                  L->attached;
    if (removed) {
        p->was_member = 0;
        p->hello[0] = 0; /* it is gone: do not reach it by its hello */
        want[0] = 0;
    }
    pthread_mutex_unlock(&t->mu);

    if (removed) {
        peer_removed(L, p);
    }
    if (strcmp(want, p->cur) != 0) {
        tl_out_reset(L, p, "address_changed");
        snprintf(p->cur, sizeof(p->cur), "%s", want);
        tl_trace_peer_str(t, CRAFT_TRACE_TRANSPORT_ADDRESS_CHANGED, p->id,
                          "address", p->cur, "source",
                          p->cur[0] != 0 ? source : "none");
    }

    pthread_mutex_lock(&p->pmu);
    size_t qn = p->qn;
    int kick = p->kick;
    pthread_mutex_unlock(&p->pmu);

    if (p->cur[0] == 0) {
        if (qn > 0) {
            tl_drop_queue(t, p, "no_address");
        }
        if (p->out == NULL && p->nin == 0 && !p->is_member &&
            p->over[0] == 0) {
            pthread_mutex_lock(&p->pmu);
            int empty = p->qn == 0;
            pthread_mutex_unlock(&p->pmu);
            if (empty) {
                peer_delete(t, k);
                return 1;
            }
        }
        return 0;
    }
    if (kick && p->state == O_READY) {
        tl_out_flush(L, p, now);
    }
    if ((p->state == O_IDLE || (p->state == O_BACKOFF && now >= p->next_at)) &&
        (eager || qn > 0)) {
        tl_out_start(L, p, now);
    }
    if ((p->state == O_CONNECTING || p->state == O_HELLO) && p->out != NULL &&
        now >= p->out->deadline) {
        tl_out_fail(L, p, "timeout", ETIMEDOUT, now, 1);
    }
    if (p->state == O_BACKOFF && p->next_at < *next &&
        (eager || qn > 0)) {
        *next = p->next_at;
    }
    if ((p->state == O_CONNECTING || p->state == O_HELLO) && p->out != NULL &&
        p->out->deadline < *next) {
        *next = p->out->deadline;
    }
    return 0;
}

static int64_t peers_turn(struct loop *L, int64_t now)
{
    struct craft_tcp *t = L->t;
    int64_t next = now + TT_POLL_MS;
    for (size_t k = 0;; k++) {
        pthread_mutex_lock(&t->mu);
        int more = k < t->npeers;
        pthread_mutex_unlock(&t->mu);
        if (!more) {
            break;
        }
        if (peer_turn(L, k, now, &next)) {
            k--; /* the last peer moved into slot k */
        }
    }
    return next;
}

/* ---- the loop ----------------------------------------------------------- */

static void shutdown_all(struct loop *L)
{
    struct craft_tcp *t = L->t;
    while (t->ins != NULL) {
        tl_in_close(L, t->ins, "shutdown", 0);
    }
    for (size_t k = 0;; k++) {
        pthread_mutex_lock(&t->mu);
        struct tpeer *p = k < t->npeers ? t->peers[k] : NULL;
        pthread_mutex_unlock(&t->mu);
        if (p == NULL) {
            break;
        }
        tl_out_reset(L, p, "shutdown");
    }
    tl_bury(L);
}

void *tt_loop_main(void *arg)
{
    struct loop L;
    struct epoll_event evs[64];
    memset(&L, 0, sizeof(L));
    L.t = arg;
    struct craft_tcp *t = L.t;
    int timeout = 0;

    while (!atomic_load(&t->stop)) {
        int n = epoll_wait(t->epfd, evs, 64, timeout);
        int64_t now = tt_now_ms();
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &t->lfd) {
                tl_accept_all(&L, now);
            } else if (ptr == &t->evfd) {
                uint64_t v;
                ssize_t r = read(t->evfd, &v, sizeof(v));
                (void)r;
                atomic_store(&t->wake_pending, 0);
            } else {
                struct conn *c = ptr;
                if (c->fd < 0) {
                    continue;
                }
                if (c->kind == C_OUT) {
                    tl_out_event(&L, c, evs[i].events, now);
                } else {
                    tl_in_event(&L, c, evs[i].events, now);
                }
            }
        }
        if (atomic_load(&t->stop)) {
            break;
        }
        tl_take_resolved(&L, now);
        int forced = atomic_exchange(&t->node_changed, 0);
        if (forced) {
            pthread_mutex_lock(&t->node_mu);
            L.attached = t->node != NULL;
            if (t->node == NULL) {
                t->mver = 0;
            }
            pthread_mutex_unlock(&t->node_mu);
        }
        tl_sync_membership(&L, forced);
        int64_t next = peers_turn(&L, now);
        int64_t in_next = tl_in_timers(&L, now);
        if (in_next < next) {
            next = in_next;
        }
        tl_bury(&L);
        now = tt_now_ms();
        timeout = next <= now ? 0 : (int)(next - now);
    }
    shutdown_all(&L);
    return NULL;
}
