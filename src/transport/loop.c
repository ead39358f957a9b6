/*
 * transport/loop.c: the event loop. One thread, one epoll instance: the
 * listening socket, the wake-up eventfd, every connection. Each turn it
 * handles the ready sockets, then takes host names the resolver finished,
 * reads the node's membership when it changed, and walks the peers once:
 * addresses to follow, connections to make, queues to write, timeouts.
 *
 * Connections are freed at the end of a turn (a "graveyard"), so that an
 * event later in the same batch never touches freed memory; a closed one
 * has fd -1 and is skipped.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "transport/transport.h"

#define IN_RBUF_INIT (64u * 1024u)
#define OUT_RBUF (2u * TW_ACK_BYTES)
#define DRAIN_MS 1000
#define PAUSE_MS 2

struct loop {
    struct craft_tcp *t;
    struct conn *grave; /* closed this turn, freed at its end */
    int have_members;   /* the node's membership is not empty */
    int attached;       /* a node is attached */
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t rng_next(struct craft_tcp *t)
{
    uint64_t x = t->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A delay drawn in [d/2, d]: jitter keeps peers that failed together
 * from retrying in lockstep. */
static uint32_t jitter(struct craft_tcp *t, uint32_t d)
{
    uint32_t half = d / 2;
    return half + (uint32_t)(rng_next(t) % ((uint64_t)(d - half) + 1));
}

static void set_events(struct craft_tcp *t, struct conn *c, uint32_t events)
{
    if (c->fd < 0 || c->events == events) {
        return;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->events = events;
    }
}

static void remote_of(int fd, char *buf, size_t cap, int peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    int rv = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
                  : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (rv == 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(buf, cap, "%s:%u", ip, port);
    } else if (rv == 0 && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(buf, cap, "[%s]:%u", ip, port);
    } else {
        snprintf(buf, cap, "?");
    }
}

static int sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return errno;
    }
    return err;
}

/* ---- traces ------------------------------------------------------------- */

static void trace_disconnected(struct craft_tcp *t, uint64_t peer,
                               const char *dir, const char *reason, int err)
{
    if (!tt_trace_on(t, CRAFT_TRACE_TRANSPORT_DISCONNECTED)) {
        return;
    }
    struct craft_trace_event ev;
    tt_trace_begin(t, &ev, CRAFT_TRACE_TRANSPORT_DISCONNECTED);
    craft_trace_event_u64(&ev, "peer", peer);
    craft_trace_event_str(&ev, "direction", dir);
    craft_trace_event_str(&ev, "reason", reason);
    craft_trace_event_i64(&ev, "errno", err);
    tt_trace_emit(t, &ev);
}

static void trace_refused(struct craft_tcp *t, uint64_t peer, const char *dir,
                          int reason, const char *remote)
{
    if (!tt_trace_on(t, CRAFT_TRACE_TRANSPORT_REFUSED)) {
        return;
    }
    struct craft_trace_event ev;
    tt_trace_begin(t, &ev, CRAFT_TRACE_TRANSPORT_REFUSED);
    craft_trace_event_u64(&ev, "peer", peer);
    craft_trace_event_str(&ev, "direction", dir);
    craft_trace_event_str(&ev, "reason",
                          reason < 0 ? "timeout" : tw_reason_name(reason));
    craft_trace_event_str(&ev, "remote", remote);
    tt_trace_emit(t, &ev);
}

static void trace_peer_str(struct craft_tcp *t, int id, uint64_t peer,
                           const char *k1, const char *v1, const char *k2,
                           const char *v2)
{
    if (!tt_trace_on(t, id)) {
        return;
    }
    struct craft_trace_event ev;
    tt_trace_begin(t, &ev, id);
    craft_trace_event_u64(&ev, "peer", peer);
    craft_trace_event_str(&ev, k1, v1);
    if (k2 != NULL) {
        craft_trace_event_str(&ev, k2, v2);
    }
    tt_trace_emit(t, &ev);
}

