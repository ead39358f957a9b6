/*
 * transport/tcp.c: the TCP transport's life cycle and API: options,
 * create (bind, listen, threads), attach, set_peer, free, metrics, and
 * the small helpers every file uses (clock, wake-up, trace).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "transport/transport.h"

/* ---- helpers ----------------------------------------------------------- */

int64_t tt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tt_wake(struct craft_tcp *t)
{
    if (atomic_exchange(&t->wake_pending, 1) == 0) {
        uint64_t one = 1;
        ssize_t rv = write(t->evfd, &one, sizeof(one));
        (void)rv; /* EAGAIN: the counter is already non-zero */
    }
}

void tt_metric_add(struct craft_tcp *t, struct tpeer *p, int id, uint64_t v)
{
    _Atomic uint64_t *m = p != NULL ? p->m : t->gm;
    atomic_fetch_add_explicit(&m[id], v, memory_order_relaxed);
}

int tt_trace_on(const struct craft_tcp *t, int id)
{
    int level = craft_trace_level_of(id);
    return t->o.trace != NULL && level != 0 && level <= t->o.trace_level;
}

void tt_trace_begin(const struct craft_tcp *t, struct craft_trace_event *ev,
                    int id)
{
    craft_trace_event_begin(ev, id, t->o.node_id);
}

void tt_trace_emit(const struct craft_tcp *t, struct craft_trace_event *ev)
{
    t->o.trace(t->o.trace_user, ev);
}

/* ---- options ------------------------------------------------------------ */

int craft_tcp_options_init(craft_tcp_options *o)
{
    static const craft_tcp_options init = CRAFT_TCP_OPTIONS_INIT;
    if (o == NULL) {
        return CRAFT_EINVAL;
    }
    memcpy(o, &init, sizeof(*o));
    return CRAFT_OK;
}

#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

static int copy_options(const craft_tcp_options *in, craft_tcp_options *o)
{
    uint32_t size;
    craft_tcp_options_init(o);
    memcpy(&size, in, sizeof(size));
    if (size < END_OF(craft_tcp_options, node_id) || size > sizeof(*o)) {
        return CRAFT_ESTRUCT;
    }
    memcpy(o, in, size);
    o->struct_size = sizeof(*o);
    if (o->node_id == CRAFT_NONE || o->max_frame_bytes < 64 ||
        o->max_frame_bytes > CRAFT_MAX_MESSAGE_BYTES ||
        o->queue_messages == 0 || o->queue_bytes == 0 ||
        o->connect_timeout_ms == 0 || o->backoff_min_ms == 0 ||
        o->backoff_max_ms < o->backoff_min_ms || o->stall_timeout_ms == 0) {
        return CRAFT_EINVAL;
    }
    return CRAFT_OK;
}

/* ---- listening ---------------------------------------------------------- */

static int is_wildcard(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
           strcmp(host, "*") == 0;
}

/* Binds and listens on listen_addr; sets t->lfd and t->port. */
static int listen_on(struct craft_tcp *t, const char *host, uint16_t port)
{
    struct addrinfo hints, *res = NULL;
    char ps[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%u", (unsigned)port);
    if (getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, ps, &hints,
                    &res) != 0) {
        return CRAFT_EIO;
    }
    int rv = CRAFT_EIO;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            listen(fd, SOMAXCONN) != 0) {
            close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
            close(fd);
            continue;
        }
        t->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
        t->lfd = fd;
        rv = CRAFT_OK;
        break;
    }
    freeaddrinfo(res);
    return rv;
}

static void trace_listening(struct craft_tcp *t)
{
    if (!tt_trace_on(t, CRAFT_TRACE_TRANSPORT_LISTENING)) {
        return;
    }
    struct craft_trace_event ev;
    char buf[TT_ADDR_CAP + 8];
    char host[TT_ADDR_CAP];
    uint16_t port;
    tw_addr_split(t->listen_addr, strlen(t->listen_addr), host, sizeof(host),
                  &port);
    snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             (unsigned)t->port);
    tt_trace_begin(t, &ev, CRAFT_TRACE_TRANSPORT_LISTENING);
    craft_trace_event_u64(&ev, "port", t->port);
    craft_trace_event_str(&ev, "address", buf);
    tt_trace_emit(t, &ev);
}

