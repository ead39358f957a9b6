/*
 * craft/storage.h: the file storage, a durable craft_storage_ops. Include
 * <craft.h> rather than this file.
 *
 * A craft_file_storage keeps one node's state in a data directory:
 *
 *   metadata          format version, cluster id, node id (written once)
 *   hardstate         term and vote, in two checksummed slots: a torn
 *                     write loses at most the value being written
 *   segment-<first>   the log: append-only segments, one CRC32C per
 *                     record, preallocated, deleted whole after a snapshot
 *   snapshot-<index>-<term>
 *                     the current snapshot: its bytes, the membership and
 *                     a checksummed footer; written to a temporary file,
 *                     synced and renamed, so the previous one stays in
 *                     force until the new one is complete
 *   lock              held with flock() while the storage is open
 *
 * It implements every method of craft_storage_ops (craft/node.h) with the
 * contract written there; give its ops to craft_node_create(). Appends
 * are buffered and written at sync: one sync costs one fdatasync of the
 * log segment written (group commit), whatever the number of entries.
 * The cost of an append does not grow with the log. A truncation (a Raft
 * conflict) is made durable before it returns, so that no stale entry can
 * come back behind new ones after a crash.
 *
 * save_hard_state is durable when it returns (one fdatasync: a term is
 * never on disk after entries of that term); the other writes become
 * durable at the next sync.
 *
 * Recovery on open: every record of every segment is checked (length
 * bounds and CRC32C). A torn tail, the records of the last write that
 * were never made durable, is cut off and reported with the trace event
 * storage.tail_truncated (first index lost, offset, and the bytes cut, up
 * to the last non-zero one). Any other damage
 * (a bad record before data that was durable, a bad snapshot, metadata or
 * hard state) fails the open with CRAFT_ECORRUPT and a message naming the
 * file and the offset: the node never starts on a corrupt log.
 *
 * Failures: a failed write or sync (EIO, ENOSPC, ...) stops the storage
 * (fail-stop): that call and every later one return CRAFT_EIO, so the
 * node stops too, and a sync is never retried as if the data were safe.
 * Close it and open the directory again (after freeing space) to recover
 * from what is on disk.
 *
 * The bytes on disk are never trusted: every length is bounded and every
 * record checksummed before use. src/storage/README.md describes the
 * format; the craft-inspect tool prints and verifies a directory.
 *
 * Thread-safety: open, close and errmsg may be called from any thread;
 * the methods obey craft_storage_ops' threading rules (the node never
 * calls two at once) and are serialized by a lock anyway. A storage
 * serves one node at a time.
 */
#ifndef CRAFT_STORAGE_H
#define CRAFT_STORAGE_H

#include "common.h"
#include "node.h"

CRAFT_BEGIN_DECLS

typedef struct craft_file_storage craft_file_storage;

/* How writes are made durable (craft_file_storage_options.sync_mode). */
enum craft_file_sync_mode {
    /* write(), then fdatasync() at each sync: the default. */
    CRAFT_FILE_SYNC_FDATASYNC = 1,
    /* Files opened O_DSYNC: a sync is one write that returns durable. */
    CRAFT_FILE_SYNC_DSYNC = 2,
    /* Log segments opened O_DIRECT | O_DSYNC (4 KiB aligned writes, the
     * page cache bypassed); other files as DSYNC. Needs a filesystem
     * that supports O_DIRECT (not tmpfs): open fails with CRAFT_EINVAL
     * otherwise. */
    CRAFT_FILE_SYNC_DIRECT = 3,
    /* NEVER IN PRODUCTION. No fdatasync, fsync or O_DSYNC at all: a
     * power loss or kernel crash loses acknowledged writes and breaks
     * Raft's safety. For tests and benchmarks of everything but the
     * disk. (A process crash loses nothing: the kernel has the data.) */
    CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS = 4
};