static void trace_connect_failed(struct craft_tcp *t, struct tpeer *p,
                                 const char *reason, int err,
                                 uint32_t retry)
{
    if (!tt_trace_on(t, CRAFT_TRACE_TRANSPORT_CONNECT_FAILED)) {
        return;
    }
    struct craft_trace_event ev;
    tt_trace_begin(t, &ev, CRAFT_TRACE_TRANSPORT_CONNECT_FAILED);
    craft_trace_event_u64(&ev, "peer", p->id);
    craft_trace_event_str(&ev, "address", p->cur);
    craft_trace_event_str(&ev, "reason", reason);
    craft_trace_event_i64(&ev, "errno", err);
    craft_trace_event_u64(&ev, "retry_ms", retry);
    tt_trace_emit(t, &ev);
}

/* ---- connections ------------------------------------------------------- */

static struct conn *conn_new(struct loop *L, int kind, int fd, size_t rcap)
{
    struct craft_tcp *t = L->t;
    struct conn *c = craft_calloc(&t->alloc, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->rbuf = craft_malloc(&t->alloc, rcap);
    if (c->rbuf == NULL) {
        craft_free(&t->alloc, c);
        return NULL;
    }
    c->rcap = rcap;
    c->kind = kind;
    c->fd = fd;
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = kind == C_OUT ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        craft_free(&t->alloc, c->rbuf);
        craft_free(&t->alloc, c);
        return NULL;
    }
    c->events = ev.events;
    return c;
}

/* Closes c's socket and sends it to the graveyard. */
static void conn_close(struct loop *L, struct conn *c)
{
    struct craft_tcp *t = L->t;
    if (c->fd < 0) {
        return;
    }
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->kind == C_OUT && c->peer != NULL) {
        struct tpeer *p = c->peer;
        pthread_mutex_lock(&p->pmu);
        if (p->ready_fd == c->fd) {
            p->ready_fd = -1;
        }
        pthread_mutex_unlock(&p->pmu);
        p->out = NULL;
        p->want_write = 0;
    }
    if (c->kind == C_IN) {
        for (struct conn **pp = &t->ins; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        }
        if (!c->handshaken && !c->draining) {
            t->nins_pending--;
        }
        if (c->peer != NULL) {
            c->peer->nin--;
        }
    }
    close(c->fd);
    c->fd = -1;
    c->peer = NULL;
    c->next = L->grave;
    L->grave = c;
}

static void bury(struct loop *L)
{
    while (L->grave != NULL) {
        struct conn *c = L->grave;
        L->grave = c->next;
        craft_free(&L->t->alloc, c->rbuf);
        craft_free(&L->t->alloc, c);
    }
}

/* Makes room for want bytes in c's buffer (want <= max frame + header). */
static int conn_reserve(struct craft_tcp *t, struct conn *c, size_t want)
{
    if (want <= c->rcap) {
        return 0;
    }
    uint8_t *b = craft_realloc(&t->alloc, c->rbuf, want);
    if (b == NULL) {
        return -1;
    }
    c->rbuf = b;
    c->rcap = want;
    return 0;
}

/* Writes c's pending wbuf; 1 done, 0 partial, -1 failed. */
static int conn_write_small(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->woff += (size_t)w;
    }
    return 1;
}

/* ---- outbound ---------------------------------------------------------- */

/* Drops p's queue because its connection is gone (pmu not held). */
static void drop_queue(struct craft_tcp *t, struct tpeer *p,
                       const char *reason)
{
    pthread_mutex_lock(&p->pmu);
    size_t n = tt_queue_drop(t, p);
    if (n > 0) {
        tt_trace_dropped(t, p, reason, n);
    }
    pthread_mutex_unlock(&p->pmu);
}

static void backoff(struct loop *L, struct tpeer *p, int64_t now,
                    uint32_t *retry)
{
    struct craft_tcp *t = L->t;
    uint32_t d = jitter(t, p->backoff_ms);
    p->state = O_BACKOFF;
    p->next_at = now + d;
    p->backoff_ms = p->backoff_ms >= t->o.backoff_max_ms / 2
                        ? t->o.backoff_max_ms
                        : p->backoff_ms * 2;
    *retry = d;
}

static void out_connect(struct loop *L, struct tpeer *p, int64_t now);

