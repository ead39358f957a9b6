/*
 * transport/transport.h: the TCP transport's internals, shared by the
 * files of src/transport/. Only the public API of craft (the transport
 * callback, craft_node_receive, craft_node_membership) and src/util are
 * used: the transport is a host component like any other.
 *
 * Threads and who owns what:
 *  - the event-loop thread (loop.c) owns every connection and every
 *    field marked "loop" below; it alone closes sockets and frees peers;
 *  - the caller of send (the node's driver) writes to a peer's ready
 *    connection directly when its queue is empty, or queues;
 *  - the resolver thread (resolve.c) turns host names into addresses;
 *  - any thread may call the API (set_peer, attach, metrics).
 * Locks: mu (the peer table, every peer's addresses) before a peer's
 * pmu (its queue, its ready connection's socket for writing); node_mu
 * (the attached node, held by the loop while it uses the node) and rmu
 * (the resolver's lists) are never held with another.
 */
#ifndef CRAFT_TRANSPORT_TRANSPORT_H
#define CRAFT_TRANSPORT_TRANSPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "craft.h"
#include "transport/wire.h"
#include "util/alloc.h"
#include "util/trace.h"

#define TT_NMETRICS 14 /* ids 1..13 */
#define TT_ADDR_CAP (CRAFT_MAX_ADDR_BYTES + 1) /* NUL-terminated */
#define TT_MAX_RESOLVED 8  /* addresses tried per attempt */
#define TT_MAX_INBOUND 1024 /* connections not handshaken yet, at most */
#define TT_READ_CHUNK (256u * 1024u)
#define TT_MAX_IOV 64
#define TT_POLL_MS 100 /* membership poll and timer granularity cap */

/* A queued message: the 4-byte frame header then the payload. */
struct tframe {
    struct tframe *next;
    size_t len; /* header included */
    uint8_t b[];
};

enum conn_kind {
    C_OUT = 1, /* ours to a peer: hello out, answer in, then frames out */
    C_IN = 2   /* a peer's: hello in, answer out, then frames in */
};

/* Outbound connection states (struct tpeer.state). */
enum out_state {
    O_IDLE = 0,      /* no connection; connect when due and wanted */
    O_RESOLVING = 1, /* a host name is with the resolver */
    O_CONNECTING = 2,
    O_HELLO = 3,     /* hello sent (or being sent), answer awaited */
    O_READY = 4,
    O_BACKOFF = 5    /* waiting until next_at after a failure */
};

struct tpeer;

struct conn {
    int kind;
    int fd;
    struct tpeer *peer; /* C_OUT: its peer; C_IN: the sender once
                           handshaken (NULL before) */
    struct conn *next;  /* C_IN: the list of inbound connections */
    int handshaken;
    int draining;       /* C_IN refused: answer sent, waiting for EOF */
    uint32_t events;    /* epoll interest */
    /* Bytes received, not consumed. */
    uint8_t *rbuf;
    size_t rlen;
    size_t rcap;
    /* The hello (C_OUT) or the answer (C_IN) being written. */
    uint8_t wbuf[TW_HELLO_MAX];
    size_t wlen;
    size_t woff;
    int64_t deadline;   /* ms: connect + handshake must end by then */
    int64_t last_rx;    /* ms: for the stall timeout */
    int64_t resume_at;  /* ms: paused (the node's inbox was full) */
    int paused;
    char remote[64];    /* "ip:port" of the other end */
};

struct tpeer {
    uint64_t id;
    /* Addresses, NUL-terminated, "" when none (under mu). */
    char over[TT_ADDR_CAP];   /* craft_tcp_set_peer */
    char member[TT_ADDR_CAP]; /* from the node's membership */
    char hello[TT_ADDR_CAP];  /* announced in its hello */
    int is_member;            /* in the membership last read */
    int was_member;

    /* Queue and the ready connection's socket (under pmu). */
    pthread_mutex_t pmu;
    struct tframe *qh;
    struct tframe *qt;
    size_t qn;
    size_t qbytes;
    size_t qoff;   /* bytes of qh already written */
    int ready_fd;  /* the READY connection's socket, or -1 */
    int dropping;  /* in a drop episode (trace once) */
    int kick;      /* the loop was asked to flush this peer */

