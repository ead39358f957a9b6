/*
 * transport/loop.h: what the files of the event loop share (internal).
 *
 * The loop is one thread (tt_loop_main) and its state; its work is split
 * by concern:
 *
 *   conn.c      a connection's life: epoll registration, buffers, close
 *               into the graveyard (freed at the end of a turn, so that an
 *               event later in the same batch never touches freed
 *               memory), and the traces both directions emit
 *   outbound.c  our connection to each peer: address resolution, connect,
 *               the hello and its answer, writing the peer's send queue,
 *               back-off after failures
 *   inbound.c   connections peers made to us: accept, the hello checks
 *               and answer, reading frames into the node, inbound timers
 *   loop.c      the thread: epoll dispatch, the node's membership, the
 *               walk over the peers, shutdown
 *
 * Every function here runs on the loop thread only.
 */
#ifndef CRAFT_TRANSPORT_LOOP_H
#define CRAFT_TRANSPORT_LOOP_H

#include "transport/transport.h"

struct loop {
    struct craft_tcp *t;
    struct conn *grave; /* closed this turn, freed at its end */
    int have_members;   /* the node's membership is not empty */
    int attached;       /* a node is attached */
};

/* ---- connections (conn.c) ----------------------------------------------- */

/* A connection of kind C_OUT or C_IN on fd, registered with epoll, with
 * a read buffer of rcap bytes; NULL when out of memory (fd stays open). */
struct conn *tl_conn_new(struct loop *L, int kind, int fd, size_t rcap);
/* Closes c's socket and sends it to the graveyard. */
void tl_conn_close(struct loop *L, struct conn *c);
/* Frees the connections closed this turn. */
void tl_bury(struct loop *L);
/* Makes room for want bytes in c's buffer (want <= max frame + header).
 * 0, or -1 when out of memory. */
int tl_conn_reserve(struct craft_tcp *t, struct conn *c, size_t want);
/* Writes c's pending wbuf; 1 done, 0 partial, -1 failed. */
int tl_conn_write_small(struct conn *c);
void tl_set_events(struct craft_tcp *t, struct conn *c, uint32_t events);
/* The address of fd's other end (peer 1) or of our end (0), as text. */
void tl_remote_of(int fd, char *buf, size_t cap, int peer);
int tl_sock_error(int fd);
void tl_trace_disconnected(struct craft_tcp *t, uint64_t peer,
                           const char *dir, const char *reason, int err);
/* reason < 0: the hello did not come in time. */
void tl_trace_refused(struct craft_tcp *t, uint64_t peer, const char *dir,
                      int reason, const char *remote);
void tl_trace_peer_str(struct craft_tcp *t, int id, uint64_t peer,
                       const char *k1, const char *v1, const char *k2,
                       const char *v2);

/* ---- outbound (outbound.c) ---------------------------------------------- */

/* Drops p's queue because its connection is gone (pmu not held). */
void tl_drop_queue(struct craft_tcp *t, struct tpeer *p, const char *reason);
/* An attempt failed before the handshake completed; try_next: go on with
 * p's next address, if any, before backing off. */
void tl_out_fail(struct loop *L, struct tpeer *p, const char *reason,
                 int err, int64_t now, int try_next);
/* Closes p's outbound connection in whatever state, quietly unless it
 * was ready. The peer goes back to IDLE. */
void tl_out_reset(struct loop *L, struct tpeer *p, const char *reason);
/* Fills p's addresses from a numeric host, or hands a name to the
 * resolver. */
void tl_out_start(struct loop *L, struct tpeer *p, int64_t now);
/* Connects the peers whose host names the resolver finished. */
void tl_take_resolved(struct loop *L, int64_t now);
/* Writes p's queue; arms EPOLLOUT when the socket is full. */
void tl_out_flush(struct loop *L, struct tpeer *p, int64_t now);
void tl_out_event(struct loop *L, struct conn *c, uint32_t events,
                  int64_t now);

/* ---- inbound (inbound.c) ------------------------------------------------ */

void tl_in_close(struct loop *L, struct conn *c, const char *reason, int err);
void tl_in_event(struct loop *L, struct conn *c, uint32_t events,
                 int64_t now);
void tl_accept_all(struct loop *L, int64_t now);
/* Inbound timers: hello deadlines, stalls, paused connections. Returns
 * the next time something is due. */
int64_t tl_in_timers(struct loop *L, int64_t now);

/* ---- the loop (loop.c) -------------------------------------------------- */

/* Reads the node's membership when it changed: the members' addresses
 * (mu). Returns 1 when something was read. */
int tl_sync_membership(struct loop *L, int force);

#endif /* CRAFT_TRANSPORT_LOOP_H */
