/*
 * tests/fuzz/make_seeds.c: writes the hand-made part of the seed corpora.
 *
 *   make_seeds DIR      writes DIR/message/seed-*, DIR/conf/seed-*,
 *                       DIR/engine/seed-*, DIR/storage/seed-*,
 *                       DIR/tcp/seed-*, DIR/resp/seed-*
 *
 * The seeds give libFuzzer a valid example of every input shape to
 * mutate from: every message type, a few entry records, memberships, and
 * event programs that take an engine through an election, replication,
 * snapshots and membership changes. `make fuzz-seeds` runs it into
 * tests/fuzz/corpus/; the rest of the corpus is what `make fuzz-merge`
 * kept from fuzzing runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/conf.h"
#include "codec/message.h"
#include "transport/wire.h"

static const char *root;

static void put(const char *target, const char *name, const uint8_t *p,
                size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/seed-%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- message ---------------------------------------------------------- */

static void msg_seed(const char *name, const struct craft_msg *m)
{
    uint8_t buf[4096];
    size_t n = craft_msg_encoded_size(m);
    if (n == 0 || n + 1 > sizeof(buf)) {
        fprintf(stderr, "seed %s does not encode\n", name);
        exit(1);
    }
    buf[0] = 0; /* mode: as is */
    craft_msg_encode(m, buf + 1);
    put("message", name, buf, n + 1);
    buf[0] = 1; /* mode: frame fixed */
    char fixed[64];
    snprintf(fixed, sizeof(fixed), "%s-fixed", name);
    put("message", fixed, buf, n + 1);
}

static void message_seeds(void)
{
    static const char *names[] = {
        "", "append", "append-resp", "vote", "vote-resp", "prevote",
        "prevote-resp", "heartbeat", "heartbeat-resp", "snapshot",
        "snapshot-resp", "timeout-now", "read-index", "read-index-resp"};
    uint8_t conf[CRAFT_CONF_MAX_BYTES];
    static struct craft_conf c; /* large: addresses */
    memset(&c, 0, sizeof(c));
    c.n = 3;
    for (uint32_t k = 0; k < 3; k++) {
        c.m[k].id = k + 1;
        c.m[k].role = k == 2 ? 2 : 1;
    }
    size_t conf_len = craft_conf_encode(&c, conf);
    struct craft_entry ents[3] = {
        {3, CRAFT_ENTRY_NORMAL, 5, (const uint8_t *)"hello", NULL},
        {3, CRAFT_ENTRY_NOOP, 0, NULL, NULL},
        {4, CRAFT_ENTRY_CONFIG, (uint32_t)conf_len, conf, NULL}};
    static const uint32_t flags[] = {0, 0, CRAFT_MSG_F_REJECT,
                                     CRAFT_MSG_F_TRANSFER, CRAFT_MSG_F_REJECT,
                                     0, 0, 0, 0, CRAFT_MSG_F_LAST,
                                     CRAFT_MSG_F_LAST, 0, 0,
                                     CRAFT_MSG_F_REJECT};
    for (uint32_t t = 1; t <= CRAFT_MSG_TYPE_MAX; t++) {
        struct craft_msg m;
        memset(&m, 0, sizeof(m));
        m.type = t;
        m.flags = flags[t];
        m.from = 2;
        m.to = 1;
        m.term = 4;
        m.index = 7;
        m.log_term = 3;
        m.commit = 6;
        m.hint_index = 5;
        m.hint_term = 2;
        m.ctx = 9;
        m.offset = 16;
        if (t == CRAFT_MSG_APPEND) {
            m.entries = ents;
            m.n_entries = 3;
        }
        if (t == CRAFT_MSG_SNAPSHOT) {
            m.data = (const uint8_t *)"snapshot bytes";
            m.len = 14;
            m.conf = conf;
            m.conf_len = conf_len;
        }
        msg_seed(names[t], &m);
    }

    /* A run of entry records (mode 2), and the same to be fixed (3). */
    uint8_t buf[1024];
    size_t n = 1;
    for (unsigned k = 0; k < 3; k++) {
        n += craft_entry_record_encode(10 + k, &ents[k], buf + n);
    }
    buf[0] = 2;
    put("message", "records", buf, n);
    buf[0] = 3;
    put("message", "records-fixed", buf, n);
}

