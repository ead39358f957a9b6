/*
 * examples/kv/main.c: craft-kv, a replicated key-value server that redis
 * clients talk to, built on craft's public API only: the craft_node
 * runtime, the file storage (craft_file_storage) and the TCP transport
 * (craft_tcp). examples/kv/README.md explains how to run it and how the
 * parts fit; this file is the part a user of the runtime reads first:
 * open the storage, make the transport, create the node, bootstrap or
 * join, start, serve, shut down in the reverse order.
 */
#define _GNU_SOURCE
#include <craft.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"
#include "store.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct args {
    uint64_t id;
    const char *data_dir;
    const char *raft;
    const char *resp;
    const char *resp_advertise;
    const char *bootstrap;
    const char *join;
    const char *metrics;
    uint64_t cluster_id;
    uint32_t timeout_ms;
    uint32_t tick_ms;
    uint32_t election_ticks;
    uint64_t snapshot_entries;
    int lease_reads;
    int nosync;
    int verbose;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: craft-kv --id N --data-dir DIR --raft HOST:PORT "
            "--resp HOST:PORT\n"
            "         [--bootstrap 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT]\n"
            "         [--join ANY_MEMBER_RESP_ADDR] [--metrics HOST:PORT]\n"
            "         [--advertise-resp HOST:PORT] [--cluster-id N]\n"
            "         [--timeout-ms MS] [--tick-ms MS] [--election-ticks N]\n"
            "         [--snapshot-entries N] [--lease-reads] "
            "[--unsafe-no-fsync] [-v]\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof(*a));
    a->cluster_id = 0x6b76;
    a->timeout_ms = 5000;
    a->tick_ms = 10;
    a->election_ticks = 100; /* 1 s: fdatasync stalls 100-300 ms here */
    a->snapshot_entries = 0; /* the runtime's default policy */
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int take = 1;
        if (!strcmp(k, "--lease-reads")) {
            a->lease_reads = 1;
            take = 0;
        } else if (!strcmp(k, "--unsafe-no-fsync")) {
            a->nosync = 1;
            take = 0;
        } else if (!strcmp(k, "-v")) {
            a->verbose = 1;
            take = 0;
        } else if (v == NULL) {
            fprintf(stderr, "craft-kv: %s needs a value\n", k);
            return -1;
        } else if (!strcmp(k, "--id")) {
            a->id = strtoull(v, NULL, 10);
        } else if (!strcmp(k, "--data-dir")) {
            a->data_dir = v;
        } else if (!strcmp(k, "--raft")) {
            a->raft = v;
        } else if (!strcmp(k, "--resp")) {
            a->resp = v;
        } else if (!strcmp(k, "--advertise-resp")) {
            a->resp_advertise = v;
        } else if (!strcmp(k, "--bootstrap")) {
            a->bootstrap = v;
        } else if (!strcmp(k, "--join")) {
            a->join = v;
        } else if (!strcmp(k, "--metrics")) {
            a->metrics = v;
        } else if (!strcmp(k, "--cluster-id")) {
            a->cluster_id = strtoull(v, NULL, 0);
        } else if (!strcmp(k, "--timeout-ms")) {
            a->timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(k, "--tick-ms")) {
            a->tick_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(k, "--election-ticks")) {
            a->election_ticks = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(k, "--snapshot-entries")) {
            a->snapshot_entries = strtoull(v, NULL, 10);
        } else {
            fprintf(stderr, "craft-kv: unknown option %s\n", k);
            return -1;
        }
        i += take;
    }
    if (a->id == 0 || !a->data_dir || !a->raft || !a->resp ||
        a->timeout_ms == 0 || a->tick_ms == 0 || a->election_ticks < 3) {
        return -1;
    }
    return 0;
}

/* Trace events to stderr, one line each: the node's, the storage's and
 * the transport's. */
