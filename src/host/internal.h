/*
 * host/internal.h: what the reference host's files share (host/host.h
 * is the interface).
 */
#ifndef CRAFT_HOST_INTERNAL_H
#define CRAFT_HOST_INTERNAL_H

#include "host/host.h"

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

#endif /* CRAFT_HOST_INTERNAL_H */
