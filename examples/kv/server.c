/*
 * examples/kv/server.c: craft-kv's event loop (see server.h).
 *
 * Every request a client sends becomes, in arrival order, a slot in the
 * client's reply queue; a slot is filled either at once (PING, INFO, a
 * syntax error), by a callback of the node on its apply thread (a write
 * committed and applied, a linearizable read whose read index was
 * applied, a membership change), or by the leader's reply to a forwarded
 * request. Replies leave in request order, so pipelining works. The
 * apply thread hands filled slots back through a locked list and an
 * eventfd; the event loop owns every client and every slot otherwise.
 *
 * Routing: reads are served by any node (ReadIndex through the leader,
 * thesis §6.4; lease reads with --lease-reads); writes and membership
 * changes are proposed on the leader. A follower forwards them over one
 * connection to the leader's RESP address (published in the replicated
 * store by each new leader) and passes the reply back, so redis-cli and
 * redis-benchmark work against any node. A forwarded request is never
 * forwarded again (the connection announces itself with RAFT.NOFORWARD):
 * a node that is no longer the leader answers -NOTLEADER instead.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INBUF (64u * 1024u * 1024u) /* a request must fit */
#define MAX_INFLIGHT 8192               /* slots per client before we
                                           stop reading from it */
#define MAX_TRIES 3                     /* routings of one request */
#define HTTP_MAX_REQUEST 8192

enum io_kind { IO_LISTEN, IO_METRICS_LISTEN, IO_EVENT, IO_CLIENT, IO_HTTP,
               IO_FWD };

struct kv_io {
    int kind;
    int fd;
    uint32_t events; /* registered with epoll (when reg) */
    int reg;
};

enum cmd {
    C_NONE, C_GET, C_MGET, C_EXISTS, C_STRLEN, C_PTTL, C_TTL, C_DBSIZE,
    C_SET, C_MSET, C_DEL, C_INCRBY, C_FLUSH, C_ADD, C_REMOVE, C_TRANSFER,
    C_ADDR
};

struct kv_client;

struct kv_pending {
    struct kv_pending *next; /* the client's reply queue */
    struct kv_pending *link; /* the done list or the forward queue */
    struct kv_client *client; /* NULL: nobody waits for the reply */
    kv_server *srv;
    int cmd;
    unsigned flags;
    int64_t aux;
    int tries;
    int retry; /* set by a callback: route it again */
    int done;
    uint64_t deadline; /* monotonic ms: parked requests give up here */
    char *reply;
    size_t reply_len;
    char *raw; /* the request as RESP, for forwarding */
    size_t raw_len;
    resp_arg *argv; /* into raw */
    size_t argc;
};

struct kv_client {
    struct kv_io io;
    struct kv_client *prev, *next;
    kvbuf in;
    kvbuf out;
    size_t out_off;
    struct kv_pending *head, *tail;
    size_t inflight;
    int closing;   /* close once the replies are out */
    int paused;    /* too many slots: not reading */
    int noforward; /* a forwarding server: answer, never forward */
};

struct kv_fwd {
    struct kv_io io;
    uint64_t leader;
    int connecting;
    int stale; /* the leader answered NOTLEADER: reconnect when idle */
    kvbuf out;
    size_t out_off;
    kvbuf in;
    struct kv_pending *head, *tail;
};

struct kv_server {
    kv_server_options o;
    char advertise[KV_MAX_ADDR + 1];
    int epfd;
    struct kv_io lio, mio, eio;
    struct kv_fwd fwd;
    struct kv_client *clients;
    size_t nclients;
    pthread_mutex_t done_mu;
    struct kv_pending *done;
    resp_req req;
    kvbuf enc;
    struct kv_pending *parked; /* writes waiting for a reachable leader */
    /* reads that arrived in this pass of the loop, sharing one
     * linearizable read issued at its end (linked by link) */
    struct kv_pending *rbatch, *rbatch_tail;
    uint64_t unparked_at;
    uint64_t announced_at;
    _Atomic uint64_t reg_term;
    /* counters (event loop) */
    uint64_t connections, commands, forwarded, errors, protocol_errors,
        reads, writes;
};

/* ---- helpers --------------------------------------------------------- */

