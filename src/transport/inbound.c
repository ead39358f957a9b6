/*
 * transport/inbound.c: connections peers made to us (loop.h). A new
 * connection must say hello within connect_timeout_ms; a hello from a
 * server outside the membership (or of another cluster, or for another
 * receiver) is answered with the reason and drained; an accepted one
 * replaces the peer's older connection. Then its frames go to the node
 * in arrival order; a full inbox pauses reading, so TCP slows the sender.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/loop.h"

#define IN_RBUF_INIT (64u * 1024u)
#define DRAIN_MS 1000
#define PAUSE_MS 2

void tl_in_close(struct loop *L, struct conn *c, const char *reason,
                 int err)
{
    if (c->handshaken) {
        struct tpeer *p = c->peer;
        tt_metric_add(L->t, p, CRAFT_TCP_METRIC_DISCONNECTS, 1);
        tl_trace_disconnected(L->t, p != NULL ? p->id : 0, "in", reason, err);
    }
    tl_conn_close(L, c);
}

/* Answers a refused hello and waits for the other end to close, so that
 * the answer is not destroyed by a reset. */
static void in_refuse(struct loop *L, struct conn *c, uint64_t claimed,
                      int reason, int64_t now)
{
    struct craft_tcp *t = L->t;
    tt_metric_add(t, NULL, CRAFT_TCP_METRIC_HANDSHAKE_FAILURES, 1);
    tl_trace_refused(t, claimed, "in", reason, c->remote);
    if (reason == TW_R_MAGIC || reason < 0) {
        tl_conn_close(L, c);
        return;
    }
    c->wlen = tw_ack_encode((uint16_t)reason, t->o.node_id, c->wbuf);
    c->woff = 0;
    tl_conn_write_small(c);
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
        tl_sync_membership(L, 0);
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
        tl_conn_close(L, c);
        return;
    }
    /* A peer keeps one connection to us: an older one is dead. */
    for (struct conn *o = t->ins; o != NULL; o = o->next) {
        if (o != c && o->peer == p && o->fd >= 0) {
            tl_in_close(L, o, "replaced", 0);
            break; /* the list changed; one older at most */
        }
    }
    c->wlen = tw_ack_encode(TW_OK, t->o.node_id, c->wbuf);
    c->woff = 0;
    if (tl_conn_write_small(c) < 0) {
        tl_conn_close(L, c);
        return;
    }
    /* The answer is 16 bytes on a fresh socket: it always fits. */
    c->handshaken = 1;
    t->nins_pending--;
    c->peer = p;
    p->nin++;
    tt_metric_add(t, p, CRAFT_TCP_METRIC_ACCEPTS, 1);
    tl_trace_peer_str(t, CRAFT_TRACE_TRANSPORT_ACCEPTED, p->id, "remote",
                      c->remote, NULL, NULL);
    if (tl_conn_reserve(t, c, IN_RBUF_INIT) != 0) {
        tl_in_close(L, c, "error", ENOMEM);
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
    tl_in_close(L, c, "frame_too_big", 0);
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
                tl_conn_reserve(t, c, TW_FRAME_HEADER + it.announced) != 0) {
                tl_in_close(L, c, "error", ENOMEM);
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
                tl_in_close(L, c, tw_reason_name(it.reason), 0);
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
                tl_set_events(t, c, 0);
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

void tl_in_event(struct loop *L, struct conn *c, uint32_t events,
                 int64_t now)
{
    struct craft_tcp *t = L->t;
    if (c->draining) {
        uint8_t b[512];
        ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            tl_conn_close(L, c);
        }
        return;
    }
    if (c->paused) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            tl_in_close(L, c, "error", tl_sock_error(c->fd));
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
                tl_in_close(L, c, "error", errno);
            } else {
                tl_conn_close(L, c);
            }
            return;
        }
        if (n == 0) {
            if (c->handshaken) {
                tl_in_close(L, c, "eof", 0);
            } else {
                if (c->rlen > 0) {
                    in_refuse(L, c, 0, TW_R_MALFORMED, now);
                }
                tl_conn_close(L, c);
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

void tl_accept_all(struct loop *L, int64_t now)
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
        struct conn *c = tl_conn_new(L, C_IN, fd, TW_HELLO_MAX);
        if (c == NULL) {
            close(fd);
            continue;
        }
        tl_remote_of(fd, c->remote, sizeof(c->remote), 1);
        c->deadline = now + t->o.connect_timeout_ms;
        c->last_rx = now;
        c->next = t->ins;
        t->ins = c;
        t->nins_pending++;
    }
}

/* Inbound timers: hello deadlines, stalls, paused connections. Returns
 * the next time something is due. */
int64_t tl_in_timers(struct loop *L, int64_t now)
{
    struct craft_tcp *t = L->t;
    int64_t next = now + TT_POLL_MS;
    struct conn *c = t->ins;
    while (c != NULL) {
        struct conn *nx = c->next;
        if (c->draining) {
            if (now >= c->deadline) {
                tl_conn_close(L, c);
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        } else if (!c->handshaken) {
            if (now >= c->deadline ||
                now - c->last_rx >= (int64_t)t->o.stall_timeout_ms) {
                tt_metric_add(t, NULL, CRAFT_TCP_METRIC_HANDSHAKE_FAILURES,
                              1);
                tl_trace_refused(t, 0, "in", -1, c->remote);
                tl_conn_close(L, c);
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        } else if (c->paused) {
            if (now >= c->resume_at) {
                c->paused = 0;
                tl_set_events(t, c, EPOLLIN | EPOLLRDHUP);
                if (deliver(L, c, now) == 0 && !c->paused) {
                    tl_in_event(L, c, EPOLLIN, now);
                }
            }
            if (c->fd >= 0 && c->paused && c->resume_at < next) {
                next = c->resume_at;
            }
        } else if (c->rlen > 0) {
            int64_t due = c->last_rx + t->o.stall_timeout_ms;
            if (now >= due) {
                tl_in_close(L, c, "stalled", 0);
            } else if (due < next) {
                next = due;
            }
        }
        c = nx;
    }
    return next;
}
