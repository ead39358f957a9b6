/*
 * transport/conn.c: a connection's life on the event loop (loop.h):
 * registered with epoll when made, its read buffer grown for a large
 * frame, closed into the graveyard and freed at the end of the turn; and
 * the transport traces both directions emit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "transport/loop.h"

void tl_set_events(struct craft_tcp *t, struct conn *c, uint32_t events)
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

void tl_remote_of(int fd, char *buf, size_t cap, int peer)
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

int tl_sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return errno;
    }
    return err;
}

/* ---- traces ------------------------------------------------------------- */

void tl_trace_disconnected(struct craft_tcp *t, uint64_t peer,
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

void tl_trace_refused(struct craft_tcp *t, uint64_t peer, const char *dir,
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

void tl_trace_peer_str(struct craft_tcp *t, int id, uint64_t peer,
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

/* ---- connections -------------------------------------------------------- */

struct conn *tl_conn_new(struct loop *L, int kind, int fd, size_t rcap)
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
void tl_conn_close(struct loop *L, struct conn *c)
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

void tl_bury(struct loop *L)
{
    while (L->grave != NULL) {
        struct conn *c = L->grave;
        L->grave = c->next;
        craft_free(&L->t->alloc, c->rbuf);
        craft_free(&L->t->alloc, c);
    }
}

/* Makes room for want bytes in c's buffer (want <= max frame + header). */
int tl_conn_reserve(struct craft_tcp *t, struct conn *c, size_t want)
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
int tl_conn_write_small(struct conn *c)
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
