//! The FFI boundary: every `unsafe` of the crate is in this module.
//!
//! What the rest of the crate gets from here is safe: owned handles of the
//! C objects (`RawNode`, `RawMemStorage`, `RawHub`, `RawTcp`, ...) whose methods call the
//! thread-safe C functions, and the `extern "C"` trampolines the C library
//! calls back. The rules each `unsafe` block relies on come from the C
//! headers (`include/craft/node.h`, `include/craft/testing.h`):
//!
//! * a node's functions may be called from any thread, concurrently,
//!   except `craft_node_free` (node.h, "Thread-safety"), so a node handle
//!   is `Send + Sync` and is freed only by `Drop`, which has it exclusively;
//! * every `user` / `ctx` pointer handed to C stays valid until the node
//!   is freed (the contexts are released only after `craft_node_free`), or,
//!   for a completion, until its callback ran: the library invokes it
//!   exactly once when the call returned `CRAFT_OK`, never when it failed;
//! * state machine callbacks never run two at a time, storage methods
//!   never two at a time, and the transport's send runs only on the
//!   driver thread, so each context is used by one thread at a time and
//!   may be borrowed mutably for the length of a callback;
//! * bytes the library hands to a callback are borrowed for the call.
//!
//! No panic crosses into C: every trampoline runs the user's code under
//! `catch_unwind`, reports a panic (tracing, plus the process's panic
//! hook, which has already printed it) and returns the callback's error
//! code instead.
#![allow(unsafe_code)]

use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::io;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use craft_sys as sys;

use crate::builder::NodeConfig;
use crate::error::{check, Error};
use crate::traits::{Entry, StateMachine, Storage, Transport};
use crate::types::{hint, Member, MemberRole, Role, Status};

// ---- small helpers ---------------------------------------------------------

/// `craft_strerror(code)` as a String.
pub(crate) fn strerror(code: i32) -> String {
    // SAFETY: craft_strerror returns a static NUL-terminated string and
    // never NULL (common.h).
    unsafe { cstr(sys::craft_strerror(code)) }.unwrap_or_default()
}

/// The library's version string ("0.1.0") and ABI version (1).
pub(crate) fn library_version() -> (String, i32) {
    // SAFETY: both are thread-safe and return static data (common.h).
    unsafe {
        (
            cstr(sys::craft_version_string()).unwrap_or_default(),
            sys::craft_abi_version(),
        )
    }
}

/// A borrowed C string as an owned String; None for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
unsafe fn cstr(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// A borrowed C string as &str ("" for NULL or non-UTF-8).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives 'a.
unsafe fn cstr_ref<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

/// Bytes the library lends for a call (NULL is fine when len is 0).
///
/// # Safety
/// When `len > 0`, `p` points to `len` readable bytes that outlive 'a.
unsafe fn bytes<'a>(p: *const c_void, len: usize) -> &'a [u8] {
    if len == 0 || p.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    }
}

/// A buffer the library lends for a callback to fill.
///
/// # Safety
/// When `len > 0`, `p` points to `len` writable bytes that outlive 'a and
/// nothing else reads or writes them meanwhile.
unsafe fn bytes_mut<'a>(p: *mut c_void, len: usize) -> &'a mut [u8] {
    if len == 0 || p.is_null() {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(p.cast::<u8>(), len)
    }
}

/// A zeroed C struct, to be filled by its craft_*_init function.
fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for the bindgen structs of the option and ops
    // tables, made of integers, raw pointers and Option<fn>, for which
    // all-zero bytes are a valid value (NULL / None / 0).
    unsafe { std::mem::zeroed() }
}

pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A state machine that panicked in the middle of apply is the user's
    // to judge; the node goes on (the entry counts as applied), so a
    // poisoned lock is taken as it is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- callbacks: the in-callback flag and the panic guard ------------------

thread_local! {
    /// > 0 while this thread runs a craft callback. The blocking calls of
    /// the binding refuse to run then (they would wait for the very thread
    /// they block), like the C library's own blocking calls.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// True when the current thread is inside a craft callback.
pub(crate) fn in_callback() -> bool {
    IN_CALLBACK.with(|c| c.get() > 0)
}

struct CallbackScope;

impl CallbackScope {
    fn enter() -> CallbackScope {
        IN_CALLBACK.with(|c| c.set(c.get() + 1));
        CallbackScope
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Runs a user callback: never lets a panic out, reports it and returns
/// Err(message) instead.
fn guarded<R>(what: &'static str, f: impl FnOnce() -> R) -> Result<R, String> {
    let _scope = CallbackScope::enter();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) => {
            let msg = panic_message(payload.as_ref());
            // Dropping a payload can itself panic: never let that out.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            tracing::error!(target: "craft::binding", callback = what, panic = %msg,
                "a callback panicked; it returns CRAFT_ECALLBACK");
            Err(msg)
        }
    }
}

const ECALLBACK: c_int = sys::CRAFT_ECALLBACK as c_int;

fn code_of(r: Result<Result<(), Error>, String>) -> c_int {
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => e.code(),
        Err(_) => ECALLBACK,
    }
}

// ---- contexts the C node holds ------------------------------------------

/// A heap object whose pointer the C library holds, released after the
/// node is freed.
struct Owned {
    ptr: *mut c_void,
    release: unsafe fn(*mut c_void),
}

// SAFETY: Owned::new only takes T: Send, and the pointer is released
// (dropping the T) on whatever thread drops the Owned.
unsafe impl Send for Owned {}

impl Owned {
    fn new<T: Send + 'static>(value: T) -> Owned {
        unsafe fn release<T>(p: *mut c_void) {
            drop(Box::from_raw(p.cast::<T>()));
        }
        Owned {
            ptr: Box::into_raw(Box::new(value)).cast(),
            release: release::<T>,
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: ptr came from Box::into_raw of the T that release was
        // instantiated with, and it is released once, here, after the
        // C object that used it was freed (see RawNode's Drop).
        unsafe { (self.release)(self.ptr) }
    }
}

struct FsmCtx<S> {
    fsm: Arc<Mutex<S>>,
    /// The last apply's result: the node borrows it until the next fsm
    /// callback (craft_fsm_ops.apply).
    result: Vec<u8>,
}

