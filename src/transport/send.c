/*
 * transport/send.c: the node's send callback and writing a peer's queue.
 *
 * send runs on the node's driver thread and must never block. When the
 * peer's connection is ready and nothing is queued before the message, it
 * is written at once, from the caller's buffer, with a non-blocking
 * sendmsg (no copy, no thread hop); whatever the socket does not take is
 * copied into the peer's queue, which the event loop writes when the
 * socket drains. The queue is bounded in messages and bytes; a message
 * that does not fit is dropped (Raft retransmits), so a dead or slow peer
 * only ever costs its own queue.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "codec/le.h"
#include "transport/transport.h"

/* sendmsg without SIGPIPE; returns bytes written or -1 (errno). */
static ssize_t write_iov(int fd, struct iovec *iov, int n)
{
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)n;
    ssize_t w;
    do {
        w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (w < 0 && errno == EINTR);
    return w;
}

/* Queues hdr+data from byte `skip` on (pmu held). */
static int enqueue(struct craft_tcp *t, struct tpeer *p, const uint8_t *hdr,
                   const void *data, size_t len, size_t skip)
{
    size_t total = TW_FRAME_HEADER + len;
    struct tframe *f = craft_malloc(&t->alloc, sizeof(*f) + total);
    if (f == NULL) {
        return CRAFT_ENOMEM;
    }
    memcpy(f->b, hdr, TW_FRAME_HEADER);
    memcpy(f->b + TW_FRAME_HEADER, data, len);
    f->len = total;
    f->next = NULL;
    if (p->qt != NULL) {
        p->qt->next = f;
    } else {
        p->qh = f;
        p->qoff = skip;
    }
    p->qt = f;
    p->qn++;
    p->qbytes += total;
    return CRAFT_OK;
}

int tt_send(void *user, uint64_t peer, const void *data, size_t len)
{
    struct craft_tcp *t = user;
    uint8_t hdr[TW_FRAME_HEADER];
    int rv = CRAFT_OK;
    int wake = 0;

    if (t == NULL || peer == CRAFT_NONE || (data == NULL && len > 0) ||
        len == 0) {
        return CRAFT_EINVAL;
    }
    if (len > t->o.max_frame_bytes) {
        return CRAFT_ETOOBIG;
    }
    craft_put_u32(hdr, (uint32_t)len);

    pthread_mutex_lock(&t->mu);
    struct tpeer *p = tt_peer_get(t, peer);
    if (p == NULL) {
        pthread_mutex_unlock(&t->mu);
        tt_metric_add(t, NULL, CRAFT_TCP_METRIC_DROPS, 1);
        return CRAFT_ENOMEM;
    }
    pthread_mutex_lock(&p->pmu);
    pthread_mutex_unlock(&t->mu);

    size_t skip = 0;
    if (p->ready_fd >= 0 && p->qn == 0) {
        struct iovec iov[2] = {{hdr, TW_FRAME_HEADER},
                               {(void *)(uintptr_t)data, len}};
        ssize_t w = write_iov(p->ready_fd, iov, 2);
        if (w == (ssize_t)(TW_FRAME_HEADER + len)) {
            tt_metric_add(t, p, CRAFT_TCP_METRIC_BYTES_OUT, (uint64_t)w);
            tt_metric_add(t, p, CRAFT_TCP_METRIC_FRAMES_OUT, 1);
            p->dropping = 0;
            pthread_mutex_unlock(&p->pmu);
            return CRAFT_OK;
        }
        if (w > 0) {
            /* The rest goes through the queue, whatever its bounds: a
             * frame is never cut. */
            skip = (size_t)w;
            tt_metric_add(t, p, CRAFT_TCP_METRIC_BYTES_OUT, (uint64_t)w);
        }
        /* w < 0: EAGAIN, or the connection failed (the loop sees it). */
        wake = 1;
    } else if (p->qn + 1 > t->o.queue_messages ||
               p->qbytes + TW_FRAME_HEADER + len > t->o.queue_bytes) {
        tt_metric_add(t, p, CRAFT_TCP_METRIC_DROPS, 1);
        tt_trace_dropped(t, p, "queue_full", 1);
        pthread_mutex_unlock(&p->pmu);
        return CRAFT_EBUSY;
    }
    wake |= p->qn == 0;
    rv = enqueue(t, p, hdr, data, len, skip);
    if (rv != CRAFT_OK) {
        if (skip > 0) {
            /* Half a frame is on the wire: the stream cannot go on. */
            shutdown(p->ready_fd, SHUT_RDWR);
        }
        tt_metric_add(t, p, CRAFT_TCP_METRIC_DROPS, 1);
        wake = 1;
    } else if (skip == 0) {
        p->dropping = 0;
    }
    if (wake) {
        p->kick = 1;
    }
    pthread_mutex_unlock(&p->pmu);
    if (wake) {
        tt_wake(t);
    }
    return rv;
}

int tt_flush_locked(struct craft_tcp *t, struct tpeer *p)
{
    while (p->qh != NULL) {
        struct iovec iov[TT_MAX_IOV];
        int n = 0;
        size_t want = 0;
        size_t off = p->qoff;
        for (struct tframe *f = p->qh; f != NULL && n < TT_MAX_IOV;
             f = f->next) {
            iov[n].iov_base = f->b + off;
            iov[n].iov_len = f->len - off;
            want += f->len - off;
            off = 0;
            n++;
        }
        ssize_t w = write_iov(p->ready_fd, iov, n);
        if (w < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        tt_metric_add(t, p, CRAFT_TCP_METRIC_BYTES_OUT, (uint64_t)w);
        size_t left = (size_t)w;
        while (p->qh != NULL && left >= p->qh->len - p->qoff) {
            struct tframe *f = p->qh;
            left -= f->len - p->qoff;
            p->qh = f->next;
            p->qoff = 0;
            p->qn--;
            p->qbytes -= f->len;
            craft_free(&t->alloc, f);
            tt_metric_add(t, p, CRAFT_TCP_METRIC_FRAMES_OUT, 1);
        }
        if (p->qh == NULL) {
            p->qt = NULL;
        } else {
            p->qoff += left;
        }
        if ((size_t)w < want) {
            return 0;
        }
    }
    return 1;
}