/* An attempt failed before the handshake completed. */
static void out_fail(struct loop *L, struct tpeer *p, const char *reason,
                     int err, int64_t now, int try_next)
{
    struct craft_tcp *t = L->t;
    if (p->out != NULL) {
        conn_close(L, p->out);
    }
    tt_metric_add(t, p, CRAFT_TCP_METRIC_CONNECT_FAILURES, 1);
    if (try_next && p->addr_idx + 1 < p->naddrs) {
        p->addr_idx++;
        out_connect(L, p, now);
        return;
    }
    uint32_t retry = 0;
    backoff(L, p, now, &retry);
    drop_queue(t, p, "disconnected");
    trace_connect_failed(t, p, reason, err, retry);
}

/* A ready connection was lost (or closed on purpose). */
static void out_lost(struct loop *L, struct tpeer *p, const char *reason,
                     int err, int64_t now)
{
    struct craft_tcp *t = L->t;
    if (p->out != NULL) {
        conn_close(L, p->out);
    }
    tt_metric_add(t, p, CRAFT_TCP_METRIC_DISCONNECTS, 1);
    trace_disconnected(t, p->id, "out", reason, err);
    drop_queue(t, p, "disconnected");
    uint32_t retry = 0;
    backoff(L, p, now, &retry);
}

/* Closes p's outbound connection in whatever state, quietly unless it
 * was ready. The peer goes back to IDLE. */
static void out_reset(struct loop *L, struct tpeer *p, const char *reason)
{
    if (p->out != NULL) {
        int ready = p->state == O_READY;
        conn_close(L, p->out);
        if (ready) {
            tt_metric_add(L->t, p, CRAFT_TCP_METRIC_DISCONNECTS, 1);
            trace_disconnected(L->t, p->id, "out", reason, 0);
        }
    }
    p->state = O_IDLE;
    p->naddrs = 0;
    p->resolve_gen++;
    p->backoff_ms = L->t->o.backoff_min_ms;
    p->next_at = 0;
}

static void out_send_hello(struct loop *L, struct tpeer *p, int64_t now)
{
    struct craft_tcp *t = L->t;
    struct conn *c = p->out;
    struct tw_hello h;
    memset(&h, 0, sizeof(h));
    h.version = TW_VERSION;
    h.cluster = t->o.cluster_id;
    h.sender = t->o.node_id;
    h.receiver = p->id;
    h.addr_len = (uint32_t)strlen(t->advertise);
    memcpy(h.addr, t->advertise, h.addr_len);
    c->wlen = tw_hello_encode(&h, c->wbuf);
    c->woff = 0;
    p->state = O_HELLO;
    remote_of(c->fd, c->remote, sizeof(c->remote), 1);
    int rv = conn_write_small(c);
    if (rv < 0) {
        out_fail(L, p, "closed", errno, now, 0);
        return;
    }
    set_events(t, c, EPOLLIN | EPOLLRDHUP | (rv == 0 ? EPOLLOUT : 0));
}

