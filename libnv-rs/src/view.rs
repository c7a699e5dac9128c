//! The reader: a borrowed view of a validated packed nvlist. Nothing allocates, neither
//! validating (`crate::validate`, which runs before any view is handed out) nor reading.
//!
//! Once validated, the structure is strictly nested (every nested list closed by its own
//! marker, one byte order), so reading only needs a depth counter to skip children
//! (`crate::walk`). The borrowed values and the iterators are in `view/pairs.rs`.

use std::os::fd::OwnedFd;

use crate::error::{DecodeError, DecodeErrorKind as K, derr};
use crate::list::{NvList, Value};
use crate::validate::{Scratch, TableMode, validate};
use crate::wire::*;

mod pairs;

pub use pairs::{
    BoolArrayRef, DescriptorArrayRef, NumberArrayRef, NvListArrayIter, NvListArrayRef, PairIter,
    PairRef, StringArrayRef, ValueRef,
};

/// A validated packed nvlist, or a nested list inside one.
#[derive(Clone, Copy)]
pub struct NvView<'a> {
    msg: &'a [u8],
    /// Offset of this list's header.
    header: usize,
    order: ByteOrder,
    flags: Flags,
}

impl std::fmt::Debug for NvView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for p in self.iter() {
            m.entry(&String::from_utf8_lossy(p.name), &p.value);
        }
        m.finish()
    }
}

