//! Constants and small value types of the wire format (see `libnv-format.md`).

use crate::error::{DecodeError, DecodeErrorKind, derr};

/// Size of an nvlist header and of a pair header.
pub const HEADER_SIZE: usize = 19;
/// `nvlh_magic`.
pub const MAGIC: u8 = 0x6c;
/// `nvlh_version` written by the C library (never checked on input).
pub const VERSION: u8 = 0;
/// Longest name in bytes (C's `NV_NAME_MAX` 2048 counts the NUL).
pub const NAME_MAX: usize = 2047;
/// Header flag: the sender was big-endian.
pub(crate) const FLAG_BIG_ENDIAN: u8 = 0x80;
/// Every flag bit allowed on the wire.
pub(crate) const FLAG_WIRE_MASK: u8 = 0x83;
/// Descriptors per SCM_RIGHTS package (`PKG_MAX_SIZE` of the C library on Linux).
pub const FDS_PER_PACKAGE: usize = 169;
/// Size of a NVLIST_UP / NVLIST_ARRAY_NEXT marker as written.
pub(crate) const MARKER_SIZE: usize = HEADER_SIZE + 1;

pub(crate) const T_NULL: u8 = 1;
pub(crate) const T_BOOL: u8 = 2;
pub(crate) const T_NUMBER: u8 = 3;
pub(crate) const T_STRING: u8 = 4;
pub(crate) const T_NVLIST: u8 = 5;
pub(crate) const T_DESCRIPTOR: u8 = 6;
pub(crate) const T_BINARY: u8 = 7;
pub(crate) const T_BOOL_ARRAY: u8 = 8;
pub(crate) const T_NUMBER_ARRAY: u8 = 9;
pub(crate) const T_STRING_ARRAY: u8 = 10;
pub(crate) const T_NVLIST_ARRAY: u8 = 11;
pub(crate) const T_DESCRIPTOR_ARRAY: u8 = 12;
pub(crate) const T_ARRAY_NEXT: u8 = 254;
pub(crate) const T_UP: u8 = 255;

/// The public flags of a list: `IGNORE_CASE` and `NO_UNIQUE`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flags: names unique, compared exactly.
    pub const NONE: Flags = Flags(0);
    /// `NV_FLAG_IGNORE_CASE` (0x01): names compared with ASCII case folding.
    pub const IGNORE_CASE: Flags = Flags(0x01);
    /// `NV_FLAG_NO_UNIQUE` (0x02): several pairs may share a name.
    pub const NO_UNIQUE: Flags = Flags(0x02);

    /// The flags from their wire bits; `None` if a bit other than 0x01/0x02 is set.
    pub const fn from_bits(bits: u8) -> Option<Flags> {
        if bits & !0x03 == 0 {
            Some(Flags(bits))
        } else {
            None
        }
    }
    /// The flags from their wire bits, ignoring any other bit.
    pub const fn from_bits_truncate(bits: u8) -> Flags {
        Flags(bits & 0x03)
    }
    /// The wire bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Names are compared case-insensitively (ASCII).
    pub const fn ignore_case(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// Names may repeat.
    pub const fn no_unique(self) -> bool {
        self.0 & 0x02 != 0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ignore_case(), self.no_unique()) {
            (false, false) => write!(f, "Flags(NONE)"),
            (true, false) => write!(f, "Flags(IGNORE_CASE)"),
            (false, true) => write!(f, "Flags(NO_UNIQUE)"),
            (true, true) => write!(f, "Flags(IGNORE_CASE | NO_UNIQUE)"),
        }
    }
}

/// The type of a pair's value, with its C type code as discriminant.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum Type {
    /// `NV_TYPE_NULL`
    Null = 1,
    /// `NV_TYPE_BOOL`
    Bool = 2,
    /// `NV_TYPE_NUMBER`
    Number = 3,
    /// `NV_TYPE_STRING`
    String = 4,
    /// `NV_TYPE_NVLIST`
    NvList = 5,
    /// `NV_TYPE_DESCRIPTOR`
    Descriptor = 6,
    /// `NV_TYPE_BINARY`
    Binary = 7,
    /// `NV_TYPE_BOOL_ARRAY`
    BoolArray = 8,
    /// `NV_TYPE_NUMBER_ARRAY`
    NumberArray = 9,
    /// `NV_TYPE_STRING_ARRAY`
    StringArray = 10,
    /// `NV_TYPE_NVLIST_ARRAY`
    NvListArray = 11,
    /// `NV_TYPE_DESCRIPTOR_ARRAY`
    DescriptorArray = 12,
}

impl Type {
    /// The type for a wire code (markers and unknown codes give `None`).
    pub const fn from_code(code: u8) -> Option<Type> {
        Some(match code {
            1 => Type::Null,
            2 => Type::Bool,
            3 => Type::Number,
            4 => Type::String,
            5 => Type::NvList,
            6 => Type::Descriptor,
            7 => Type::Binary,
            8 => Type::BoolArray,
            9 => Type::NumberArray,
            10 => Type::StringArray,
            11 => Type::NvListArray,
            12 => Type::DescriptorArray,
            _ => return None,
        })
    }
    /// The wire code.
    pub const fn code(self) -> u8 {
        self as u8
    }
    /// The C name without `NV_TYPE_` (`"NUMBER_ARRAY"`), as used in the test-vector JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Type::Null => "NULL",
            Type::Bool => "BOOL",
            Type::Number => "NUMBER",
            Type::String => "STRING",
            Type::NvList => "NVLIST",
            Type::Descriptor => "DESCRIPTOR",
            Type::Binary => "BINARY",
            Type::BoolArray => "BOOL_ARRAY",
            Type::NumberArray => "NUMBER_ARRAY",
            Type::StringArray => "STRING_ARRAY",
            Type::NvListArray => "NVLIST_ARRAY",
            Type::DescriptorArray => "DESCRIPTOR_ARRAY",
        }
    }
    /// The type named by [`Type::name`].
    pub fn from_name(name: &str) -> Option<Type> {
        (1..=12)
            .filter_map(Type::from_code)
            .find(|t| t.name() == name)
    }
}