/* ---- conf ------------------------------------------------------------- */

static void conf_seeds(void)
{
    static uint8_t buf[1 + CRAFT_CONF_MAX_BYTES];
    static struct craft_conf c;
    memset(&c, 0, sizeof(c));
    const uint32_t sizes[] = {0, 1, 3, 5, CRAFT_MAX_MEMBERS};
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        c.n = sizes[s];
        for (uint32_t k = 0; k < c.n; k++) {
            c.m[k].id = k + 1;
            c.m[k].role = (k % 3 == 2) ? CRAFT_MEMBER_LEARNER
                                       : CRAFT_MEMBER_VOTER;
        }
        char name[48];
        for (int addr = 0; addr < 2; addr++) {
            /* Version 1 without addresses, version 2 with. */
            for (uint32_t k = 0; k < c.n; k++) {
                char a[32];
                snprintf(a, sizeof(a), "10.0.0.%u:7001", k + 1);
                craft_member_set_addr(&c.m[k], a, addr ? strlen(a) : 0);
            }
            size_t n = craft_conf_encode(&c, buf + 1);
            for (uint8_t mode = 0; mode < 2; mode++) {
                buf[0] = mode;
                snprintf(name, sizeof(name), "members-%u-mode-%u%s", c.n,
                         mode, addr ? "-addr" : "");
                put("conf", name, buf, n + 1);
            }
        }
    }
}

/* ---- engine ----------------------------------------------------------- */

/* The program bytes of fuzz_engine.c: the start, then ops. */
struct prog {
    uint8_t b[4096];
    size_t n;
};

static void p_add(struct prog *p, int count, ...)
{
    va_list ap;
    va_start(ap, count);
    for (int k = 0; k < count; k++) {
        p->b[p->n++] = (uint8_t)va_arg(ap, int);
    }
    va_end(ap);
}

enum { OP_TICK = 0, OP_REPLY = 3, OP_MSG = 6, OP_RAW = 8, OP_PROPOSE = 9,
       OP_PERSISTED = 10, OP_READ = 11, OP_REQUEST = 12, OP_TAKEN = 13,
       OP_CHUNK = 14, OP_SYNC = 15 };

/* Options: pre-vote and check-quorum (flags), election timeout 4,
 * heartbeat 1, 4 in flight, 64-byte messages, a snapshot every 6
 * entries keeping 1, 16-byte chunks, 1 catch-up round. */
static void p_start(struct prog *p, uint8_t flags, uint8_t how)
{
    p_add(p, 11, 1, flags, 2, 0, 3, 63, 6, 1, 15, 0, how);
}

/* Many answers to recent messages, all positive. */
static void p_replies(struct prog *p, int n)
{
    for (int k = 0; k < n; k++) {
        (void)k;
        p_add(p, 3, OP_REPLY, 0, 1);
    }
}

static void p_ticks(struct prog *p, int n)
{
    for (int k = 0; k < n; k++) {
        p_add(p, 1, 0xf0 | OP_TICK); /* 16 ticks */
    }
}

static void p_propose(struct prog *p, const char *s)
{
    size_t len = strlen(s);
    p_add(p, 3, OP_PROPOSE, 0, (int)len);
    memcpy(p->b + p->n, s, len);
    p->n += len;
}

