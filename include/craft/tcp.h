/*
 * craft/tcp.h: the TCP transport, a craft_transport_ops that carries the
 * engine's messages between servers over TCP. Include <craft.h> rather
 * than this file.
 *
 * A craft_tcp listens on one address, keeps one outbound connection to
 * each peer and hands what peers send to its node with
 * craft_node_receive(). It is written only against the public API (the
 * transport callback, craft_node_receive, craft_node_membership), like a
 * transport a user would write.
 *
 *   craft_tcp_options o = CRAFT_TCP_OPTIONS_INIT;
 *   o.node_id = 1;
 *   o.cluster_id = 0x6b76;             // the same on every server
 *   o.listen = "10.0.0.1:7001";        // "127.0.0.1:0": a free port
 *   craft_tcp *t;
 *   craft_tcp_create(&o, &t);           // listening from here on
 *   craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
 *   craft_tcp_transport(t, &tr);
 *   node_opts.transport = &tr;          // then craft_node_create()
 *   craft_tcp_attach(t, node);          // before craft_node_start()
 *   ...
 *   craft_node_shutdown(node);          // no more sends
 *   craft_tcp_free(t);                  // closes everything
 *   craft_node_free(node);
 *
 * Peers' addresses come from the node's membership (the addresses given
 * to craft_node_bootstrap_addr / craft_node_add_peer_addr): the transport
 * follows it, connecting to servers added and closing the connections of
 * servers removed. craft_tcp_set_peer() overrides or adds an address, and
 * a server that is not (yet) in this node's membership is reached at the
 * address it announced when it connected (so a new server can answer the
 * leader that added it before it has the configuration). An address is
 * "host:port": an IPv4 literal, a host name (resolved on a helper thread,
 * again at each connection attempt) or an IPv6 literal in brackets
 * ("[::1]:7001").
 *
 * One event-loop thread (epoll) does the I/O, on non-blocking sockets
 * with TCP_NODELAY; a second thread resolves host names so that a slow
 * DNS never stalls it. Sending never blocks the caller: a message that
 * cannot be written at once joins the peer's queue, bounded in messages
 * and bytes; what does not fit is dropped (Raft retransmits), so one dead
 * or slow peer never slows the others. A connection that fails is retried
 * with exponential backoff and jitter; its queue is dropped.
 *
 * Wire protocol (version 1), little-endian. The connecting side sends a
 * hello: magic "CRFT", u16 version, u16 flags (0; bit 0 is reserved for
 * a TLS upgrade), u64 cluster id, u64 sender id, u64 receiver id, u8
 * address length and the sender's advertised address. The accepting side
 * checks it and answers: magic "CRFA", u16 version, u16 status (0
 * accepted; 2 version, 3 cluster, 4 receiver, 5 malformed: refused), u64
 * its own id; then it closes a refused connection. Bytes that do not
 * start with the magic are closed without an answer. After an accepted
 * hello the connecting side sends frames: u32 length (1 ..
 * max_frame_bytes) and the engine's bytes, unchanged. A connection
 * carries messages one way only. Nothing from a connection that has not
 * completed its handshake ever reaches the node; a frame announcing more
 * than max_frame_bytes closes the connection. There is no
 * authentication: anyone who can reach the port and knows the cluster id
 * can speak for any server id. Run it on a trusted network (TLS is left
 * for a later version; the flags bit and the options' struct_size leave
 * room for it).
 *
 * Trace events have target "craft.transport" (ids and fields listed in
 * craft/node.h) and go to the trace callback in the options; node_id is
 * the options' node_id.
 *
 * Thread-safety: every function may be called from any thread, except
 * that craft_tcp_free() must not run concurrently with any other call on
 * the same transport (nor with a send through its ops), and that
 * craft_tcp_attach() and craft_tcp_free() must not be called from the
 * trace callback. The trace
 * callback runs on the event-loop thread, or on the thread calling
 * craft_tcp_create / craft_tcp_free / craft_tcp_set_peer, and may run
 * concurrently with itself.
 */
#ifndef CRAFT_TCP_H
#define CRAFT_TCP_H

#include "common.h"
#include "node.h"

CRAFT_BEGIN_DECLS

typedef struct craft_tcp craft_tcp;

#define CRAFT_TCP_PROTOCOL_VERSION 1

