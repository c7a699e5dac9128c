//! Errors of the whole crate.

use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name is longer than 2047 bytes (C: `ENAMETOOLONG`).
    #[error("name is {0} bytes long; names are at most 2047 bytes")]
    NameTooLong(usize),
    /// A name contains a NUL byte (C cannot even express it).
    #[error("name contains a NUL byte")]
    NameHasNul,
    /// A string value contains a NUL byte.
    #[error("string value of {0:?} contains a NUL byte")]
    StringHasNul(String),
    /// A pair with that name already exists in a list without `NO_UNIQUE` (C: `EEXIST`).
    #[error("a pair named {0:?} already exists")]
    Exists(String),
    /// An empty array or binary was given (C: `EINVAL`).
    #[error("empty {kind} for {name:?}: libnv cannot transport empty arrays or binaries")]
    Empty {
        /// What was empty (`"binary"`, `"number array"`, ...).
        kind: &'static str,
        /// The pair's name.
        name: String,
    },
    /// `pack` was asked to pack a list holding descriptors (C: `EOPNOTSUPP`); use the send path.
    #[error("the list holds descriptors; only the send path can pack it")]
    HasDescriptors,
    /// Wrong use of [`crate::NvWriter`] (closing what is not open, adding inside an array, ...).
    #[error("writer misuse: {0}")]
    Writer(&'static str),
    /// The received or given bytes are not an acceptable packed nvlist.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer closed the connection (at a message boundary when `mid_message` is false).
    #[error("peer closed the connection{}", if *mid_message { " in the middle of a message" } else { "" })]
    Closed {
        /// Whether part of a message had already arrived.
        mid_message: bool,
    },
    /// An earlier framing error (named here) left an [`crate::NvReceiver`]'s stream
    /// unusable; close the connection.
    #[error("stream unusable after an earlier error: {0}")]
    StreamBroken(String),
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, source: impl Into<std::io::Error>) -> Self {
        Error::Io {
            op,
            source: source.into(),
        }
    }

    /// The errno value the C library would have reported for this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::NameTooLong(_) => Some(libc::ENAMETOOLONG),
            Error::NameHasNul | Error::StringHasNul(_) | Error::Empty { .. } => Some(libc::EINVAL),
            Error::Exists(_) => Some(libc::EEXIST),
            Error::HasDescriptors => Some(libc::EOPNOTSUPP),
            Error::Writer(_) => Some(libc::EINVAL),
            Error::Decode(d) => Some(d.kind.errno()),
            Error::Closed { .. } => Some(libc::ENOTCONN),
            Error::StreamBroken(_) => Some(libc::EPROTO),
            Error::Io { source, .. } => source.raw_os_error(),
        }
    }

    /// True when a non-blocking operation stopped because the socket was not ready.
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A packed nvlist was refused: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid nvlist at offset {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset in the message where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// What is wrong with a packed nvlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Fewer than 19 bytes where an nvlist header must be.
    TruncatedHeader,
    /// The header magic is not `0x6c`.
    BadMagic(u8),
    /// The header flags have bits outside `0x83`.
    UnknownFlags(u8),
    /// A nested header's byte order differs from the top-level header's (this crate refuses
    /// mixed byte orders; C mixes them up).
    MixedByteOrder,
    /// `nvlh_size` is not the number of bytes that follow the header.
    SizeMismatch {
        /// The header's value.
        declared: u64,
        /// Bytes actually following it.
        actual: u64,
    },
    /// The header announces more descriptors than were received.
    TooManyDescriptorsAnnounced {
        /// The header's value.
        declared: u64,
        /// Descriptors available.
        available: u64,
    },
    /// The top-level header's descriptor count differs from the descriptors its pairs use.
    DescriptorCountMismatch {
        /// The header's value.
        declared: u64,
        /// Descriptor references in the pairs.
        used: u64,
    },
    /// The top-level public flags differ from the flags the caller demanded (C: `EILSEQ`).
    FlagsMismatch {
        /// Flags the caller demanded.
        expected: u8,
        /// Flags in the message.
        found: u8,
    },
    /// Fewer than 19 bytes where a pair header must be.
    TruncatedPair,
    /// The pair type code is not 1..12, 254 or 255.
    UnknownType(u8),
    /// namesize is 0.
    EmptyNameSize,
    /// namesize exceeds 2048 (2047 bytes plus NUL).
    NameTooLong(u16),
    /// namesize exceeds the bytes left.
    NameTruncated,
    /// The name has no NUL at its end or one inside.
    BadName,
    /// datasize exceeds the bytes left.
    DataTooLong,
    /// The datasize is wrong for the type.
    BadDataSize,
    /// A BOOL value other than 0 or 1.
    BadBool(u8),
    /// A string without its NUL, or with one inside.
    BadString,
    /// An array with nitems 0 or nitems disagreeing with datasize.
    BadArrayCount,
    /// A descriptor index outside the received descriptors.
    BadDescriptorIndex(i64),
    /// A descriptor index used twice in one message.
    DuplicateDescriptorIndex(i64),
    /// `NVLIST_UP` outside a nested list (in the top-level list, or closing an array element).
    UnexpectedUp,
    /// `NVLIST_ARRAY_NEXT` outside an nvlist-array element.
    UnexpectedArrayNext,
    /// The message ended while nested lists were still open.
    UnclosedList,
    /// A name appears twice in a list without `NO_UNIQUE` (C: `EEXIST`).
    DuplicateName,
    /// The message is larger than the configured limit.
    MessageTooLarge {
        /// Message size (header included).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More descriptors than the configured limit.
    TooManyDescriptors {
        /// Descriptors announced.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// Lists nested deeper than the configured limit.
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

impl DecodeErrorKind {
    /// The errno the C library sets for the same rejection (`EINVAL` for most).
    pub fn errno(&self) -> i32 {
        match self {
            DecodeErrorKind::FlagsMismatch { .. } => libc::EILSEQ,
            DecodeErrorKind::DuplicateName => libc::EEXIST,
            DecodeErrorKind::MessageTooLarge { .. }
            | DecodeErrorKind::TooManyDescriptors { .. } => libc::EMSGSIZE,
            _ => libc::EINVAL,
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self {
            TruncatedHeader => write!(f, "fewer than 19 bytes left for an nvlist header"),
            BadMagic(m) => write!(f, "header magic is {m:#04x}, expected 0x6c"),
            UnknownFlags(fl) => write!(f, "header flags {fl:#04x} have unknown bits"),
            MixedByteOrder => write!(f, "nested header has a different byte order than the top"),
            SizeMismatch { declared, actual } => write!(
                f,
                "header size field is {declared} but {actual} bytes follow"
            ),
            TooManyDescriptorsAnnounced {
                declared,
                available,
            } => write!(
                f,
                "header announces {declared} descriptors but only {available} were received"
            ),
            DescriptorCountMismatch { declared, used } => write!(
                f,
                "header announces {declared} descriptors but the pairs use {used}"
            ),
            FlagsMismatch { expected, found } => write!(
                f,
                "list flags are {found:#x} but {expected:#x} were demanded"
            ),
            TruncatedPair => write!(f, "fewer than 19 bytes left for a pair header"),
            UnknownType(t) => write!(f, "unknown pair type {t}"),
            EmptyNameSize => write!(f, "namesize is 0"),
            NameTooLong(n) => write!(f, "namesize {n} exceeds 2048"),
            NameTruncated => write!(f, "name runs past the end of the message"),
            BadName => write!(f, "name is not NUL-terminated or contains a NUL"),
            DataTooLong => write!(f, "datasize runs past the end of the message"),
            BadDataSize => write!(f, "datasize is wrong for the pair type"),
            BadBool(b) => write!(f, "bool value is {b}, expected 0 or 1"),
            BadString => write!(f, "string is not NUL-terminated or contains a NUL"),
            BadArrayCount => write!(f, "array item count is 0 or disagrees with its datasize"),
            BadDescriptorIndex(i) => write!(f, "descriptor index {i} is out of range"),
            DuplicateDescriptorIndex(i) => write!(f, "descriptor index {i} is used twice"),
            UnexpectedUp => write!(f, "NVLIST_UP marker outside a nested list"),
            UnexpectedArrayNext => write!(f, "NVLIST_ARRAY_NEXT marker outside an array element"),
            UnclosedList => write!(f, "message ends inside a nested list"),
            DuplicateName => write!(f, "duplicate name in a list without NO_UNIQUE"),
            MessageTooLarge { size, limit } => {
                write!(f, "message of {size} bytes exceeds the limit of {limit}")
            }
            TooManyDescriptors { count, limit } => {
                write!(f, "{count} descriptors exceed the limit of {limit}")
            }
            TooDeep { limit } => write!(f, "lists nested deeper than {limit}"),
        }
    }
}

pub(crate) fn derr(offset: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError { offset, kind }
}