static void out_connect(struct loop *L, struct tpeer *p, int64_t now)
{
    struct craft_tcp *t = L->t;
    const struct sockaddr_storage *sa = &p->addrs[p->addr_idx];
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        out_fail(L, p, "connect", errno, now, 1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rv = connect(fd, (const struct sockaddr *)sa,
                     p->addr_lens[p->addr_idx]);
    int err = errno;
    if (rv != 0 && err != EINPROGRESS) {
        close(fd);
        out_fail(L, p, "connect", err, now, 1);
        return;
    }
    struct conn *c = conn_new(L, C_OUT, fd, OUT_RBUF);
    if (c == NULL) {
        close(fd);
        out_fail(L, p, "connect", ENOMEM, now, 0);
        return;
    }
    c->peer = p;
    c->deadline = now + t->o.connect_timeout_ms;
    p->out = c;
    p->state = O_CONNECTING;
    if (rv == 0) {
        out_send_hello(L, p, now);
    }
}

/* Fills p's addresses from a numeric host, or hands a name to the
 * resolver. */
static void out_start(struct loop *L, struct tpeer *p, int64_t now)
{
    struct craft_tcp *t = L->t;
    char host[TT_ADDR_CAP];
    uint16_t port = 0;
    if (tw_addr_split(p->cur, strlen(p->cur), host, sizeof(host), &port) !=
            0 ||
        port == 0) {
        out_fail(L, p, "no_address", 0, now, 0);
        return;
    }
    struct addrinfo hints, *res = NULL;
    char ps[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%u", (unsigned)port);
    int rv = getaddrinfo(host, ps, &hints, &res);
    if (rv == EAI_NONAME) {
        p->resolve_gen++;
        if (tt_resolve(t, p->id, p->resolve_gen, host, port) != CRAFT_OK) {
            out_fail(L, p, "resolve", ENOMEM, now, 0);
            return;
        }
        p->state = O_RESOLVING;
        return;
    }
    if (rv != 0 || res == NULL) {
        out_fail(L, p, "resolve", 0, now, 0);
        return;
    }
    p->naddrs = 0;
    for (struct addrinfo *ai = res; ai != NULL && p->naddrs < TT_MAX_RESOLVED;
         ai = ai->ai_next) {
        if (ai->ai_addrlen <= sizeof(p->addrs[0])) {
            memcpy(&p->addrs[p->naddrs], ai->ai_addr, ai->ai_addrlen);
            p->addr_lens[p->naddrs] = ai->ai_addrlen;
            p->naddrs++;
        }
    }
    freeaddrinfo(res);
    p->addr_idx = 0;
    if (p->naddrs == 0) {
        out_fail(L, p, "resolve", 0, now, 0);
        return;
    }
    out_connect(L, p, now);
}

static void take_resolved(struct loop *L, int64_t now)
{
    struct craft_tcp *t = L->t;
    struct rreq *r = tt_resolved_take(t);
    while (r != NULL) {
        struct rreq *next = r->next;
        pthread_mutex_lock(&t->mu);
        struct tpeer *p = tt_peer_find(t, r->peer);
        pthread_mutex_unlock(&t->mu);
        if (p != NULL && p->state == O_RESOLVING && p->resolve_gen == r->gen) {
            if (r->err != 0 || r->n == 0) {
                out_fail(L, p, "resolve", 0, now, 0);
            } else {
                memcpy(p->addrs, r->addrs, sizeof(p->addrs));
                memcpy(p->addr_lens, r->lens, sizeof(p->addr_lens));
                p->naddrs = r->n;
                p->addr_idx = 0;
                out_connect(L, p, now);
            }
        }
        craft_free(&t->alloc, r);
        r = next;
    }
}

/* Writes p's queue; arms EPOLLOUT when the socket is full. */
static void out_flush(struct loop *L, struct tpeer *p, int64_t now)
{
    if (p->state != O_READY || p->out == NULL) {
        return;
    }
    pthread_mutex_lock(&p->pmu);
    p->kick = 0;
    int rv = tt_flush_locked(L->t, p);
    int err = errno;
    pthread_mutex_unlock(&p->pmu);
    if (rv < 0) {
        out_lost(L, p, "error", err, now);
        return;
    }
    p->want_write = rv == 0;
    set_events(L->t, p->out,
               EPOLLIN | EPOLLRDHUP | (p->want_write ? EPOLLOUT : 0));
}

static void out_ready(struct loop *L, struct tpeer *p, int64_t now)
{
    struct craft_tcp *t = L->t;
    p->state = O_READY;
    p->backoff_ms = t->o.backoff_min_ms;
    pthread_mutex_lock(&p->pmu);
    p->ready_fd = p->out->fd;
    p->dropping = 0;
    pthread_mutex_unlock(&p->pmu);
    tt_metric_add(t, p, CRAFT_TCP_METRIC_CONNECTS, 1);
    trace_peer_str(t, CRAFT_TRACE_TRANSPORT_CONNECTED, p->id, "address",
                   p->cur, NULL, NULL);
    out_flush(L, p, now);
}

static void out_event(struct loop *L, struct conn *c, uint32_t events,
                      int64_t now)
{
    struct craft_tcp *t = L->t;
    struct tpeer *p = c->peer;
    if (p->state == O_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        int err = sock_error(c->fd);
        if (err != 0) {
            out_fail(L, p, "connect", err, now, 1);
            return;
        }
        out_send_hello(L, p, now);
        return;
    }
    if (p->state == O_HELLO) {
        if ((events & EPOLLOUT) && c->woff < c->wlen) {
            int rv = conn_write_small(c);
            if (rv < 0) {
                out_fail(L, p, "closed", errno, now, 0);
                return;
            }
            set_events(t, c, EPOLLIN | EPOLLRDHUP | (rv == 0 ? EPOLLOUT : 0));
        }
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
            return;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
                         MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            out_fail(L, p, "closed", n < 0 ? errno : 0, now, 0);
            return;
        }
        c->rlen += (size_t)n;
        struct tw_item it;
        tw_parse_ack(c->rbuf, c->rlen, &it);
        if (it.kind == TW_MORE) {
            return;
        }
        int reason = it.kind == TW_ACK ? it.reason : TW_R_MALFORMED;
        if (reason == TW_OK && it.peer != p->id) {
            reason = TW_R_RECEIVER;
        }
        if (reason == TW_OK && c->rlen != it.used) {
            reason = TW_R_MALFORMED; /* nothing may follow the answer */
        }
        if (reason != TW_OK) {
            tt_metric_add(t, p, CRAFT_TCP_METRIC_HANDSHAKE_FAILURES, 1);
            trace_refused(t, p->id, "out", reason, c->remote);
            out_fail(L, p, "refused", 0, now, 0);
            return;
        }
        c->rlen = 0;
        out_ready(L, p, now);
        return;
    }
    /* O_READY: nothing is expected from the other end but its close. */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        uint8_t b[64];
        ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
        if (n > 0) {
            out_lost(L, p, "unexpected", 0, now);
            return;
        }
        if (n == 0) {
            out_lost(L, p, "eof", 0, now);
            return;
        }
        if ((errno != EAGAIN && errno != EINTR) ||
            (events & (EPOLLERR | EPOLLHUP))) {
            int err = errno != EAGAIN && errno != EINTR ? errno
                                                        : sock_error(c->fd);
            out_lost(L, p, "error", err, now);
            return;
        }
    }
    if (events & EPOLLOUT) {
        out_flush(L, p, now);
    }
}