unsafe extern "C" fn fsm_apply<S: StateMachine>(
    user: *mut c_void,
    index: u64,
    term: u64,
    data: *const c_void,
    len: usize,
    result: *mut *const c_void,
    result_len: *mut usize,
) -> c_int {
    // SAFETY: user is the FsmCtx<S> given in craft_node_create, alive
    // until the node is freed; fsm callbacks run one at a time, so this
    // is the only reference to it; data is lent for the call.
    let ctx = &mut *user.cast::<FsmCtx<S>>();
    let data = bytes(data, len);
    let fsm = &ctx.fsm;
    match guarded("apply", || lock(fsm).apply(Entry { index, term, data })) {
        Ok(Ok(out)) => {
            ctx.result = out;
            if !ctx.result.is_empty() && !result.is_null() && !result_len.is_null() {
                // SAFETY: the out pointers are the node's, valid for the
                // call; the bytes stay in ctx.result until the next call.
                *result = ctx.result.as_ptr().cast();
                *result_len = ctx.result.len();
            }
            0
        }
        Ok(Err(e)) => {
            tracing::warn!(target: "craft::binding", index, error = %e, "apply returned an error");
            ECALLBACK
        }
        Err(_) => ECALLBACK,
    }
}

/// The snapshot being taken, as an io::Write.
struct SnapshotWriter(*mut sys::craft_snapshot_writer);

impl io::Write for SnapshotWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: the writer is valid during craft_fsm_ops.snapshot, the
        // only place a SnapshotWriter exists; the bytes are copied.
        let rc =
            unsafe { sys::craft_snapshot_writer_write(self.0, buf.as_ptr().cast(), buf.len()) };
        if rc == 0 {
            Ok(buf.len())
        } else {
            Err(io::Error::other(Error::from_code(rc, 0)))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The snapshot being restored, as an io::Read.
struct SnapshotReader(*mut sys::craft_snapshot_reader);

impl io::Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0usize;
        // SAFETY: the reader is valid during craft_fsm_ops.restore, the
        // only place a SnapshotReader exists; buf is ours, writable.
        let rc = unsafe {
            sys::craft_snapshot_reader_read(self.0, buf.as_mut_ptr().cast(), buf.len(), &mut n)
        };
        if rc == 0 {
            Ok(n.min(buf.len()))
        } else {
            Err(io::Error::other(Error::from_code(rc, 0)))
        }
    }
}

unsafe extern "C" fn fsm_snapshot<S: StateMachine>(
    user: *mut c_void,
    _index: u64,
    _term: u64,
    w: *mut sys::craft_snapshot_writer,
) -> c_int {
    // SAFETY: as in fsm_apply.
    let ctx = &mut *user.cast::<FsmCtx<S>>();
    let mut out = io::BufWriter::with_capacity(64 * 1024, SnapshotWriter(w));
    let r = guarded("snapshot", || {
        lock(&ctx.fsm).snapshot(&mut out)?;
        io::Write::flush(&mut out)
    });
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            tracing::warn!(target: "craft::binding", error = %e, "snapshot failed");
            ECALLBACK
        }
        Err(_) => ECALLBACK,
    }
}

unsafe extern "C" fn fsm_restore<S: StateMachine>(
    user: *mut c_void,
    _index: u64,
    _term: u64,
    r: *mut sys::craft_snapshot_reader,
) -> c_int {
    // SAFETY: as in fsm_apply.
    let ctx = &mut *user.cast::<FsmCtx<S>>();
    let mut input = io::BufReader::with_capacity(64 * 1024, SnapshotReader(r));
    match guarded("restore", || lock(&ctx.fsm).restore(&mut input)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            tracing::warn!(target: "craft::binding", error = %e, "restore failed");
            ECALLBACK
        }
        Err(_) => ECALLBACK,
    }
}

/// What a [`Storage::load`] feeds the persisted state through.
pub struct Loader<'a> {
    ptr: *mut sys::craft_loader,
    _call: PhantomData<&'a mut sys::craft_loader>,
}

impl Loader<'_> {
    /// The hard state: the current term and the vote in it (0: none).
    pub fn hard_state(&mut self, term: u64, vote: u64) -> Result<(), Error> {
        // SAFETY: the loader is valid during craft_storage_ops.load, the
        // only place a Loader exists.
        check(unsafe { sys::craft_loader_hard_state(self.ptr, term, vote) })
    }

    /// The latest complete snapshot's metadata: its last index and term
    /// and the membership bytes stored with it.
    pub fn snapshot(&mut self, index: u64, term: u64, conf: &[u8]) -> Result<(), Error> {
        // SAFETY: as above; conf is copied.
        check(unsafe {
            sys::craft_loader_snapshot(self.ptr, index, term, conf.as_ptr().cast(), conf.len())
        })
    }

    /// One log entry, in index order (`entry_type` as it was appended).
    pub fn entry(
        &mut self,
        index: u64,
        term: u64,
        entry_type: u32,
        data: &[u8],
    ) -> Result<(), Error> {
        // SAFETY: as above; data is copied.
        check(unsafe {
            sys::craft_loader_entry(
                self.ptr,
                index,
                term,
                entry_type,
                data.as_ptr().cast(),
                data.len(),
            )
        })
    }
}

struct StorageCtx(Box<dyn Storage>);

/// The user's storage behind a context pointer.
///
/// # Safety
/// `user` is the StorageCtx given in craft_node_create, alive until the
/// node is freed; storage methods never run two at a time.
unsafe fn storage<'a>(user: *mut c_void) -> &'a mut dyn Storage {
    &mut *(*user.cast::<StorageCtx>()).0
}

unsafe extern "C" fn st_load(user: *mut c_void, loader: *mut sys::craft_loader) -> c_int {
    let s = storage(user);
    let mut l = Loader {
        ptr: loader,
        _call: PhantomData,
    };
    code_of(guarded("storage load", || s.load(&mut l)))
}

unsafe extern "C" fn st_save_hard_state(user: *mut c_void, term: u64, vote: u64) -> c_int {
    let s = storage(user);
    code_of(guarded("storage save_hard_state", || {
        s.save_hard_state(term, vote)
    }))
}

unsafe extern "C" fn st_append(
    user: *mut c_void,
    index: u64,
    term: u64,
    entry_type: u32,
    data: *const c_void,
    len: usize,
) -> c_int {
    let s = storage(user);
    let data = bytes(data, len);
    code_of(guarded("storage append", || {
        s.append(index, term, entry_type, data)
    }))
}

unsafe extern "C" fn st_truncate(user: *mut c_void, index: u64) -> c_int {
    let s = storage(user);
    code_of(guarded("storage truncate", || s.truncate(index)))
}