    /* Loop. */
    struct conn *out;
    int state;
    char cur[TT_ADDR_CAP]; /* the address connections are made to */
    int64_t next_at;
    uint32_t backoff_ms;
    struct sockaddr_storage addrs[TT_MAX_RESOLVED];
    socklen_t addr_lens[TT_MAX_RESOLVED];
    int naddrs;
    int addr_idx;
    uint64_t resolve_gen;
    int nin;       /* inbound connections attributed to it */
    int want_write; /* EPOLLOUT armed on out */

    _Atomic uint64_t m[TT_NMETRICS];
};

/* A host name to resolve, and the result. */
struct rreq {
    struct rreq *next;
    uint64_t peer;
    uint64_t gen;
    int err; /* getaddrinfo's, 0 when resolved */
    int n;
    struct sockaddr_storage addrs[TT_MAX_RESOLVED];
    socklen_t lens[TT_MAX_RESOLVED];
    uint16_t port;
    char host[TT_ADDR_CAP];
};

struct craft_tcp {
    struct craft_alloc alloc;
    craft_tcp_options o; /* listen/advertise point into the copies */
    char listen_addr[TT_ADDR_CAP];
    char advertise[TT_ADDR_CAP];
    uint16_t port;
    int lfd;   /* listening socket */
    int epfd;
    int evfd;  /* eventfd: wakes the loop */
    pthread_t loop_thread;
    atomic_int stop;
    atomic_int wake_pending;

    pthread_mutex_t mu;
    struct tpeer **peers; /* under mu; freed by the loop only */
    size_t npeers;
    size_t peers_cap;
    _Atomic uint64_t gm[TT_NMETRICS]; /* unattributed, and removed peers' */

    pthread_mutex_t node_mu;
    craft_node *node;    /* under node_mu */
    atomic_int node_changed;

    /* Loop. */
    struct conn *ins;
    size_t nins_pending; /* inbound not handshaken */
    uint64_t mver;       /* membership version last read */
    int64_t next_poll;
    uint64_t rng;

    /* Resolver. */
    pthread_t res_thread;
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    struct rreq *rq;    /* to resolve */
    struct rreq *rdone; /* resolved, for the loop */
    int rstop;
    int res_started;
};

/* ---- util ------------------------------------------------------------ */
int64_t tt_now_ms(void);
/* Wakes the loop (at most one pending wake-up). */
void tt_wake(struct craft_tcp *t);
void tt_metric_add(struct craft_tcp *t, struct tpeer *p, int id, uint64_t v);

/* ---- trace ----------------------------------------------------------- */
int tt_trace_on(const struct craft_tcp *t, int id);
void tt_trace_begin(const struct craft_tcp *t, struct craft_trace_event *ev,
                    int id);
void tt_trace_emit(const struct craft_tcp *t, struct craft_trace_event *ev);

/* ---- peers (peer.c) ---------------------------------------------------- */
/* Finds peer id (mu held); NULL when unknown. */
struct tpeer *tt_peer_find(struct craft_tcp *t, uint64_t id);
/* Finds or creates peer id (mu held); NULL on ENOMEM. */
struct tpeer *tt_peer_get(struct craft_tcp *t, uint64_t id);
/* Drops every queued frame of p (pmu held); returns how many. */
size_t tt_queue_drop(struct craft_tcp *t, struct tpeer *p);
/* Traces a drop episode's start (pmu held). */
void tt_trace_dropped(struct craft_tcp *t, struct tpeer *p,
                      const char *reason, uint64_t frames);
/* Frees a peer removed from the table (loop). */
void tt_peer_free(struct craft_tcp *t, struct tpeer *p);

/* ---- send (send.c) ----------------------------------------------------- */
int tt_send(void *user, uint64_t peer, const void *data, size_t len);
/* Writes p's queue to its ready socket as far as it goes (pmu held).
 * Returns 1 when everything was written, 0 when the socket is full, -1
 * (errno set) when the connection failed. */
int tt_flush_locked(struct craft_tcp *t, struct tpeer *p);

/* ---- event loop (loop.c) ----------------------------------------------- */
void *tt_loop_main(void *arg);

/* ---- resolver (resolve.c) --------------------------------------------- */
int tt_resolver_start(struct craft_tcp *t);
void tt_resolver_stop(struct craft_tcp *t);
/* Queues host:port for peer (gen identifies the attempt). */
int tt_resolve(struct craft_tcp *t, uint64_t peer, uint64_t gen,
               const char *host, uint16_t port);
/* Takes the finished requests (the caller frees them). */
struct rreq *tt_resolved_take(struct craft_tcp *t);

#endif /* CRAFT_TRANSPORT_TRANSPORT_H */