/* ---- the node ------------------------------------------------------------ */

/* Reads the node's membership when it changed: the members' addresses
 * (mu). Returns 1 when something was read. */
static int sync_membership(struct loop *L, int force)
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

/* Hands c's complete frames to the node. Returns 0, or -1 when c was
 * closed. */
static int deliver(struct loop *L, struct conn *c, int64_t now);

/* ---- inbound ------------------------------------------------------------- */

static void in_close(struct loop *L, struct conn *c, const char *reason,
                     int err)
{
    if (c->handshaken) {
        struct tpeer *p = c->peer;
        tt_metric_add(L->t, p, CRAFT_TCP_METRIC_DISCONNECTS, 1);
        trace_disconnected(L->t, p != NULL ? p->id : 0, "in", reason, err);
    }
    conn_close(L, c);
}

/* Answers a refused hello and waits for the other end to close, so that
 * the answer is not destroyed by a reset. */
static void in_refuse(struct loop *L, struct conn *c, uint64_t claimed,
                      int reason, int64_t now)
{
    struct craft_tcp *t = L->t;
    tt_metric_add(t, NULL, CRAFT_TCP_METRIC_HANDSHAKE_FAILURES, 1);
    trace_refused(t, claimed, "in", reason, c->remote);
    if (reason == TW_R_MAGIC || reason < 0) {
        conn_close(L, c);
        return;
    }
    c->wlen = tw_ack_encode((uint16_t)reason, t->o.node_id, c->wbuf);
    c->woff = 0;
    conn_write_small(c);
    shutdown(c->fd, SHUT_WR);
    t->nins_pending--;
    c->draining = 1;
    c->rlen = 0;
    c->deadline = now + DRAIN_MS;
}

