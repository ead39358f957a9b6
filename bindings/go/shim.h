/*
 * shim.h: the C half of the Go binding. cgo cannot take the address of a
 * Go function, so every callback craft calls is a small C trampoline here
 * that forwards to an exported Go function (_cgo_export.h). The user
 * pointer of every table is a runtime/cgo.Handle (an integer), never a Go
 * pointer: C keeps no Go memory.
 */
#ifndef GOCRAFT_SHIM_H
#define GOCRAFT_SHIM_H

#include <stdint.h>
#include <stdlib.h>

#include <craft.h>
#include <craft/testing.h>

/* Everything craft_node_create() reads, in C memory so that the options
 * can point at the tables without Go pointers (cgo rules). */
typedef struct gocraft_cfg {
    craft_node_options node;
    craft_engine_options engine;
    craft_storage_ops storage;
    craft_transport_ops transport;
    craft_fsm_ops fsm;
} gocraft_cfg;

/* Allocates a config with every table initialised; NULL on no memory. */
gocraft_cfg *gocraft_cfg_new(void);
/* The state machine (and, with trace_level > 0, the trace) of node handle
 * h; snapshots: the Go FSM takes and restores snapshots. */
void gocraft_cfg_fsm(gocraft_cfg *c, uintptr_t h, int snapshots,
                     int trace_level);
/* Storage and transport implemented in Go (handles of the backends). */
void gocraft_cfg_go_storage(gocraft_cfg *c, uintptr_t h);
void gocraft_cfg_go_transport(gocraft_cfg *c, uintptr_t h);
/* The trace of the node printed on stderr by craft_trace_stderr. */
void gocraft_cfg_trace_stderr(gocraft_cfg *c, int trace_level);
/* craft_node_create_msg() with the config's tables wired in: on error msg
 * (cap bytes) says which option or step was at fault. */
int gocraft_node_create(gocraft_cfg *c, craft_node **out, char *msg,
                        size_t cap);

/* The asynchronous calls with the Go completion trampoline; h is the
 * cgo.Handle of the waiter, deleted by the completion. */
int gocraft_propose(craft_node *n, const void *data, size_t len,
                    uint32_t timeout_ms, uintptr_t h);
int gocraft_read(craft_node *n, uint32_t timeout_ms, uintptr_t h);
/* op: 1 add_peer, 2 add_learner, 3 promote_learner, 4 remove_peer,
 * 5 transfer_leadership. */
int gocraft_member(craft_node *n, int op, uint64_t peer, uint32_t timeout_ms,
                   uintptr_t h);
/* op: 1 add_peer_addr, 2 add_learner_addr. */
int gocraft_member_addr(craft_node *n, int op, uint64_t peer,
                        const void *addr, size_t addr_len,
                        uint32_t timeout_ms, uintptr_t h);
int gocraft_snapshot(craft_node *n, uint32_t timeout_ms, uintptr_t h);

/* What craft_node_propose_wait returned besides its status: the result's
 * index, term and leader hint; data/len, the apply result, borrowed from
 * res, which the caller frees with craft_result_free once it copied them
 * (res is NULL when there is no data: nothing to free). had_result: craft
 * gave a result (0 when the call itself failed, or when craft could not
 * allocate the copy of a completed proposal's result). */
typedef struct gocraft_wait_out {
    uint64_t index;
    uint64_t term;
    uint64_t leader;
    const void *data;
    size_t len;
    craft_result *res;
    int had_result;
} gocraft_wait_out;

/* craft_node_propose_wait() on the calling thread (which may run the
 * node's rounds as a guest); returns its status and fills *out. A result
 * without data is freed here, so that the common case is one cgo call. */
int gocraft_propose_wait(craft_node *n, const void *data, size_t len,
                         uint32_t timeout_ms, gocraft_wait_out *out);

/* craft_file_storage_open() with the options' trace going to the Go
 * logger behind handle trace_h (0: no trace) and its error message into
 * errbuf. */
int gocraft_file_storage_open(const char *dir, craft_file_storage_options *o,
                              uintptr_t trace_h, int trace_level,
                              char *errbuf, size_t errbuf_size,
                              craft_file_storage **out);

/* craft_tcp_create() with the options' trace going to the Go logger
 * behind handle trace_h (0: no trace). */
int gocraft_tcp_create(craft_tcp_options *o, uintptr_t trace_h,
                       int trace_level, craft_tcp **out);

/* craft_node_bootstrap_addr() with the n addresses packed one after the
 * other in addrs, lens[k] bytes each. */
int gocraft_bootstrap_addr(craft_node *n, const uint64_t *ids,
                           const char *addrs, const size_t *lens, size_t count);

/* Copies len bytes into *buf (grown with realloc to *cap) for an apply
 * result; CRAFT_ENOMEM when it cannot grow. */
int gocraft_scratch(void **buf, size_t *cap, const void *data, size_t len);

#endif /* GOCRAFT_SHIM_H */
