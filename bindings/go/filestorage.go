package craft

/*
#include "shim.h"
*/
import "C"

import (
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// SyncMode is how a FileStorage makes its writes durable.
type SyncMode uint32

// Sync modes (see craft/storage.h).
const (
	SyncFdatasync SyncMode = C.CRAFT_FILE_SYNC_FDATASYNC // write, then fdatasync (default)
	SyncDsync     SyncMode = C.CRAFT_FILE_SYNC_DSYNC     // files opened O_DSYNC
	SyncDirect    SyncMode = C.CRAFT_FILE_SYNC_DIRECT    // log segments O_DIRECT|O_DSYNC
	// SyncNoneUnsafeForTests never syncs: a power loss loses
	// acknowledged writes. For tests and benchmarks only.
	SyncNoneUnsafeForTests SyncMode = C.CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS
)

// FileStorageOptions tunes a FileStorage; the zero value gives craft's
// defaults.
type FileStorageOptions struct {
	SyncMode      SyncMode // default SyncFdatasync
	SegmentBytes  uint64   // log segment size, 4 KiB .. 1 GiB; default 64 MiB
	NoPreallocate bool     // do not reserve each segment's size up front
	// ClusterID and NodeID are written into a new directory; opening a
	// directory that has other ids fails with ErrState. 0: not checked.
	ClusterID, NodeID uint64
	// Logger receives the storage's trace events (target
	// "craft.storage", e.g. "storage.tail_truncated").
	Logger *slog.Logger
}

// FileStorage is craft's durable storage (craft/storage.h): a
// checksummed, segmented write-ahead log, hard state and snapshot files
// in one directory, with torn-write recovery on open. One node uses it at
// a time; it outlives the node, for a restart.
type FileStorage struct {
	c   *C.craft_file_storage
	dir string
	use inUse
	h   cgo.Handle // the trace logger, 0 when none
}

// NewFileStorage opens (creating it when missing) the data directory dir
// with the default options.
func NewFileStorage(dir string) (*FileStorage, error) { return OpenFileStorage(dir, nil) }

// OpenFileStorage opens (creating it when missing) the data directory dir,
// locks it and recovers its state. Errors: ErrBusy (another open storage
// holds the directory), ErrCorrupt (damage that is not a torn tail: the
// detail names the file and offset), ErrState (another cluster's or
// node's directory), ErrVersion, ErrIO, ErrInvalid.
func OpenFileStorage(dir string, opts *FileStorageOptions) (*FileStorage, error) {
	if opts == nil {
		opts = &FileStorageOptions{}
	}
	var o C.craft_file_storage_options
	C.craft_file_storage_options_init(&o)
	if opts.SyncMode != 0 {
		o.sync_mode = C.uint32_t(opts.SyncMode)
	}
	if opts.SegmentBytes != 0 {
		o.segment_bytes = C.uint64_t(opts.SegmentBytes)
	}
	if opts.NoPreallocate {
		o.preallocate = 0
	}
	o.cluster_id = C.uint64_t(opts.ClusterID)
	o.node_id = C.uint64_t(opts.NodeID)
	fs := &FileStorage{dir: dir}
	level := traceLevel(opts.Logger)
	if level > 0 {
		fs.h = newHandle(opts.Logger)
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	const errCap = 1024
	errbuf := (*C.char)(C.calloc(1, errCap))
	defer C.free(unsafe.Pointer(errbuf))
	rc := C.gocraft_file_storage_open(cdir, &o, C.uintptr_t(fs.h), C.int(level), errbuf, errCap, &fs.c)
	if rc != 0 {
		if fs.h != 0 {
			deleteHandle(fs.h)
		}
		return nil, &Error{Op: "open file storage", Code: Errno(rc), Detail: C.GoString(errbuf)}
	}
	return fs, nil
}

// Dir returns the storage's directory.
func (fs *FileStorage) Dir() string { return fs.dir }

func (fs *FileStorage) bindStorage(c *C.gocraft_cfg) (binding, error) {
	release, err := fs.use.acquire("the storage")
	if err != nil {
		return binding{}, err
	}
	if rc := C.craft_file_storage_ops(fs.c, &c.storage); rc != 0 {
		release()
		return binding{}, codeError("new node", rc)
	}
	return binding{release: release}, nil
}

// ErrMessage returns the storage's last detailed error message (which
// file, which system call, errno), "" when none.
func (fs *FileStorage) ErrMessage() string {
	fs.use.mu.Lock()
	defer fs.use.mu.Unlock()
	if fs.use.closed {
		return ""
	}
	var buf [1024]C.char
	C.craft_file_storage_errmsg(fs.c, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// Close closes the storage and releases its directory lock. ErrBusy while
// a node uses it (close the node first).
func (fs *FileStorage) Close() error {
	first, err := fs.use.close()
	if err != nil {
		return &Error{Op: "close storage", Code: ErrBusy}
	}
	if first {
		C.craft_file_storage_close(fs.c)
		fs.c = nil
		if fs.h != 0 {
			deleteHandle(fs.h)
			fs.h = 0
		}
	}
	return nil
}