/*
 * Options. Fill with craft_tcp_options_init() or CRAFT_TCP_OPTIONS_INIT,
 * then set node_id and what you need. The struct, its strings and
 * *allocator are copied by craft_tcp_create(); trace_user must stay valid
 * until craft_tcp_free().
 *
 * node_id (required): this server's id; peers connect to it by this id
 *   and the handshake refuses a connection meant for another.
 * cluster_id: every server of a cluster must use the same; a hello with
 *   another is refused. Default 0.
 * listen: "host:port" to listen on (SO_REUSEADDR); port 0 picks a free
 *   one (craft_tcp_port tells which). NULL: "127.0.0.1:0".
 * advertise: the address sent in the hello, where peers that do not have
 *   this server in their membership reach it. NULL: the listen address
 *   with the port bound, unless its host is a wildcard (0.0.0.0, [::]),
 *   then none; "": none.
 * max_frame_bytes: the largest message accepted (and sent); default and
 *   maximum CRAFT_MAX_MESSAGE_BYTES, at least 64.
 * queue_messages, queue_bytes: a peer's send queue; default 1024
 *   messages, 64 MiB.
 * connect_timeout_ms: to connect and complete the handshake; default
 *   3000.
 * backoff_min_ms, backoff_max_ms: the delay before a new attempt after a
 *   failure doubles from min to max, each delay drawn at random in
 *   [d/2, d] (jitter); a completed handshake resets it. Defaults 20, 2000.
 * stall_timeout_ms: an inbound connection in the middle of a hello or a
 *   frame that receives nothing for this long is closed (a hello must
 *   also be complete within connect_timeout_ms of the accept). Default
 *   10000.
 * allocator: NULL for libc; used for every allocation of the transport.
 * trace, trace_user, trace_level: like craft_node_options' (events with
 *   target "craft.transport"). Default level CRAFT_TRACE_INFO.
 * seed: of the jitter; 0: from node_id and the clock.
 */
typedef struct craft_tcp_options {
    uint32_t struct_size; /* sizeof(craft_tcp_options) */
    uint32_t max_frame_bytes;
    uint64_t node_id;
    uint64_t cluster_id;
    const char *listen;
    const char *advertise;
    uint32_t queue_messages;
    uint32_t connect_timeout_ms;
    uint64_t queue_bytes;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint32_t stall_timeout_ms;
    const craft_allocator *allocator;
    void (*trace)(void *user, const craft_trace_event *ev);
    void *trace_user;
    int trace_level;
    uint64_t seed;
} craft_tcp_options;

#define CRAFT_TCP_OPTIONS_INIT                                                \
    { (uint32_t)sizeof(craft_tcp_options), CRAFT_MAX_MESSAGE_BYTES, 0u, 0u,   \
      NULL, NULL, 1024u, 3000u, 64u * 1024u * 1024u, 20u, 2000u, 10000u,      \
      NULL, NULL, NULL, CRAFT_TRACE_INFO, 0u }

/* Fills *o like CRAFT_TCP_OPTIONS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_tcp_options_init(craft_tcp_options *o);

/*
 * Creates a transport: binds and listens (on the calling thread; a host
 * name in listen is resolved here), then starts its threads.
 * Errors (*out untouched, nothing left open): CRAFT_EINVAL (NULL, node_id
 * 0, an unparsable address, an option out of range), CRAFT_ESTRUCT
 * (struct_size 0 or larger than known, a bad allocator), CRAFT_EIO (the
 * address cannot be resolved or bound: in use, not local, no permission;
 * or a thread or epoll instance cannot be made), CRAFT_ENOMEM.
 */
CRAFT_API int craft_tcp_create(const craft_tcp_options *opts,
                               craft_tcp **out);

/*
 * Fills *ops (initialised with craft_transport_ops_init; only its first
 * struct_size bytes are written) with the transport's send and user
 * pointer, for craft_node_options.transport. send copies the bytes (or
 * writes them at once) and returns CRAFT_OK, or CRAFT_EUNKNOWNPEER (no
 * address known for the peer), CRAFT_EBUSY (the peer's queue is full),
 * CRAFT_ETOOBIG (over max_frame_bytes), CRAFT_ENOMEM: the node drops
 * those. CRAFT_EINVAL on NULL, CRAFT_ESTRUCT.
 */
