/*
 * storage/hardstate.c: term and vote in two checksummed slots.
 *
 * A write goes to the slot that does not hold the last durable value and
 * is synced before save_hard_state returns, so a torn write (or one lost
 * in a crash) leaves that value readable: after a crash the hard state is
 * the last one saved or, if that save was interrupted, the one before;
 * never garbage. Raft needs exactly that (Figure 2: currentTerm and
 * votedFor persist before the node answers an RPC).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "storage/fs.h"

static int create_file(craft_file_storage *fs)
{
    unsigned char buf[FS_HS_FILE_BYTES];
    struct fs_hs h = {1, 0, 0};
    memset(buf, 0, sizeof(buf));
    fs_hs_encode(buf, &h);
    int fd = fs->io.openat(fs->io.user, fs->dirfd, FS_HARDSTATE_TMP,
                           O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return fs_io_fail(fs, 0, "create", FS_HARDSTATE_TMP, fd);
    }
    const char *op = "write";
    int rv = fs_pwrite_all(fs, fd, buf, sizeof(buf), 0);
    if (rv == 0) {
        op = "fdatasync";
        rv = fs_datasync(fs, fd);
    }
    fs->io.close(fs->io.user, fd);
    if (rv < 0) {
        return fs_io_fail(fs, 0, op, FS_HARDSTATE_TMP, rv);
    }
    rv = fs->io.renameat(fs->io.user, fs->dirfd, FS_HARDSTATE_TMP,
                         FS_HARDSTATE);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "rename", FS_HARDSTATE_TMP, rv);
    }
    return CRAFT_OK;
}

static const char *why(int rv)
{
    return rv == CRAFT_ECHECKSUM ? "CRC32C mismatch" : "never written";
}

/*
 * A directory without metadata is new, or its initialisation was cut
 * short: then a hardstate file, if any, holds only the initial value
 * (sequence 1, term 0, no vote). One that holds a term or a vote was
 * written by a node that ran: the metadata was lost, and writing the
 * hard state anew would forget a vote (a second vote in that term).
 */
static int check_unused(craft_file_storage *fs)
{
    unsigned char buf[FS_HS_FILE_BYTES];
    struct fs_hs h;
    int fd = fs->io.openat(fs->io.user, fs->dirfd, FS_HARDSTATE, O_RDONLY, 0);
    if (fd == -ENOENT) {
        return CRAFT_OK;
    }
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", FS_HARDSTATE, fd);
    }
    size_t done = 0;
    memset(buf, 0, sizeof(buf));
    int rv = fs_pread_all(fs, fd, buf, sizeof(buf), 0, &done);
    fs->io.close(fs->io.user, fd);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "read", FS_HARDSTATE, rv);
    }
    for (unsigned k = 0; k < 2; k++) {
        if (done >= k * FS_HS_SLOT_STRIDE + FS_HS_SLOT_BYTES &&
            fs_hs_decode(buf + k * FS_HS_SLOT_STRIDE, &h) == CRAFT_OK &&
            (h.seq > 1 || h.term != 0 || h.vote != 0)) {
            return fs_error(fs, CRAFT_ECORRUPT,
                            FS_HARDSTATE ", offset %u: holds term %llu and "
                                         "vote %llu but the metadata file "
                                         "is missing: the state is corrupt",
                            k * FS_HS_SLOT_STRIDE,
                            (unsigned long long)h.term,
                            (unsigned long long)h.vote);
        }
    }
    return CRAFT_OK;
}

int fs_hs_open(craft_file_storage *fs, int create)
{
    unsigned char buf[FS_HS_FILE_BYTES];
    struct fs_hs h[2];
    int rv;

    if (create) {
        rv = check_unused(fs);
        if (rv == CRAFT_OK) {
            rv = create_file(fs);
        }
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    int fd = fs->io.openat(fs->io.user, fs->dirfd, FS_HARDSTATE,
                           O_RDWR | fs_mode_flags(fs, 0), 0);
    if (fd == -ENOENT) {
        return fs_error(fs, CRAFT_ECORRUPT,
                        FS_HARDSTATE ", offset 0: the file is missing (the "
                                     "directory has metadata): the state is "
                                     "corrupt");
    }
    if (fd < 0) {
        return fs_io_fail(fs, 0, "open", FS_HARDSTATE, fd);
    }
    fs->hs_fd = fd;
    size_t done = 0;
    rv = fs_pread_all(fs, fd, buf, sizeof(buf), 0, &done);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "read", FS_HARDSTATE, rv);
    }
    if (done != sizeof(buf)) {
        return fs_error(fs, CRAFT_ECORRUPT,
                        FS_HARDSTATE ", offset %zu: the file has %zu bytes, "
                                     "not %u: the state is corrupt",
                        done, done, FS_HS_FILE_BYTES);
    }
    int r0 = fs_hs_decode(buf, &h[0]);
    int r1 = fs_hs_decode(buf + FS_HS_SLOT_STRIDE, &h[1]);
    if (r0 != CRAFT_OK && r1 != CRAFT_OK) {
        return fs_error(fs, CRAFT_ECORRUPT,
                        FS_HARDSTATE ", offsets 0 and %u: both slots are "
                                     "damaged (%s, %s): term and vote are "
                                     "lost",
                        FS_HS_SLOT_STRIDE, why(r0), why(r1));
    }
    int slot;
    if (r0 == CRAFT_OK && r1 == CRAFT_OK) {
        slot = h[1].seq > h[0].seq ? 1 : 0;
    } else {
        slot = r0 == CRAFT_OK ? 0 : 1;
    }
    fs->hs_seq = h[slot].seq;
    fs->term = h[slot].term;
    fs->vote = h[slot].vote;
    fs->hs_durable_slot = slot;
    fs->hs_written_slot = slot;
    /* What was read may be in the page cache only: make it durable. */
    rv = fs_datasync(fs, fd);
    if (rv < 0) {
        return fs_io_fail(fs, 0, "fdatasync", FS_HARDSTATE, rv);
    }
    return CRAFT_OK;
}

int fs_hs_save(craft_file_storage *fs, uint64_t term, uint64_t vote)
{
    unsigned char buf[FS_HS_SLOT_BYTES];
    if (fs->failed != CRAFT_OK) {
        return fs->failed;
    }
    int slot = 1 - fs->hs_durable_slot;
    struct fs_hs h = {fs->hs_seq + 1, term, vote};
    fs_hs_encode(buf, &h);
    int rv = fs_pwrite_all(fs, fs->hs_fd, buf, sizeof(buf),
                           (uint64_t)slot * FS_HS_SLOT_STRIDE);
    if (rv < 0) {
        return fs_io_fail(fs, 1, "write", FS_HARDSTATE, rv);
    }
    /* Durable before returning (O_DSYNC does it in the write): entries
     * of a new term are appended after the term is saved, and page
     * writeback may put them on disk before any later sync; the term must
     * be there first, or the log would hold entries of a term the hard
     * state never reached. Term changes are rare: this costs little. */
    if (fs->sync_mode != CRAFT_FILE_SYNC_DSYNC &&
        fs->sync_mode != CRAFT_FILE_SYNC_DIRECT) {
        rv = fs_datasync(fs, fs->hs_fd);
        if (rv < 0) {
            return fs_io_fail(fs, 1, "fdatasync", FS_HARDSTATE, rv);
        }
    }
    fs->hs_seq = h.seq;
    fs->term = term;
    fs->vote = vote;
    fs->hs_written_slot = slot;
    fs->hs_durable_slot = slot;
    return CRAFT_OK;
}
