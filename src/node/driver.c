/*
 * node/driver.c: the driver thread. It owns the engine: it takes what the
 * other threads queued (API calls, received bytes, snapshots the apply
 * thread took), steps the engine with it, runs the timer ticks, and ends
 * every round with one sync for all its writes (group commit).
 *
 * A round:
 *   1. calls: proposals join the held list; the others are stepped;
 *   2. snapshots taken on the apply thread are written and reported;
 *   3. received messages are stepped, in arrival order;
 *   4. due ticks are stepped (after the messages, so heartbeats already
 *      received reset the election timer first; with leases, a
 *      leader's ticks more than one late are stepped before step 1);
 *   5. deadlines are checked (every tick);
 *   6. held proposals are admitted as one batch (backpressure);
 *   7. settle: sync, release the sends that waited for it, PERSISTED.
 */
#include <string.h>

#include "node/node.h"

int nd_driver_step(struct craft_node *n, const craft_event *ev)
{
    struct driver *d = &n->d;
    int rv = craft_engine_step(n->e, ev, n->acts);
    nd_metric_add(n, CRAFT_METRIC_ENGINE_STEPS, 1);
    if (rv != CRAFT_OK) {
        return rv;
    }
    nd_exec_actions(n);
    if (d->depth == 0 && d->defer_n > 0) {
        /* Events the actions asked for (snapshot chunks), in order; they
         * may ask for more, appended behind. */
        d->depth++;
        for (size_t k = 0; k < d->defer_n; k++) {
            struct deferred df = d->defer[k];
            if (!atomic_load(&n->failed)) {
                nd_driver_step(n, &df.ev);
            }
            craft_free(&n->alloc, df.buf);
        }
        d->defer_n = 0;
        d->depth--;
    }
    return CRAFT_OK;
}

void nd_driver_settle(struct craft_node *n)
{
    struct driver *d = &n->d;
    while (!atomic_load(&n->failed)) {
        nd_exec_sync(n);
        if (atomic_load(&n->failed)) {
            return;
        }
        nd_send_flush(n);
        if (!d->persist_pending) {
            return;
        }
        d->persist_pending = 0;
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PERSISTED;
        ev.index = d->persist_index;
        ev.term = d->persist_term;
        if (nd_driver_step(n, &ev) != CRAFT_OK) {
            d->persist_pending = 1; /* no memory: next round */
            return;
        }
    }
}

/* ---- calls ------------------------------------------------------------ */

static void fail_list(struct craft_node *n, struct call **list, int status)
{
    while (*list != NULL) {
        struct call *c = *list;
        *list = c->next;
        nd_call_fail(n, c, status);
    }
}

static void status_done(struct craft_node *n, struct call *c)
{
    c->res.status = nd_status_fill(n, &c->status);
    pthread_mutex_lock(&n->in_mu);
    c->done = 1;
    pthread_cond_broadcast(&n->status_cv);
    pthread_mutex_unlock(&n->in_mu);
}

void nd_driver_fail_all(struct craft_node *n, int status)
{
    struct driver *d = &n->d;
    fail_list(n, &d->held_head, status);
    d->held_tail = NULL;
    d->held_n = 0;
    for (size_t k = 0; k < d->batch_n; k++) {
        nd_call_fail(n, d->batch[k], status);
    }
    d->batch_n = 0;
    nd_pending_fail_all(n, status);
    fail_list(n, &d->reqs, status);
    fail_list(n, &d->parked, status);
    fail_list(n, &d->retry, status);
    fail_list(n, &d->snap_waiters, status);
}

static int event_of(int kind)
{
    switch (kind) {
    case CALL_READ:
        return CRAFT_EVENT_READ;
    case CALL_ADD_PEER:
        return CRAFT_EVENT_ADD_PEER;
    case CALL_ADD_LEARNER:
        return CRAFT_EVENT_ADD_LEARNER;
    case CALL_PROMOTE:
        return CRAFT_EVENT_PROMOTE;
    case CALL_REMOVE:
        return CRAFT_EVENT_REMOVE;
    default:
        return CRAFT_EVENT_TRANSFER;
    }
}

