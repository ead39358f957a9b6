/*
 * tests/bench/bench_tcp.c: the TCP transport benchmark (`make bench`,
 * `make bench-tcp`). A program, not a timed test.
 *
 * Three nodes in one process with the in-memory storage, 16-byte
 * proposals to the leader, closed loop with 1, 64 and 256 concurrent
 * proposers (a proposer proposes again from its completion callback):
 * commits/s and p50/p99 commit latency (propose -> callback), measured
 * twice in the same run:
 *
 *   hub  the in-process hub of craft/testing.h (the baseline: no
 *        sockets, a message is a copy and a queue hop);
 *   tcp  craft_tcp on 127.0.0.1 ephemeral ports.
 *
 * and, as the physical floor, the round trip of a 64-byte ping-pong
 * between two blocking sockets over loopback (two threads).
 *
 * The ratio tcp/hub is what the transport costs. Every figure depends on
 * the machine and its load: the program prints the CPU count and the
 * load average next to them.
 *
 * Usage: bench_tcp [seconds per run, default 2]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "craft.h"
#include "craft/testing.h"

#define BENCH_NAME "bench_tcp"
#include "bench.h"

#define PAYLOAD 16
#define MAX_SAMPLES (8u * 1024u * 1024u)
#define N 3

/* ---- the physical floor: a 64-byte ping-pong over loopback ------------ */

struct pong {
    int fd;
    long rounds;
};

static int read_full(int fd, char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void *pong_main(void *arg)
{
    struct pong *p = arg;
    char b[64];
    for (long k = 0; k < p->rounds; k++) {
        if (read_full(p->fd, b, sizeof(b)) != 0 ||
            write(p->fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
            break;
        }
    }
    return NULL;
}

static void ping_pong(double seconds)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(a);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &sl) != 0) {
        perror("bench_tcp: ping-pong listener");
        exit(1);
    }
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(cfd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("bench_tcp: ping-pong connect");
        exit(1);
    }
    int sfd = accept(lfd, NULL, NULL);
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    struct pong p = {sfd, 1L << 40};
    pthread_t th;
    pthread_create(&th, NULL, pong_main, &p);
    char b[64];
    memset(b, 7, sizeof(b));
    int64_t *lat = malloc(MAX_SAMPLES * sizeof(*lat));
    size_t nlat = 0;
    int64_t t0 = now_ns();
    int64_t end = t0 + (int64_t)(seconds * 1e9);
    long done = 0;
    while (now_ns() < end && nlat < MAX_SAMPLES) {
        int64_t s = now_ns();
        if (write(cfd, b, sizeof(b)) != (ssize_t)sizeof(b) ||
            read_full(cfd, b, sizeof(b)) != 0) {
            break;
        }
        lat[nlat++] = now_ns() - s;
        done++;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    shutdown(cfd, SHUT_RDWR);
    close(cfd);
    pthread_join(th, NULL);
    close(sfd);
    close(lfd);
    qsort(lat, nlat, sizeof(*lat), cmp64);
    printf("loopback 64-byte ping-pong: %.0f round trips/s, "
           "p50 %.1f us, p99 %.1f us\n",
           (double)done / secs, pct(lat, nlat, 0.5), pct(lat, nlat, 0.99));
    free(lat);
}

/* ---- the state machine: a counter (bench.h) ---------------------------- */

static int counter_apply(void *user, uint64_t index, uint64_t term,
                         const void *data, size_t len, const void **result,
                         size_t *result_len)
{
    (void)index;
    (void)term;
    (void)data;
    (void)len;
    return counter_applied(user, result, result_len);
}

/* ---- the clusters ------------------------------------------------------ */

struct cluster {
    int tcp; /* over craft_tcp, else over the hub */
    craft_hub *hub;
    craft_tcp *t[N];
    craft_mem_storage *ms[N];
    craft_node *node[N];
    struct counter fsm[N];
};

static void cluster_start(struct cluster *c, int tcp)
{
    uint64_t ids[N] = {1, 2, 3};
    char addr[N][32];
    craft_buf addrs[N];
    memset(c, 0, sizeof(*c));
    c->tcp = tcp;
    if (tcp) {
        for (int k = 0; k < N; k++) {
            craft_tcp_options o = CRAFT_TCP_OPTIONS_INIT;
            o.node_id = ids[k];
            o.cluster_id = 0xbe7c;
            o.listen = "127.0.0.1:0";
            CHECK(craft_tcp_create(&o, &c->t[k]));
            snprintf(addr[k], sizeof(addr[k]), "127.0.0.1:%u",
                     (unsigned)craft_tcp_port(c->t[k]));
            addrs[k].base = addr[k];
            addrs[k].len = strlen(addr[k]);
        }
    } else {
        CHECK(craft_hub_create(NULL, &c->hub));
    }
    for (int k = 0; k < N; k++) {
        craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
        craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
        craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
        craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
        CHECK(craft_mem_storage_create(NULL, &c->ms[k]));
        CHECK(craft_mem_storage_ops(c->ms[k], &st));
        if (tcp) {
            CHECK(craft_tcp_transport(c->t[k], &tr));
        } else {
            CHECK(craft_hub_transport(c->hub, ids[k], &tr));
        }
        fsm.user = &c->fsm[k];
        fsm.apply = counter_apply;
        fsm.snapshot = counter_snapshot;
        fsm.restore = counter_restore;
        o.id = ids[k];
        o.storage = &st;
        o.transport = &tr;
        o.fsm = &fsm;
        o.request_timeout_ms = 30000;
        CHECK(craft_node_create(&o, &c->node[k]));
        if (tcp) {
            CHECK(craft_node_bootstrap_addr(c->node[k], ids, addrs, N));
            CHECK(craft_tcp_attach(c->t[k], c->node[k]));
        } else {
            CHECK(craft_node_bootstrap(c->node[k], ids, N));
            CHECK(craft_hub_attach(c->hub, ids[k], c->node[k]));
        }
        CHECK(craft_node_start(c->node[k]));
    }
}