int kv_resolve(const char *addr, struct sockaddr_storage *ss,
               unsigned *sslen)
{
    char host[KV_MAX_ADDR + 1];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) > KV_MAX_ADDR) {
        return -1;
    }
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        h = host + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &res) != 0 ||
        res == NULL) {
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int listen_on(const char *addr)
{
    struct sockaddr_storage ss;
    unsigned sl;
    if (kv_resolve(addr, &ss, &sl)) {
        fprintf(stderr, "craft-kv: cannot resolve %s\n", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    int one = 1;
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 1024)) {
        fprintf(stderr, "craft-kv: cannot listen on %s: %s\n", addr,
                strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void ep_set(kv_server *s, struct kv_io *io, uint32_t ev)
{
    if (io->reg && io->events == ev) {
        return;
    }
    struct epoll_event e = {.events = ev, .data.ptr = io};
    epoll_ctl(s->epfd, io->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, io->fd, &e);
    io->events = ev;
    io->reg = 1;
}

static void errorf(kvbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void errorf(kvbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    resp_error(b, tmp);
}

static int eq(const resp_arg *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && strncasecmp(a->p, s, n) == 0;
}

/* ---- slots ----------------------------------------------------------- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A slot for the request argv[0..argc), which it copies (as RESP). */
static struct kv_pending *pending_new(kv_server *s, struct kv_client *c,
                                      const resp_arg *argv, size_t argc)
{
    size_t raw = 32;
    for (size_t i = 0; i < argc; i++) {
        raw += argv[i].len + 32;
    }
    size_t sz = sizeof(struct kv_pending) + argc * sizeof(resp_arg) + raw;
    struct kv_pending *p = calloc(1, sz);
    if (p == NULL) {
        return NULL;
    }
    p->srv = s;
    p->client = c;
    p->deadline = mono_ms() + s->o.timeout_ms;
    p->argv = (resp_arg *)(p + 1);
    p->raw = (char *)(p->argv + argc);
    p->argc = argc;
    int n = sprintf(p->raw, "*%zu\r\n", argc);
    size_t pos = (size_t)n;
    for (size_t i = 0; i < argc; i++) {
        pos += (size_t)sprintf(p->raw + pos, "$%zu\r\n", argv[i].len);
        memcpy(p->raw + pos, argv[i].p, argv[i].len);
        p->argv[i].p = p->raw + pos;
        p->argv[i].len = argv[i].len;
        pos += argv[i].len;
        memcpy(p->raw + pos, "\r\n", 2);
        pos += 2;
    }
    p->raw_len = pos;
    if (c) {
        if (c->tail) {
            c->tail->next = p;
        } else {
            c->head = p;
        }
        c->tail = p;
        c->inflight++;
    }
    return p;
}

static void pending_free(struct kv_pending *p)
{
    free(p->reply);
    free(p);
}

/* Called on the apply thread (or the loop): the reply of p is ready, or
 * it must be routed again (retry). The loop takes it from here. */
static void complete(struct kv_pending *p, const void *reply, size_t len)
{
    kv_server *s = p->srv;
    if (!p->retry) {
        p->reply = malloc(len ? len : 1);
        if (p->reply) {
            memcpy(p->reply, reply, len);
            p->reply_len = len;
        }
    }
    pthread_mutex_lock(&s->done_mu);
    int wake = s->done == NULL;
    p->link = s->done;
    s->done = p;
    pthread_mutex_unlock(&s->done_mu);
    if (wake) {
        uint64_t one = 1;
        ssize_t w = write(s->eio.fd, &one, sizeof(one));
        (void)w;
    }
}

static void complete_error(struct kv_pending *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void complete_error(struct kv_pending *p, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp + 1, sizeof(tmp) - 3, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n > sizeof(tmp) - 4) {
        n = (int)sizeof(tmp) - 4;
    }
    tmp[0] = '-';
    memcpy(tmp + 1 + n, "\r\n", 2);
    complete(p, tmp, (size_t)n + 3);
}

static int is_read(int cmd);

/* The reply to a call that failed with code: a retry through the leader
 * (ENOTLEADER with a hint) or an error the client can act on. */
static void complete_failed(struct kv_pending *p, int code, uint64_t hint)
{
    kv_server *s = p->srv;
    if (code == CRAFT_ENOTLEADER && hint != CRAFT_NONE && hint != s->o.id &&
        p->tries < MAX_TRIES) {
        p->retry = 1;
        complete(p, NULL, 0);
        return;
    }
    /* A read has no effect to lose or repeat: one that met a leader
     * change (ESTEPPEDDOWN, or no leader known yet) is simply asked
     * again, where a write's outcome is unknown and goes back to the
     * client. */
    if (is_read(p->cmd) && p->tries < MAX_TRIES &&
        (code == CRAFT_ESTEPPEDDOWN || code == CRAFT_ENOTLEADER) &&
        mono_ms() < p->deadline) {
        p->retry = 1;
        complete(p, NULL, 0);
        return;
    }
    if (code == CRAFT_ENOTLEADER) {
        char a[KV_MAX_ADDR + 1] = "";
        kv_store_addr(s->o.store, hint, a, sizeof(a));
        complete_error(p, "NOTLEADER leader=%llu addr=%s",
                       (unsigned long long)hint, a[0] ? a : "unknown");
        return;
    }
    if (code == CRAFT_ETIMEDOUT || code == CRAFT_ESTEPPEDDOWN ||
        code == CRAFT_EBUSY || code == CRAFT_ENOTREADY) {
        complete_error(p, "TRYAGAIN %s", craft_strerror(code));
        return;
    }
    complete_error(p, "ERR %s", craft_strerror(code));
}

static void propose_cb(void *ctx, const craft_result *res)
{
    struct kv_pending *p = ctx;
    int st = craft_result_status(res);
    if (st == CRAFT_OK) {
        const void *d = NULL;
        size_t n = 0;
        craft_result_data(res, &d, &n);
        if (n == 0) {
            complete_error(p, "ERR the write was applied without a reply");
        } else {
            complete(p, d, n);
        }
        return;
    }
    if (st == CRAFT_ECALLBACK) {
        complete_error(p, "ERR the write could not be applied");
        return;
    }
    complete_failed(p, st, craft_result_leader(res));
}

static void member_cb(void *ctx, const craft_result *res)
{
    struct kv_pending *p = ctx;
    int st = craft_result_status(res);
    if (st == CRAFT_OK) {
        complete(p, "+OK\r\n", 5);
        return;
    }
    complete_failed(p, st, craft_result_leader(res));
}

static void read_cb(void *ctx, const craft_result *res)
{
    struct kv_pending *p = ctx;
    kv_server *s = p->srv;
    int st = craft_result_status(res);
    if (st != CRAFT_OK) {
        complete_failed(p, st, craft_result_leader(res));
        return;
    }
    /* On the apply thread, FIFO with the applies: the store is ours. */
    kvbuf b = {0};
    uint64_t now = kv_now_ms();
    kv_store *kv = s->o.store;
    switch (p->cmd) {
    case C_GET:
        kv_store_get(kv, &p->argv[1], now, &b);
        break;
    case C_MGET:
        resp_array(&b, p->argc - 1);
        for (size_t i = 1; i < p->argc; i++) {
            kv_store_get(kv, &p->argv[i], now, &b);
        }
        break;
    case C_EXISTS: {
        int64_t n = 0;
        for (size_t i = 1; i < p->argc; i++) {
            n += kv_store_exists(kv, &p->argv[i], now);
        }
        resp_int(&b, n);
        break;
    }
    case C_STRLEN:
        resp_int(&b, (int64_t)kv_store_strlen(kv, &p->argv[1], now));
        break;
    case C_PTTL:
    case C_TTL: {
        int64_t t = kv_store_pttl(kv, &p->argv[1], now);
        if (t >= 0 && p->cmd == C_TTL) {
            t = (t + 999) / 1000;
        }
        resp_int(&b, t);
        break;
    }
    case C_DBSIZE:
        resp_int(&b, (int64_t)kv_store_dbsize(kv, now));
        break;
    default:
        resp_error(&b, "ERR unknown read");
        break;
    }
    if (b.oom) {
        complete_error(p, "ERR out of memory");
    } else {
        complete(p, b.p, b.len);
    }
    kvbuf_free(&b);
}

static void snapshot_cb(void *ctx, const craft_result *res)
{
    struct kv_pending *p = ctx;
    int st = craft_result_status(res);
    if (st == CRAFT_OK) {
        char tmp[64];
        int n = snprintf(tmp, sizeof(tmp), ":%llu\r\n",
                         (unsigned long long)craft_result_index(res));
        complete(p, tmp, (size_t)n);
    } else {
        complete_error(p, "ERR %s", craft_strerror(st));
    }
}

/* ---- clients --------------------------------------------------------- */

static void client_close(kv_server *s, struct kv_client *c)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->io.fd, NULL);
    close(c->io.fd);
    struct kv_pending *p = c->head;
    while (p) {
        struct kv_pending *n = p->next;
        if (p->done) {
            pending_free(p);
        } else {
            p->client = NULL; /* freed when its completion arrives */
        }
        p = n;
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        s->clients = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    kvbuf_free(&c->in);
    kvbuf_free(&c->out);
    s->nclients--;
    free(c);
}

static void client_process(kv_server *s, struct kv_client *c);

/* Writes what can be written; closes the client when it is done or
 * broken. Returns -1 when c was freed. */
static int client_flush(kv_server *s, struct kv_client *c)
{
    while (c->head && c->head->done) {
        struct kv_pending *p = c->head;
        c->head = p->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        c->inflight--;
        if (p->reply) {
            kvbuf_put(&c->out, p->reply, p->reply_len);
        } else {
            resp_error(&c->out, "ERR out of memory");
        }
        pending_free(p);
    }
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->io.fd, c->out.p + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            client_close(s, c);
            return -1;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
        if (c->out.cap > 1024 * 1024) {
            kvbuf_free(&c->out);
        }
    }
    if (c->out.oom) {
        client_close(s, c);
        return -1;
    }
    if (c->closing && c->head == NULL && c->out.len == 0) {
        client_close(s, c);
        return -1;
    }
    if (c->paused && c->inflight < MAX_INFLIGHT / 2 && !c->closing) {
        c->paused = 0;
        client_process(s, c);
    }
    uint32_t ev = 0;
    if (!c->paused && !c->closing) {
        ev |= EPOLLIN;
    }
    if (c->out.len > c->out_off) {
        ev |= EPOLLOUT;
    }
    ep_set(s, &c->io, ev); /* 0: only errors and hang-ups */
    return 0;
}

/* An immediate reply: straight to the output when nothing is queued
 * before it, else a filled slot. */
static kvbuf *reply_now(kv_server *s, struct kv_client *c, kvbuf *tmp)
{
    (void)s;
    if (c->head == NULL) {
        return &c->out;
    }
    tmp->len = 0;
    return tmp;
}

static void reply_done(kv_server *s, struct kv_client *c, kvbuf *b,
                       kvbuf *tmp)
{
    if (b != tmp) {
        return;
    }
    struct kv_pending *p = pending_new(s, c, NULL, 0);
    if (p == NULL) {
        c->closing = 1;
        return;
    }
    p->reply = malloc(tmp->len ? tmp->len : 1);
    if (p->reply) {
        memcpy(p->reply, tmp->p, tmp->len);
        p->reply_len = tmp->len;
    }
    p->done = 1;
}

/* ---- forwarding ------------------------------------------------------ */

/* A write that could not reach the leader (no connection could be made:
 * it was never sent) waits for the next routing round, until its
 * deadline: a client sees a failover as a slower reply. */
static void park(kv_server *s, struct kv_pending *p)
{
    p->link = s->parked;
    s->parked = p;
}

static void fwd_close_retry(kv_server *s, const char *why, int retry);

static void fwd_close(kv_server *s, const char *why)
{
    fwd_close_retry(s, why, 0);
}

static void fwd_close_retry(kv_server *s, const char *why, int retry)
{
    struct kv_fwd *f = &s->fwd;
    if (f->io.fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, f->io.fd, NULL);
        close(f->io.fd);
    }
    f->io.fd = -1;
    f->io.reg = 0;
    f->connecting = 0;
    f->stale = 0;
    f->out.len = f->out_off = 0;
    f->in.len = 0;
    struct kv_pending *p = f->head;
    f->head = f->tail = NULL;
    while (p) {
        struct kv_pending *n = p->link;
        if (p->client == NULL) {
            pending_free(p);
        } else if (retry && mono_ms() < p->deadline) {
            park(s, p);
        } else {
            complete_error(p, "TRYAGAIN the connection to the leader %s",
                           why);
        }
        p = n;
    }
}

static void fwd_update(kv_server *s)
{
    struct kv_fwd *f = &s->fwd;
    if (f->io.fd < 0) {
        return;
    }
    uint32_t ev = EPOLLIN;
    if (f->connecting || f->out.len > f->out_off) {
        ev |= EPOLLOUT;
    }
    ep_set(s, &f->io, ev);
}

static void fwd_write(kv_server *s)
{
    struct kv_fwd *f = &s->fwd;
    if (f->connecting) {
        return;
    }
    while (f->out_off < f->out.len) {
        ssize_t w = send(f->io.fd, f->out.p + f->out_off,
                         f->out.len - f->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            fwd_close(s, "failed");
            return;
        }
        f->out_off += (size_t)w;
    }
    if (f->out_off == f->out.len) {
        f->out.len = f->out_off = 0;
    }
    fwd_update(s);
}

static void fwd_enqueue(struct kv_fwd *f, struct kv_pending *p)
{
    p->link = NULL;
    if (f->tail) {
        f->tail->link = p;
    } else {
        f->head = p;
    }
    f->tail = p;
    kvbuf_put(&f->out, p->raw, p->raw_len);
}

static int fwd_connect(kv_server *s, uint64_t leader, const char *addr)
{
    struct kv_fwd *f = &s->fwd;
    struct sockaddr_storage ss;
    unsigned sl;
    if (kv_resolve(addr, &ss, &sl)) {
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rv = connect(fd, (struct sockaddr *)&ss, sl);
    if (rv < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    f->io.fd = fd;
    f->connecting = rv < 0;
    f->leader = leader;
    f->stale = 0;
    /* The hello: this connection's requests are never forwarded on. */
    static const resp_arg hello = {"RAFT.NOFORWARD", 14};
    struct kv_pending *p = pending_new(s, NULL, &hello, 1);
    if (p == NULL) {
        fwd_close(s, "failed");
        return -1;
    }
    fwd_enqueue(f, p);
    fwd_update(s);
    return 0;
}

static void fwd_send(kv_server *s, struct kv_pending *p, uint64_t leader)
{
    struct kv_fwd *f = &s->fwd;
    if (f->io.fd >= 0 && (f->leader != leader || f->stale) &&
        f->head == NULL) {
        fwd_close(s, "closed");
    }
    if (f->io.fd < 0) {
        char addr[KV_MAX_ADDR + 1];
        if (kv_store_addr(s->o.store, leader, addr, sizeof(addr))) {
            complete_error(p,
                           "TRYAGAIN the leader %llu has not published its "
                           "client address yet",
                           (unsigned long long)leader);
            return;
        }
        if (fwd_connect(s, leader, addr)) {
            if (mono_ms() < p->deadline) {
                park(s, p);
            } else {
                complete_error(p,
                               "TRYAGAIN cannot connect to the leader at %s",
                               addr);
            }
            return;
        }
    }
    s->forwarded++;
    fwd_enqueue(f, p);
    fwd_write(s);
}

static void fwd_read(kv_server *s)
{
    struct kv_fwd *f = &s->fwd;
    if (f->in.cap - f->in.len < 16384) {
        size_t want = f->in.len + 65536;
        char *np = realloc(f->in.p, want);
        if (np == NULL) {
            fwd_close(s, "failed");
            return;
        }
        f->in.p = np;
        f->in.cap = want;
    }
    ssize_t r = recv(f->io.fd, f->in.p + f->in.len, f->in.cap - f->in.len, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        fwd_close(s, r == 0 ? "was closed" : "failed");
        return;
    }
    if (r < 0) {
        return;
    }
    f->in.len += (size_t)r;
    size_t off = 0;
    for (;;) {
        size_t used;
        int rv = resp_scan_reply(f->in.p + off, f->in.len - off, &used);
        if (rv == RESP_MORE) {
            break;
        }
        struct kv_pending *p = f->head;
        if (rv == RESP_ERROR || p == NULL) {
            fwd_close(s, "sent a bad reply");
            return;
        }
        f->head = p->link;
        if (f->head == NULL) {
            f->tail = NULL;
        }
        const char *rep = f->in.p + off;
        off += used;
        if (p->client == NULL) {
            pending_free(p);
            continue;
        }
        if (used > 11 && memcmp(rep, "-NOTLEADER ", 11) == 0) {
            f->stale = 1;
            if (p->tries < MAX_TRIES) {
                p->retry = 1;
                complete(p, NULL, 0);
                continue;
            }
        }
        complete(p, rep, used);
    }
    memmove(f->in.p, f->in.p + off, f->in.len - off);
    f->in.len -= off;
    if (f->in.len > MAX_INBUF) {
        fwd_close(s, "sent too much");
    }
}

/* ---- commands -------------------------------------------------------- */

/* Proposes the write in p on this node. */
static void propose(kv_server *s, struct kv_pending *p)
{
    kvbuf *e = &s->enc;
    e->len = 0;
    e->oom = 0;
    uint64_t now = kv_now_ms();
    int rv;
    switch (p->cmd) {
    case C_SET:
        kv_entry_encode(e, KV_OP_SET, p->flags, now, (uint64_t)p->aux,
                        &p->argv[1], 2);
        break;
    case C_MSET:
        kv_entry_encode(e, KV_OP_MSET, 0, now, 0, &p->argv[1], p->argc - 1);
        break;
    case C_DEL:
        kv_entry_encode(e, KV_OP_DEL, 0, now, 0, &p->argv[1], p->argc - 1);
        break;
    case C_INCRBY:
        kv_entry_encode(e, KV_OP_INCRBY, 0, now, (uint64_t)p->aux,
                        &p->argv[1], 1);
        break;
    case C_FLUSH:
        kv_entry_encode(e, KV_OP_FLUSH, 0, now, 0, NULL, 0);
        break;
    case C_ADDR:
        kv_entry_encode(e, KV_OP_ADDR, 0, now, (uint64_t)p->aux, &p->argv[2],
                        1);
        break;
    case C_ADD: {
        if (p->argc == 4) {
            kvbuf a = {0};
            kv_entry_encode(&a, KV_OP_ADDR, 0, now, (uint64_t)p->aux,
                            &p->argv[3], 1);
            if (!a.oom) {
                craft_node_propose(s->o.node, a.p, a.len, s->o.timeout_ms,
                                   NULL, NULL);
            }
            kvbuf_free(&a);
        }
        rv = craft_node_add_peer_addr(s->o.node, (uint64_t)p->aux,
                                      p->argv[2].p, p->argv[2].len,
                                      s->o.timeout_ms * 6, member_cb, p);
        goto out;
    }
    case C_REMOVE:
        rv = craft_node_remove_peer(s->o.node, (uint64_t)p->aux,
                                    s->o.timeout_ms, member_cb, p);
        goto out;
    case C_TRANSFER:
        rv = craft_node_transfer_leadership(s->o.node, (uint64_t)p->aux,
                                            s->o.timeout_ms, member_cb, p);
        goto out;
    default:
        complete_error(p, "ERR not a write");
        return;
    }
    if (e->oom) {
        complete_error(p, "ERR out of memory");
        return;
    }
    s->writes++;
    rv = craft_node_propose(s->o.node, e->p, e->len, s->o.timeout_ms,
                            propose_cb, p);
out:
    if (rv != CRAFT_OK) {
        complete_failed(p, rv, craft_node_leader(s->o.node));
    }
}

/* Sends a write or membership change where it can be made. */
static void route(kv_server *s, struct kv_pending *p)
{
    p->tries++;
    uint64_t leader = craft_node_leader(s->o.node);
    int noforward = p->client && p->client->noforward;
    if (leader == s->o.id || leader == CRAFT_NONE ||
        craft_node_role(s->o.node) == CRAFT_ROLE_LEADER) {
        /* Leading, or an election is on: the node waits for a leader
         * (wait_leader) and we retry through it. */
        propose(s, p);
        return;
    }
    if (noforward) {
        char a[KV_MAX_ADDR + 1] = "";
        kv_store_addr(s->o.store, leader, a, sizeof(a));
        complete_error(p, "NOTLEADER leader=%llu addr=%s",
                       (unsigned long long)leader, a[0] ? a : "unknown");
        return;
    }
    fwd_send(s, p, leader);
}

static int is_read(int cmd)
{
    return cmd == C_GET || cmd == C_MGET || cmd == C_EXISTS ||
           cmd == C_STRLEN || cmd == C_PTTL || cmd == C_TTL ||
           cmd == C_DBSIZE;
}

/* One linearizable read for every read that arrived in a pass of the
 * loop: they all arrived before it was issued, so its read index covers
 * every write they must see (thesis §6.4), and one call, one completion
 * and one apply-thread item serve them all. */
struct kv_rbatch {
    struct kv_pending *head;
};

static void rbatch_cb(void *ctx, const craft_result *res)
{
    struct kv_rbatch *b = ctx;
    struct kv_pending *p = b->head;
    while (p) {
        struct kv_pending *n = p->link; /* complete() reuses link */
        read_cb(p, res);
        p = n;
    }
    free(b);
}

static void read_local(kv_server *s, struct kv_pending *p)
{
    s->reads++;
    p->link = NULL;
    if (s->rbatch_tail) {
        s->rbatch_tail->link = p;
    } else {
        s->rbatch = p;
    }
    s->rbatch_tail = p;
}

/* Issues the reads of this pass (at its end). */
static void flush_reads(kv_server *s)
{
    struct kv_pending *p = s->rbatch;
    s->rbatch = s->rbatch_tail = NULL;
    if (p == NULL) {
        return;
    }
    struct kv_rbatch *b = malloc(sizeof(*b));
    if (b != NULL) {
        b->head = p;
        int rv = craft_node_read_linearizable(s->o.node, s->o.timeout_ms,
                                              rbatch_cb, b);
        if (rv == CRAFT_OK) {
            return;
        }
        free(b);
        while (p) {
            struct kv_pending *n = p->link;
            complete_failed(p, rv, CRAFT_NONE);
            p = n;
        }
        return;
    }
    while (p) { /* no memory for the batch: one read each */
        struct kv_pending *n = p->link;
        int rv = craft_node_read_linearizable(s->o.node, s->o.timeout_ms,
                                              read_cb, p);
        if (rv != CRAFT_OK) {
            complete_failed(p, rv, CRAFT_NONE);
        }
        p = n;
    }
}

static void info(kv_server *s, kvbuf *b);

/* Parses SET's options into p; 0, or -1 with the error in b. */
static int set_options(struct kv_pending *p, const resp_arg *argv,
                       size_t argc, kvbuf *b)
{
    for (size_t i = 3; i < argc; i++) {
        const resp_arg *a = &argv[i];
        if (eq(a, "NX") && !(p->flags & KV_SET_XX)) {
            p->flags |= KV_SET_NX;
        } else if (eq(a, "XX") && !(p->flags & KV_SET_NX)) {
            p->flags |= KV_SET_XX;
        } else if (eq(a, "GET")) {
            p->flags |= KV_SET_GET;
        } else if ((eq(a, "EX") || eq(a, "PX") || eq(a, "EXAT") ||
                    eq(a, "PXAT")) &&
                   i + 1 < argc && p->aux == 0) {
            int64_t v;
            if (resp_parse_i64(argv[i + 1].p, argv[i + 1].len, &v) ||
                v <= 0 || v > INT64_MAX / 2000) {
                resp_error(b, "ERR invalid expire time in 'set' command");
                return -1;
            }
            int64_t now = (int64_t)kv_now_ms();
            if (eq(a, "EX")) {
                p->aux = now + v * 1000;
            } else if (eq(a, "PX")) {
                p->aux = now + v;
            } else if (eq(a, "EXAT")) {
                p->aux = v * 1000;
            } else {
                p->aux = v;
            }
            i++;
        } else {
            resp_error(b, "ERR syntax error");
            return -1;
        }
    }
    return 0;
}

struct cmd_spec {
    const char *name;
    int cmd;
    int min, max; /* argument count with the name; max -1: any */
    int write;
};

static const struct cmd_spec cmds[] = {
    {"GET", C_GET, 2, 2, 0},          {"MGET", C_MGET, 2, -1, 0},
    {"EXISTS", C_EXISTS, 2, -1, 0},   {"STRLEN", C_STRLEN, 2, 2, 0},
    {"PTTL", C_PTTL, 2, 2, 0},        {"TTL", C_TTL, 2, 2, 0},
    {"DBSIZE", C_DBSIZE, 1, 1, 0},    {"SET", C_SET, 3, 9, 1},
    {"MSET", C_MSET, 3, -1, 1},       {"DEL", C_DEL, 2, -1, 1},
    {"UNLINK", C_DEL, 2, -1, 1},      {"INCR", C_INCRBY, 2, 2, 1},
    {"DECR", C_INCRBY, 2, 2, 1},      {"INCRBY", C_INCRBY, 3, 3, 1},
    {"DECRBY", C_INCRBY, 3, 3, 1},    {"FLUSHALL", C_FLUSH, 1, 2, 1},
    {"FLUSHDB", C_FLUSH, 1, 2, 1},    {"RAFT.ADD", C_ADD, 3, 4, 1},
    {"RAFT.REMOVE", C_REMOVE, 2, 2, 1},
    {"RAFT.TRANSFER", C_TRANSFER, 2, 2, 1},
    {"RAFT.ADDR", C_ADDR, 3, 3, 1},
};

static void dispatch(kv_server *s, struct kv_client *c, const resp_arg *argv,
                     size_t argc)
{
    kvbuf tmp = {0};
    kvbuf *b = reply_now(s, c, &tmp);
    const resp_arg *name = &argv[0];
    s->commands++;
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
        const struct cmd_spec *cs = &cmds[k];
        if (!eq(name, cs->name)) {
            continue;
        }
        if ((int)argc < cs->min || (cs->max >= 0 && (int)argc > cs->max) ||
            (cs->cmd == C_MSET && argc % 2 == 0)) {
            errorf(b, "ERR wrong number of arguments for '%s' command",
                   cs->name);
            goto immediate;
        }
        struct kv_pending p0 = {0};
        p0.cmd = cs->cmd;
        /* Validate before a slot exists. */
        if (cs->cmd == C_SET && set_options(&p0, argv, argc, b)) {
            goto immediate;
        }
        if (cs->cmd == C_INCRBY) {
            p0.aux = 1;
            if (argc == 3 &&
                (resp_parse_i64(argv[2].p, argv[2].len, &p0.aux) ||
                 p0.aux == INT64_MIN)) {
                resp_error(b, "ERR value is not an integer or out of range");
                goto immediate;
            }
            if (name->len >= 4 && strncasecmp(name->p, "DECR", 4) == 0) {
                p0.aux = -p0.aux;
            }
        }
        if (cs->cmd == C_ADD || cs->cmd == C_REMOVE ||
            cs->cmd == C_TRANSFER || cs->cmd == C_ADDR) {
            if (resp_parse_i64(argv[1].p, argv[1].len, &p0.aux) ||
                p0.aux <= 0) {
                resp_error(b, "ERR the server id must be a positive integer");
                goto immediate;
            }
            if (cs->cmd == C_ADDR && argv[2].len > KV_MAX_ADDR) {
                resp_error(b, "ERR bad address");
                goto immediate;
            }
            if (cs->cmd == C_ADD && (argv[2].len == 0 ||
                                     argv[2].len > CRAFT_MAX_ADDR_BYTES ||
                                     (argc == 4 && argv[3].len > KV_MAX_ADDR))) {
                resp_error(b, "ERR bad address");
                goto immediate;
            }
        }
        if (b == &tmp) {
            kvbuf_free(&tmp);
        }
        struct kv_pending *p = pending_new(s, c, argv, argc);
        if (p == NULL) {
            c->closing = 1;
            return;
        }
        p->cmd = p0.cmd;
        p->flags = p0.flags;
        p->aux = p0.aux;
        if (cs->write) {
            route(s, p);
        } else {
            read_local(s, p);
        }
        return;
    }
    if (eq(name, "PING")) {
        if (argc == 1) {
            resp_simple(b, "PONG");
        } else {
            resp_bulk(b, argv[1].p, argv[1].len);
        }
    } else if (eq(name, "ECHO") && argc == 2) {
        resp_bulk(b, argv[1].p, argv[1].len);
    } else if (eq(name, "QUIT")) {
        resp_simple(b, "OK");
        c->closing = 1;
    } else if (eq(name, "SELECT") && argc == 2) {
        if (argv[1].len == 1 && argv[1].p[0] == '0') {
            resp_simple(b, "OK");
        } else {
            resp_error(b, "ERR craft-kv has only database 0");
        }
    } else if (eq(name, "COMMAND") || (eq(name, "CONFIG") && argc >= 2 &&
                                       eq(&argv[1], "GET"))) {
        resp_array(b, 0);
    } else if (eq(name, "CLIENT")) {
        resp_simple(b, "OK");
    } else if (eq(name, "INFO")) {
        kvbuf t = {0};
        info(s, &t);
        resp_bulk(b, t.p, t.len);
        kvbuf_free(&t);
    } else if (eq(name, "RAFT.NOFORWARD")) {
        c->noforward = 1;
        resp_simple(b, "OK");
    } else if (eq(name, "RAFT.LEADER")) {
        uint64_t l = craft_node_leader(s->o.node);
        char a[KV_MAX_ADDR + 1] = "";
        kv_store_addr(s->o.store, l, a, sizeof(a));
        resp_array(b, 2);
        resp_int(b, (int64_t)l);
        resp_bulk(b, a, strlen(a));
    } else if (eq(name, "RAFT.SNAPSHOT")) {
        if (b == &tmp) {
            kvbuf_free(&tmp);
        }
        struct kv_pending *p = pending_new(s, c, argv, argc);
        if (p == NULL) {
            c->closing = 1;
            return;
        }
        int rv = craft_node_trigger_snapshot(s->o.node, s->o.timeout_ms,
                                             snapshot_cb, p);
        if (rv != CRAFT_OK) {
            complete_error(p, "ERR %s", craft_strerror(rv));
        }
        return;
    } else {
        char nm[64];
        size_t n = name->len < sizeof(nm) - 1 ? name->len : sizeof(nm) - 1;
        for (size_t i = 0; i < n; i++) {
            nm[i] = name->p[i] >= 32 && name->p[i] < 127 && name->p[i] != '\''
                        ? name->p[i]
                        : '?';
        }
        nm[n] = '\0';
        errorf(b, "ERR unknown command '%s'", nm);
    }
immediate:
    if (b->len && b->p[0] == '-') {
        s->errors++;
    }
    reply_done(s, c, b, &tmp);
    kvbuf_free(&tmp);
}

static void client_process(kv_server *s, struct kv_client *c)
{
    size_t off = 0;
    while (off < c->in.len && !c->closing) {
        if (c->inflight >= MAX_INFLIGHT) {
            c->paused = 1;
            break;
        }
        size_t used = 0;
        const char *err;
        int rv = resp_parse_request(c->in.p + off, c->in.len - off, &s->req,
                                    &used, &err);
        if (rv == RESP_MORE) {
            if (c->in.len - off > MAX_INBUF) {
                rv = RESP_ERROR;
                err = "Protocol error: request too big";
            } else {
                break;
            }
        }
        if (rv == RESP_ERROR) {
            kvbuf tmp = {0};
            kvbuf *b = reply_now(s, c, &tmp);
            errorf(b, "ERR %s", err);
            reply_done(s, c, b, &tmp);
            kvbuf_free(&tmp);
            s->protocol_errors++;
            c->closing = 1;
            off = c->in.len;
            break;
        }
        off += used;
        if (s->req.argc > 0) {
            dispatch(s, c, s->req.argv, s->req.argc);
        }
    }
    if (off > 0) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
    if (s->req.cap > 1024) {
        resp_req_free(&s->req);
    }
}

static void client_read(kv_server *s, struct kv_client *c)
{
    if (c->in.cap - c->in.len < 16384) {
        size_t want = c->in.len + 65536;
        char *np = realloc(c->in.p, want);
        if (np == NULL) {
            client_close(s, c);
            return;
        }
        c->in.p = np;
        c->in.cap = want;
    }
    ssize_t r = recv(c->io.fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        client_close(s, c);
        return;
    }
    if (r < 0) {
        return;
    }
    c->in.len += (size_t)r;
    client_process(s, c);
    client_flush(s, c);
}

static void accept_all(kv_server *s, int lfd, int kind)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct kv_client *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->io.kind = kind;
        c->io.fd = fd;
        c->next = s->clients;
        if (s->clients) {
            s->clients->prev = c;
        }
        s->clients = c;
        s->nclients++;
        if (kind == IO_CLIENT) {
            s->connections++;
        }
        ep_set(s, &c->io, EPOLLIN);
    }
}

/* ---- INFO and metrics ------------------------------------------------ */

static const char *role_name(int r)
{
    switch (r) {
    case CRAFT_ROLE_LEADER:
        return "leader";
    case CRAFT_ROLE_CANDIDATE:
        return "candidate";
    case CRAFT_ROLE_PRE_CANDIDATE:
        return "pre-candidate";
    default:
        return "follower";
    }
}

static void info(kv_server *s, kvbuf *b)
{
    craft_node *n = s->o.node;
    kvbuf_printf(b, "# Server\r\ncraft_kv_version:%s\r\nprocess_id:%ld\r\n"
                    "resp_addr:%s\r\n\r\n",
                 craft_version_string(), (long)getpid(), s->advertise);
    kvbuf_printf(b, "# Clients\r\nconnected_clients:%zu\r\n\r\n",
                 s->nclients);
    kvbuf_printf(b,
                 "# Stats\r\ntotal_connections_received:%llu\r\n"
                 "total_commands_processed:%llu\r\nwrites_proposed:%llu\r\n"
                 "writes_forwarded:%llu\r\nreads:%llu\r\nerror_replies:%llu\r\n"
                 "protocol_errors:%llu\r\nsnapshots_taken:%llu\r\n"
                 "snapshots_restored:%llu\r\n\r\n",
                 (unsigned long long)s->connections,
                 (unsigned long long)s->commands,
                 (unsigned long long)s->writes,
                 (unsigned long long)s->forwarded,
                 (unsigned long long)s->reads,
                 (unsigned long long)s->errors,
                 (unsigned long long)s->protocol_errors,
                 (unsigned long long)atomic_load(&s->o.store->snapshots),
                 (unsigned long long)atomic_load(&s->o.store->restores));
    kvbuf_printf(b, "# Keyspace\r\ndb0:keys=%llu\r\n\r\n",
                 (unsigned long long)atomic_load(&s->o.store->keys));
    craft_status *st = NULL;
    if (craft_node_status(n, &st) != CRAFT_OK) {
        kvbuf_printf(b, "# Raft\r\nid:%llu\r\nstatus:unavailable\r\n",
                     (unsigned long long)s->o.id);
        return;
    }
    uint64_t leader = craft_status_leader(st);
    char la[KV_MAX_ADDR + 1] = "";
    kv_store_addr(s->o.store, leader, la, sizeof(la));
    char lraft[CRAFT_MAX_ADDR_BYTES + 1] = "";
    size_t cnt = craft_status_member_count(st);
    for (size_t k = 0; k < cnt; k++) {
        uint64_t id;
        const void *a;
        size_t al;
        craft_status_member(st, k, &id, NULL, NULL, NULL, NULL);
        if (id == leader && craft_status_member_addr(st, k, &a, &al) ==
                                CRAFT_OK && a) {
            memcpy(lraft, a, al);
            lraft[al] = '\0';
        }
    }
    kvbuf_printf(b,
                 "# Raft\r\nid:%llu\r\nrole:%s\r\nterm:%llu\r\nleader:%llu\r\n"
                 "leader_raft_addr:%s\r\nleader_resp_addr:%s\r\n"
                 "raft_addr:%s\r\ncommit_index:%llu\r\napplied_index:%llu\r\n"
                 "last_index:%llu\r\nsnapshot_index:%llu\r\n"
                 "read_mode:%s\r\nmembers:%zu\r\n",
                 (unsigned long long)craft_status_id(st),
                 role_name(craft_status_role(st)),
                 (unsigned long long)craft_status_term(st),
                 (unsigned long long)leader, lraft, la, s->o.raft_addr,
                 (unsigned long long)craft_status_commit_index(st),
                 (unsigned long long)craft_status_applied_index(st),
                 (unsigned long long)craft_status_last_index(st),
                 (unsigned long long)craft_status_snapshot_index(st),
                 s->o.lease_reads ? "lease" : "readindex", cnt);
    for (size_t k = 0; k < cnt; k++) {
        uint64_t id, match;
        int role;
        const void *a = NULL;
        size_t al = 0;
        char addr[CRAFT_MAX_ADDR_BYTES + 1] = "";
        char ra[KV_MAX_ADDR + 1] = "";
        craft_status_member(st, k, &id, &role, &match, NULL, NULL);
        if (craft_status_member_addr(st, k, &a, &al) == CRAFT_OK && a) {
            memcpy(addr, a, al);
            addr[al] = '\0';
        }
        kv_store_addr(s->o.store, id, ra, sizeof(ra));
        kvbuf_printf(b, "member%zu:id=%llu,role=%s,raft=%s,resp=%s,match=%llu\r\n",
                     k, (unsigned long long)id,
                     role == CRAFT_VOTER ? "voter" : "learner", addr,
                     ra[0] ? ra : "unknown", (unsigned long long)match);
    }
    kvbuf_printf(b, "commands:RAFT.ADD id raft-addr [resp-addr], RAFT.REMOVE "
                    "id, RAFT.TRANSFER id, RAFT.SNAPSHOT, RAFT.LEADER\r\n");
    craft_status_free(st);
}

static void metrics(kv_server *s, kvbuf *b)
{
    size_t len = 0;
    craft_node_metrics_text(s->o.node, NULL, 0, &len);
    char *t = malloc(len + 1);
    if (t && craft_node_metrics_text(s->o.node, t, len + 1, &len) ==
                 CRAFT_OK) {
        kvbuf_put(b, t, len);
    }
    free(t);
    unsigned long long id = (unsigned long long)s->o.id;
#define KVM(name, kind, help, v)                                              \
    kvbuf_printf(b, "# HELP " name " " help "\n# TYPE " name " " kind        \
                    "\n" name "{node=\"%llu\"} %llu\n",                       \
                 id, (unsigned long long)(v))
    KVM("craft_kv_connected_clients", "gauge", "RESP clients connected.",
        s->nclients);
    KVM("craft_kv_connections_total", "counter", "RESP connections accepted.",
        s->connections);
    KVM("craft_kv_commands_total", "counter", "Commands received.",
        s->commands);
    KVM("craft_kv_writes_proposed_total", "counter",
        "Writes proposed on this node.", s->writes);
    KVM("craft_kv_writes_forwarded_total", "counter",
        "Writes forwarded to the leader.", s->forwarded);
    KVM("craft_kv_reads_total", "counter", "Linearizable reads started.",
        s->reads);
    KVM("craft_kv_error_replies_total", "counter", "Error replies.",
        s->errors);
    KVM("craft_kv_protocol_errors_total", "counter",
        "Malformed requests (connection closed).", s->protocol_errors);
    KVM("craft_kv_keys", "gauge", "Keys in the store.",
        atomic_load(&s->o.store->keys));
    KVM("craft_kv_writes_applied_total", "counter", "Writes applied.",
        atomic_load(&s->o.store->writes_applied));
#undef KVM
    if (s->o.tcp) {
        for (int m = 1; craft_tcp_metric_name(m); m++) {
            uint64_t v = 0;
            craft_tcp_metric(s->o.tcp, CRAFT_NONE, m, &v);
            kvbuf_printf(b, "%s{node=\"%llu\"} %llu\n",
                         craft_tcp_metric_name(m), id,
                         (unsigned long long)v);
        }
    }
}

static void http_read(kv_server *s, struct kv_client *c)
{
    char buf[4096];
    ssize_t r = recv(c->io.fd, buf, sizeof(buf), 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        client_close(s, c);
        return;
    }
    if (r < 0 || c->closing) {
        return;
    }
    kvbuf_put(&c->in, buf, (size_t)r);
    if (c->in.len > HTTP_MAX_REQUEST || c->in.oom) {
        client_close(s, c);
        return;
    }
    kvbuf_put(&c->in, "", 1); /* NUL for strstr, removed below */
    int complete_req = strstr(c->in.p, "\r\n\r\n") != NULL ||
                       strstr(c->in.p, "\n\n") != NULL;
    c->in.len--;
    if (!complete_req) {
        return;
    }
    kvbuf body = {0};
    const char *status = "200 OK";
    if (c->in.len >= 4 && memcmp(c->in.p, "GET ", 4) == 0) {
        metrics(s, &body);
    } else {
        status = "405 Method Not Allowed";
        kvbuf_put(&body, "GET only\n", 9);
    }
    kvbuf_printf(&c->out,
                 "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 status, body.len);
    kvbuf_put(&c->out, body.p, body.len);
    kvbuf_free(&body);
    c->closing = 1;
    client_flush(s, c);
}

/* ---- the loop -------------------------------------------------------- */

static void drain_done(kv_server *s)
{
    uint64_t v;
    ssize_t r = read(s->eio.fd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&s->done_mu);
    struct kv_pending *p = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->done_mu);
    /* Reverse into completion order (replies order themselves anyway). */
    struct kv_pending *rev = NULL;
    while (p) {
        struct kv_pending *n = p->link;
        p->link = rev;
        rev = p;
        p = n;
    }
    for (p = rev; p;) {
        struct kv_pending *n = p->link;
        if (p->client == NULL) {
            pending_free(p);
        } else if (p->retry) {
            p->retry = 0;
            if (is_read(p->cmd)) {
                /* A read that met a leader change: again on this node
                 * (the runtime asks the new leader), not routed as a
                 * write (which answered it "not a write"). */
                p->tries++;
                read_local(s, p);
            } else {
                route(s, p);
            }
        } else {
            p->done = 1;
            if (p->reply && p->reply_len && p->reply[0] == '-') {
                s->errors++;
            }
        }
        p = n;
    }
    /* Flush every client with a completed head. */
    struct kv_client *c = s->clients;
    while (c) {
        struct kv_client *n = c->next;
        if (c->io.kind == IO_CLIENT && c->head && c->head->done) {
            client_flush(s, c);
        }
        c = n;
    }
}

/* Routes the parked writes again, every 50 ms. */
static void unpark(kv_server *s)
{
    uint64_t now = mono_ms();
    if (s->parked == NULL || now - s->unparked_at < 50) {
        return;
    }
    s->unparked_at = now;
    struct kv_pending *p = s->parked;
    s->parked = NULL;
    while (p) {
        struct kv_pending *n = p->link;
        if (p->client == NULL) {
            pending_free(p);
        } else if (now >= p->deadline) {
            complete_error(p, "TRYAGAIN no leader could be reached in time");
        } else {
            p->tries--; /* waiting is not a routing */
            route(s, p);
        }
        p = n;
    }
}

/* A follower publishes its own RESP address through the leader (for
 * INFO and for clients that look members up), once a second until the
 * store has it. */
static void announce_follower(kv_server *s)
{
    craft_node *n = s->o.node;
    uint64_t leader = craft_node_leader(n);
    uint64_t now = mono_ms();
    if (leader == CRAFT_NONE || leader == s->o.id ||
        craft_node_membership_version(n) == 0 ||
        now - s->announced_at < 1000) {
        return;
    }
    s->announced_at = now;
    char cur[KV_MAX_ADDR + 1];
    if (kv_store_addr(s->o.store, s->o.id, cur, sizeof(cur)) == 0 &&
        strcmp(cur, s->advertise) == 0) {
        return;
    }
    char id[24];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)s->o.id);
    resp_arg a[3] = {{"RAFT.ADDR", 9}, {id, strlen(id)},
                     {s->advertise, strlen(s->advertise)}};
    struct kv_pending *p = pending_new(s, NULL, a, 3);
    if (p == NULL) {
        return;
    }
    p->cmd = C_ADDR;
    p->aux = (int64_t)s->o.id;
    route(s, p);
}