static void step_request(struct craft_node *n, struct call *c, int type)
{
    struct driver *d = &n->d;
    c->id = ++d->next_id;
    c->next = d->reqs;
    d->reqs = c;
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = (uint32_t)type;
    ev.id = c->id;
    ev.peer = c->peer;
    if (c->kind == CALL_ADD_PEER || c->kind == CALL_ADD_LEARNER) {
        /* The new member's address, empty for add_peer/add_learner. */
        ev.flags = CRAFT_EVENT_F_ADDR;
        ev.data = c->len > 0 ? c->data : NULL;
        ev.len = c->len;
    }
    int rv = nd_driver_step(n, &ev);
    if (rv != CRAFT_OK) {
        /* The engine is unchanged: the call is still ours. */
        for (struct call **p = &d->reqs; *p != NULL; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                nd_call_fail(n, c, rv);
                break;
            }
        }
    }
}

static void admit(struct craft_node *n);

static void handle_call(struct craft_node *n, struct call *c)
{
    struct driver *d = &n->d;
    c->next = NULL;
    if (c->kind == CALL_STATUS) {
        status_done(n, c);
        return;
    }
    if (atomic_load(&n->failed)) {
        nd_call_fail(n, c, CRAFT_EIO);
        return;
    }
    if (c->kind != CALL_PROPOSE) {
        /* Proposals made before this call go first (FIFO), unless
         * backpressure holds them. */
        admit(n);
    }
    switch (c->kind) {
    case CALL_PROPOSE:
        if (d->held_tail != NULL) {
            d->held_tail->next = c;
        } else {
            d->held_head = c;
        }
        d->held_tail = c;
        d->held_n++;
        break;
    case CALL_READ:
    case CALL_ADD_PEER:
    case CALL_ADD_LEARNER:
    case CALL_PROMOTE:
    case CALL_REMOVE:
    case CALL_TRANSFER:
        step_request(n, c, event_of(c->kind));
        break;
    case CALL_SNAPSHOT:
        nd_exec_take_snapshot(n, c);
        break;
    default:
        nd_call_fail(n, c, CRAFT_EINVAL);
        break;
    }
}

/* Calls the leader answered CRAFT_ENOTREADY (it has not committed in its
 * term yet): ask again, every tick, until their deadline. */
static void retry_calls(struct craft_node *n)
{
    struct driver *d = &n->d;
    struct call *c = d->retry;
    d->retry = NULL;
    while (c != NULL && !atomic_load(&n->failed)) {
        struct call *next = c->next;
        c->stage = 0;
        step_request(n, c, event_of(c->kind));
        c = next;
    }
    if (c != NULL) {
        fail_list(n, &c, CRAFT_EIO);
    }
}

/* ---- admission (backpressure) ---------------------------------------- */

/* wait_leader: no leader is known, so calls wait for one. */
static int leaderless(const struct craft_node *n)
{
    return n->opts.wait_leader && n->d.role != CRAFT_ROLE_LEADER &&
           n->d.leader == CRAFT_NONE;
}

/* Held proposals may be stepped now: to a leader with room, or to a
 * non-leader that answers them (CRAFT_ENOTLEADER). */
static int can_admit(const struct craft_node *n)
{
    const struct driver *d = &n->d;
    if (d->role != CRAFT_ROLE_LEADER) {
        return !leaderless(n);
    }
    uint64_t last = craft_engine_last_index(n->e);
    uint64_t commit = craft_engine_commit_index(n->e);
    uint64_t backlog = atomic_load(&n->backlog_entries);
    return backlog + (last - commit) < n->opts.apply_queue_entries &&
           atomic_load(&n->backlog_bytes) < n->opts.apply_queue_bytes;
}