static void engine_seeds(void)
{
    struct prog p;

    /* A 3-voter cluster: elect, replicate, commit, read, snapshot. */
    for (uint8_t flags = 0; flags < 8; flags++) {
        memset(&p, 0, sizeof(p));
        p_start(&p, flags, 1);
        p_add(&p, 1, 2); /* 3 voters */
        p_ticks(&p, 2);
        p_replies(&p, 4);
        p_replies(&p, 4);
        p_add(&p, 1, OP_SYNC);
        p_replies(&p, 8);
        for (int k = 0; k < 8; k++) {
            p_propose(&p, "put x 1");
            p_add(&p, 1, OP_SYNC);
            p_replies(&p, 6);
            p_add(&p, 1, OP_READ);
            p_add(&p, 1, 0x10 | OP_TICK);
            p_replies(&p, 6);
        }
        p_add(&p, 2, OP_TAKEN, 1);
        p_add(&p, 3, OP_REQUEST, 0, 3); /* transfer to 4 */
        p_add(&p, 3, OP_REQUEST, 1, 3); /* add peer 4 */
        p_add(&p, 1, OP_SYNC);
        p_replies(&p, 8);
        for (int k = 0; k < 6; k++) {
            p_add(&p, 2, OP_CHUNK, 2);
            p_replies(&p, 4);
        }
        p_ticks(&p, 1);
        p_replies(&p, 8);
        char name[32];
        snprintf(name, sizeof(name), "leader-flags-%u", flags);
        put("engine", name, p.b, p.n);
    }

    /* A single voter: leader at once. */
    memset(&p, 0, sizeof(p));
    p_start(&p, 3, 1);
    p_add(&p, 1, 0);
    p_ticks(&p, 1);
    for (int k = 0; k < 10; k++) {
        p_propose(&p, "one");
        p_add(&p, 1, OP_SYNC);
    }
    p_add(&p, 2, OP_TAKEN, 1);
    p_add(&p, 3, OP_REQUEST, 2, 1); /* add learner 2 */
    p_add(&p, 1, OP_SYNC);
    p_replies(&p, 8);
    put("engine", "single", p.b, p.n);

    /* A follower: an append from a leader of term 2 with entries and a
     * commit index, then a snapshot from it. */
    memset(&p, 0, sizeof(p));
    p_start(&p, 3, 1);
    p_add(&p, 1, 2);
    /* op_message: type APPEND(1)-1=0, from 2 (b=0), to self, term cur+1
     * (sel 2), flags 0, index last (sel 0), log_term from log (1), two
     * NORMAL entries, commit picked (1) = last (0). */
    p_add(&p, 12, OP_MSG, 0, 0, 0, 2, 0, 0, 1, 2, 8, 3, 'a');
    p_add(&p, 6, 'b', 'c', 8, 2, 'd', 'e');
    p_add(&p, 2, 1, 0);
    p_add(&p, 1, OP_SYNC);
    /* A SNAPSHOT (type 9) at last+1, whole, with a membership. */
    p_add(&p, 14, OP_MSG, 8, 0, 0, 2, CRAFT_MSG_F_LAST, 3, 0, 0, 0, 2, 4,
          'S', 'N');
    p_add(&p, 4, 'A', 'P', 0x07, 0x00);
    p_add(&p, 1, OP_SYNC);
    put("engine", "follower", p.b, p.n);

    /* A restart from a snapshot and a log. */
    memset(&p, 0, sizeof(p));
    p_start(&p, 7, 3);
    p_add(&p, 2, 5, 1);        /* hard state term 5, vote 1 */
    p_add(&p, 6, 3, 1, 7, 0, 0, 4); /* snapshot 4/2, members 1-3, size */
    p_add(&p, 1, 4);           /* 4 entries */
    p_add(&p, 4, 0, 0, 1, 2);  /* NORMAL (len 2? from input) */
    p_add(&p, 3, 1, 0, 3);     /* a CONFIG of 1,2 */
    p_add(&p, 1, 5);           /* NOOP */
    p_add(&p, 2, 0, 0);
    p_ticks(&p, 2);
    p_replies(&p, 8);
    p_add(&p, 1, OP_SYNC);
    p_replies(&p, 8);
    put("engine", "restart", p.b, p.n);
}

/* ---- storage ---------------------------------------------------------- */

/* fuzz_storage.c: a template byte, then mutations (op, file, args). */
static void storage_seeds(void)
{
    uint8_t b[16];
    for (uint8_t t = 0; t < 2; t++) {
        char name[32];
        b[0] = t;
        snprintf(name, sizeof(name), "template-%u", t);
        put("storage", name, b, 1);
        for (uint8_t file = 0; file < 8; file++) {
            /* flip a byte near the start, in the middle, at the end */
            const uint16_t offs[] = {20, 700, 4000};
            for (unsigned k = 0; k < 3; k++) {
                b[1] = 0; /* flip */
                b[2] = file;
                b[3] = (uint8_t)offs[k];
                b[4] = (uint8_t)(offs[k] >> 8);
                b[5] = 0x40;
                snprintf(name, sizeof(name), "t%u-flip-f%u-%u", t, file,
                         offs[k]);
                put("storage", name, b, 6);
            }
            b[1] = 4; /* cut */
            b[2] = file;
            b[3] = 0x80;
            b[4] = 0x01;
            snprintf(name, sizeof(name), "t%u-cut-f%u", t, file);
            put("storage", name, b, 5);
        }
    }
}