CRAFT_API int craft_tcp_transport(craft_tcp *t, craft_transport_ops *ops);

/*
 * Sets the node that receives what peers send (craft_node_receive) and
 * whose membership gives the peers' addresses; NULL detaches. Returns
 * once the event loop no longer uses the previous node, which may then
 * be freed. Frames arriving while no node is attached are dropped
 * (counted). Attach before craft_node_start(). CRAFT_EINVAL on NULL t.
 */
CRAFT_API int craft_tcp_attach(craft_tcp *t, craft_node *node);

/*
 * Overrides the address of peer id (addr: "host:port", copied), taking
 * precedence over the membership's; addr NULL or "" removes the
 * override. Takes effect at once: a connection to another address is
 * closed and made again. CRAFT_EINVAL (NULL t, id 0 or this node's id, a
 * malformed address), CRAFT_ETOOBIG (longer than CRAFT_MAX_ADDR_BYTES),
 * CRAFT_ENOMEM.
 */
CRAFT_API int craft_tcp_set_peer(craft_tcp *t, uint64_t id, const char *addr);

/* The port listened on (the one picked for port 0). 0 on NULL. */
CRAFT_API uint16_t craft_tcp_port(const craft_tcp *t);

/*
 * Closes every connection and the listener, stops and joins the threads
 * and frees everything (queued messages are dropped). The node must no
 * longer send through it: shut the node down first (or never started
 * it). NULL is harmless.
 */
CRAFT_API void craft_tcp_free(craft_tcp *t);

/* ---- metrics --------------------------------------------------------- */

/*
 * Metrics, per peer and in total. Ids are stable and only appended;
 * iterate from 1 while craft_tcp_metric_name() is not NULL.
 */
enum craft_tcp_metric {
    CRAFT_TCP_METRIC_BYTES_OUT = 1,  /* counter: frame bytes written,
                                        headers included */
    CRAFT_TCP_METRIC_FRAMES_OUT = 2, /* counter */
    CRAFT_TCP_METRIC_BYTES_IN = 3,   /* counter: frame bytes read */
    CRAFT_TCP_METRIC_FRAMES_IN = 4,  /* counter: delivered to the node */
    CRAFT_TCP_METRIC_CONNECTS = 5,   /* counter: outbound handshakes
                                        accepted by the peer */
    CRAFT_TCP_METRIC_ACCEPTS = 6,    /* counter: inbound handshakes
                                        accepted */
    CRAFT_TCP_METRIC_DISCONNECTS = 7, /* counter: handshaken connections
                                         closed */
    CRAFT_TCP_METRIC_CONNECT_FAILURES = 8, /* counter: attempts that did
                                              not reach a handshake */
    CRAFT_TCP_METRIC_HANDSHAKE_FAILURES = 9, /* counter: hellos refused,
                                                either side */
    CRAFT_TCP_METRIC_DROPS = 10,     /* counter: messages dropped (queue
                                        full, no address, connection
                                        lost, no node to receive) */
    CRAFT_TCP_METRIC_QUEUED_FRAMES = 11, /* gauge */
    CRAFT_TCP_METRIC_QUEUED_BYTES = 12,  /* gauge */
    CRAFT_TCP_METRIC_CONNECTED = 13  /* gauge: outbound connections
                                        ready (0 or 1 for a peer) */
};

/* Name ("craft_tcp_bytes_out_total"), NULL for an unknown id. */
CRAFT_API const char *craft_tcp_metric_name(int id);

/*
 * The value of metric id for peer (CRAFT_NONE: the sum over every peer,
 * plus what no peer can be blamed for, such as hellos that named no
 * known sender). A peer the transport does not know has all zeros.
 * CRAFT_EINVAL on NULL t or value, or an unknown id.
 */
CRAFT_API int craft_tcp_metric(craft_tcp *t, uint64_t peer, int id,
                               uint64_t *value);

/*
 * The ids of the peers the transport knows (members, overrides, servers
 * that connected), up to cap of them into ids; *n gets how many there
 * are. ids may be NULL with cap 0. CRAFT_EINVAL on NULL t or n.
 */
CRAFT_API int craft_tcp_peers(craft_tcp *t, uint64_t *ids, size_t cap,
                              size_t *n);

CRAFT_END_DECLS

#endif /* CRAFT_TCP_H */