static int cluster_leader(struct cluster *c)
{
    return bench_leader(c->node, N, 4000);
}

static void cluster_free(struct cluster *c)
{
    for (int k = 0; k < N; k++) {
        craft_node_shutdown(c->node[k]);
    }
    for (int k = 0; k < N; k++) {
        if (c->tcp) {
            craft_tcp_free(c->t[k]);
        } else {
            craft_hub_detach(c->hub, (uint64_t)k + 1);
        }
        craft_node_free(c->node[k]);
        craft_mem_storage_free(c->ms[k]);
    }
    craft_hub_free(c->hub);
}

/* ---- closed-loop load ---------------------------------------------------- */

struct run {
    craft_node *leader;
    atomic_int stop;
    atomic_long outstanding;
    uint64_t failed;    /* apply thread of the leader only */
    int64_t *lat;       /* samples, ns */
    size_t nlat;
    int64_t t_from;     /* sample completions issued after this */
    unsigned char payload[PAYLOAD];
};

struct proposer {
    struct run *run;
    int64_t start;
};

static void on_done(void *ctx, const craft_result *res);

static void issue(struct proposer *p)
{
    struct run *r = p->run;
    p->start = now_ns();
    if (craft_node_propose(r->leader, r->payload, PAYLOAD, 0, on_done, p) !=
        CRAFT_OK) {
        atomic_fetch_sub(&r->outstanding, 1);
    }
}

static void on_done(void *ctx, const craft_result *res)
{
    struct proposer *p = ctx;
    struct run *r = p->run;
    int64_t t = now_ns();
    if (craft_result_status(res) == CRAFT_OK) {
        if (p->start >= r->t_from && r->nlat < MAX_SAMPLES) {
            r->lat[r->nlat++] = t - p->start;
        }
    } else {
        r->failed++;
    }
    if (!atomic_load(&r->stop)) {
        issue(p);
    } else {
        atomic_fetch_sub(&r->outstanding, 1);
    }
}

struct result {
    double rate, p50, p99;
};

static struct result closed_loop(struct cluster *c, int conc, double seconds)
{
    int leader = cluster_leader(c);
    struct run r;
    struct proposer *ps = calloc((size_t)conc, sizeof(*ps));
    memset(&r, 0, sizeof(r));
    r.leader = c->node[leader];
    r.lat = malloc(MAX_SAMPLES * sizeof(*r.lat));
    int64_t warm = 200000000; /* 0.2 s */
    r.t_from = now_ns() + warm;
    atomic_store(&r.outstanding, conc);
    for (int k = 0; k < conc; k++) {
        ps[k].run = &r;
        issue(&ps[k]);
    }
    usleep((useconds_t)(warm / 1000));
    uint64_t applied0 = craft_node_applied_index(r.leader);
    int64_t t1 = now_ns();
    usleep((useconds_t)(seconds * 1e6));
    int64_t t2 = now_ns();
    uint64_t applied1 = craft_node_applied_index(r.leader);
    atomic_store(&r.stop, 1);
    while (atomic_load(&r.outstanding) > 0) {
        usleep(1000);
    }
    struct result res;
    res.rate = (double)(applied1 - applied0) / ((double)(t2 - t1) / 1e9);
    qsort(r.lat, r.nlat, sizeof(*r.lat), cmp64);
    res.p50 = pct(r.lat, r.nlat, 0.50);
    res.p99 = pct(r.lat, r.nlat, 0.99);
    if (r.failed > 0) {
        printf("  (%llu proposals failed)\n", (unsigned long long)r.failed);
    }
    free(r.lat);
    free(ps);
    return res;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0) {
        seconds = 2.0;
    }
    static const int concs[] = {1, 64, 256};
    enum { NC = sizeof(concs) / sizeof(concs[0]) };
    struct result hub[NC], tcp[NC];
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 1) {
        load[0] = -1;
    }
    printf("bench_tcp: 3 nodes in one process, in-memory storage, "
           "%d-byte proposals, %.1f s per run, %ld CPUs, load %.2f\n",
           PAYLOAD, seconds, sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    ping_pong(seconds / 2);

    for (int mode = 0; mode < 2; mode++) {
        struct cluster c;
        cluster_start(&c, mode);
        for (int k = 0; k < NC; k++) {
            struct result r = closed_loop(&c, concs[k], seconds);
            if (mode == 0) {
                hub[k] = r;
            } else {
                tcp[k] = r;
            }
        }
        cluster_free(&c);
    }
    printf("%-11s %12s %9s %9s %12s %9s %9s %8s\n", "proposers", "hub ops/s",
           "p50 us", "p99 us", "tcp ops/s", "p50 us", "p99 us", "tcp/hub");
    for (int k = 0; k < NC; k++) {
        printf("%-11d %12.0f %9.1f %9.1f %12.0f %9.1f %9.1f %8.2f\n",
               concs[k], hub[k].rate, hub[k].p50, hub[k].p99, tcp[k].rate,
               tcp[k].p50, tcp[k].p99,
               hub[k].rate > 0 ? tcp[k].rate / hub[k].rate : 0.0);
    }
    return 0;
}
