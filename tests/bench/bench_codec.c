/*
 * tests/bench/bench_codec.c: throughput of the wire codec's hot paths.
 *
 * APPEND messages of 64-byte entries (the replication hot path), encoded
 * and decoded, heartbeats, and CRC32C on both paths. Each figure is also
 * given as a ratio to memcpy of the same bytes measured in the same run,
 * so numbers from different machines can be compared.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/crc32c.h"
#include "codec/message.h"

static volatile uint64_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds per call of fn, run for about 0.2 s. */
static double time_per_call(void (*fn)(void *), void *arg)
{
    long n = 1;
    for (;;) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            fn(arg);
        }
        double dt = now() - t0;
        if (dt > 0.2) {
            return dt / (double)n;
        }
        n *= 2;
    }
}

struct fixture {
    struct craft_msg msg;
    uint8_t *wire;
    size_t wire_len;
    uint8_t *copy;
    struct craft_alloc alloc;
    struct craft_entry_vec scratch;
};

static void do_memcpy(void *arg)
{
    struct fixture *f = arg;
    memcpy(f->copy, f->wire, f->wire_len);
    sink += f->copy[f->wire_len / 2];
}

static void do_encode(void *arg)
{
    struct fixture *f = arg;
    sink += craft_msg_encode(&f->msg, f->wire);
}

static void do_decode(void *arg)
{
    struct fixture *f = arg;
    struct craft_msg m;
    if (craft_msg_decode(f->wire, f->wire_len, &m, &f->alloc,
                         &f->scratch) != CRAFT_OK) {
        abort();
    }
    sink += m.n_entries;
}

static void do_crc_hw(void *arg)
{
    struct fixture *f = arg;
    sink += craft_crc32c(0, f->wire, f->wire_len);
}

static void do_crc_sw(void *arg)
{
    struct fixture *f = arg;
    sink += craft_crc32c_sw(0, f->wire, f->wire_len);
}

static void report(const char *what, double per_call, double base,
                   size_t items, size_t bytes)
{
    printf("  %-22s %8.0f ns/msg %7.2f M items/s %7.0f MB/s  x%.2f of memcpy\n",
           what, per_call * 1e9, (double)items / per_call / 1e6,
           (double)bytes / per_call / 1e6, per_call / base);
}

static void bench_append(size_t n_entries, uint32_t entry_len)
{
    static uint8_t payload[4096];
    struct craft_entry *ents = calloc(n_entries, sizeof(*ents));
    for (size_t i = 0; i < n_entries; i++) {
        ents[i] = (struct craft_entry){i / 16 + 1, CRAFT_ENTRY_NORMAL,
                                       entry_len, payload, NULL};
    }
    struct fixture f;
    memset(&f, 0, sizeof(f));
    f.msg = (struct craft_msg){.type = CRAFT_MSG_APPEND, .from = 1, .to = 2,
                               .term = 7, .index = 1000, .log_term = 7,
                               .commit = 999, .entries = ents,
                               .n_entries = n_entries};
    f.wire_len = craft_msg_encoded_size(&f.msg);
    f.wire = malloc(f.wire_len);
    f.copy = malloc(f.wire_len);
    craft_alloc_default(&f.alloc);
    craft_msg_encode(&f.msg, f.wire);

    double base = time_per_call(do_memcpy, &f);
    printf("APPEND, %zu entries of %u bytes (%zu bytes on the wire):\n",
           n_entries, entry_len, f.wire_len);
    report("memcpy (baseline)", base, base, n_entries, f.wire_len);
    report("encode", time_per_call(do_encode, &f), base, n_entries,
           f.wire_len);
    report("decode", time_per_call(do_decode, &f), base, n_entries,
           f.wire_len);
    report("crc32c", time_per_call(do_crc_hw, &f), base, n_entries,
           f.wire_len);
    report("crc32c (table path)", time_per_call(do_crc_sw, &f), base,
           n_entries, f.wire_len);
    craft_entry_vec_free(&f.alloc, &f.scratch);
    free(f.wire);
    free(f.copy);
    free(ents);
}

static void bench_heartbeat(void)
{
    struct fixture f;
    memset(&f, 0, sizeof(f));
    f.msg = (struct craft_msg){.type = CRAFT_MSG_HEARTBEAT, .from = 1,
                               .to = 2, .term = 7, .commit = 999, .ctx = 5};
    f.wire_len = craft_msg_encoded_size(&f.msg);
    f.wire = malloc(f.wire_len);
    f.copy = malloc(f.wire_len);
    craft_alloc_default(&f.alloc);
    craft_msg_encode(&f.msg, f.wire);
    double base = time_per_call(do_memcpy, &f);
    printf("HEARTBEAT (%zu bytes):\n", f.wire_len);
    report("encode", time_per_call(do_encode, &f), base, 1, f.wire_len);
    report("decode", time_per_call(do_decode, &f), base, 1, f.wire_len);
    free(f.wire);
    free(f.copy);
}

int main(void)
{
    printf("bench_codec: crc32c SSE4.2 path %s\n",
           craft_crc32c_hw_available() ? "in use" : "absent");
    bench_append(64, 64);
    bench_append(1024, 64);
    bench_append(16, 4096);
    bench_heartbeat();
    return 0;
}