unsafe extern "C" fn st_sync(user: *mut c_void) -> c_int {
    let s = storage(user);
    code_of(guarded("storage sync", || s.sync()))
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn st_snapshot_write(
    user: *mut c_void,
    index: u64,
    term: u64,
    offset: u64,
    data: *const c_void,
    len: usize,
    conf: *const c_void,
    conf_len: usize,
    flags: u32,
) -> c_int {
    let s = storage(user);
    let data = bytes(data, len);
    let conf = bytes(conf, conf_len);
    let last = flags & sys::CRAFT_SNAPSHOT_F_LAST != 0;
    code_of(guarded("storage snapshot_write", || {
        s.snapshot_write(index, term, offset, data, conf, last)
    }))
}

unsafe extern "C" fn st_snapshot_read(
    user: *mut c_void,
    index: u64,
    offset: u64,
    buf: *mut c_void,
    count: usize,
    n: *mut usize,
    last: *mut c_int,
) -> c_int {
    let s = storage(user);
    let buf = bytes_mut(buf, count);
    match guarded("storage snapshot_read", || {
        s.snapshot_read(index, offset, buf)
    }) {
        Ok(Ok((got, end))) => {
            // SAFETY: the out pointers are the node's, valid for the call.
            if !n.is_null() {
                *n = got.min(count);
            }
            if !last.is_null() {
                *last = c_int::from(end);
            }
            0
        }
        Ok(Err(e)) => e.code(),
        Err(_) => ECALLBACK,
    }
}

struct TransportCtx(Box<dyn Transport>);

unsafe extern "C" fn tr_send(
    user: *mut c_void,
    peer: u64,
    data: *const c_void,
    len: usize,
) -> c_int {
    // SAFETY: user is the TransportCtx given in craft_node_create, alive
    // until the node is freed; send runs only on the driver thread.
    let t = &mut *(*user.cast::<TransportCtx>()).0;
    let data = bytes(data, len);
    code_of(guarded("transport send", || t.send(peer, data)))
}

// ---- trace -------------------------------------------------------------

/// A trace field's value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldValue<'a> {
    U64(u64),
    I64(i64),
    Str(&'a str),
}

unsafe extern "C" fn trace_cb(_user: *mut c_void, ev: *const sys::craft_trace_event) {
    // SAFETY: ev and its strings are lent for the callback (node.h).
    let level = sys::craft_trace_event_level(ev);
    let name = cstr_ref(sys::craft_trace_event_name(ev));
    let target = cstr_ref(sys::craft_trace_event_target(ev));
    let count = sys::craft_trace_event_field_count(ev).min(16);
    let mut fields: Vec<(&str, FieldValue<'_>)> = Vec::with_capacity(count);
    for k in 0..count {
        let mut key: *const c_char = std::ptr::null();
        let mut ty: c_int = 0;
        let (mut u, mut i, mut s) = (0u64, 0i64, std::ptr::null::<c_char>());
        if sys::craft_trace_event_field(ev, k, &mut key, &mut ty, &mut u, &mut i, &mut s) != 0 {
            continue;
        }
        let v = match ty as u32 {
            sys::CRAFT_FIELD_U64 => FieldValue::U64(u),
            sys::CRAFT_FIELD_I64 => FieldValue::I64(i),
            _ => FieldValue::Str(cstr_ref(s)),
        };
        fields.push((cstr_ref(key), v));
    }
    let _ = guarded("trace", || crate::trace::emit(level, target, name, &fields));
}

// ---- completions ----------------------------------------------------------

/// The outcome of an asynchronous call, copied out of the borrowed
/// craft_result.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub status: i32,
    pub index: u64,
    pub term: u64,
    pub leader: u64,
    pub data: Vec<u8>,
}

impl Outcome {
    /// Ok(self) for CRAFT_OK, else the error (with the leader hint).
    pub(crate) fn into_result(self) -> Result<Outcome, Error> {
        if self.status == 0 {
            Ok(self)
        } else {
            Err(Error::from_code(self.status, self.leader))
        }
    }

    /// Copies a result.
    ///
    /// # Safety
    /// `res` is NULL or a craft_result valid for the call.
    unsafe fn from_c(res: *const sys::craft_result) -> Outcome {
        let mut data: *const c_void = std::ptr::null();
        let mut len = 0usize;
        let data = if sys::craft_result_data(res, &mut data, &mut len) == 0 {
            bytes(data, len).to_vec()
        } else {
            Vec::new()
        };
        Outcome {
            status: if res.is_null() {
                ECALLBACK
            } else {
                sys::craft_result_status(res)
            },
            index: sys::craft_result_index(res),
            term: sys::craft_result_term(res),
            leader: sys::craft_result_leader(res),
            data,
        }
    }
}

/// What runs when an asynchronous call completes (on the apply thread).
pub(crate) type Job = Box<dyn FnOnce(Outcome) + Send + 'static>;

unsafe extern "C" fn complete_cb(ctx: *mut c_void, res: *const sys::craft_result) {
    // SAFETY: ctx is the Box<Job> leaked by RawNode::submit for this call;
    // the library invokes the callback exactly once, so it is taken back
    // exactly once; res is lent for the call.
    let job = Box::from_raw(ctx.cast::<Job>());
    let outcome = Outcome::from_c(res);
    let _ = guarded("completion", move || job(outcome));
}

// ---- the node ------------------------------------------------------------

/// Which storage a node is created with.
pub(crate) enum StorageArg {
    Mem(Arc<RawMemStorage>),
    File(Arc<RawFileStorage>),
    User(Box<dyn Storage>),
}

/// Which transport a node is created with.
pub(crate) enum TransportArg {
    Hub(Arc<RawHub>, u64),
    Tcp(Arc<RawTcp>),
    User(Box<dyn Transport>),
}

/// Kinds of membership change.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    AddPeer,
    AddLearner,
    Promote,
    Remove,
    Transfer,
    /// add_peer with an address.
    AddPeerAt(String),
    /// add_learner with an address.
    AddLearnerAt(String),
}

/// Everything a node owns apart from the C object, released after it.
struct Parts {
    _contexts: Vec<Owned>,
    /// The batteries (memory storage, hub) the node uses: kept alive
    /// until the node is freed.
    _keep: Vec<Box<dyn Any + Send + Sync>>,
    /// The TCP transport the node is attached to: detached after the
    /// node's shutdown, before it is freed (tcp.h).
    tcp: Option<TcpUse>,
}

/// The C node pointer, for moving the node to the thread that frees it.
struct NodePtr(NonNull<sys::craft_node>);

// SAFETY: see RawNode.
unsafe impl Send for NodePtr {}

/// An owned `craft_node` and the contexts its callbacks use.
pub(crate) struct RawNode {
    ptr: NonNull<sys::craft_node>,
    parts: Option<Parts>,
}

// SAFETY: every craft_node_* function this type calls through &self may
// be called from any thread, concurrently (node.h, "Thread-safety"); the
// only exception, craft_node_free, runs in Drop, which has the node
// exclusively. The contexts are Send (the traits require it) and are only
// touched by the node's callbacks.
unsafe impl Send for RawNode {}
unsafe impl Sync for RawNode {}