/* A follower far behind in applying stops taking in messages. */
static int is_paused(const struct craft_node *n)
{
    return n->d.role != CRAFT_ROLE_LEADER &&
           (atomic_load(&n->backlog_entries) >
                2 * (uint64_t)n->opts.apply_queue_entries ||
            atomic_load(&n->backlog_bytes) > 2 * n->opts.apply_queue_bytes);
}

static int batch_room(struct craft_node *n, size_t k)
{
    struct driver *d = &n->d;
    if (k <= d->batch_cap) {
        return CRAFT_OK;
    }
    size_t cap = d->batch_cap ? d->batch_cap : 64;
    while (cap < k) {
        cap *= 2;
    }
    craft_buf *bufs = craft_malloc(&n->alloc, cap * sizeof(*bufs));
    struct call **batch = craft_malloc(&n->alloc, cap * sizeof(*batch));
    if (bufs == NULL || batch == NULL) {
        craft_free(&n->alloc, bufs);
        craft_free(&n->alloc, batch);
        return CRAFT_ENOMEM;
    }
    craft_free(&n->alloc, d->bufs);
    craft_free(&n->alloc, d->batch);
    d->bufs = bufs;
    d->batch = batch;
    d->batch_cap = cap;
    return CRAFT_OK;
}

static void admit(struct craft_node *n)
{
    struct driver *d = &n->d;
    while (d->held_n > 0 && !atomic_load(&n->failed)) {
        size_t k = d->held_n;
        if (!can_admit(n)) {
            return;
        }
        if (d->role == CRAFT_ROLE_LEADER) {
            uint64_t inflight = craft_engine_last_index(n->e) -
                                craft_engine_commit_index(n->e);
            uint64_t used = atomic_load(&n->backlog_entries) + inflight;
            uint64_t room = n->opts.apply_queue_entries - used;
            if (k > room) {
                k = (size_t)room;
            }
        }
        if (k > CRAFT_MAX_PROPOSALS) {
            k = CRAFT_MAX_PROPOSALS;
        }
        int rv = batch_room(n, k);
        if (rv == CRAFT_OK) {
            rv = nd_pending_reserve(n, k);
        }
        if (rv != CRAFT_OK) {
            /* No room to track them: they fail, the next ones may not. */
            for (size_t j = 0; j < k; j++) {
                struct call *c = d->held_head;
                d->held_head = c->next;
                nd_call_fail(n, c, rv);
            }
            if (d->held_head == NULL) {
                d->held_tail = NULL;
            }
            d->held_n -= k;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            struct call *c = d->held_head;
            d->held_head = c->next;
            c->next = NULL;
            d->batch[j] = c;
            d->bufs[j].base = c->data;
            d->bufs[j].len = c->len;
        }
        if (d->held_head == NULL) {
            d->held_tail = NULL;
        }
        d->held_n -= k;
        d->batch_n = k;
        d->batch_id = ++d->next_id;
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_PROPOSE;
        ev.id = d->batch_id;
        ev.bufs = d->bufs;
        ev.nbufs = k;
        rv = nd_driver_step(n, &ev);
        if (d->batch_n > 0) {
            /* A failed step (or no answer) leaves the batch ours. */
            for (size_t j = 0; j < d->batch_n; j++) {
                nd_call_fail(n, d->batch[j],
                             rv != CRAFT_OK ? rv : CRAFT_EINVAL);
            }
            d->batch_n = 0;
        }
    }
}

static void backpressure(struct craft_node *n, int on)
{
    struct driver *d = &n->d;
    if (on == d->backpressure) {
        return;
    }
    d->backpressure = on;
    if (on) {
        nd_metric_add(n, CRAFT_METRIC_BACKPRESSURE, 1);
    }
    nd_trace_u64(n, on ? CRAFT_TRACE_BACKPRESSURE_ON
                       : CRAFT_TRACE_BACKPRESSURE_OFF,
                 2, "entries", (uint64_t)atomic_load(&n->backlog_entries),
                 "bytes", (uint64_t)atomic_load(&n->backlog_bytes));
}

/* ---- deadlines ------------------------------------------------------ */