static void announce(kv_server *s)
{
    craft_node *n = s->o.node;
    if (craft_node_role(n) != CRAFT_ROLE_LEADER) {
        announce_follower(s);
        return;
    }
    uint64_t term = craft_node_term(n);
    if (atomic_load(&s->reg_term) == term) {
        return;
    }
    atomic_store(&s->reg_term, term);
    kvbuf e = {0};
    resp_arg a = {s->advertise, strlen(s->advertise)};
    kv_entry_encode(&e, KV_OP_ADDR, 0, kv_now_ms(), s->o.id, &a, 1);
    if (e.oom || craft_node_propose(n, e.p, e.len, s->o.timeout_ms, NULL,
                                    NULL) != CRAFT_OK) {
        atomic_store(&s->reg_term, 0);
    }
    kvbuf_free(&e);
}

int kv_server_create(const kv_server_options *o, kv_server **out)
{
    kv_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return -1;
    }
    s->o = *o;
    snprintf(s->advertise, sizeof(s->advertise), "%s",
             o->resp_advertise ? o->resp_advertise : o->resp_listen);
    pthread_mutex_init(&s->done_mu, NULL);
    s->fwd.io.kind = IO_FWD;
    s->fwd.io.fd = -1;
    s->lio.kind = IO_LISTEN;
    s->mio.kind = IO_METRICS_LISTEN;
    s->mio.fd = -1;
    s->eio.kind = IO_EVENT;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->eio.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->lio.fd = listen_on(o->resp_listen);
    if (o->metrics_listen) {
        s->mio.fd = listen_on(o->metrics_listen);
    }
    if (s->epfd < 0 || s->eio.fd < 0 || s->lio.fd < 0 ||
        (o->metrics_listen && s->mio.fd < 0)) {
        kv_server_free(s);
        return -1;
    }
    ep_set(s, &s->lio, EPOLLIN);
    ep_set(s, &s->eio, EPOLLIN);
    if (s->mio.fd >= 0) {
        ep_set(s, &s->mio, EPOLLIN);
    }
    *out = s;
    return 0;
}