static void in_accept_hello(struct loop *L, struct conn *c,
                            const struct tw_hello *h, int64_t now)
{
    struct craft_tcp *t = L->t;
    int member = 1;
    pthread_mutex_lock(&t->mu);
    struct tpeer *p = tt_peer_find(t, h->sender);
    int known = p != NULL && (p->is_member || p->over[0] != 0);
    pthread_mutex_unlock(&t->mu);
    if (!known && L->have_members) {
        /* The membership may have grown since it was last read. */
        sync_membership(L, 0);
        pthread_mutex_lock(&t->mu);
        p = tt_peer_find(t, h->sender);
        member = p != NULL && (p->is_member || p->over[0] != 0);
        pthread_mutex_unlock(&t->mu);
        member = member || !L->have_members;
    }
    if (!member) {
        in_refuse(L, c, h->sender, TW_R_NOT_MEMBER, now);
        return;
    }
    pthread_mutex_lock(&t->mu);
    p = tt_peer_get(t, h->sender);
    if (p != NULL) {
        memcpy(p->hello, h->addr, h->addr_len);
        p->hello[h->addr_len] = 0;
    }
    pthread_mutex_unlock(&t->mu);
    if (p == NULL) {
        conn_close(L, c);
        return;
    }
    /* A peer keeps one connection to us: an older one is dead. */
    for (struct conn *o = t->ins; o != NULL; o = o->next) {
        if (o != c && o->peer == p && o->fd >= 0) {
            in_close(L, o, "replaced", 0);
            break; /* the list changed; one older at most */
        }
    }
    c->wlen = tw_ack_encode(TW_OK, t->o.node_id, c->wbuf);
    c->woff = 0;
    if (conn_write_small(c) < 0) {
        conn_close(L, c);
        return;
    }
    /* The answer is 16 bytes on a fresh socket: it always fits. */
    c->handshaken = 1;
    t->nins_pending--;
    c->peer = p;
    p->nin++;
    tt_metric_add(t, p, CRAFT_TCP_METRIC_ACCEPTS, 1);
    trace_peer_str(t, CRAFT_TRACE_TRANSPORT_ACCEPTED, p->id, "remote",
                   c->remote, NULL, NULL);
    if (conn_reserve(t, c, IN_RBUF_INIT) != 0) {
        in_close(L, c, "error", ENOMEM);
    }
}

static void frame_too_big(struct loop *L, struct conn *c,
                          const struct tw_item *it)
{
    struct craft_tcp *t = L->t;
    uint64_t peer = c->peer != NULL ? c->peer->id : 0;
    if (tt_trace_on(t, CRAFT_TRACE_TRANSPORT_FRAME_TOO_BIG)) {
        struct craft_trace_event ev;
        tt_trace_begin(t, &ev, CRAFT_TRACE_TRANSPORT_FRAME_TOO_BIG);
        craft_trace_event_u64(&ev, "peer", peer);
        craft_trace_event_u64(&ev, "bytes", it->announced);
        craft_trace_event_u64(&ev, "limit", t->o.max_frame_bytes);
        tt_trace_emit(t, &ev);
    }
    in_close(L, c, "frame_too_big", 0);
}

