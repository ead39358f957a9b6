/*
 * tests/bench/bench.h: what the benchmarks of craft_node clusters share
 * (bench_node, bench_tcp): the clock, the exit on an error, percentiles
 * of latency samples, the counter state machine and the wait for a
 * leader. Header-only; define BENCH_NAME (the program's name, for its
 * messages) before including it.
 */
#ifndef CRAFT_BENCH_H
#define CRAFT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "craft.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench.h"
#endif

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void die(const char *what, int rv)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, craft_strerror(rv));
    exit(1);
}

/* Exits with the call's text and error unless it returns CRAFT_OK. */
#define CHECK(call)                                                           \
    do {                                                                      \
        int rv_ = (call);                                                     \
        if (rv_ != CRAFT_OK) {                                                \
            die(#call, rv_);                                                  \
        }                                                                     \
    } while (0)

/* ---- latency samples (ns) ------------------------------------------------ */

static inline int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile of n sorted samples, in us; 0 without samples. */
static inline double pct(int64_t *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    size_t k = (size_t)(p * (double)(n - 1));
    return (double)v[k] / 1000.0; /* us */
}

/* ---- the state machine: a counter ---------------------------------------- */

struct counter {
    int k; /* node index */
    uint64_t applied;
    unsigned char result[8];
};

/* Counts one entry applied; its result is the new count (8 bytes). */
static inline int counter_applied(struct counter *c, const void **result,
                                  size_t *result_len)
{
    c->applied++;
    memcpy(c->result, &c->applied, 8);
    *result = c->result;
    *result_len = 8;
    return CRAFT_OK;
}

static inline int counter_snapshot(void *user, uint64_t index, uint64_t term,
                                   craft_snapshot_writer *w)
{
    struct counter *c = user;
    (void)index;
    (void)term;
    return craft_snapshot_writer_write(w, &c->applied, 8);
}

static inline int counter_restore(void *user, uint64_t index, uint64_t term,
                                  craft_snapshot_reader *r)
{
    struct counter *c = user;
    size_t n = 0;
    (void)index;
    (void)term;
    return craft_snapshot_reader_read(r, &c->applied, 8, &n);
}

/* ---- the cluster --------------------------------------------------------- */

/* The index in nodes[0..n) of the leader every node names (server ids
 * are index + 1), polled every 5 ms up to tries times; exits without. */
static inline int bench_leader(craft_node *const *nodes, int n, int tries)
{
    for (int t = 0; t < tries; t++) {
        for (int k = 0; k < n; k++) {
            if (craft_node_role(nodes[k]) == CRAFT_ROLE_LEADER) {
                int agree = 1;
                for (int j = 0; j < n; j++) {
                    if (craft_node_leader(nodes[j]) != (uint64_t)k + 1) {
                        agree = 0;
                    }
                }
                if (agree) {
                    return k;
                }
            }
        }
        usleep(5000);
    }
    fprintf(stderr, BENCH_NAME ": no leader\n");
    exit(1);
}

#endif /* CRAFT_BENCH_H */
