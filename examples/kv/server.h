/*
 * examples/kv/server.h: craft-kv's client side: one event-loop thread
 * (epoll) that serves RESP clients, forwards writes to the leader and
 * serves the metrics over HTTP.
 */
#ifndef CRAFT_KV_SERVER_H
#define CRAFT_KV_SERVER_H

#include <craft.h>
#include <signal.h>

#include "store.h"

typedef struct kv_server kv_server;

typedef struct kv_server_options {
    craft_node *node;
    craft_tcp *tcp;
    kv_store *store;
    uint64_t id;
    const char *resp_listen;    /* "host:port" */
    const char *resp_advertise; /* what followers forward to; NULL:
                                   resp_listen */
    const char *metrics_listen; /* NULL: none */
    const char *raft_addr;      /* for INFO */
    uint32_t timeout_ms;        /* of each Raft call */
    int lease_reads;            /* for INFO */
    volatile sig_atomic_t *stop;
} kv_server_options;

/* Binds the listeners; 0 or -1 (message on stderr). */
int kv_server_create(const kv_server_options *o, kv_server **out);
/* Runs the loop on the calling thread until *stop is set. */
void kv_server_run(kv_server *s);
/* Closes every connection and frees s (call after the node shut down:
 * completions may still arrive until then). */
void kv_server_free(kv_server *s);

/* "host:port" (host may be a name, "[v6]" or empty for any) into a
 * sockaddr; 0 or -1. */
struct sockaddr_storage;
int kv_resolve(const char *addr, struct sockaddr_storage *ss,
               unsigned *sslen);

#endif