static int deliver(struct loop *L, struct conn *c, int64_t now)
{
    struct craft_tcp *t = L->t;
    struct tw_rules rules = {t->o.cluster_id, t->o.node_id,
                             t->o.max_frame_bytes};
    size_t pos = 0;
    int locked = 0, rv = 0;
    while (!c->paused) {
        struct tw_item it;
        tw_next_inbound(&rules, c->handshaken, c->rbuf + pos, c->rlen - pos,
                        &it);
        if (it.kind == TW_MORE) {
            if (c->handshaken && it.announced > 0 &&
                conn_reserve(t, c, TW_FRAME_HEADER + it.announced) != 0) {
                in_close(L, c, "error", ENOMEM);
                rv = -1;
            }
            break;
        }
        if (it.kind == TW_HELLO) {
            pos += it.used;
            if (it.reason != TW_OK) {
                in_refuse(L, c, it.hello.sender, it.reason, now);
                rv = -1; /* draining: nothing more is read from it */
                break;
            }
            in_accept_hello(L, c, &it.hello, now);
            if (c->fd < 0 || c->draining) {
                rv = -1;
                break;
            }
            continue;
        }
        if (it.kind == TW_CLOSE) {
            if (!c->handshaken) {
                in_refuse(L, c, 0, it.reason, now);
            } else if (it.reason == TW_R_FRAME_TOO_BIG) {
                frame_too_big(L, c, &it);
            } else {
                in_close(L, c, tw_reason_name(it.reason), 0);
            }
            rv = -1;
            break;
        }
        /* TW_FRAME */
        struct tpeer *p = c->peer;
        if (!locked) {
            pthread_mutex_lock(&t->node_mu);
            locked = 1;
        }
        if (t->node == NULL) {
            tt_metric_add(t, p, CRAFT_TCP_METRIC_DROPS, 1);
            tt_trace_dropped(t, NULL, "no_node", 1);
        } else {
            int r = craft_node_receive(t->node, c->rbuf + pos + it.off, it.len);
            if (r == CRAFT_EBUSY) {
                /* The node's inbox is full: stop reading, so that TCP
                 * slows the sender down, and try again shortly. */
                c->paused = 1;
                c->resume_at = now + PAUSE_MS;
                set_events(t, c, 0);
                break;
            }
            if (r != CRAFT_OK) {
                tt_metric_add(t, p, CRAFT_TCP_METRIC_DROPS, 1);
            } else {
                tt_metric_add(t, p, CRAFT_TCP_METRIC_FRAMES_IN, 1);
            }
        }
        tt_metric_add(t, p, CRAFT_TCP_METRIC_BYTES_IN, it.used);
        pos += it.used;
    }
    if (locked) {
        pthread_mutex_unlock(&t->node_mu);
    }
    if (rv == 0 && pos > 0) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    return rv;
}

static void in_event(struct loop *L, struct conn *c, uint32_t events,
                     int64_t now)
{
    struct craft_tcp *t = L->t;
    if (c->draining) {
        uint8_t b[512];
        ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(L, c);
        }
        return;
    }
    if (c->paused) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            in_close(L, c, "error", sock_error(c->fd));
        }
        return; /* EPOLLRDHUP: the buffered frames still go first */
    }
    size_t budget = 4 * TT_READ_CHUNK;
    while (budget > 0 && !c->paused && c->fd >= 0) {
        if (c->rlen == c->rcap) {
            /* A complete item was not found in a full buffer: only a
             * handshaken frame can be that long, and deliver() made
             * room for it. */
            break;
        }
        size_t room = c->rcap - c->rlen;
        if (room > TT_READ_CHUNK) {
            room = TT_READ_CHUNK;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, room, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            if (c->handshaken) {
                in_close(L, c, "error", errno);
            } else {
                conn_close(L, c);
            }
            return;
        }
        if (n == 0) {
            if (c->handshaken) {
                in_close(L, c, "eof", 0);
            } else {
                if (c->rlen > 0) {
                    in_refuse(L, c, 0, TW_R_MALFORMED, now);
                }
                conn_close(L, c);
            }
            return;
        }
        c->last_rx = now;
        c->rlen += (size_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
        if (deliver(L, c, now) != 0) {
            return;
        }
    }
    (void)t;
}

static void accept_all(struct loop *L, int64_t now)
{
    struct craft_tcp *t = L->t;
    for (;;) {
        int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or out of descriptors: next turn */
        }
        if (t->nins_pending >= TT_MAX_INBOUND) {
            close(fd); /* a flood of connections that never say hello */
            tt_metric_add(t, NULL, CRAFT_TCP_METRIC_HANDSHAKE_FAILURES, 1);
            continue;
        }
        struct conn *c = conn_new(L, C_IN, fd, TW_HELLO_MAX);
        if (c == NULL) {
            close(fd);
            continue;
        }
        remote_of(fd, c->remote, sizeof(c->remote), 1);
        c->deadline = now + t->o.connect_timeout_ms;
        c->last_rx = now;
        c->next = t->ins;
        t->ins = c;
        t->nins_pending++;
    }
}

/* Inbound timers: hello deadlines, stalls, paused connections. Returns
 * the next time something is due. */
