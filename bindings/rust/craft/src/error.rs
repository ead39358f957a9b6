//! The crate's error type: one variant per `CRAFT_E*` code of the C
//! library, plus the few things only the binding can go wrong with.

use std::fmt;

/// A boxed error, what the user's state machine returns from `apply`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a call into craft.
///
/// Each variant but the last three stands for one `CRAFT_E*` code of the C
/// library (`include/craft/common.h`); [`Error::code`] gives it back and
/// [`Display`](fmt::Display) prints the library's own description.
///
/// ```
/// use craft::Error;
/// let e = Error::from_code(-8, 2);
/// assert_eq!(e, Error::NotLeader { leader: Some(2) });
/// assert_eq!(e.code(), -8);
/// assert!(e.to_string().contains("CRAFT_ENOTLEADER"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `CRAFT_EINVAL`: an argument is zero, empty or out of range.
    InvalidArgument,
    /// `CRAFT_ENOMEM`: an allocation failed; nothing changed.
    NoMemory,
    /// `CRAFT_ESTRUCT`: an options struct has a size the library rejects.
    StructSize,
    /// `CRAFT_EMALFORMED`: bytes do not decode.
    Malformed,
    /// `CRAFT_ECHECKSUM`: bytes decode but their checksum is wrong.
    Checksum,
    /// `CRAFT_EVERSION`: a format version this build does not know.
    Version,
    /// `CRAFT_ETOOBIG`: a buffer or count exceeds a limit.
    TooBig,
    /// `CRAFT_ENOTLEADER`: only a leader can do this. `leader` is the
    /// leader this node knows of, when it knows one: retry there.
    NotLeader {
        /// The known leader's id, `None` when unknown.
        leader: Option<u64>,
    },
    /// `CRAFT_EUNKNOWNPEER`: the peer is not a member.
    UnknownPeer,
    /// `CRAFT_ESHUTDOWN`: the node is shut down.
    Shutdown,
    /// `CRAFT_EBUSY`: a queue is full or another change is in progress:
    /// retry later.
    Busy,
    /// `CRAFT_ETIMEDOUT`: the deadline passed. For a proposal the outcome
    /// is unknown: it may still commit.
    TimedOut,
    /// `CRAFT_ELOST`: the proposal was overwritten by a new leader's entry
    /// and will never commit.
    Lost,
    /// `CRAFT_ESTEPPEDDOWN`: leadership was lost while waiting; the
    /// outcome is unknown.
    SteppedDown,
    /// `CRAFT_ENOTREADY`: the leader has not committed in its term yet.
    NotReady,
    /// `CRAFT_ECALLBACK`: a user callback (state machine, storage,
    /// transport) returned an error or panicked. For a proposal: it was
    /// committed, but `apply` failed.
    Callback,
    /// `CRAFT_ESTATE`: the call is not valid now, e.g. a blocking call
    /// made from inside one of the node's own callbacks.
    State,
    /// `CRAFT_EIO`: storage or transport failed; the node stopped.
    Io,
    /// `CRAFT_ECORRUPT`: persisted state contradicts itself.
    Corrupt,
    /// `CRAFT_EEXIST`: the thing already exists (e.g. already a member).
    Exists,
    /// `CRAFT_ENOENT`: the thing does not exist.
    NotFound,
    /// `CRAFT_ECANCELED`: canceled, e.g. by shutdown.
    Canceled,
    /// A code this binding does not know (a newer library).
    Other(i32),
    /// Creating a node or opening a storage failed: `code` is the error,
    /// `message` the library's detailed message when it gave one.
    Create {
        /// What went wrong.
        code: Box<Error>,
        /// The library's detail message ("" when none).
        message: String,
    },
    /// A closure given to [`Node::read`](crate::Node::read) panicked on
    /// the apply thread (the panic is re-raised on the caller's thread
    /// by `read`; `read_async` returns this instead).
    Panicked(String),
}

impl Error {
    /// The error for C code `code` (negative); `leader` is the hint that
    /// goes with `CRAFT_ENOTLEADER` (0 when none).
    pub fn from_code(code: i32, leader: u64) -> Error {
        match code {
            -1 => Error::InvalidArgument,
            -2 => Error::NoMemory,
            -3 => Error::StructSize,
            -4 => Error::Malformed,
            -5 => Error::Checksum,
            -6 => Error::Version,
            -7 => Error::TooBig,
            -8 => Error::NotLeader {
                leader: if leader == 0 { None } else { Some(leader) },
            },
            -9 => Error::UnknownPeer,
            -10 => Error::Shutdown,
            -11 => Error::Busy,
            -12 => Error::TimedOut,
            -13 => Error::Lost,
            -14 => Error::SteppedDown,
            -15 => Error::NotReady,
            -16 => Error::Callback,
            -17 => Error::State,
            -18 => Error::Io,
            -19 => Error::Corrupt,
            -20 => Error::Exists,
            -21 => Error::NotFound,
            -22 => Error::Canceled,
            c => Error::Other(c),
        }
    }

    /// The C code (`CRAFT_E*`, negative) this error stands for. A panic
    /// maps to `CRAFT_ECALLBACK`, a create error to its code's.
    pub fn code(&self) -> i32 {
        match self {
            Error::InvalidArgument => -1,
            Error::NoMemory => -2,
            Error::StructSize => -3,
            Error::Malformed => -4,
            Error::Checksum => -5,
            Error::Version => -6,
            Error::TooBig => -7,
            Error::NotLeader { .. } => -8,
            Error::UnknownPeer => -9,
            Error::Shutdown => -10,
            Error::Busy => -11,
            Error::TimedOut => -12,
            Error::Lost => -13,
            Error::SteppedDown => -14,
            Error::NotReady => -15,
            Error::Callback | Error::Panicked(_) => -16,
            Error::State => -17,
            Error::Io => -18,
            Error::Corrupt => -19,
            Error::Exists => -20,
            Error::NotFound => -21,
            Error::Canceled => -22,
            Error::Other(c) => *c,
            Error::Create { code, .. } => code.code(),
        }
    }

    /// True for the errors after which retrying the same call may succeed
    /// (on this node or, for [`Error::NotLeader`], on the leader).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NotLeader { .. }
                | Error::Busy
                | Error::NotReady
                | Error::TimedOut
                | Error::SteppedDown
                | Error::Lost
        )
    }
}

/// `Ok(())` for `CRAFT_OK`, else the error.
pub(crate) fn check(rc: i32) -> Result<(), Error> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::from_code(rc, 0))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLeader { leader: Some(l) } => {
                write!(f, "{} (leader: {l})", crate::ffi::strerror(-8))
            }
            Error::Create { code, message } if !message.is_empty() => {
                write!(f, "{code}: {message}")
            }
            Error::Create { code, .. } => write!(f, "{code}"),
            Error::Panicked(msg) => write!(f, "a callback panicked: {msg}"),
            e => f.write_str(&crate::ffi::strerror(e.code())),
        }
    }
}

impl std::error::Error for Error {}

/// What a user's storage or transport returns when an I/O call fails:
/// the node sees `CRAFT_EIO` (or `CRAFT_ENOENT` for `NotFound`).
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound,
            _ => Error::Io,
        }
    }
}