static void expire_list(struct craft_node *n, struct call **list,
                        int64_t now, size_t *count)
{
    while (*list != NULL) {
        struct call *c = *list;
        if (c->deadline <= now) {
            *list = c->next;
            if (count != NULL) {
                (*count)--;
            }
            nd_call_fail(n, c, CRAFT_ETIMEDOUT);
        } else {
            list = &c->next;
        }
    }
}

static void expire(struct craft_node *n, int64_t now)
{
    struct driver *d = &n->d;
    expire_list(n, &d->held_head, now, &d->held_n);
    d->held_tail = NULL;
    for (struct call *c = d->held_head; c != NULL; c = c->next) {
        d->held_tail = c;
    }
    nd_pending_expire(n, now);
    expire_list(n, &d->reqs, now, NULL);
    expire_list(n, &d->parked, now, NULL);
    expire_list(n, &d->retry, now, NULL);
    expire_list(n, &d->snap_waiters, now, NULL);
}

/* ---- the thread ------------------------------------------------------ */

static void free_msgs(struct craft_node *n, struct inmsg *m)
{
    while (m != NULL) {
        struct inmsg *next = m->next;
        craft_free(&n->alloc, m);
        m = next;
    }
}

static void free_takes(struct craft_node *n, struct ap_take *t)
{
    while (t != NULL) {
        struct ap_take *next = t->next;
        craft_free(&n->alloc, t->buf);
        craft_free(&n->alloc, t);
        t = next;
    }
}

static void step_message(struct craft_node *n, struct inmsg *m)
{
    craft_event ev = CRAFT_EVENT_INIT;
    ev.type = CRAFT_EVENT_MESSAGE;
    ev.data = m->data;
    ev.len = m->len;
    int rv = nd_driver_step(n, &ev);
    if (rv != CRAFT_OK && rv != CRAFT_ENOMEM) {
        nd_metric_add(n, CRAFT_METRIC_MESSAGES_INVALID, 1);
        struct craft_trace_event tev;
        if (nd_trace_enabled(n, CRAFT_TRACE_MESSAGE_INVALID)) {
            nd_trace_begin(n, &tev, CRAFT_TRACE_MESSAGE_INVALID);
            tev.f[1] = (struct trace_field){"error", CRAFT_FIELD_I64, 0, rv,
                                            NULL};
            tev.f[2] = (struct trace_field){"bytes", CRAFT_FIELD_U64,
                                            m->len, 0, NULL};
            tev.n = 3;
            nd_trace_emit(n, &tev);
        }
    }
}

static void stop(struct craft_node *n, struct call *reqs, struct inmsg *msgs,
                 struct ap_take *snaps)
{
    if (!atomic_load(&n->failed)) {
        nd_exec_sync(n);
        nd_send_flush(n);
    }
    while (reqs != NULL) {
        struct call *c = reqs;
        reqs = c->next;
        c->next = NULL;
        if (c->kind == CALL_STATUS) {
            status_done(n, c);
        } else {
            nd_call_fail(n, c, CRAFT_ESHUTDOWN);
        }
    }
    nd_driver_fail_all(n, CRAFT_ESHUTDOWN);
    free_msgs(n, msgs);
    free_takes(n, snaps);
    nd_trace_u64(n, CRAFT_TRACE_NODE_STOPPED, 2, "term", n->d.term,
                 "applied_index", (uint64_t)n->d.handed);
    nd_apply_push(n, &n->stop_item, 0);
}

/* ---- rounds and who runs them ------------------------------------------ */

/* What a round takes from the inbox. */
struct work {
    struct call *reqs;
    struct inmsg *msgs;
    struct ap_take *snaps;
    int paused;
};

/* Calls that may time out: deadlines are checked every tick only while
 * there are some (an idle node's driver sleeps through its ticks when
 * guests step them, see nd_driver_main). */
static int has_deadlines(const struct driver *d)
{
    return d->held_n > 0 || d->ring_n > 0 || d->reqs != NULL ||
           d->parked != NULL || d->retry != NULL || d->snap_waiters != NULL;
}

