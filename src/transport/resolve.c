/*
 * transport/resolve.c: host names are resolved on a thread of their own,
 * because getaddrinfo() blocks (a slow or dead DNS server can take
 * seconds) and the event loop must not. Numeric addresses never come
 * here: the loop parses them itself.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "transport/transport.h"

static void *resolver_main(void *arg)
{
    struct craft_tcp *t = arg;
    pthread_mutex_lock(&t->rmu);
    for (;;) {
        while (t->rq == NULL && !t->rstop) {
            pthread_cond_wait(&t->rcv, &t->rmu);
        }
        if (t->rstop) {
            break;
        }
        struct rreq *r = t->rq;
        t->rq = r->next;
        pthread_mutex_unlock(&t->rmu);

        struct addrinfo hints, *res = NULL;
        char ps[8];
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
        snprintf(ps, sizeof(ps), "%u", (unsigned)r->port);
        r->err = getaddrinfo(r->host, ps, &hints, &res);
        r->n = 0;
        for (struct addrinfo *ai = res; ai != NULL && r->n < TT_MAX_RESOLVED;
             ai = ai->ai_next) {
            if (ai->ai_addrlen <= sizeof(r->addrs[0])) {
                memcpy(&r->addrs[r->n], ai->ai_addr, ai->ai_addrlen);
                r->lens[r->n] = ai->ai_addrlen;
                r->n++;
            }
        }
        if (res != NULL) {
            freeaddrinfo(res);
        }

        pthread_mutex_lock(&t->rmu);
        r->next = t->rdone;
        t->rdone = r;
        pthread_mutex_unlock(&t->rmu);
        tt_wake(t);
        pthread_mutex_lock(&t->rmu);
    }
    pthread_mutex_unlock(&t->rmu);
    return NULL;
}

int tt_resolver_start(struct craft_tcp *t)
{
    if (pthread_create(&t->res_thread, NULL, resolver_main, t) != 0) {
        return CRAFT_EIO;
    }
    t->res_started = 1;
    return CRAFT_OK;
}

static void free_list(struct craft_tcp *t, struct rreq *r)
{
    while (r != NULL) {
        struct rreq *next = r->next;
        craft_free(&t->alloc, r);
        r = next;
    }
}

void tt_resolver_stop(struct craft_tcp *t)
{
    if (!t->res_started) {
        return;
    }
    pthread_mutex_lock(&t->rmu);
    t->rstop = 1;
    pthread_cond_signal(&t->rcv);
    pthread_mutex_unlock(&t->rmu);
    pthread_join(t->res_thread, NULL);
    t->res_started = 0;
    free_list(t, t->rq);
    free_list(t, t->rdone);
    t->rq = t->rdone = NULL;
}

int tt_resolve(struct craft_tcp *t, uint64_t peer, uint64_t gen,
               const char *host, uint16_t port)
{
    struct rreq *r = craft_calloc(&t->alloc, sizeof(*r));
    if (r == NULL) {
        return CRAFT_ENOMEM;
    }
    r->peer = peer;
    r->gen = gen;
    r->port = port;
    snprintf(r->host, sizeof(r->host), "%s", host);
    pthread_mutex_lock(&t->rmu);
    /* FIFO order is not needed: results carry their generation. */
    r->next = t->rq;
    t->rq = r;
    pthread_cond_signal(&t->rcv);
    pthread_mutex_unlock(&t->rmu);
    return CRAFT_OK;
}

struct rreq *tt_resolved_take(struct craft_tcp *t)
{
    pthread_mutex_lock(&t->rmu);
    struct rreq *r = t->rdone;
    t->rdone = NULL;
    pthread_mutex_unlock(&t->rmu);
    return r;
}
