/*
 * node/clock.c: the node's time base, and condition variables timed on
 * it.
 *
 * Ticks, leases (lease_reads counts them in ticks) and call deadlines are
 * measured on CLOCK_BOOTTIME where the system has it (Linux): it goes on
 * counting while the system is suspended, so a leader resumed from a
 * suspend longer than its lease finds the lease expired by its own clock
 * (thesis §6.4.1: a lease is only as good as the bound on the time that
 * passed). CLOCK_MONOTONIC stops during a suspend; it is the fallback
 * where CLOCK_BOOTTIME does not exist, and there a suspended leader is
 * not protected (node.h says so).
 *
 * Condition variables cannot wait on CLOCK_BOOTTIME (POSIX offers only
 * REALTIME and MONOTONIC to pthread_condattr_setclock), so they wait on
 * CLOCK_MONOTONIC for the time left until the deadline. A suspend during
 * such a wait only makes it end later by the suspended time: every waiter
 * reads the time base again on waking (the driver wakes at least every
 * tick), and what is due by then is done at once.
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "node/node.h"

#if defined(CLOCK_BOOTTIME)
#define ND_TIME_BASE CLOCK_BOOTTIME
#else
#define ND_TIME_BASE CLOCK_MONOTONIC
#endif

/* A test's replacement of the time base (see node.h); NULL: the system's. */
static _Atomic(nd_clock_fn) clock_hook;

void nd_clock_set_hook(nd_clock_fn fn)
{
    atomic_store(&clock_hook, fn);
}

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t nd_clock_system_ns(void)
{
    return read_clock(ND_TIME_BASE);
}

int64_t nd_now_ns(void)
{
    nd_clock_fn fn = atomic_load_explicit(&clock_hook, memory_order_acquire);
    return fn != NULL ? fn() : read_clock(ND_TIME_BASE);
}

int64_t nd_deadline(const struct craft_node *n, uint32_t timeout_ms)
{
    uint32_t ms = timeout_ms != 0 ? timeout_ms : n->opts.request_timeout_ms;
    return nd_now_ns() + (int64_t)ms * 1000000;
}

int nd_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int rv = pthread_condattr_init(&attr);
    if (rv != 0) {
        return CRAFT_ENOMEM;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rv = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return rv == 0 ? CRAFT_OK : CRAFT_ENOMEM;
}

/* The longest single wait: a deadline further away is waited for in
 * steps (the callers loop), so the sum below cannot overflow. */
#define MAX_WAIT_NS ((int64_t)3600 * 1000000000)

void nd_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                        int64_t deadline)
{
    struct timespec ts;
    if (deadline <= 0 || deadline == INT64_MAX) {
        pthread_cond_wait(cv, mu);
        return;
    }
    int64_t left = deadline - nd_now_ns();
    if (left < 0) {
        left = 0;
    } else if (left > MAX_WAIT_NS) {
        left = MAX_WAIT_NS;
    }
    int64_t until = read_clock(CLOCK_MONOTONIC) + left;
    ts.tv_sec = (time_t)(until / 1000000000);
    ts.tv_nsec = (long)(until % 1000000000);
    int rv;
    do {
        rv = pthread_cond_timedwait(cv, mu, &ts);
    } while (rv == EINTR);
}