/// Typed getters: each returns the first value named `name` whose type is `Type::$kind`
/// (the `ValueRef` variant of the same name), or `None`.
macro_rules! typed_getters {
    ($($(#[$doc:meta])* $getter:ident: $kind:ident -> $out:ty;)*) => {
        $(
            $(#[$doc])*
            ///
            /// The first pair named `name` (ASCII case folding under `IGNORE_CASE`) that has
            /// this type; `None` if there is none.
            pub fn $getter(&self, name: impl AsRef<[u8]>) -> Option<$out> {
                match self.get_type(name, Type::$kind)? {
                    ValueRef::$kind(v) => Some(v),
                    _ => None,
                }
            }
        )*
    };
}

impl<'a> NvView<'a> {
    /// Validates `bytes` as a packed nvlist without descriptors, any top-level flags,
    /// default [`Limits`].
    pub fn new(bytes: &'a [u8]) -> Result<NvView<'a>, DecodeError> {
        NvView::parse(bytes, 0, &UnpackOptions::default())
    }

    /// Validates `bytes`, a message that came with `nfds` descriptors, with `options`.
    ///
    /// Checks everything the C `nvlist_unpack` checks (see the crate docs for the
    /// deliberate differences) before returning the view, and allocates nothing.
    pub fn parse(
        bytes: &'a [u8],
        nfds: usize,
        options: &UnpackOptions,
    ) -> Result<NvView<'a>, DecodeError> {
        NvView::validated(bytes, nfds, options, TableMode::Stack)
    }

    /// Like [`NvView::parse`], with a [`Scratch`] (allocated once, e.g. per connection) so
    /// that duplicate-name checks take linear time for any message within its limits.
    /// Allocates nothing.
    pub fn parse_with(
        bytes: &'a [u8],
        nfds: usize,
        options: &UnpackOptions,
        scratch: &mut Scratch,
    ) -> Result<NvView<'a>, DecodeError> {
        NvView::validated(bytes, nfds, options, TableMode::Scratch(scratch))
    }

    /// Like [`NvView::parse`], but big lists' duplicate checks use a heap table sized for the
    /// message (linear time for any message; allocates).
    pub(crate) fn parse_allocating(
        bytes: &'a [u8],
        nfds: usize,
        options: &UnpackOptions,
    ) -> Result<NvView<'a>, DecodeError> {
        NvView::validated(bytes, nfds, options, TableMode::Heap)
    }

    /// The only way to the top level of a message: through the validator.
    fn validated(
        bytes: &'a [u8],
        nfds: usize,
        options: &UnpackOptions,
        table: TableMode<'_>,
    ) -> Result<NvView<'a>, DecodeError> {
        let (order, flags) = validate(bytes, nfds, options, table)?;
        Ok(NvView {
            msg: bytes,
            header: 0,
            order,
            flags,
        })
    }

    /// The nested list whose header is at `header` of a validated message.
    fn at(msg: &'a [u8], header: usize, order: ByteOrder) -> NvView<'a> {
        NvView {
            msg,
            header,
            order,
            flags: Flags::from_bits_truncate(msg[header + 2]),
        }
    }

    /// This list's public flags.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The byte order of the message.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The whole message's bytes.
    pub fn message(&self) -> &'a [u8] {
        self.msg
    }

    /// Number of descriptors the whole message carries (top-level `nvlh_descriptors`).
    pub fn message_descriptors(&self) -> usize {
        self.order.u64_at(self.msg, 3) as usize
    }

    /// The pairs in order.
    pub fn iter(&self) -> PairIter<'a> {
        PairIter::new(self.msg, self.header, self.order)
    }

    /// No pairs.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Number of pairs (walks the list).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The first value named `name` (ASCII case folding under `IGNORE_CASE`).
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<ValueRef<'a>> {
        let name = name.as_ref();
        let flags = self.flags;
        self.iter()
            .find(|p| names_equal(p.name, name, flags))
            .map(|p| p.value)
    }

    /// The first value named `name` with type `kind`.
    pub fn get_type(&self, name: impl AsRef<[u8]>, kind: Type) -> Option<ValueRef<'a>> {
        let name = name.as_ref();
        let flags = self.flags;
        self.iter()
            .find(|p| p.value.kind() == kind && names_equal(p.name, name, flags))
            .map(|p| p.value)
    }

    /// Whether a pair named `name` exists.
    pub fn contains(&self, name: impl AsRef<[u8]>) -> bool {
        self.get(name).is_some()
    }

    typed_getters! {
        /// A BOOL value.
        get_bool: Bool -> bool;
        /// A NUMBER value.
        get_number: Number -> u64;
        /// A STRING value as bytes (without the NUL); see also [`NvView::get_str`].
        get_string: String -> &'a [u8];
        /// A nested list.
        get_nvlist: NvList -> NvView<'a>;
        /// A DESCRIPTOR value: the index into the message's descriptors.
        get_descriptor: Descriptor -> usize;
        /// A BINARY value.
        get_binary: Binary -> &'a [u8];
        /// A BOOL_ARRAY value.
        get_bool_array: BoolArray -> BoolArrayRef<'a>;
        /// A NUMBER_ARRAY value.
        get_number_array: NumberArray -> NumberArrayRef<'a>;
        /// A STRING_ARRAY value.
        get_string_array: StringArray -> StringArrayRef<'a>;
        /// An NVLIST_ARRAY value.
        get_nvlist_array: NvListArray -> NvListArrayRef<'a>;
        /// A DESCRIPTOR_ARRAY value (indices into the message's descriptors).
        get_descriptor_array: DescriptorArray -> DescriptorArrayRef<'a>;
    }

    /// A STRING value as UTF-8 (`None` if absent or not UTF-8).
    pub fn get_str(&self, name: impl AsRef<[u8]>) -> Option<&'a str> {
        self.get_string(name)
            .and_then(|s| std::str::from_utf8(s).ok())
    }

    /// Copies this list into an owned [`NvList`]. Descriptor indices are resolved in `fds`
    /// (the message's descriptors, taken out as they are used); a missing one is an error
    /// naming its index.
    pub fn to_owned_with_fds(&self, fds: &mut [Option<OwnedFd>]) -> Result<NvList, DecodeError> {
        let mut out = NvList::with_flags(self.flags);
        // Typical lists are small: one allocation instead of growing 4 → 8.
        out.reserve(8);
        for p in self.iter() {
            let value = match p.value {
                ValueRef::Null => Value::Null,
                ValueRef::Bool(b) => Value::Bool(b),
                ValueRef::Number(n) => Value::Number(n),
                ValueRef::String(s) => Value::String(s.to_vec()),
                ValueRef::NvList(v) => Value::NvList(v.to_owned_with_fds(fds)?),
                ValueRef::Descriptor(i) => Value::Descriptor(take_fd(fds, i)?),
                ValueRef::Binary(b) => Value::Binary(b.to_vec()),
                ValueRef::BoolArray(a) => Value::BoolArray(a.iter().collect()),
                ValueRef::NumberArray(a) => Value::NumberArray(a.iter().collect()),
                ValueRef::StringArray(a) => {
                    Value::StringArray(a.iter().map(<[u8]>::to_vec).collect())
                }
                ValueRef::NvListArray(a) => {
                    let mut v = Vec::with_capacity(a.len());
                    for e in a.iter() {
                        v.push(e.to_owned_with_fds(fds)?);
                    }
                    Value::NvListArray(v)
                }
                ValueRef::DescriptorArray(a) => {
                    let mut v = Vec::with_capacity(a.len());
                    for i in a.iter() {
                        v.push(take_fd(fds, i)?);
                    }
                    Value::DescriptorArray(v)
                }
            };
            out.push_unchecked(p.name.to_vec(), value);
        }
        Ok(out)
    }

    /// Copies this list into an owned [`NvList`]; fails if it holds descriptors.
    pub fn to_owned_list(&self) -> Result<NvList, DecodeError> {
        self.to_owned_with_fds(&mut [])
    }
}

fn take_fd(fds: &mut [Option<OwnedFd>], i: usize) -> Result<OwnedFd, DecodeError> {
    fds.get_mut(i)
        .and_then(Option::take)
        .ok_or(derr(0, K::BadDescriptorIndex(i as i64)))
}