fn timeout_ms(t: std::time::Duration) -> u32 {
    if t.is_zero() {
        0 // the node's default
    } else {
        u32::try_from(t.as_millis()).unwrap_or(u32::MAX).max(1)
    }
}

impl RawNode {
    /// craft_node_create with the given parts; no thread is started.
    pub(crate) fn create<S: StateMachine>(
        cfg: &NodeConfig,
        storage: StorageArg,
        transport: TransportArg,
        fsm: Arc<Mutex<S>>,
    ) -> Result<RawNode, Error> {
        let mut contexts = Vec::new();
        let mut keep: Vec<Box<dyn Any + Send + Sync>> = Vec::new();
        let mut tcp: Option<TcpUse> = None;

        let mut engine: sys::craft_engine_options = zeroed();
        let mut opts: sys::craft_node_options = zeroed();
        let mut st: sys::craft_storage_ops = zeroed();
        let mut tr: sys::craft_transport_ops = zeroed();
        let mut fo: sys::craft_fsm_ops = zeroed();
        // SAFETY: the init functions fill the structs we own.
        unsafe {
            check(sys::craft_engine_options_init(&mut engine))?;
            check(sys::craft_node_options_init(&mut opts))?;
            check(sys::craft_storage_ops_init(&mut st))?;
            check(sys::craft_transport_ops_init(&mut tr))?;
            check(sys::craft_fsm_ops_init(&mut fo))?;
        }
        cfg.fill_engine(&mut engine);
        cfg.fill_node(&mut opts);

        match storage {
            StorageArg::Mem(ms) => {
                // SAFETY: ms is a live memory storage (kept alive by the
                // node below); st was initialised.
                check(unsafe { sys::craft_mem_storage_ops(ms.0.as_ptr(), &mut st) })?;
                keep.push(Box::new(ms));
            }
            StorageArg::File(fs) => {
                // SAFETY: fs is a live file storage (kept alive by the
                // node below, closed only after the node is freed).
                check(unsafe { sys::craft_file_storage_ops(fs.0.as_ptr(), &mut st) })?;
                keep.push(Box::new(fs));
            }
            StorageArg::User(s) => {
                let ctx = Owned::new(StorageCtx(s));
                st.user = ctx.ptr;
                st.load = Some(st_load);
                st.save_hard_state = Some(st_save_hard_state);
                st.append = Some(st_append);
                st.truncate = Some(st_truncate);
                st.sync = Some(st_sync);
                st.snapshot_write = Some(st_snapshot_write);
                st.snapshot_read = Some(st_snapshot_read);
                contexts.push(ctx);
            }
        }
        match transport {
            TransportArg::Hub(hub, id) => {
                // SAFETY: hub is live (kept alive by the node below).
                check(unsafe { sys::craft_hub_transport(hub.0.as_ptr(), id, &mut tr) })?;
                keep.push(Box::new(hub));
            }
            TransportArg::Tcp(t) => {
                let taken = TcpUse::take(t)?;
                // SAFETY: the transport is live (kept alive by the node
                // below); tr was initialised.
                check(unsafe { sys::craft_tcp_transport(taken.0.ptr.as_ptr(), &mut tr) })?;
                tcp = Some(taken);
            }
            TransportArg::User(t) => {
                let ctx = Owned::new(TransportCtx(t));
                tr.user = ctx.ptr;
                tr.send = Some(tr_send);
                contexts.push(ctx);
            }
        }
        let fctx = Owned::new(FsmCtx {
            fsm,
            result: Vec::new(),
        });
        fo.user = fctx.ptr;
        fo.apply = Some(fsm_apply::<S>);
        fo.snapshot = Some(fsm_snapshot::<S>);
        fo.restore = Some(fsm_restore::<S>);
        contexts.push(fctx);

        opts.storage = &st;
        opts.transport = &tr;
        opts.fsm = &fo;
        opts.engine = &engine;
        if cfg.trace_stderr && cfg.trace_level > 0 {
            // The library's own printer: it ignores trace_user.
            opts.trace = Some(sys::craft_trace_stderr);
            opts.trace_level = cfg.trace_level;
        } else if cfg.trace_level > 0 {
            opts.trace = Some(trace_cb);
            opts.trace_level = cfg.trace_level;
        }

        let mut out: *mut sys::craft_node = std::ptr::null_mut();
        let mut msg = [0 as c_char; 512];
        // SAFETY: opts and the tables it points to are ours and valid for
        // the call (they are copied); the user pointers in them stay valid
        // until the node is freed (they are in `contexts`). load runs now,
        // on this thread. msg is ours, msg.len() bytes, written only during
        // the call and NUL-terminated by it.
        let rc =
            unsafe { sys::craft_node_create_msg(&opts, &mut out, msg.as_mut_ptr(), msg.len()) };
        let ptr = match NonNull::new(out) {
            Some(p) if rc == 0 => p,
            _ => {
                let code = Error::from_code(if rc == 0 { sys::CRAFT_ENOMEM } else { rc }, 0);
                // SAFETY: the call NUL-terminated msg (it was zeroed, too).
                let message = unsafe { CStr::from_ptr(msg.as_ptr()) }
                    .to_string_lossy()
                    .into_owned();
                // contexts and keep are dropped here: no node uses them.
                return Err(Error::Create {
                    code: Box::new(code),
                    message,
                });
            }
        };
        Ok(RawNode {
            ptr,
            parts: Some(Parts {
                _contexts: contexts,
                _keep: keep,
                tcp,
            }),
        })
    }

    fn p(&self) -> *mut sys::craft_node {
        self.ptr.as_ptr()
    }

    /// craft_node_bootstrap. Called only by the builder, on the thread
    /// that created the node, before start (the C rule).
    pub(crate) fn bootstrap(&self, ids: &[u64]) -> Result<(), Error> {
        // SAFETY: a live node; ids is read during the call.
        check(unsafe { sys::craft_node_bootstrap(self.p(), ids.as_ptr(), ids.len()) })
    }

    /// craft_node_start. Called only by the builder, on the thread that
    /// created the node.
    pub(crate) fn start(&self) -> Result<(), Error> {
        // SAFETY: a live node.
        check(unsafe { sys::craft_node_start(self.p()) })
    }

    pub(crate) fn shutdown(&self) -> Result<(), Error> {
        // SAFETY: a live node; thread-safe.
        check(unsafe { sys::craft_node_shutdown(self.p()) })
    }

    pub(crate) fn receive(&self, data: &[u8]) -> Result<(), Error> {
        // SAFETY: a live node; data is copied.
        check(unsafe { sys::craft_node_receive(self.p(), data.as_ptr().cast(), data.len()) })
    }