/* in_mu held. Is there anything for a round to do now? */
static int work_ready_locked(struct craft_node *n, int64_t now)
{
    const struct driver *d = &n->d;
    int paused = is_paused(n);
    return n->req_head != NULL || n->snap_head != NULL ||
           (!paused && n->msg_head != NULL) ||
           (!paused && now >= d->next_tick) ||
           (now >= d->next_expire && (paused || has_deadlines(d))) ||
           (d->held_n > 0 && can_admit(n));
}

/* in_mu held: what the round will handle. */
static void take_work_locked(struct craft_node *n, struct work *w)
{
    w->paused = is_paused(n);
    w->reqs = n->req_head;
    n->req_head = n->req_tail = NULL;
    w->snaps = n->snap_head;
    n->snap_head = NULL;
    w->msgs = NULL;
    if (!w->paused || n->stop_req) {
        w->msgs = n->msg_head;
        n->msg_head = n->msg_tail = NULL;
        n->inbox_bytes = 0;
    }
    atomic_store_explicit(&n->in_work,
                          n->msg_head != NULL || n->req_head != NULL,
                          memory_order_relaxed);
}

/* Puts msgs (a list taken by this round) back at the head of the inbox,
 * before what arrived meanwhile: arrival order is kept. */
static void requeue_msgs(struct craft_node *n, struct inmsg *msgs)
{
    struct inmsg *last = msgs;
    size_t bytes = last->len;
    while (last->next != NULL) {
        last = last->next;
        bytes += last->len;
    }
    pthread_mutex_lock(&n->in_mu);
    last->next = n->msg_head;
    if (n->msg_tail == NULL) {
        n->msg_tail = last;
    }
    n->msg_head = msgs;
    n->inbox_bytes += bytes;
    atomic_store_explicit(&n->in_work, 1, memory_order_relaxed);
    pthread_mutex_unlock(&n->in_mu);
}

/* Steps the ticks due by now (at most two election timeouts' worth:
 * after that many every timer has fired anyway); guest: on a thread
 * other than the driver thread. */
static void step_ticks(struct craft_node *n, int64_t now, int guest)
{
    struct driver *d = &n->d;
    int64_t due = (now - d->next_tick) / n->tick_ns + 1;
    int64_t max = 2 * (int64_t)n->eopts.election_ticks;
    d->next_tick += due * n->tick_ns;
    d->guest_ticked = guest;
    for (int64_t k = 0; k < due && k < max; k++) {
        craft_event ev = CRAFT_EVENT_INIT;
        ev.type = CRAFT_EVENT_TICK;
        if (atomic_load(&n->failed) || nd_driver_step(n, &ev) != CRAFT_OK) {
            break;
        }
    }
}

/* One round (the driver state is this thread's; in_mu not held); guest:
 * on a thread other than the driver thread. */