static void trace(void *user, const craft_trace_event *ev)
{
    (void)user;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(line, sizeof(line), "%lld.%03ld %s %s",
                     (long long)ts.tv_sec, ts.tv_nsec / 1000000,
                     craft_trace_event_target(ev),
                     craft_trace_event_name(ev));
    size_t cnt = craft_trace_event_field_count(ev);
    for (size_t k = 0; k < cnt && n > 0 && (size_t)n < sizeof(line); k++) {
        const char *key, *str;
        int type;
        uint64_t u;
        int64_t i;
        craft_trace_event_field(ev, k, &key, &type, &u, &i, &str);
        size_t room = sizeof(line) - (size_t)n;
        if (type == CRAFT_FIELD_U64) {
            n += snprintf(line + n, room, " %s=%llu", key,
                          (unsigned long long)u);
        } else if (type == CRAFT_FIELD_I64) {
            n += snprintf(line + n, room, " %s=%lld", key, (long long)i);
        } else {
            n += snprintf(line + n, room, " %s=%s", key, str ? str : "");
        }
    }
    fprintf(stderr, "%s\n", line);
}

/* --bootstrap "1=h:p,2=h:p": ids and addresses. */
static int parse_bootstrap(const char *spec, uint64_t *ids, craft_buf *addrs,
                           char store[][CRAFT_MAX_ADDR_BYTES + 1], size_t *n)
{
    *n = 0;
    const char *p = spec;
    while (*p) {
        if (*n == CRAFT_MAX_MEMBERS) {
            return -1;
        }
        char *end;
        uint64_t id = strtoull(p, &end, 10);
        if (id == 0 || *end != '=') {
            return -1;
        }
        p = end + 1;
        size_t len = strcspn(p, ",");
        if (len == 0 || len > CRAFT_MAX_ADDR_BYTES) {
            return -1;
        }
        memcpy(store[*n], p, len);
        store[*n][len] = '\0';
        ids[*n] = id;
        addrs[*n].base = store[*n];
        addrs[*n].len = len;
        (*n)++;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return *n ? 0 : -1;
}

/* Asks the cluster (any member's RESP address) to add this server:
 * RAFT.ADD id raft-addr resp-addr, retried until +OK or 60 s. */
static int join(const struct args *a, const char *resp_adv)
{
    char req[1024];
    char ids[24];
    snprintf(ids, sizeof(ids), "%llu", (unsigned long long)a->id);
    int n = snprintf(req, sizeof(req),
                     "*4\r\n$8\r\nRAFT.ADD\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n"
                     "$%zu\r\n%s\r\n",
                     strlen(ids), ids, strlen(a->raft), a->raft,
                     strlen(resp_adv), resp_adv);
    for (int attempt = 0; attempt < 120 && !stop_flag; attempt++) {
        if (attempt) {
            usleep(500 * 1000);
        }
        struct sockaddr_storage ss;
        unsigned sl;
        if (kv_resolve(a->join, &ss, &sl)) {
            fprintf(stderr, "craft-kv: cannot resolve %s\n", a->join);
            return -1;
        }
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        struct timeval tv = {.tv_sec = 60};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&ss, sl) ||
            write(fd, req, (size_t)n) != n) {
            close(fd);
            continue;
        }
        char rep[512];
        ssize_t r = read(fd, rep, sizeof(rep) - 1);
        close(fd);
        if (r <= 0) {
            continue;
        }
        rep[r] = '\0';
        if (strncmp(rep, "+OK", 3) == 0) {
            fprintf(stderr, "craft-kv: joined through %s\n", a->join);
            return 0;
        }
        rep[strcspn(rep, "\r\n")] = '\0';
        fprintf(stderr, "craft-kv: join: %s (retrying)\n", rep);
        if (strstr(rep, "EEXIST")) {
            return 0; /* already a member */
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct args a;
    if (parse_args(argc, argv, &a)) {
        usage();
        return 2;
    }
    const char *resp_adv = a.resp_advertise ? a.resp_advertise : a.resp;
    int code = 1;
    craft_file_storage *fs = NULL;
    craft_tcp *tcp = NULL;
    craft_node *node = NULL;
    kv_server *srv = NULL;
    kv_store store;
    if (kv_store_init(&store)) {
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* 1. The storage: the data directory, fsync at every sync. */
    char err[512] = "";
    craft_file_storage_options fo = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    fo.cluster_id = a.cluster_id;
    fo.node_id = a.id;
    fo.errbuf = err;
    fo.errbuf_size = sizeof(err);
    fo.trace = trace;
    if (a.nosync) {
        fo.sync_mode = CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS;
    }
    int rv = craft_file_storage_open(a.data_dir, &fo, &fs);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "craft-kv: %s: %s\n", craft_strerror(rv), err);
        goto out;
    }
    craft_storage_ops sops = CRAFT_STORAGE_OPS_INIT;
    craft_file_storage_ops(fs, &sops);

    /* 2. The transport: listens at once. */
    craft_tcp_options to = CRAFT_TCP_OPTIONS_INIT;
    to.node_id = a.id;
    to.cluster_id = a.cluster_id;
    to.listen = a.raft;
    to.trace = trace;
    rv = craft_tcp_create(&to, &tcp);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "craft-kv: raft listener %s: %s\n", a.raft,
                craft_strerror(rv));
        goto out;
    }
    craft_transport_ops tops = CRAFT_TRANSPORT_OPS_INIT;
    craft_tcp_transport(tcp, &tops);

    /* 3. The node: the store is its state machine. */
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    fsm.user = &store;
    fsm.apply = kv_store_apply;
    fsm.snapshot = kv_store_snapshot;
    fsm.restore = kv_store_restore;
    craft_engine_options eo = CRAFT_ENGINE_OPTIONS_INIT;
    eo.election_ticks = a.election_ticks;
    eo.heartbeat_ticks = a.election_ticks / 10 ? a.election_ticks / 10 : 1;
    eo.lease_reads = a.lease_reads;
    if (a.snapshot_entries) {
        eo.snapshot_entries = a.snapshot_entries;
    }
    craft_node_options no = CRAFT_NODE_OPTIONS_INIT;
    no.id = a.id;
    no.tick_ms = a.tick_ms;
    no.storage = &sops;
    no.transport = &tops;
    no.fsm = &fsm;
    no.engine = &eo;
    no.trace = trace;
    no.trace_level = a.verbose ? CRAFT_TRACE_DEBUG : CRAFT_TRACE_INFO;
    no.request_timeout_ms = a.timeout_ms;
    no.wait_leader = 1; /* during an election, calls wait for a leader */
    no.wait_room = 1;   /* a full node slows clients down, never fails them */
    rv = craft_node_create(&no, &node);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "craft-kv: node: %s\n", craft_strerror(rv));
        goto out;
    }

    /* 4. Bootstrap a new cluster (ignored on restart: the node loaded
     * its state) or wait to be added (--join). */
    if (a.bootstrap) {
        static char store_addr[CRAFT_MAX_MEMBERS][CRAFT_MAX_ADDR_BYTES + 1];
        uint64_t ids[CRAFT_MAX_MEMBERS];
        craft_buf addrs[CRAFT_MAX_MEMBERS];
        size_t n;
        if (parse_bootstrap(a.bootstrap, ids, addrs, store_addr, &n)) {
            fprintf(stderr, "craft-kv: bad --bootstrap %s\n", a.bootstrap);
            goto out;
        }
        rv = craft_node_bootstrap_addr(node, ids, addrs, n);
        if (rv != CRAFT_OK && rv != CRAFT_ESTATE) {
            fprintf(stderr, "craft-kv: bootstrap: %s\n", craft_strerror(rv));
            goto out;
        }
    }
    craft_tcp_attach(tcp, node);
    rv = craft_node_start(node);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "craft-kv: start: %s\n", craft_strerror(rv));
        goto out;
    }

    /* 5. Serve RESP (and metrics) on this thread. */
    kv_server_options so = {
        .node = node,
        .tcp = tcp,
        .store = &store,
        .id = a.id,
        .resp_listen = a.resp,
        .resp_advertise = resp_adv,
        .metrics_listen = a.metrics,
        .raft_addr = a.raft,
        .timeout_ms = a.timeout_ms,
        .lease_reads = a.lease_reads,
        .stop = &stop_flag,
    };
    if (kv_server_create(&so, &srv)) {
        goto out;
    }
    if (a.join && craft_node_membership_version(node) == 0 &&
        join(&a, resp_adv)) {
        fprintf(stderr, "craft-kv: could not join through %s\n", a.join);
        goto out;
    }
    fprintf(stderr, "craft-kv: node %llu: raft %s, resp %s%s%s\n",
            (unsigned long long)a.id, a.raft, resp_adv,
            a.metrics ? ", metrics " : "", a.metrics ? a.metrics : "");
    kv_server_run(srv);
    code = 0;

out:
    /* Reverse order: no more sends once the node is down. */
    if (node) {
        craft_node_shutdown(node);
    }
    kv_server_free(srv);
    craft_tcp_free(tcp);
    craft_node_free(node);
    craft_file_storage_close(fs);
    kv_store_destroy(&store);
    return code;
}