    pub(crate) fn id(&self) -> u64 {
        // SAFETY: a live node; the cheap reads are thread-safe.
        unsafe { sys::craft_node_id(self.p()) }
    }

    pub(crate) fn role(&self) -> Role {
        // SAFETY: as above.
        Role::from_c(unsafe { sys::craft_node_role(self.p()) })
    }

    pub(crate) fn term(&self) -> u64 {
        // SAFETY: as above.
        unsafe { sys::craft_node_term(self.p()) }
    }

    pub(crate) fn leader(&self) -> Option<u64> {
        // SAFETY: as above.
        hint(unsafe { sys::craft_node_leader(self.p()) })
    }

    pub(crate) fn applied_index(&self) -> u64 {
        // SAFETY: as above.
        unsafe { sys::craft_node_applied_index(self.p()) }
    }

    /// craft_node_propose_wait: blocks until the proposal completes.
    pub(crate) fn propose_wait(
        &self,
        data: &[u8],
        timeout: std::time::Duration,
    ) -> Result<Outcome, Error> {
        let mut res: *mut sys::craft_result = std::ptr::null_mut();
        // SAFETY: a live node; data is copied; res receives a result we
        // own and free below.
        let rc = unsafe {
            sys::craft_node_propose_wait(
                self.p(),
                data.as_ptr().cast(),
                data.len(),
                timeout_ms(timeout),
                &mut res,
            )
        };
        if res.is_null() {
            return Err(Error::from_code(if rc == 0 { ECALLBACK } else { rc }, 0));
        }
        // SAFETY: res is the result the call handed us; freed once.
        let outcome = unsafe {
            let o = Outcome::from_c(res);
            sys::craft_result_free(res);
            o
        };
        outcome.into_result()
    }

    /// Starts an asynchronous call: `f` makes the C call with the
    /// completion callback and its context. On error the job is dropped
    /// without running (the callback will never be invoked).
    fn submit(
        &self,
        job: Job,
        f: impl FnOnce(*mut sys::craft_node, sys::craft_node_cb, *mut c_void) -> c_int,
    ) -> Result<(), Error> {
        let ctx: *mut Job = Box::into_raw(Box::new(job));
        let rc = f(self.p(), Some(complete_cb), ctx.cast());
        if rc != 0 {
            // SAFETY: the call failed, so the library never invokes the
            // callback (node.h): the context is still ours.
            drop(unsafe { Box::from_raw(ctx) });
            return Err(Error::from_code(rc, 0));
        }
        Ok(())
    }

    pub(crate) fn propose(
        &self,
        data: &[u8],
        timeout: std::time::Duration,
        job: Job,
    ) -> Result<(), Error> {
        let t = timeout_ms(timeout);
        self.submit(job, |n, cb, ctx| {
            // SAFETY: a live node; data is copied; ctx stays valid until
            // the callback (see submit).
            unsafe { sys::craft_node_propose(n, data.as_ptr().cast(), data.len(), t, cb, ctx) }
        })
    }

    pub(crate) fn read(&self, timeout: std::time::Duration, job: Job) -> Result<(), Error> {
        let t = timeout_ms(timeout);
        self.submit(job, |n, cb, ctx| {
            // SAFETY: as in propose.
            unsafe { sys::craft_node_read_linearizable(n, t, cb, ctx) }
        })
    }

    pub(crate) fn change(
        &self,
        what: Change,
        peer: u64,
        timeout: std::time::Duration,
        job: Job,
    ) -> Result<(), Error> {
        let t = timeout_ms(timeout);
        self.submit(job, |n, cb, ctx| {
            // SAFETY: as in propose; an address is copied.
            unsafe {
                match &what {
                    Change::AddPeer => sys::craft_node_add_peer(n, peer, t, cb, ctx),
                    Change::AddLearner => sys::craft_node_add_learner(n, peer, t, cb, ctx),
                    Change::Promote => sys::craft_node_promote_learner(n, peer, t, cb, ctx),
                    Change::Remove => sys::craft_node_remove_peer(n, peer, t, cb, ctx),
                    Change::Transfer => sys::craft_node_transfer_leadership(n, peer, t, cb, ctx),
                    Change::AddPeerAt(a) => sys::craft_node_add_peer_addr(
                        n,
                        peer,
                        a.as_ptr().cast(),
                        a.len(),
                        t,
                        cb,
                        ctx,
                    ),
                    Change::AddLearnerAt(a) => sys::craft_node_add_learner_addr(
                        n,
                        peer,
                        a.as_ptr().cast(),
                        a.len(),
                        t,
                        cb,
                        ctx,
                    ),
                }
            }
        })
    }

    pub(crate) fn trigger_snapshot(
        &self,
        timeout: std::time::Duration,
        job: Job,
    ) -> Result<(), Error> {
        let t = timeout_ms(timeout);
        self.submit(job, |n, cb, ctx| {
            // SAFETY: as in propose.
            unsafe { sys::craft_node_trigger_snapshot(n, t, cb, ctx) }
        })
    }

    pub(crate) fn status(&self) -> Result<Status, Error> {
        let mut st: *mut sys::craft_status = std::ptr::null_mut();
        // SAFETY: a live node; st receives a status we own, read and
        // freed by take_status.
        unsafe {
            check(sys::craft_node_status(self.p(), &mut st))?;
            Self::take_status(st)
        }
    }

    /// The published membership and its version (no wait for the driver).
    pub(crate) fn membership(&self) -> Result<(Status, u64), Error> {
        let mut st: *mut sys::craft_status = std::ptr::null_mut();
        let mut version = 0u64;
        // SAFETY: as in status.
        unsafe {
            check(sys::craft_node_membership(self.p(), &mut st, &mut version))?;
            Ok((Self::take_status(st)?, version))
        }
    }

    pub(crate) fn membership_version(&self) -> u64 {
        // SAFETY: a live node; an atomic read.
        unsafe { sys::craft_node_membership_version(self.p()) }
    }

    /// craft_node_bootstrap_addr. Builder only, as bootstrap.
    pub(crate) fn bootstrap_addr(&self, members: &[(u64, String)]) -> Result<(), Error> {
        let ids: Vec<u64> = members.iter().map(|m| m.0).collect();
        let addrs: Vec<sys::craft_buf> = members
            .iter()
            .map(|m| sys::craft_buf {
                base: m.1.as_ptr().cast(),
                len: m.1.len(),
            })
            .collect();
        // SAFETY: a live node; ids and addrs (pointing into members) are
        // read during the call and copied.
        check(unsafe {
            sys::craft_node_bootstrap_addr(self.p(), ids.as_ptr(), addrs.as_ptr(), ids.len())
        })
    }