/*
 * Options. Fill with craft_file_storage_options_init() or
 * CRAFT_FILE_STORAGE_OPTIONS_INIT, then change what you need. The struct
 * and *allocator are copied by craft_file_storage_open(); errbuf and the
 * trace callback's user pointer must stay valid as documented below.
 *
 * segment_bytes: size of a log segment file; a new segment starts when
 *   the next record does not fit (one entry larger than a segment gets a
 *   segment of its own). 4 KiB .. 1 GiB; default 64 MiB.
 * preallocate: 1 (default): reserve each segment's whole size when it is
 *   created (fallocate), so appends do not grow the file and disk space
 *   runs out at segment creation rather than in the middle of a write;
 *   0: files grow with the log.
 * sync_mode: enum craft_file_sync_mode; default CRAFT_FILE_SYNC_FDATASYNC.
 * cluster_id, node_id: written into a new directory's metadata. Opening a
 *   directory whose metadata has another non-zero id fails with
 *   CRAFT_ESTATE (the message names both); 0 means "do not check" (and
 *   a directory created with 0 takes the id of the first open that gives
 *   one). node_id is also the first field of every trace event.
 * allocator: NULL for libc; used for every allocation of the storage.
 * trace, trace_user, trace_level: like craft_node_options' (events with
 *   target "craft.storage", listed in craft/node.h); called on the thread
 *   calling open or a storage method. trace_user must stay valid until
 *   craft_file_storage_close(). Default level CRAFT_TRACE_INFO.
 * errbuf, errbuf_size: when errbuf is not NULL and open fails, the
 *   detailed message ("craft file storage /data/n1: segment-...: bad
 *   CRC32C at offset 4136 (index 42) before durable data: the log is
 *   corrupt") is copied there, NUL-terminated and truncated to
 *   errbuf_size; borrowed for the call.
 */
typedef struct craft_file_storage_options {
    uint32_t struct_size; /* sizeof(craft_file_storage_options) */
    uint32_t sync_mode;   /* enum craft_file_sync_mode */
    uint64_t segment_bytes;
    uint64_t cluster_id;
    uint64_t node_id;
    int preallocate;
    int trace_level;
    const craft_allocator *allocator;
    void (*trace)(void *user, const craft_trace_event *ev);
    void *trace_user;
    char *errbuf;
    size_t errbuf_size;
} craft_file_storage_options;

#define CRAFT_FILE_STORAGE_OPTIONS_INIT                                       \
    { (uint32_t)sizeof(craft_file_storage_options),                           \
      (uint32_t)CRAFT_FILE_SYNC_FDATASYNC, 64u * 1024u * 1024u, 0u, 0u, 1,    \
      CRAFT_TRACE_INFO, NULL, NULL, NULL, NULL, 0u }

/* Fills *o like CRAFT_FILE_STORAGE_OPTIONS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_file_storage_options_init(craft_file_storage_options *o);

/*
 * Opens the data directory dir (created, with its missing parents, when
 * it does not exist), locks it, and recovers its state: checks every
 * record, cuts a torn tail, deletes leftovers of interrupted operations.
 * opts may be NULL for the defaults. dir is copied.
 *
 * Errors (*out untouched; the message in opts->errbuf when given):
 *  CRAFT_EINVAL   NULL dir or out, empty dir, an option out of range, or
 *                 CRAFT_FILE_SYNC_DIRECT where O_DIRECT is unsupported
 *  CRAFT_ESTRUCT  opts->struct_size 0 or larger than known, bad allocator
 *  CRAFT_EBUSY    another open storage (in this or another process)
 *                 holds the directory's lock
 *  CRAFT_EVERSION the directory has a newer format than this build reads
 *  CRAFT_ESTATE   the directory belongs to another cluster or node
 *  CRAFT_ECORRUPT damage that is not a torn tail (the message names the
 *                 file and offset; craft-inspect --verify shows more)
 *  CRAFT_EIO      a system call failed (the message names it and errno)
 *  CRAFT_ENOMEM
 */
CRAFT_API int craft_file_storage_open(const char *dir,
                                      const craft_file_storage_options *opts,
                                      craft_file_storage **out);

/*
 * Fills *ops with the storage's methods and user pointer, for
 * craft_node_options.storage. ops must have been initialised
 * (craft_storage_ops_init): only its first struct_size bytes are
 * written. CRAFT_EINVAL on NULL, CRAFT_ESTRUCT.
 */
CRAFT_API int craft_file_storage_ops(craft_file_storage *fs,
                                     craft_storage_ops *ops);

/*
 * Copies the storage's last detailed error message (the reason of the
 * last failed method: which file, which system call, errno) into buf
 * (NUL-terminated, truncated to cap) and returns its full length; "" and
 * 0 when none. buf may be NULL with cap 0. 0 on NULL fs.
 */
CRAFT_API size_t craft_file_storage_errmsg(const craft_file_storage *fs,
                                           char *buf, size_t cap);

/*
 * Closes the storage: writes buffered appends (without syncing them:
 * only a successful sync makes writes durable), closes the files and
 * releases the lock. No node may be using it any more (free the node
 * first). NULL is harmless.
 */
CRAFT_API void craft_file_storage_close(craft_file_storage *fs);

CRAFT_END_DECLS

#endif /* CRAFT_STORAGE_H */