static void run_round(struct craft_node *n, struct work *w, int guest)
{
    struct driver *d = &n->d;
    int64_t now;

    if (atomic_load(&n->failed)) {
        /* Fail-stop: answer, drop, wait for shutdown. */
        while (w->reqs != NULL) {
            struct call *c = w->reqs;
            w->reqs = c->next;
            handle_call(n, c);
        }
        free_msgs(n, w->msgs);
        free_takes(n, w->snaps);
        now = nd_now_ns();
        d->next_expire = now + n->tick_ns;
        d->next_tick = d->next_expire;
        return;
    }
    now = nd_now_ns();
    if (n->eopts.lease_reads && d->role == CRAFT_ROLE_LEADER &&
        !w->paused && now >= d->next_tick + n->tick_ns) {
        /* A leader more than a tick late (a stall, a stopped process, a
         * suspend the time base counted): the overdue ticks go first, so
         * that no read (a call or a follower's message) is answered from
         * a lease on an engine clock that is behind by more than a tick
         * (thesis §6.4.1). Otherwise ticks follow the messages (step 4);
         * only a leader serves reads from a lease. */
        step_ticks(n, now, guest);
    }
    while (w->reqs != NULL) {
        struct call *c = w->reqs;
        w->reqs = c->next;
        handle_call(n, c);
    }
    while (w->snaps != NULL) {
        struct ap_take *t = w->snaps;
        w->snaps = t->next;
        nd_exec_snapshot_taken(n, t);
    }
    while (w->msgs != NULL) {
        if (!w->paused && is_paused(n)) {
            /* The backlog passed the bound in this round: the rest waits
             * in the inbox, so that one message's commits are all that
             * comes on top of it. */
            requeue_msgs(n, w->msgs);
            w->msgs = NULL;
            break;
        }
        struct inmsg *m = w->msgs;
        w->msgs = m->next;
        if (!atomic_load(&n->failed)) {
            step_message(n, m);
        }
        craft_free(&n->alloc, m);
    }

    now = nd_now_ns();
    if (w->paused) {
        d->next_tick = now + n->tick_ns;
        nd_apply_kick(n); /* the backlog must drain */
    } else if (now >= d->next_tick) {
        step_ticks(n, now, guest);
        retry_calls(n);
        /* Entries queued without a wake-up (nobody waits on them) are
         * applied at the latest a tick later. */
        nd_apply_kick(n);
    }
    if (now >= d->next_expire) {
        expire(n, now);
        d->next_expire = now + n->tick_ns;
    }
    if (d->retry_now) {
        d->retry_now = 0;
        retry_calls(n);
    }
    admit(n);
    nd_driver_settle(n);
    backpressure(n, is_paused(n) || (d->held_n > 0 && !can_admit(n) &&
                                     !leaderless(n)));
}

void nd_driver_wake_locked(struct craft_node *n)
{
    if (n->owner == ND_OWN_NONE && n->driver_sleeping) {
        pthread_cond_signal(&n->in_cv);
    }
}

int nd_driver_try_guest_locked(struct craft_node *n)
{
    if (n->owner != ND_OWN_NONE || !n->opts.inline_rounds ||
        !atomic_load(&n->started) || n->stop_req || atomic_load(&n->failed)) {
        return 0;
    }
    n->owner = ND_OWN_GUEST;
    n->guest = pthread_self();
    return 1;
}

/* Rounds a guest runs while work keeps coming, when it has nothing of
 * its own to wait for: enough for a proposal and the answers of the
 * followers it reached inline, then the driver thread takes over. */
#define GUEST_ROUNDS 4
/* A guest waiting for its own call may go on while work keeps coming
 * (it would only sleep otherwise), up to this many rounds. */
#define GUEST_ROUNDS_WAITING 64

void nd_driver_guest_locked(struct craft_node *n, const atomic_int *done)
{
    struct work w;
    int rounds = 0;
    for (;;) {
        take_work_locked(n, &w);
        pthread_mutex_unlock(&n->in_mu);
        run_round(n, &w, 1);
        pthread_mutex_lock(&n->in_mu);
        rounds++;
        if (n->stop_req || atomic_load(&n->failed) ||
            !work_ready_locked(n, nd_now_ns())) {
            break;
        }
        if (done != NULL ? (atomic_load(done) || rounds >= GUEST_ROUNDS_WAITING)
                         : rounds >= GUEST_ROUNDS) {
            break;
        }
    }
    n->owner = ND_OWN_NONE;
    /* Work left over, a stop, or a driver thread waiting for its turn:
     * the driver thread goes on. */
    if (n->driver_sleeping &&
        (n->driver_waiting || n->stop_req || atomic_load(&n->failed) ||
         work_ready_locked(n, nd_now_ns()))) {
        pthread_cond_signal(&n->in_cv);
    }
}

void nd_driver_apply_turn(struct craft_node *n)
{
    if (!atomic_load_explicit(&n->apply_owes, memory_order_relaxed)) {
        return;
    }
    atomic_store_explicit(&n->apply_owes, 0, memory_order_relaxed);
    pthread_mutex_lock(&n->in_mu);
    if (n->owner == ND_OWN_NONE && work_ready_locked(n, nd_now_ns())) {
        if (nd_driver_try_guest_locked(n)) {
            nd_driver_guest_locked(n, NULL);
        } else {
            nd_driver_wake_locked(n);
        }
    }
    pthread_mutex_unlock(&n->in_mu);
}