    /// Reads a status into its Rust copy and frees it.
    ///
    /// # Safety
    /// `st` is NULL or a status the caller owns; it is freed here.
    unsafe fn take_status(st: *mut sys::craft_status) -> Result<Status, Error> {
        {
            if st.is_null() {
                return Err(Error::NoMemory);
            }
            let n = sys::craft_status_member_count(st);
            let mut members = Vec::with_capacity(n);
            for k in 0..n {
                let (mut id, mut role, mut m, mut nx, mut ps) = (0u64, 0i32, 0u64, 0u64, 0i32);
                if sys::craft_status_member(st, k, &mut id, &mut role, &mut m, &mut nx, &mut ps)
                    == 0
                {
                    let (mut a, mut alen) = (std::ptr::null::<c_void>(), 0usize);
                    let address = if sys::craft_status_member_addr(st, k, &mut a, &mut alen) == 0
                        && alen > 0
                    {
                        Some(String::from_utf8_lossy(bytes(a, alen)).into_owned())
                    } else {
                        None
                    };
                    members.push(Member {
                        id,
                        role: MemberRole::from_c(role),
                        match_index: m,
                        next_index: nx,
                        address,
                    });
                }
            }
            let s = Status {
                id: sys::craft_status_id(st),
                role: Role::from_c(sys::craft_status_role(st)),
                term: sys::craft_status_term(st),
                leader: hint(sys::craft_status_leader(st)),
                commit_index: sys::craft_status_commit_index(st),
                applied_index: sys::craft_status_applied_index(st),
                last_index: sys::craft_status_last_index(st),
                snapshot_index: sys::craft_status_snapshot_index(st),
                members,
            };
            sys::craft_status_free(st);
            Ok(s)
        }
    }

    /// Every metric: (Prometheus name, value).
    pub(crate) fn metrics(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for id in 1.. {
            // SAFETY: thread-safe; static strings; a live node.
            let name = match unsafe { cstr(sys::craft_metric_name(id)) } {
                Some(n) => n,
                None => break,
            };
            let mut v = 0u64;
            if unsafe { sys::craft_node_metric(self.p(), id, &mut v) } == 0 {
                out.push((name, v));
            }
        }
        out
    }

    pub(crate) fn metrics_text(&self) -> String {
        let mut buf = vec![0u8; 8192];
        loop {
            let mut len = 0usize;
            // SAFETY: a live node; buf is ours with buf.len() bytes.
            let rc = unsafe {
                sys::craft_node_metrics_text(self.p(), buf.as_mut_ptr().cast(), buf.len(), &mut len)
            };
            if rc == sys::CRAFT_ETOOBIG && len + 1 > buf.len() {
                buf.resize(len + 1, 0);
                continue;
            }
            if rc != 0 {
                return String::new();
            }
            buf.truncate(len.min(buf.len()));
            return String::from_utf8_lossy(&buf).into_owned();
        }
    }

    pub(crate) fn errmsg(&self) -> String {
        let mut buf = vec![0u8; 512];
        // SAFETY: a live node; buf is ours.
        let n = unsafe { sys::craft_node_errmsg(self.p(), buf.as_mut_ptr().cast(), buf.len()) };
        if n + 1 > buf.len() {
            buf.resize(n + 1, 0);
            // SAFETY: as above.
            unsafe { sys::craft_node_errmsg(self.p(), buf.as_mut_ptr().cast(), buf.len()) };
        }
        buf.truncate(n.min(buf.len().saturating_sub(1)));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Attaches this node to a hub as the receiver of bytes sent to id.
    pub(crate) fn attach(&self, hub: &RawHub, id: u64) -> Result<(), Error> {
        // SAFETY: both live; the node stays attached at most until
        // Node::drop detaches it, before the node is freed.
        check(unsafe { sys::craft_hub_attach(hub.0.as_ptr(), id, self.p()) })
    }

    /// Attaches this node to its TCP transport (if it has one), as the
    /// receiver of what peers send and the source of their addresses.
    /// Called only by the builder, before start.
    pub(crate) fn attach_tcp(&self) -> Result<(), Error> {
        match self.parts.as_ref().and_then(|p| p.tcp.as_ref()) {
            // SAFETY: both live; finish() detaches the node after its
            // shutdown and before it is freed.
            Some(t) => check(unsafe { sys::craft_tcp_attach(t.0.ptr.as_ptr(), self.p()) }),
            None => Ok(()),
        }
    }
}

/// Shuts down and frees a node, then releases what its callbacks used.
fn finish(ptr: NodePtr, parts: Option<Parts>) {
    // SAFETY: the node is ours alone (RawNode is being dropped) and no
    // call on it is running (no &RawNode is left); after free nothing
    // uses the contexts, released next.
    unsafe {
        sys::craft_node_shutdown(ptr.0.as_ptr());
        if let Some(t) = parts.as_ref().and_then(|p| p.tcp.as_ref()) {
            // The node sends no more; once this returns the transport's
            // event loop no longer hands it anything.
            sys::craft_tcp_attach(t.0.ptr.as_ptr(), std::ptr::null_mut());
        }
        sys::craft_node_free(ptr.0.as_ptr());
    }
    drop(parts);
}

impl Drop for RawNode {
    fn drop(&mut self) {
        let parts = self.parts.take();
        // SAFETY: a live node; thread-safe.
        let rc = unsafe { sys::craft_node_shutdown(self.p()) };
        let ptr = NodePtr(self.ptr);
        if rc == sys::CRAFT_ESTATE {
            // Dropped on one of the node's own threads (inside one of its
            // callbacks): shutting down here would wait for this very
            // thread. Finish on a thread of its own; the callback returns
            // and the node's threads then stop.
            let spawned = std::thread::Builder::new()
                .name("craft-node-free".into())
                .spawn(move || finish(ptr, parts));
            if spawned.is_err() {
                tracing::error!(target: "craft::binding",
                    "cannot start a thread to free a node dropped in its own callback; it is leaked");
            }
            return;
        }
        finish(ptr, parts);
    }
}

// ---- batteries -------------------------------------------------------------

/// An owned craft_mem_storage.
pub(crate) struct RawMemStorage(NonNull<sys::craft_mem_storage>);

// SAFETY: every craft_mem_storage function is thread-safe (testing.h);
// it is freed only in Drop, once no node holds it (nodes keep an Arc).
unsafe impl Send for RawMemStorage {}
unsafe impl Sync for RawMemStorage {}

impl RawMemStorage {
    pub(crate) fn new() -> Result<RawMemStorage, Error> {
        let mut p = std::ptr::null_mut();
        // SAFETY: p receives a storage we own.
        check(unsafe { sys::craft_mem_storage_create(std::ptr::null(), &mut p) })?;
        NonNull::new(p).map(RawMemStorage).ok_or(Error::NoMemory)
    }

