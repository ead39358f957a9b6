/* node/clock.c: CLOCK_MONOTONIC time and condition variables on it. */
#include <errno.h>
#include <time.h>

#include "node/node.h"

int64_t nd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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

void nd_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                        int64_t deadline)
{
    struct timespec ts;
    if (deadline <= 0 || deadline == INT64_MAX) {
        pthread_cond_wait(cv, mu);
        return;
    }
    ts.tv_sec = (time_t)(deadline / 1000000000);
    ts.tv_nsec = (long)(deadline % 1000000000);
    int rv;
    do {
        rv = pthread_cond_timedwait(cv, mu, &ts);
    } while (rv == EINTR);
}