/* ---- tcp -------------------------------------------------------------- */

/* fuzz_tcp.c, mode 0: rules (cluster 1, us 2, frames up to 1000 bytes),
 * piece sizes, then a hello from server 3 and frames. */
static void tcp_stream(const char *name, uint64_t cluster, uint64_t to,
                       const uint32_t *frames, size_t nframes)
{
    uint8_t b[4096];
    size_t n = 0;
    b[n++] = 0;    /* mode: stream */
    b[n++] = 1;    /* cluster */
    b[n++] = 2;    /* us */
    b[n++] = 0xe7; /* largest frame - 1: 999 */
    b[n++] = 0x03;
    b[n++] = 3; /* piece sizes: 1, 5, 10 */
    b[n++] = 0;
    b[n++] = 4;
    b[n++] = 9;
    struct tw_hello h;
    memset(&h, 0, sizeof(h));
    h.version = TW_VERSION;
    h.cluster = cluster;
    h.sender = 3;
    h.receiver = to;
    h.addr_len = 14;
    memcpy(h.addr, "127.0.0.1:9003", 14);
    n += tw_hello_encode(&h, b + n);
    for (size_t k = 0; k < nframes; k++) {
        uint32_t len = frames[k];
        for (int j = 0; j < 4; j++) {
            b[n++] = (uint8_t)(len >> (8 * j));
        }
        for (uint32_t j = 0; j < len && j < 200; j++) {
            b[n++] = (uint8_t)(j * 7 + k);
        }
    }
    put("tcp", name, b, n);
}

static void tcp_seeds(void)
{
    static const uint32_t two[] = {20, 3};
    static const uint32_t big[] = {5, 5000};
    static const uint32_t empty[] = {0};
    tcp_stream("hello", 1, 2, NULL, 0);
    tcp_stream("hello-frames", 1, 2, two, 2);
    tcp_stream("frame-too-big", 1, 2, big, 2);
    tcp_stream("frame-empty", 1, 2, empty, 1);
    tcp_stream("other-cluster", 2, 2, two, 2);
    tcp_stream("other-receiver", 1, 3, two, 2);
    uint8_t b[64];
    b[0] = 1; /* mode: answer */
    put("tcp", "ack-ok", b, 1 + tw_ack_encode(0, 2, b + 1));
    put("tcp", "ack-refused", b, 1 + tw_ack_encode(TW_R_CLUSTER, 2, b + 1));
    static const char *const addrs[] = {"127.0.0.1:9000", "[::1]:80",
                                        "node-1:65535", "h:65536",
                                        "::1:80", "[::1]80"};
    for (size_t k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
        size_t len = strlen(addrs[k]);
        b[0] = 2;  /* mode: address */
        b[1] = 63; /* host buffer of 64 bytes */
        memcpy(b + 2, addrs[k], len);
        char name[32];
        snprintf(name, sizeof(name), "addr-%zu", k);
        put("tcp", name, b, 2 + len);
    }
}

/* ---- resp: what redis clients send craft-kv (and its replies) ------- */

static void resp_seed(const char *name, const char *text)
{
    put("resp", name, (const uint8_t *)text, strlen(text));
}

static void resp_seeds(void)
{
    resp_seed("get", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    resp_seed("set-px", "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue"
                        "\r\n$2\r\nPX\r\n$3\r\n100\r\n");
    resp_seed("pipeline", "*1\r\n$4\r\nPING\r\n*3\r\n$6\r\nINCRBY\r\n"
                          "$1\r\nn\r\n$2\r\n-7\r\n*2\r\n$4\r\nMGET\r\n"
                          "$0\r\n\r\n*0\r\n");
    resp_seed("inline", "PING\r\nSET k  v\r\nGET\tk\n\r\n");
    resp_seed("incomplete", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc");
    resp_seed("bad-length", "*1\r\n$-2\r\nPING\r\n");
    resp_seed("oversized", "*1\r\n$99999999999\r\n");
    resp_seed("replies", "+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n"
                         "*2\r\n*1\r\n:1\r\n*-1\r\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    message_seeds();
    conf_seeds();
    engine_seeds();
    storage_seeds();
    tcp_seeds();
    resp_seeds();
    return 0;
}
