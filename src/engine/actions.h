/*
 * engine/actions.h: the ordered action list a step produces.
 *
 * Actions that carry entries point into the log's entry array as they are
 * pushed (craft_action_set_entries). That array moves only when the
 * step's prologue reserves room (craft_log_reserve); during the step
 * entries are appended into reserved slots, truncated or compacted, none
 * of which moves the ones that stay, so the pointers hold until the next
 * step. (They were resolved in a pass at the end of every step; the pass
 * cost more than setting them.)
 */
#ifndef CRAFT_ENGINE_ACTIONS_H
#define CRAFT_ENGINE_ACTIONS_H

#include "codec/message.h"
#include "engine/log.h"
#include "util/alloc.h"
#include "util/assert.h"

/* craft_actions_push clears the common fields (through peer) of every
 * action, the snapshot fields (offset .. conf_len) of SNAPSHOT_READ and
 * SNAPSHOT_WRITE only (the accessors read them for those types alone),
 * and the message of a SEND only: a small step clears little. */
struct craft_action {
    uint32_t type;
    int32_t status;
    int32_t role;
    uint64_t term;
    uint64_t index;
    uint64_t vote;
    uint64_t leader;
    uint64_t id;
    uint64_t count; /* entries (APPEND, APPLY, SEND), batch (PROPOSE_RESULT),
                       bytes (SNAPSHOT_READ) */
    uint64_t peer;  /* SNAPSHOT_READ, TRANSFER_RESULT */
    /* Snapshot fields. */
    uint64_t offset;
    uint32_t flags;
    const uint8_t *data; /* SNAPSHOT_WRITE chunk */
    size_t len;
    const uint8_t *conf; /* SNAPSHOT_WRITE membership */
    size_t conf_len;
    /* Set before they are read: entries when count > 0
     * (craft_action_set_entries), the encoding of a SEND
     * (craft_action_message). */
    const struct craft_entry *entries;
    size_t enc_off;       /* SEND: offset of its bytes in enc */
    size_t enc_len;
    struct craft_msg msg; /* SEND; msg.entries set instead of entries */
};

struct craft_actions {
    struct craft_alloc alloc;
    struct craft_action *v;
    size_t n;
    size_t cap;
    size_t nsend; /* SENDs among them: encode_all stops after the last */
    uint8_t *enc; /* wire bytes of every SEND, encoded on first request */
    size_t enc_cap;
    int encoded;
};

/* Makes room for n actions so that pushes cannot fail. */
int craft_actions_reserve(struct craft_actions *a, size_t n);
void craft_actions_clear(struct craft_actions *a);
/* Pushes a zeroed action of the given type; room must be reserved. */
struct craft_action *craft_actions_push(struct craft_actions *a,
                                        uint32_t type);
/* Sets the entries of x (APPEND, APPLY, or a SEND of an APPEND) to the
 * log's index..index+count-1, count > 0. */
static inline void craft_action_set_entries(struct craft_action *x,
                                            const struct craft_log *l,
                                            uint64_t index, uint64_t count)
{
    const struct craft_entry *e = craft_log_get(l, index);
    x->index = index;
    x->count = count;
    if (x->type == CRAFT_ACTION_SEND) {
        x->msg.entries = e;
        x->msg.n_entries = (size_t)count;
    } else {
        x->entries = e;
    }
}

#endif /* CRAFT_ENGINE_ACTIONS_H */