/* ---- create / free ------------------------------------------------------ */

static int copy_addr(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > CRAFT_MAX_ADDR_BYTES) {
        return CRAFT_ETOOBIG;
    }
    memcpy(dst, src, n + 1);
    return CRAFT_OK;
}

/* The address, copies and parse; host/port of the listen address out. */
static int setup_addresses(struct craft_tcp *t, const craft_tcp_options *o,
                           char *host, uint16_t *port)
{
    const char *l = o->listen != NULL ? o->listen : "127.0.0.1:0";
    if (copy_addr(t->listen_addr, l) != CRAFT_OK ||
        tw_addr_split(l, strlen(l), host, TT_ADDR_CAP, port) != 0) {
        return CRAFT_EINVAL;
    }
    if (o->advertise != NULL) {
        char h2[TT_ADDR_CAP];
        uint16_t p2;
        if (copy_addr(t->advertise, o->advertise) != CRAFT_OK) {
            return CRAFT_EINVAL;
        }
        if (o->advertise[0] != 0 &&
            (tw_addr_split(o->advertise, strlen(o->advertise), h2,
                           sizeof(h2), &p2) != 0 ||
             p2 == 0)) {
            return CRAFT_EINVAL;
        }
    }
    return CRAFT_OK;
}

static void derive_advertise(struct craft_tcp *t, const char *host)
{
    if (t->o.advertise != NULL || is_wildcard(host)) {
        return;
    }
    snprintf(t->advertise, sizeof(t->advertise),
             strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             (unsigned)t->port);
}

static int epoll_add(int epfd, int fd, void *ptr)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = ptr;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int craft_tcp_create(const craft_tcp_options *opts, craft_tcp **out)
{
    craft_tcp_options o;
    struct craft_alloc al;
    struct craft_tcp *t = NULL;
    char host[TT_ADDR_CAP];
    uint16_t port = 0;
    int rv;

    if (opts == NULL || out == NULL) {
        return CRAFT_EINVAL;
    }
    rv = copy_options(opts, &o);
    if (rv != CRAFT_OK) {
        return rv;
    }
    rv = craft_handle_alloc(o.allocator, sizeof(*t), &al, (void **)&t);
    if (rv != CRAFT_OK) {
        return rv;
    }
    t->alloc = al;
    t->o = o;
    t->o.allocator = NULL;
    t->lfd = t->epfd = t->evfd = -1;
    rv = setup_addresses(t, &o, host, &port);
    if (rv != CRAFT_OK) {
        goto err_free;
    }
    t->o.listen = t->listen_addr;
    t->o.advertise = o.advertise != NULL ? t->advertise : NULL;
    t->rng = o.seed != 0 ? o.seed
                         : (o.node_id * 0x9E3779B97F4A7C15ULL) ^
                               (uint64_t)tt_now_ms() ^ (uint64_t)(uintptr_t)t;
    if (t->rng == 0) {
        t->rng = 1;
    }

    rv = CRAFT_ENOMEM;
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        goto err_free;
    }
    if (pthread_mutex_init(&t->node_mu, NULL) != 0) {
        goto err_mu;
    }
    if (pthread_mutex_init(&t->rmu, NULL) != 0) {
        goto err_node_mu;
    }
    if (pthread_cond_init(&t->rcv, NULL) != 0) {
        goto err_rmu;
    }
    rv = listen_on(t, host, port);
    if (rv != CRAFT_OK) {
        goto err_rcv;
    }
    derive_advertise(t, host);
    rv = CRAFT_EIO;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->epfd < 0 || t->evfd < 0 || epoll_add(t->epfd, t->lfd, &t->lfd) ||
        epoll_add(t->epfd, t->evfd, &t->evfd)) {
        goto err_fds;
    }
    if (tt_resolver_start(t) != CRAFT_OK) {
        goto err_fds;
    }
    trace_listening(t);
    if (pthread_create(&t->loop_thread, NULL, tt_loop_main, t) != 0) {
        goto err_resolver;
    }
    *out = t;
    return CRAFT_OK;

