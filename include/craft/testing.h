/*
 * craft/testing.h: ready-made parts for tests (<craft.h> includes it).
 *
 * TEST HELPERS. An in-memory storage and an in-process transport hub, for
 * craft's own tests and benchmarks and for users' tests of code built on
 * craft_node. They are written only against the public callback tables of
 * craft/node.h, like any user's storage or transport would be. The memory
 * storage is not durable across processes; the hub delivers by calling
 * craft_node_receive() of the destination node directly.
 */
#ifndef CRAFT_TESTING_H
#define CRAFT_TESTING_H

#include "common.h"
#include "engine.h"
#include "node.h"

CRAFT_BEGIN_DECLS

/* ---- in-memory storage ---------------------------------------------- */

typedef struct craft_mem_storage craft_mem_storage;

/*
 * Creates an empty in-memory storage. allocator: NULL for libc; copied.
 * CRAFT_EINVAL (NULL out), CRAFT_ESTRUCT (bad allocator), CRAFT_ENOMEM.
 * A storage outlives the nodes that use it, so a test can free a node
 * (a crash) and create a new one from the same storage (a restart).
 * Every function below is thread-safe.
 */
CRAFT_API int craft_mem_storage_create(const craft_allocator *allocator,
                                       craft_mem_storage **out);
/* Frees it; no node may be using it. NULL is harmless. */
CRAFT_API void craft_mem_storage_free(craft_mem_storage *ms);

/*
 * Fills *ops with the storage's methods and user pointer. ops must have
 * been initialised (craft_storage_ops_init): only its first struct_size
 * bytes are written. CRAFT_EINVAL on NULL, CRAFT_ESTRUCT.
 */
CRAFT_API int craft_mem_storage_ops(craft_mem_storage *ms,
                                    craft_storage_ops *ops);

/*
 * Makes every later write (save_hard_state, append, truncate, sync,
 * snapshot_write) fail with code (negative), to test the node's
 * fail-stop; 0 clears it. CRAFT_EINVAL on NULL or positive code.
 */
CRAFT_API int craft_mem_storage_fail(craft_mem_storage *ms, int code);

/*
 * Simulates a power loss: the storage forgets every write made since the
 * last successful sync (appends, truncations and the hard state go back
 * to what they were then; a snapshot completed by a LAST write counts as
 * synced, a snapshot still being received is dropped), and every later
 * write fails with CRAFT_EIO until craft_mem_storage_fail(ms, 0), so a
 * node still using it fail-stops instead of writing on. Then free the
 * node, clear the failure and create a new node from the storage: a
 * restart after the crash. CRAFT_EINVAL on NULL.
 */
CRAFT_API int craft_mem_storage_crash(craft_mem_storage *ms);

/* What it holds: last log index, snapshot index (0: none), term, vote and
 * the number of syncs made. 0 on NULL. */
CRAFT_API uint64_t craft_mem_storage_last_index(craft_mem_storage *ms);
CRAFT_API uint64_t craft_mem_storage_snapshot_index(craft_mem_storage *ms);
CRAFT_API uint64_t craft_mem_storage_term(craft_mem_storage *ms);
CRAFT_API uint64_t craft_mem_storage_vote(craft_mem_storage *ms);
CRAFT_API uint64_t craft_mem_storage_syncs(craft_mem_storage *ms);

/* ---- in-process transport hub --------------------------------------- */

typedef struct craft_hub craft_hub;

/*
 * Creates a hub: a switch between nodes of one process. allocator: NULL
 * for libc; copied. CRAFT_EINVAL, CRAFT_ESTRUCT, CRAFT_ENOMEM. Every
 * function below is thread-safe.
 */
CRAFT_API int craft_hub_create(const craft_allocator *allocator,
                               craft_hub **out);
/* Frees it; no node may still send through it. NULL is harmless. */
CRAFT_API void craft_hub_free(craft_hub *hub);

/*
 * Fills *ops (initialised with craft_transport_ops_init; only its first
 * struct_size bytes are written) with the transport of server id: its
 * send delivers to the node attached as the destination id, unless the
 * link is cut (then the bytes are silently lost, like on a network) or
 * the destination is busy (CRAFT_EBUSY). CRAFT_EINVAL (NULL, id 0),
 * CRAFT_ESTRUCT, CRAFT_ENOMEM.
 */
CRAFT_API int craft_hub_transport(craft_hub *hub, uint64_t id,
                                  craft_transport_ops *ops);

/*
 * Attaches node as the receiver of bytes sent to id (replacing any), or
 * detaches it. Detach before freeing a node: it waits for sends in
 * progress towards it. CRAFT_EINVAL on NULL hub/node or id 0,
 * CRAFT_ENOMEM.
 */
CRAFT_API int craft_hub_attach(craft_hub *hub, uint64_t id, craft_node *node);
CRAFT_API int craft_hub_detach(craft_hub *hub, uint64_t id);

/*
 * Cuts (up 0) or restores (up 1) the one-way link from -> to. Either may
 * be 0, meaning every server. CRAFT_EINVAL on NULL hub, CRAFT_ENOMEM.
 */
CRAFT_API int craft_hub_set_link(craft_hub *hub, uint64_t from, uint64_t to,
                                 int up);

/*
 * Cuts (isolated 1) or restores (0) every link to and from id.
 * CRAFT_EINVAL on NULL hub or id 0, CRAFT_ENOMEM.
 */
CRAFT_API int craft_hub_isolate(craft_hub *hub, uint64_t id, int isolated);

/*
 * Makes sends to id return CRAFT_EBUSY (busy 1) until cleared (0): a
 * peer that does not keep up. CRAFT_EINVAL, CRAFT_ENOMEM.
 */
CRAFT_API int craft_hub_set_busy(craft_hub *hub, uint64_t id, int busy);

/* Messages delivered and lost (cut link, nobody attached, receive error)
 * so far. 0 on NULL. */
CRAFT_API uint64_t craft_hub_delivered(craft_hub *hub);
CRAFT_API uint64_t craft_hub_lost(craft_hub *hub);

CRAFT_END_DECLS

#endif /* CRAFT_TESTING_H */
