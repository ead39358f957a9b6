/*
 * host/internal.h: what the reference host's files share (host/host.h
 * is the interface).
 */
#ifndef CRAFT_HOST_INTERNAL_H
#define CRAFT_HOST_INTERNAL_H

#include <string.h>

#include "host/host.h"

/* *ev = CRAFT_EVENT_INIT with type set. Copied from a constant on
 * purpose: gcc writes an initializer of this size with `rep stos`, and
 * the step's first reads of the event cannot be forwarded from those
 * stores (the stall was half of step_kind and of host_deliver in
 * bench_engine's profile); a copy is a few vector moves. */
static inline void host_event_init(craft_event *ev, uint32_t type)
{
    static const craft_event init = CRAFT_EVENT_INIT;
    memcpy(ev, &init, sizeof(*ev));
    ev->type = type;
}

/* cluster.c */
/* host_step (raw: host_step_raw) of an event the host built: it may add
 * a durability report to *ev in place. */
void host_step_own(struct host *h, struct host_node *nd, craft_event *ev,
                   int raw);

/* store.c */
void *host_xrealloc(struct host *h, void *p, size_t size);
/* Grows *arr (elements of elem bytes, capacity *cap) to hold need. */
void host_grow(struct host *h, void *arr, size_t *cap, size_t need,
               size_t elem);
void host_bytes_reserve(struct host *h, struct host_bytes *b, size_t n);
void *host_heap_malloc(void *user, size_t size);
void *host_heap_realloc(void *user, void *ptr, size_t size);
void host_heap_free(void *user, void *ptr);
struct host_entry *host_slot_of(struct host_node *nd, uint64_t i);
/* The slot for entry i (= last + 1), growing the ring as needed. */
struct host_entry *host_log_slot(struct host *h, struct host_node *nd,
                                 uint64_t i);
/* Drops entries before from (covered by a snapshot). */
void host_log_drop_before(struct host_node *nd, uint64_t from);

/* records.c */
void host_record(struct host *h, struct host_node *nd, craft_actions *a,
                 size_t i);
void host_record_result(struct host *h, struct host_node *nd,
                        craft_actions *a, size_t i);
void host_settle_receipts(struct host_node *nd, uint64_t i, uint64_t t);
void host_applied_term_set(struct host *h, struct host_node *nd, uint64_t i,
                           uint64_t t);

/* net.c */
void host_enqueue(struct host *h, uint64_t from, uint64_t to, uint32_t type,
                  const void *b, size_t len);
/* Queues the wire encoding of m, a message an engine emitted (SEND). */
void host_enqueue_msg(struct host *h, uint64_t from,
                      const struct craft_msg *m);

#endif /* CRAFT_HOST_INTERNAL_H */