/* in_mu held, nobody owns the driver state: when the driver thread must
 * wake for its timer (0: only when signalled).
 *
 * A follower's ticks are mostly stepped by guest rounds: the leader's
 * heartbeat, delivered inline (craft_node_receive_inline), runs the
 * follower's round on the leader's thread, due ticks included. Its
 * driver thread then sleeps until one and a half ticks after the next
 * one: a heartbeat comes in between and steps it, so an idle cluster
 * wakes only its leader's driver. Without heartbeats a tick is stepped
 * at most 1.5 ticks late (with the ones due meanwhile), and an election
 * starts at most that much later than its timeout (§5.2 only needs the
 * timeouts randomized and well above the heartbeat period). */
static int64_t next_wake(const struct craft_node *n)
{
    const struct driver *d = &n->d;
    if (is_paused(n)) {
        return d->next_expire;
    }
    int64_t until = d->next_tick;
    if (d->guest_ticked && d->role != CRAFT_ROLE_LEADER) {
        until += n->tick_ns + n->tick_ns / 2; /* the heartbeat's phase
                                                 jitters */
    }
    if (has_deadlines(d) && d->next_expire < until) {
        until = d->next_expire;
    }
    return until;
}

/* ---- the thread ------------------------------------------------------- */

void *nd_driver_main(void *arg)
{
    struct craft_node *n = arg;
    struct driver *d = &n->d;
    struct work w;

    pthread_mutex_lock(&n->in_mu);
    for (;;) {
        int halt;
        for (;;) {
            int64_t now = nd_now_ns();
            int64_t until = 0; /* 0: until signalled */
            halt = n->stop_req;
            if (n->owner == ND_OWN_NONE) {
                int want = is_paused(n) ||
                           (d->held_n > 0 && !can_admit(n) && !leaderless(n));
                /* Announce the wait before checking again what the apply
                 * thread may have freed meanwhile (it checks the flag
                 * after freeing): no wake-up is lost. */
                atomic_store(&n->space_wanted, want);
                if (halt || work_ready_locked(n, now)) {
                    break;
                }
                until = next_wake(n);
            } else {
                /* A guest runs rounds; it signals when it lets go. */
                n->driver_waiting = 1;
            }
            n->driver_sleeping = 1;
            nd_cond_wait_until(&n->in_cv, &n->in_mu, until);
            n->driver_sleeping = 0;
            n->driver_waiting = 0;
        }
        atomic_store(&n->space_wanted, 0);
        n->owner = ND_OWN_DRIVER;
        take_work_locked(n, &w);
        pthread_mutex_unlock(&n->in_mu);
        if (halt) {
            stop(n, w.reqs, w.msgs, w.snaps);
            pthread_mutex_lock(&n->in_mu);
            n->owner = ND_OWN_NONE;
            pthread_mutex_unlock(&n->in_mu);
            return NULL;
        }
        run_round(n, &w, 0);
        pthread_mutex_lock(&n->in_mu);
        n->owner = ND_OWN_NONE;
    }
}

void nd_driver_free(struct craft_node *n)
{
    struct driver *d = &n->d;
    nd_send_free(n);
    craft_free(&n->alloc, d->ring);
    craft_free(&n->alloc, d->bufs);
    craft_free(&n->alloc, d->batch);
    for (size_t k = 0; k < d->defer_n; k++) {
        craft_free(&n->alloc, d->defer[k].buf);
    }
    craft_free(&n->alloc, d->defer);
    free_msgs(n, n->msg_head);
    n->msg_head = n->msg_tail = NULL;
    free_takes(n, n->snap_head);
    n->snap_head = NULL;
    memset(d, 0, sizeof(*d));
}