err_resolver:
    tt_resolver_stop(t);
err_fds:
    if (t->evfd >= 0) {
        close(t->evfd);
    }
    if (t->epfd >= 0) {
        close(t->epfd);
    }
    close(t->lfd);
err_rcv:
    pthread_cond_destroy(&t->rcv);
err_rmu:
    pthread_mutex_destroy(&t->rmu);
err_node_mu:
    pthread_mutex_destroy(&t->node_mu);
err_mu:
    pthread_mutex_destroy(&t->mu);
err_free:
    craft_free(&al, t);
    return rv;
}

void craft_tcp_free(craft_tcp *t)
{
    if (t == NULL) {
        return;
    }
    atomic_store(&t->stop, 1);
    tt_wake(t);
    {
        /* The wake-up may have been taken already: write regardless. */
        uint64_t one = 1;
        ssize_t w = write(t->evfd, &one, sizeof(one));
        (void)w;
    }
    pthread_join(t->loop_thread, NULL);
    tt_resolver_stop(t);
    for (size_t k = 0; k < t->npeers; k++) {
        tt_peer_free(t, t->peers[k]);
    }
    craft_free(&t->alloc, t->peers);
    close(t->evfd);
    close(t->epfd);
    close(t->lfd);
    pthread_cond_destroy(&t->rcv);
    pthread_mutex_destroy(&t->rmu);
    pthread_mutex_destroy(&t->node_mu);
    pthread_mutex_destroy(&t->mu);
    struct craft_alloc al = t->alloc;
    craft_free(&al, t);
}

/* ---- API ----------------------------------------------------------------- */

int craft_tcp_transport(craft_tcp *t, craft_transport_ops *ops)
{
    if (t == NULL || ops == NULL) {
        return CRAFT_EINVAL;
    }
    if (ops->struct_size < END_OF(craft_transport_ops, send) ||
        ops->struct_size > sizeof(*ops)) {
        return CRAFT_ESTRUCT;
    }
    ops->user = t;
    ops->send = tt_send;
    return CRAFT_OK;
}

int craft_tcp_attach(craft_tcp *t, craft_node *node)
{
    if (t == NULL) {
        return CRAFT_EINVAL;
    }
    /* The loop holds node_mu whenever it uses the node: once we have it,
     * the previous node is no longer in use. */
    pthread_mutex_lock(&t->node_mu);
    t->node = node;
    pthread_mutex_unlock(&t->node_mu);
    atomic_store(&t->node_changed, 1);
    tt_wake(t);
    return CRAFT_OK;
}