    pub(crate) fn crash(&self) -> Result<(), Error> {
        // SAFETY: live, thread-safe.
        check(unsafe { sys::craft_mem_storage_crash(self.0.as_ptr()) })
    }

    pub(crate) fn fail(&self, code: i32) -> Result<(), Error> {
        // SAFETY: live, thread-safe.
        check(unsafe { sys::craft_mem_storage_fail(self.0.as_ptr(), code) })
    }

    /// (last index, snapshot index, term, vote, syncs).
    pub(crate) fn numbers(&self) -> (u64, u64, u64, u64, u64) {
        let p = self.0.as_ptr();
        // SAFETY: live, thread-safe.
        unsafe {
            (
                sys::craft_mem_storage_last_index(p),
                sys::craft_mem_storage_snapshot_index(p),
                sys::craft_mem_storage_term(p),
                sys::craft_mem_storage_vote(p),
                sys::craft_mem_storage_syncs(p),
            )
        }
    }
}

impl Drop for RawMemStorage {
    fn drop(&mut self) {
        // SAFETY: no node uses it any more (each holds an Arc to it).
        unsafe { sys::craft_mem_storage_free(self.0.as_ptr()) }
    }
}

/// An owned craft_hub.
pub(crate) struct RawHub(NonNull<sys::craft_hub>);

// SAFETY: every craft_hub function is thread-safe (testing.h); it is
// freed only in Drop, once no node sends through it (nodes keep an Arc).
unsafe impl Send for RawHub {}
unsafe impl Sync for RawHub {}

impl RawHub {
    pub(crate) fn new() -> Result<RawHub, Error> {
        let mut p = std::ptr::null_mut();
        // SAFETY: p receives a hub we own.
        check(unsafe { sys::craft_hub_create(std::ptr::null(), &mut p) })?;
        NonNull::new(p).map(RawHub).ok_or(Error::NoMemory)
    }

    pub(crate) fn detach(&self, id: u64) -> Result<(), Error> {
        // SAFETY: live, thread-safe.
        check(unsafe { sys::craft_hub_detach(self.0.as_ptr(), id) })
    }

    pub(crate) fn set_link(&self, from: u64, to: u64, up: bool) -> Result<(), Error> {
        // SAFETY: live, thread-safe.
        check(unsafe { sys::craft_hub_set_link(self.0.as_ptr(), from, to, c_int::from(up)) })
    }

    pub(crate) fn isolate(&self, id: u64, isolated: bool) -> Result<(), Error> {
        // SAFETY: live, thread-safe.
        check(unsafe { sys::craft_hub_isolate(self.0.as_ptr(), id, c_int::from(isolated)) })
    }

    pub(crate) fn set_busy(&self, id: u64, busy: bool) -> Result<(), Error> {
        // SAFETY: live, thread-safe.
        check(unsafe { sys::craft_hub_set_busy(self.0.as_ptr(), id, c_int::from(busy)) })
    }

    pub(crate) fn counts(&self) -> (u64, u64) {
        // SAFETY: live, thread-safe.
        unsafe {
            (
                sys::craft_hub_delivered(self.0.as_ptr()),
                sys::craft_hub_lost(self.0.as_ptr()),
            )
        }
    }
}

impl Drop for RawHub {
    fn drop(&mut self) {
        // SAFETY: no node sends through it any more (each holds an Arc).
        unsafe { sys::craft_hub_free(self.0.as_ptr()) }
    }
}

/// Options of a file storage, as the safe side gives them.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileOptions {
    pub sync_mode: Option<u32>,
    pub segment_bytes: Option<u64>,
    pub cluster_id: Option<u64>,
    pub node_id: Option<u64>,
    pub preallocate: Option<bool>,
    pub trace_level: i32,
}

/// An open craft_file_storage.
pub(crate) struct RawFileStorage(NonNull<sys::craft_file_storage>);

// SAFETY: open, close and errmsg may be called from any thread and the
// methods are serialized by the storage's lock (storage.h); it is closed
// only in Drop, once no node uses it (nodes keep an Arc).
unsafe impl Send for RawFileStorage {}
unsafe impl Sync for RawFileStorage {}