static int64_t in_timers(struct loop *L, int64_t now)
{
    struct craft_tcp *t = L->t;
    int64_t next = now + TT_POLL_MS;
    struct conn *c = t->ins;
    while (c != NULL) {
        struct conn *nx = c->next;
        if (c->draining) {
            if (now >= c->deadline) {
                conn_close(L, c);
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        } else if (!c->handshaken) {
            if (now >= c->deadline ||
                now - c->last_rx >= (int64_t)t->o.stall_timeout_ms) {
                tt_metric_add(t, NULL, CRAFT_TCP_METRIC_HANDSHAKE_FAILURES,
                              1);
                trace_refused(t, 0, "in", -1, c->remote);
                conn_close(L, c);
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        } else if (c->paused) {
            if (now >= c->resume_at) {
                c->paused = 0;
                set_events(t, c, EPOLLIN | EPOLLRDHUP);
                if (deliver(L, c, now) == 0 && !c->paused) {
                    in_event(L, c, EPOLLIN, now);
                }
            }
            if (c->fd >= 0 && c->paused && c->resume_at < next) {
                next = c->resume_at;
            }
        } else if (c->rlen > 0) {
            int64_t due = c->last_rx + t->o.stall_timeout_ms;
            if (now >= due) {
                in_close(L, c, "stalled", 0);
            } else if (due < next) {
                next = due;
            }
        }
        c = nx;
    }
    return next;
}

/* ---- the walk over the peers --------------------------------------------- */

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
    out_reset(L, p, "removed");
    struct conn *c = t->ins;
    while (c != NULL) {
        struct conn *nx = c->next;
        if (c->peer == p) {
            in_close(L, c, "removed", 0);
        }
        c = nx;
    }
    drop_queue(t, p, "no_address");
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
        out_reset(L, p, "address_changed");
        snprintf(p->cur, sizeof(p->cur), "%s", want);
        trace_peer_str(t, CRAFT_TRACE_TRANSPORT_ADDRESS_CHANGED, p->id,
                       "address", p->cur, "source",
                       p->cur[0] != 0 ? source : "none");
    }

    pthread_mutex_lock(&p->pmu);
    size_t qn = p->qn;
    int kick = p->kick;
    pthread_mutex_unlock(&p->pmu);

    if (p->cur[0] == 0) {
        if (qn > 0) {
            drop_queue(t, p, "no_address");
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
        out_flush(L, p, now);
    }
    if ((p->state == O_IDLE || (p->state == O_BACKOFF && now >= p->next_at)) &&
        (eager || qn > 0)) {
        out_start(L, p, now);
    }
    if ((p->state == O_CONNECTING || p->state == O_HELLO) && p->out != NULL &&
        now >= p->out->deadline) {
        out_fail(L, p, "timeout", ETIMEDOUT, now, 1);
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

/* ---- the loop -------------------------------------------------------------- */

static void shutdown_all(struct loop *L)
{
    struct craft_tcp *t = L->t;
    while (t->ins != NULL) {
        in_close(L, t->ins, "shutdown", 0);
    }
    for (size_t k = 0;; k++) {
        pthread_mutex_lock(&t->mu);
        struct tpeer *p = k < t->npeers ? t->peers[k] : NULL;
        pthread_mutex_unlock(&t->mu);
        if (p == NULL) {
            break;
        }
        out_reset(L, p, "shutdown");
    }
    bury(L);
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
                accept_all(&L, now);
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
                    out_event(&L, c, evs[i].events, now);
                } else {
                    in_event(&L, c, evs[i].events, now);
                }
            }
        }
        if (atomic_load(&t->stop)) {
            break;
        }
        take_resolved(&L, now);
        int forced = atomic_exchange(&t->node_changed, 0);
        if (forced) {
            pthread_mutex_lock(&t->node_mu);
            L.attached = t->node != NULL;
            if (t->node == NULL) {
                t->mver = 0;
            }
            pthread_mutex_unlock(&t->node_mu);
        }
        sync_membership(&L, forced);
        int64_t next = peers_turn(&L, now);
        int64_t in_next = in_timers(&L, now);
        if (in_next < next) {
            next = in_next;
        }
        bury(&L);
        now = tt_now_ms();
        timeout = next <= now ? 0 : (int)(next - now);
    }
    shutdown_all(&L);
    return NULL;
}