void kv_server_run(kv_server *s)
{
    struct epoll_event evs[256];
    while (!*s->o.stop) {
        announce(s);
        unpark(s);
        int n = epoll_wait(s->epfd, evs, 256, 20);
        for (int i = 0; i < n; i++) {
            struct kv_io *io = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            switch (io->kind) {
            case IO_LISTEN:
                accept_all(s, io->fd, IO_CLIENT);
                break;
            case IO_METRICS_LISTEN:
                accept_all(s, io->fd, IO_HTTP);
                break;
            case IO_EVENT:
                drain_done(s);
                break;
            case IO_HTTP: {
                struct kv_client *c = (struct kv_client *)io;
                if (e & EPOLLIN) {
                    http_read(s, c);
                } else if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    client_flush(s, c);
                }
                break;
            }
            case IO_CLIENT: {
                struct kv_client *c = (struct kv_client *)io;
                if (e & EPOLLIN) {
                    client_read(s, c);
                } else if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    if ((e & (EPOLLERR | EPOLLHUP)) && !(e & EPOLLOUT)) {
                        client_close(s, c);
                    } else {
                        client_flush(s, c);
                    }
                }
                break;
            }
            case IO_FWD:
                if (s->fwd.io.fd < 0) {
                    break;
                }
                if (s->fwd.connecting && (e & (EPOLLOUT | EPOLLERR |
                                                EPOLLHUP))) {
                    int err = 0;
                    socklen_t el = sizeof(err);
                    getsockopt(s->fwd.io.fd, SOL_SOCKET, SO_ERROR, &err, &el);
                    if (err) {
                        fwd_close_retry(s, "could not be made", 1);
                        break;
                    }
                    s->fwd.connecting = 0;
                }
                if (e & EPOLLIN) {
                    fwd_read(s);
                }
                if (s->fwd.io.fd >= 0) {
                    fwd_write(s);
                }
                break;
            }
        }
        flush_reads(s);
    }
}

void kv_server_free(kv_server *s)
{
    if (s == NULL) {
        return;
    }
    while (s->clients) {
        client_close(s, s->clients);
    }
    fwd_close(s, "was closed");
    while (s->parked) {
        struct kv_pending *n = s->parked->link;
        pending_free(s->parked);
        s->parked = n;
    }
    /* Completions that arrived (the node is shut down: no more come). */
    pthread_mutex_lock(&s->done_mu);
    struct kv_pending *p = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->done_mu);
    while (p) {
        struct kv_pending *n = p->link;
        pending_free(p);
        p = n;
    }
    if (s->lio.fd >= 0) {
        close(s->lio.fd);
    }
    if (s->mio.fd >= 0) {
        close(s->mio.fd);
    }
    if (s->eio.fd >= 0) {
        close(s->eio.fd);
    }
    if (s->epfd >= 0) {
        close(s->epfd);
    }
    kvbuf_free(&s->fwd.out);
    kvbuf_free(&s->fwd.in);
    kvbuf_free(&s->enc);
    resp_req_free(&s->req);
    pthread_mutex_destroy(&s->done_mu);
    free(s);
}