impl RawFileStorage {
    /// craft_file_storage_open; Err carries the code and the message.
    pub(crate) fn open(
        dir: &std::path::Path,
        o: &FileOptions,
    ) -> Result<RawFileStorage, (Error, String)> {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
            (
                Error::InvalidArgument,
                "the path holds a NUL byte".to_string(),
            )
        })?;
        let mut opts: sys::craft_file_storage_options = zeroed();
        let mut errbuf = vec![0u8; 1024];
        // SAFETY: fills a struct we own.
        check(unsafe { sys::craft_file_storage_options_init(&mut opts) })
            .map_err(|e| (e, String::new()))?;
        if let Some(v) = o.sync_mode {
            opts.sync_mode = v;
        }
        if let Some(v) = o.segment_bytes {
            opts.segment_bytes = v;
        }
        if let Some(v) = o.cluster_id {
            opts.cluster_id = v;
        }
        if let Some(v) = o.node_id {
            opts.node_id = v;
        }
        if let Some(v) = o.preallocate {
            opts.preallocate = c_int::from(v);
        }
        if o.trace_level > 0 {
            opts.trace = Some(trace_cb);
            opts.trace_level = o.trace_level;
        }
        opts.errbuf = errbuf.as_mut_ptr().cast();
        opts.errbuf_size = errbuf.len();
        let mut p = std::ptr::null_mut();
        // SAFETY: dir and opts (with errbuf) are valid for the call; the
        // trace callback needs no user pointer.
        let rc = unsafe { sys::craft_file_storage_open(dir.as_ptr(), &opts, &mut p) };
        match NonNull::new(p) {
            Some(p) if rc == 0 => Ok(RawFileStorage(p)),
            _ => {
                let end = errbuf.iter().position(|&b| b == 0).unwrap_or(errbuf.len());
                let msg = String::from_utf8_lossy(&errbuf[..end]).into_owned();
                Err((
                    Error::from_code(if rc == 0 { sys::CRAFT_ENOMEM } else { rc }, 0),
                    msg,
                ))
            }
        }
    }

    pub(crate) fn errmsg(&self) -> String {
        let mut buf = vec![0u8; 1024];
        // SAFETY: live; buf is ours.
        let n = unsafe {
            sys::craft_file_storage_errmsg(self.0.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        buf.truncate(n.min(buf.len() - 1));
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Drop for RawFileStorage {
    fn drop(&mut self) {
        // SAFETY: no node uses it any more (each holds an Arc to it).
        unsafe { sys::craft_file_storage_close(self.0.as_ptr()) }
    }
}

/// Options of a TCP transport, as the safe side gives them.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpOptions {
    pub cluster_id: u64,
    pub listen: Option<String>,
    pub advertise: Option<String>,
    pub max_frame_bytes: Option<u32>,
    pub queue_messages: Option<u32>,
    pub queue_bytes: Option<u64>,
    pub connect_timeout_ms: Option<u32>,
    pub backoff_ms: Option<(u32, u32)>,
    pub stall_timeout_ms: Option<u32>,
    pub seed: u64,
    pub trace_level: i32,
}

/// An owned craft_tcp.
pub(crate) struct RawTcp {
    ptr: NonNull<sys::craft_tcp>,
    id: u64,
    listen: String,
    /// Set while a node uses it: one node at a time.
    used: std::sync::atomic::AtomicBool,
}

// SAFETY: every craft_tcp function may be called from any thread except
// craft_tcp_free, which must not run concurrently with any other call on
// the transport nor with a send through its ops (tcp.h,
// "Thread-safety"); it runs only in Drop, which has the transport
// exclusively, and a node keeps an Arc to it until the node is freed.
unsafe impl Send for RawTcp {}
unsafe impl Sync for RawTcp {}

fn c_string(s: &str, what: &str) -> Result<std::ffi::CString, (Error, String)> {
    std::ffi::CString::new(s).map_err(|_| {
        (
            Error::InvalidArgument,
            format!("the {what} holds a NUL byte"),
        )
    })
}

impl RawTcp {
    /// craft_tcp_create; Err carries the code and a message.
    pub(crate) fn create(id: u64, o: &TcpOptions) -> Result<RawTcp, (Error, String)> {
        let mut opts: sys::craft_tcp_options = zeroed();
        // SAFETY: fills a struct we own.
        check(unsafe { sys::craft_tcp_options_init(&mut opts) }).map_err(|e| (e, String::new()))?;
        let listen_s = o.listen.as_deref().unwrap_or("127.0.0.1:0");
        let listen = c_string(listen_s, "listen address")?;
        let advertise = o
            .advertise
            .as_deref()
            .map(|a| c_string(a, "advertised address"))
            .transpose()?;
        opts.node_id = id;
        opts.cluster_id = o.cluster_id;
        opts.listen = listen.as_ptr();
        if let Some(a) = &advertise {
            opts.advertise = a.as_ptr();
        }
        if let Some(v) = o.max_frame_bytes {
            opts.max_frame_bytes = v;
        }
        if let Some(v) = o.queue_messages {
            opts.queue_messages = v;
        }
        if let Some(v) = o.queue_bytes {
            opts.queue_bytes = v;
        }
        if let Some(v) = o.connect_timeout_ms {
            opts.connect_timeout_ms = v;
        }
        if let Some((lo, hi)) = o.backoff_ms {
            opts.backoff_min_ms = lo;
            opts.backoff_max_ms = hi;
        }
        if let Some(v) = o.stall_timeout_ms {
            opts.stall_timeout_ms = v;
        }
        opts.seed = o.seed;
        if o.trace_level > 0 {
            opts.trace = Some(trace_cb);
            opts.trace_level = o.trace_level;
        }
        let mut p = std::ptr::null_mut();
        // SAFETY: opts and its strings are valid for the call (copied by
        // it); the trace callback needs no user pointer.
        let rc = unsafe { sys::craft_tcp_create(&opts, &mut p) };
        match NonNull::new(p) {
            Some(ptr) if rc == 0 => Ok(RawTcp {
                ptr,
                id,
                listen: listen_s.to_string(),
                used: std::sync::atomic::AtomicBool::new(false),
            }),
            _ => {
                let code = Error::from_code(if rc == 0 { sys::CRAFT_ENOMEM } else { rc }, 0);
                let msg = match rc {
                    sys::CRAFT_EIO => format!("cannot listen on {listen_s}"),
                    sys::CRAFT_EINVAL => {
                        "node id 0, a malformed address or an option out of range".to_string()
                    }
                    _ => String::new(),
                };
                Err((code, msg))
            }
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn listen(&self) -> &str {
        &self.listen
    }

    pub(crate) fn port(&self) -> u16 {
        // SAFETY: live, thread-safe.
        unsafe { sys::craft_tcp_port(self.ptr.as_ptr()) }
    }

    pub(crate) fn set_peer(&self, id: u64, addr: Option<&str>) -> Result<(), Error> {
        let addr =
            std::ffi::CString::new(addr.unwrap_or("")).map_err(|_| Error::InvalidArgument)?;
        // SAFETY: live, thread-safe; addr is copied.
        check(unsafe { sys::craft_tcp_set_peer(self.ptr.as_ptr(), id, addr.as_ptr()) })
    }

    pub(crate) fn peers(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = Vec::new();
        loop {
            let mut n = 0usize;
            // SAFETY: live, thread-safe; ids has room for ids.len().
            let rc = unsafe {
                sys::craft_tcp_peers(self.ptr.as_ptr(), ids.as_mut_ptr(), ids.len(), &mut n)
            };
            if rc != 0 {
                return Vec::new();
            }
            if n <= ids.len() {
                ids.truncate(n);
                return ids;
            }
            ids = vec![0; n];
        }
    }

    /// Every metric by name, for one peer or (0) in total.
    pub(crate) fn metrics(&self, peer: u64) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for id in 1.. {
            // SAFETY: returns a static string or NULL (tcp.h).
            let Some(name) = (unsafe { cstr(sys::craft_tcp_metric_name(id)) }) else {
                break;
            };
            let mut v = 0u64;
            // SAFETY: live, thread-safe.
            if unsafe { sys::craft_tcp_metric(self.ptr.as_ptr(), peer, id, &mut v) } == 0 {
                out.push((name, v));
            }
        }
        out
    }
}

impl Drop for RawTcp {
    fn drop(&mut self) {
        // SAFETY: no node uses it any more (each holds an Arc to it, and
        // detaches itself before it is freed); we have it exclusively.
        unsafe { sys::craft_tcp_free(self.ptr.as_ptr()) }
    }
}

/// A TCP transport taken by one node; released when the node is freed.
struct TcpUse(Arc<RawTcp>);

impl TcpUse {
    fn take(t: Arc<RawTcp>) -> Result<TcpUse, Error> {
        use std::sync::atomic::Ordering;
        if t.used.swap(true, Ordering::AcqRel) {
            return Err(Error::Create {
                code: Box::new(Error::Busy),
                message: "the TCP transport is in use by another node".to_string(),
            });
        }
        Ok(TcpUse(t))
    }
}

impl Drop for TcpUse {
    fn drop(&mut self) {
        self.0
            .used
            .store(false, std::sync::atomic::Ordering::Release);
    }
}
