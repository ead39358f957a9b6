/*
 * transport/outbound.c: our connection to each peer (loop.h). A peer
 * goes IDLE -> (RESOLVING) -> CONNECTING -> HELLO -> READY; a failure
 * tries the peer's next address, then backs off (jittered, doubling up
 * to backoff_max_ms) and drops its queue. Once READY the loop writes the
 * peer's send queue (send.c) whenever the socket takes more.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/loop.h"

#define OUT_RBUF (2u * TW_ACK_BYTES)

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

/* Drops p's queue because its connection is gone (pmu not held). */
void tl_drop_queue(struct craft_tcp *t, struct tpeer *p,
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
void tl_out_fail(struct loop *L, struct tpeer *p, const char *reason,
                 int err, int64_t now, int try_next)
{
    struct craft_tcp *t = L->t;
    if (p->out != NULL) {
        tl_conn_close(L, p->out);
    }
    tt_metric_add(t, p, CRAFT_TCP_METRIC_CONNECT_FAILURES, 1);
    if (try_next && p->addr_idx + 1 < p->naddrs) {
        p->addr_idx++;
        out_connect(L, p, now);
        return;
    }
    uint32_t retry = 0;
    backoff(L, p, now, &retry);
    tl_drop_queue(t, p, "disconnected");
    trace_connect_failed(t, p, reason, err, retry);
}

/* A ready connection was lost (or closed on purpose). */
static void out_lost(struct loop *L, struct tpeer *p, const char *reason,
                     int err, int64_t now)
{
    struct craft_tcp *t = L->t;
    if (p->out != NULL) {
        tl_conn_close(L, p->out);
    }
    tt_metric_add(t, p, CRAFT_TCP_METRIC_DISCONNECTS, 1);
    tl_trace_disconnected(t, p->id, "out", reason, err);
    tl_drop_queue(t, p, "disconnected");
    uint32_t retry = 0;
    backoff(L, p, now, &retry);
}

/* Closes p's outbound connection in whatever state, quietly unless it
 * was ready. The peer goes back to IDLE. */
void tl_out_reset(struct loop *L, struct tpeer *p, const char *reason)
{
    if (p->out != NULL) {
        int ready = p->state == O_READY;
        tl_conn_close(L, p->out);
        if (ready) {
            tt_metric_add(L->t, p, CRAFT_TCP_METRIC_DISCONNECTS, 1);
            tl_trace_disconnected(L->t, p->id, "out", reason, 0);
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
    tl_remote_of(c->fd, c->remote, sizeof(c->remote), 1);
    int rv = tl_conn_write_small(c);
    if (rv < 0) {
        tl_out_fail(L, p, "closed", errno, now, 0);
        return;
    }
    tl_set_events(t, c, EPOLLIN | EPOLLRDHUP | (rv == 0 ? EPOLLOUT : 0));
}

static void out_connect(struct loop *L, struct tpeer *p, int64_t now)
{
    struct craft_tcp *t = L->t;
    const struct sockaddr_storage *sa = &p->addrs[p->addr_idx];
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        tl_out_fail(L, p, "connect", errno, now, 1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rv = connect(fd, (const struct sockaddr *)sa,
                     p->addr_lens[p->addr_idx]);
    int err = errno;
    if (rv != 0 && err != EINPROGRESS) {
        close(fd);
        tl_out_fail(L, p, "connect", err, now, 1);
        return;
    }
    struct conn *c = tl_conn_new(L, C_OUT, fd, OUT_RBUF);
    if (c == NULL) {
        close(fd);
        tl_out_fail(L, p, "connect", ENOMEM, now, 0);
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
void tl_out_start(struct loop *L, struct tpeer *p, int64_t now)
{
    struct craft_tcp *t = L->t;
    char host[TT_ADDR_CAP];
    uint16_t port = 0;
    if (tw_addr_split(p->cur, strlen(p->cur), host, sizeof(host), &port) !=
            0 ||
        port == 0) {
        tl_out_fail(L, p, "no_address", 0, now, 0);
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
            tl_out_fail(L, p, "resolve", ENOMEM, now, 0);
            return;
        }
        p->state = O_RESOLVING;
        return;
    }
    if (rv != 0 || res == NULL) {
        tl_out_fail(L, p, "resolve", 0, now, 0);
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
        tl_out_fail(L, p, "resolve", 0, now, 0);
        return;
    }
    out_connect(L, p, now);
}

void tl_take_resolved(struct loop *L, int64_t now)
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
                tl_out_fail(L, p, "resolve", 0, now, 0);
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
void tl_out_flush(struct loop *L, struct tpeer *p, int64_t now)
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
    tl_set_events(L->t, p->out,
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
    tl_trace_peer_str(t, CRAFT_TRACE_TRANSPORT_CONNECTED, p->id, "address",
                      p->cur, NULL, NULL);
    tl_out_flush(L, p, now);
}

void tl_out_event(struct loop *L, struct conn *c, uint32_t events,
                  int64_t now)
{
    struct craft_tcp *t = L->t;
    struct tpeer *p = c->peer;
    if (p->state == O_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        int err = tl_sock_error(c->fd);
        if (err != 0) {
            tl_out_fail(L, p, "connect", err, now, 1);
            return;
        }
        out_send_hello(L, p, now);
        return;
    }
    if (p->state == O_HELLO) {
        if ((events & EPOLLOUT) && c->woff < c->wlen) {
            int rv = tl_conn_write_small(c);
            if (rv < 0) {
                tl_out_fail(L, p, "closed", errno, now, 0);
                return;
            }
            tl_set_events(t, c,
                          EPOLLIN | EPOLLRDHUP | (rv == 0 ? EPOLLOUT : 0));
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
            tl_out_fail(L, p, "closed", n < 0 ? errno : 0, now, 0);
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
            tl_trace_refused(t, p->id, "out", reason, c->remote);
            tl_out_fail(L, p, "refused", 0, now, 0);
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
                                                        : tl_sock_error(c->fd);
            out_lost(L, p, "error", err, now);
            return;
        }
    }
    if (events & EPOLLOUT) {
        tl_out_flush(L, p, now);
    }
}