int craft_tcp_set_peer(craft_tcp *t, uint64_t id, const char *addr)
{
    char host[TT_ADDR_CAP];
    uint16_t port;
    if (t == NULL || id == CRAFT_NONE || id == t->o.node_id) {
        return CRAFT_EINVAL;
    }
    size_t len = addr != NULL ? strlen(addr) : 0;
    if (len > CRAFT_MAX_ADDR_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (len > 0 &&
        (tw_addr_split(addr, len, host, sizeof(host), &port) != 0 ||
         port == 0)) {
        return CRAFT_EINVAL;
    }
    pthread_mutex_lock(&t->mu);
    struct tpeer *p = len > 0 ? tt_peer_get(t, id) : tt_peer_find(t, id);
    if (p == NULL && len > 0) {
        pthread_mutex_unlock(&t->mu);
        return CRAFT_ENOMEM;
    }
    if (p != NULL) {
        memcpy(p->over, len > 0 ? addr : "", len + 1);
    }
    pthread_mutex_unlock(&t->mu);
    atomic_store(&t->node_changed, 1); /* re-reconcile the addresses */
    tt_wake(t);
    return CRAFT_OK;
}

uint16_t craft_tcp_port(const craft_tcp *t)
{
    return t != NULL ? t->port : 0;
}

/* ---- metrics ------------------------------------------------------------- */

static const char *const metric_names[TT_NMETRICS] = {
    [CRAFT_TCP_METRIC_BYTES_OUT] = "craft_tcp_bytes_out_total",
    [CRAFT_TCP_METRIC_FRAMES_OUT] = "craft_tcp_frames_out_total",
    [CRAFT_TCP_METRIC_BYTES_IN] = "craft_tcp_bytes_in_total",
    [CRAFT_TCP_METRIC_FRAMES_IN] = "craft_tcp_frames_in_total",
    [CRAFT_TCP_METRIC_CONNECTS] = "craft_tcp_connects_total",
    [CRAFT_TCP_METRIC_ACCEPTS] = "craft_tcp_accepts_total",
    [CRAFT_TCP_METRIC_DISCONNECTS] = "craft_tcp_disconnects_total",
    [CRAFT_TCP_METRIC_CONNECT_FAILURES] = "craft_tcp_connect_failures_total",
    [CRAFT_TCP_METRIC_HANDSHAKE_FAILURES] =
        "craft_tcp_handshake_failures_total",
    [CRAFT_TCP_METRIC_DROPS] = "craft_tcp_drops_total",
    [CRAFT_TCP_METRIC_QUEUED_FRAMES] = "craft_tcp_queued_frames",
    [CRAFT_TCP_METRIC_QUEUED_BYTES] = "craft_tcp_queued_bytes",
    [CRAFT_TCP_METRIC_CONNECTED] = "craft_tcp_connected",
};

const char *craft_tcp_metric_name(int id)
{
    return id >= 1 && id < TT_NMETRICS ? metric_names[id] : NULL;
}

/* A peer's value of id (mu held). */
static uint64_t peer_metric(struct tpeer *p, int id)
{
    switch (id) {
    case CRAFT_TCP_METRIC_QUEUED_FRAMES:
    case CRAFT_TCP_METRIC_QUEUED_BYTES: {
        pthread_mutex_lock(&p->pmu);
        uint64_t v = id == CRAFT_TCP_METRIC_QUEUED_FRAMES ? p->qn : p->qbytes;
        pthread_mutex_unlock(&p->pmu);
        return v;
    }
    case CRAFT_TCP_METRIC_CONNECTED: {
        pthread_mutex_lock(&p->pmu);
        uint64_t v = p->ready_fd >= 0;
        pthread_mutex_unlock(&p->pmu);
        return v;
    }
    default:
        return atomic_load_explicit(&p->m[id], memory_order_relaxed);
    }
}

int craft_tcp_metric(craft_tcp *t, uint64_t peer, int id, uint64_t *value)
{
    if (t == NULL || value == NULL || craft_tcp_metric_name(id) == NULL) {
        return CRAFT_EINVAL;
    }
    uint64_t v = 0;
    pthread_mutex_lock(&t->mu);
    if (peer != CRAFT_NONE) {
        struct tpeer *p = tt_peer_find(t, peer);
        v = p != NULL ? peer_metric(p, id) : 0;
    } else {
        for (size_t k = 0; k < t->npeers; k++) {
            v += peer_metric(t->peers[k], id);
        }
        if (id != CRAFT_TCP_METRIC_QUEUED_FRAMES &&
            id != CRAFT_TCP_METRIC_QUEUED_BYTES &&
            id != CRAFT_TCP_METRIC_CONNECTED) {
            v += atomic_load_explicit(&t->gm[id], memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&t->mu);
    *value = v;
    return CRAFT_OK;
}

int craft_tcp_peers(craft_tcp *t, uint64_t *ids, size_t cap, size_t *n)
{
    if (t == NULL || n == NULL || (ids == NULL && cap > 0)) {
        return CRAFT_EINVAL;
    }
    pthread_mutex_lock(&t->mu);
    for (size_t k = 0; k < t->npeers && k < cap; k++) {
        ids[k] = t->peers[k]->id;
    }
    *n = t->npeers;
    pthread_mutex_unlock(&t->mu);
    return CRAFT_OK;
}