/// Byte order of the integers in a packed message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ByteOrder {
    /// Little endian (x86_64, aarch64, ...).
    Little,
    /// Big endian (s390x, ...); every header gets flag 0x80.
    Big,
}

impl ByteOrder {
    /// This machine's byte order (what the C library always uses).
    pub const fn native() -> ByteOrder {
        if cfg!(target_endian = "big") {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        }
    }
    /// The byte order a header's flag byte announces.
    pub(crate) const fn of_flags(flags: u8) -> ByteOrder {
        if flags & FLAG_BIG_ENDIAN != 0 {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        }
    }
    pub(crate) const fn is_big(self) -> bool {
        matches!(self, ByteOrder::Big)
    }
    /// The u16 at `at` in `bytes`.
    pub(crate) fn u16_at(self, bytes: &[u8], at: usize) -> u16 {
        self.u16([bytes[at], bytes[at + 1]])
    }
    /// The u64 at `at` in `bytes`.
    pub(crate) fn u64_at(self, bytes: &[u8], at: usize) -> u64 {
        self.u64(bytes[at..at + 8].try_into().unwrap_or([0; 8]))
    }
    pub(crate) fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }
    pub(crate) fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            ByteOrder::Little => u64::from_le_bytes(b),
            ByteOrder::Big => u64::from_be_bytes(b),
        }
    }
    pub(crate) fn u16_bytes(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
    pub(crate) fn u64_bytes(self, v: u64) -> [u8; 8] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
}

impl Default for ByteOrder {
    fn default() -> Self {
        ByteOrder::native()
    }
}

/// Hard ceiling for [`Limits::max_depth`]: the validator keeps one small frame per level in a
/// fixed-size array on the stack.
pub const MAX_DEPTH_CAP: usize = 128;
/// Hard ceiling for [`Limits::max_descriptors`]: the validator tracks used indices in a
/// fixed-size bitset on the stack.
pub const MAX_DESCRIPTORS_CAP: usize = 4096;

/// Bounds applied to incoming messages, all checked before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, header included (default 16 MiB).
    pub max_size: usize,
    /// Deepest nesting accepted; the top-level list is depth 0 (default 64, at most
    /// [`MAX_DEPTH_CAP`]).
    pub max_depth: usize,
    /// Most descriptors accepted with one message (default 1024, at most
    /// [`MAX_DESCRIPTORS_CAP`]).
    pub max_descriptors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 16 << 20,
            max_depth: 64,
            max_descriptors: 1024,
        }
    }
}

impl Limits {
    pub(crate) fn depth(&self) -> usize {
        self.max_depth.min(MAX_DEPTH_CAP)
    }
    pub(crate) fn descriptors(&self) -> usize {
        self.max_descriptors.min(MAX_DESCRIPTORS_CAP)
    }
}

/// How the top-level flags of an incoming message are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FlagsCheck {
    /// Accept any top-level flags (the list keeps the flags it was sent with).
    #[default]
    Any,
    /// Demand exactly these flags, like C's `nvlist_unpack(…, flags)` (`EILSEQ` otherwise).
    Exact(Flags),
}

/// Options for unpacking and validating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UnpackOptions {
    /// Size, depth and descriptor bounds.
    pub limits: Limits,
    /// Top-level flags check.
    pub flags: FlagsCheck,
}

impl UnpackOptions {
    /// Options demanding exactly `flags`, C style.
    pub fn exact(flags: Flags) -> Self {
        UnpackOptions {
            limits: Limits::default(),
            flags: FlagsCheck::Exact(flags),
        }
    }
}

/// The fields of a list header, as announced (sizes not checked against anything).
pub(crate) struct ListHeader {
    /// The flag byte: public flags and the byte order.
    pub(crate) flags: u8,
    pub(crate) order: ByteOrder,
    /// `nvlh_descriptors`.
    pub(crate) descriptors: u64,
    /// `nvlh_size`.
    pub(crate) size: u64,
}

/// Reads the list header at the start of `h` (at least [`HEADER_SIZE`] bytes), checking its
/// magic and flags; `at` is its offset in the message, for errors.
pub(crate) fn list_header(h: &[u8], at: usize) -> Result<ListHeader, DecodeError> {
    if h[0] != MAGIC {
        return Err(derr(at, DecodeErrorKind::BadMagic(h[0])));
    }
    if h[2] & !FLAG_WIRE_MASK != 0 {
        return Err(derr(at + 2, DecodeErrorKind::UnknownFlags(h[2])));
    }
    let order = ByteOrder::of_flags(h[2]);
    Ok(ListHeader {
        flags: h[2],
        order,
        descriptors: order.u64_at(h, 3),
        size: order.u64_at(h, 11),
    })
}

/// Checks a name: at most 2047 bytes, no NUL.
pub(crate) fn check_name(name: &[u8]) -> crate::Result<()> {
    if name.len() > NAME_MAX {
        return Err(crate::Error::NameTooLong(name.len()));
    }
    if name.contains(&0) {
        return Err(crate::Error::NameHasNul);
    }
    Ok(())
}

/// Compares two names the way a list with `flags` does.
pub(crate) fn names_equal(a: &[u8], b: &[u8], flags: Flags) -> bool {
    if flags.ignore_case() {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

pub(crate) fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
