//! Borrowed, validated view of a packed nvlist: no heap allocation, neither to validate nor to
//! read.
//!
//! Validation is one iterative pass over the bytes with a fixed-size frame array on the stack
//! (bounded by [`Limits::max_depth`](crate::Limits)) and a fixed-size bitset for descriptor
//! indices. Once validated, the structure is strictly nested (every nested list closed by its
//! own marker, one byte order), so reading only needs a depth counter to skip children.

use std::os::fd::OwnedFd;

use crate::error::{DecodeError, DecodeErrorKind as K, derr};
use crate::list::{NvList, Value};
use crate::wire::*;

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

/// A borrowed value.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// NULL
    Null,
    /// BOOL
    Bool(bool),
    /// NUMBER
    Number(u64),
    /// STRING, without the NUL
    String(&'a [u8]),
    /// NVLIST
    NvList(NvView<'a>),
    /// DESCRIPTOR: index into the descriptors that came with the message
    Descriptor(usize),
    /// BINARY
    Binary(&'a [u8]),
    /// BOOL_ARRAY
    BoolArray(BoolArrayRef<'a>),
    /// NUMBER_ARRAY
    NumberArray(NumberArrayRef<'a>),
    /// STRING_ARRAY
    StringArray(StringArrayRef<'a>),
    /// NVLIST_ARRAY
    NvListArray(NvListArrayRef<'a>),
    /// DESCRIPTOR_ARRAY: indices into the message's descriptors
    DescriptorArray(DescriptorArrayRef<'a>),
}

impl ValueRef<'_> {
    /// The value's type.
    pub fn kind(&self) -> Type {
        match self {
            ValueRef::Null => Type::Null,
            ValueRef::Bool(_) => Type::Bool,
            ValueRef::Number(_) => Type::Number,
            ValueRef::String(_) => Type::String,
            ValueRef::NvList(_) => Type::NvList,
            ValueRef::Descriptor(_) => Type::Descriptor,
            ValueRef::Binary(_) => Type::Binary,
            ValueRef::BoolArray(_) => Type::BoolArray,
            ValueRef::NumberArray(_) => Type::NumberArray,
            ValueRef::StringArray(_) => Type::StringArray,
            ValueRef::NvListArray(_) => Type::NvListArray,
            ValueRef::DescriptorArray(_) => Type::DescriptorArray,
        }
    }
}

/// A borrowed pair.
#[derive(Clone, Copy, Debug)]
pub struct PairRef<'a> {
    /// The name, without NUL.
    pub name: &'a [u8],
    /// The value.
    pub value: ValueRef<'a>,
}

impl<'a> PairRef<'a> {
    /// The name as UTF-8, if it is.
    pub fn name_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.name).ok()
    }
}

/// BOOL_ARRAY items (any non-zero byte reads as true).
#[derive(Clone, Copy, Debug)]
pub struct BoolArrayRef<'a>(&'a [u8]);
impl<'a> BoolArrayRef<'a> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Never true for a validated message.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Item `i`.
    pub fn get(&self, i: usize) -> Option<bool> {
        self.0.get(i).map(|&b| b != 0)
    }
    /// The items.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = bool> + 'a {
        self.0.iter().map(|&b| b != 0)
    }
}

/// NUMBER_ARRAY items, decoded on access.
#[derive(Clone, Copy, Debug)]
pub struct NumberArrayRef<'a> {
    raw: &'a [u8],
    order: ByteOrder,
}
impl<'a> NumberArrayRef<'a> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.raw.len() / 8
    }
    /// Never true for a validated message.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// Item `i`.
    pub fn get(&self, i: usize) -> Option<u64> {
        let b = self.raw.get(i * 8..i * 8 + 8)?;
        Some(self.order.u64(b.try_into().ok()?))
    }
    /// The items.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + 'a {
        let order = self.order;
        self.raw
            .chunks_exact(8)
            .map(move |c| order.u64(c.try_into().unwrap_or([0; 8])))
    }
}

/// DESCRIPTOR_ARRAY items: indices into the message's descriptors.
#[derive(Clone, Copy, Debug)]
pub struct DescriptorArrayRef<'a>(NumberArrayRef<'a>);
impl<'a> DescriptorArrayRef<'a> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Never true for a validated message.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Index `i`.
    pub fn get(&self, i: usize) -> Option<usize> {
        self.0.get(i).map(|v| v as usize)
    }
    /// The indices.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = usize> + 'a {
        self.0.iter().map(|v| v as usize)
    }
}

/// STRING_ARRAY items (without NULs).
#[derive(Clone, Copy, Debug)]
pub struct StringArrayRef<'a> {
    raw: &'a [u8],
    count: usize,
}
impl<'a> StringArrayRef<'a> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Never true for a validated message.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The items as bytes.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        // The payload ends with a NUL, so splitting yields one empty tail to drop.
        let raw = self.raw;
        raw[..raw.len().saturating_sub(1)].split(|&b| b == 0)
    }
}

/// NVLIST_ARRAY elements.
#[derive(Clone, Copy, Debug)]
pub struct NvListArrayRef<'a> {
    msg: &'a [u8],
    first: usize,
    count: usize,
    order: ByteOrder,
}
impl<'a> NvListArrayRef<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Never true for a validated message.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The elements.
    pub fn iter(&self) -> NvListArrayIter<'a> {
        NvListArrayIter {
            msg: self.msg,
            next: self.first,
            left: self.count,
            order: self.order,
        }
    }
    /// Element `i` (walks the elements before it).
    pub fn get(&self, i: usize) -> Option<NvView<'a>> {
        self.iter().nth(i)
    }
}

/// Iterator over the elements of an NVLIST_ARRAY.
pub struct NvListArrayIter<'a> {
    msg: &'a [u8],
    next: usize,
    left: usize,
    order: ByteOrder,
}
impl<'a> Iterator for NvListArrayIter<'a> {
    type Item = NvView<'a>;
    fn next(&mut self) -> Option<NvView<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let v = NvView::at(self.msg, self.next, self.order);
        self.next = skip_list(self.msg, self.next, self.order);
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Iterator over the pairs of one list.
pub struct PairIter<'a> {
    msg: &'a [u8],
    pos: usize,
    /// Nested lists starting at `pos` to skip before the next pair (skipped lazily, so that
    /// finding a list-valued pair does not walk the list).
    skip: u64,
    order: ByteOrder,
    done: bool,
}

struct RawPair {
    code: u8,
    namesize: usize,
    datasize: u64,
    nitems: u64,
}

fn raw_pair(msg: &[u8], p: usize, order: ByteOrder) -> RawPair {
    RawPair {
        code: msg[p],
        namesize: order.u16([msg[p + 1], msg[p + 2]]) as usize,
        datasize: order.u64(msg[p + 3..p + 11].try_into().unwrap_or([0; 8])),
        nitems: order.u64(msg[p + 11..p + 19].try_into().unwrap_or([0; 8])),
    }
}

/// Offset just past the list whose header is at `header` (after its UP / ARRAY_NEXT marker,
/// or the end of the message for the top level). Only for validated messages.
fn skip_list(msg: &[u8], header: usize, order: ByteOrder) -> usize {
    let mut depth = 1usize;
    let mut p = header + HEADER_SIZE;
    while p < msg.len() {
        if msg[p] == MAGIC {
            depth += 1;
            p += HEADER_SIZE;
            continue;
        }
        let r = raw_pair(msg, p, order);
        let after_name = p + HEADER_SIZE + r.namesize;
        match r.code {
            T_UP | T_ARRAY_NEXT => {
                depth -= 1;
                p = after_name;
                if depth == 0 {
                    return p;
                }
            }
            T_NVLIST | T_NVLIST_ARRAY => p = after_name,
            _ => p = after_name + r.datasize as usize,
        }
    }
    p
}

impl<'a> Iterator for PairIter<'a> {
    type Item = PairRef<'a>;
    fn next(&mut self) -> Option<PairRef<'a>> {
        while self.skip > 0 {
            self.pos = skip_list(self.msg, self.pos, self.order);
            self.skip -= 1;
        }
        if self.done || self.pos >= self.msg.len() {
            return None;
        }
        let msg = self.msg;
        let p = self.pos;
        let r = raw_pair(msg, p, self.order);
        if r.code == T_UP || r.code == T_ARRAY_NEXT {
            self.done = true;
            return None;
        }
        let name_at = p + HEADER_SIZE;
        let name = &msg[name_at..name_at + r.namesize - 1];
        let data = name_at + r.namesize;
        let ds = r.datasize as usize;
        let order = self.order;
        let u64_at = |at: usize| order.u64(msg[at..at + 8].try_into().unwrap_or([0; 8]));
        let (value, next) = match r.code {
            T_NULL => (ValueRef::Null, data),
            T_BOOL => (ValueRef::Bool(msg[data] != 0), data + 1),
            T_NUMBER => (ValueRef::Number(u64_at(data)), data + 8),
            T_STRING => (ValueRef::String(&msg[data..data + ds - 1]), data + ds),
            T_NVLIST => {
                self.skip = 1;
                (ValueRef::NvList(NvView::at(msg, data, order)), data)
            }
            T_DESCRIPTOR => (ValueRef::Descriptor(u64_at(data) as usize), data + 8),
            T_BINARY => (ValueRef::Binary(&msg[data..data + ds]), data + ds),
            T_BOOL_ARRAY => (
                ValueRef::BoolArray(BoolArrayRef(&msg[data..data + ds])),
                data + ds,
            ),
            T_NUMBER_ARRAY => (
                ValueRef::NumberArray(NumberArrayRef {
                    raw: &msg[data..data + ds],
                    order,
                }),
                data + ds,
            ),
            T_STRING_ARRAY => (
                ValueRef::StringArray(StringArrayRef {
                    raw: &msg[data..data + ds],
                    count: r.nitems as usize,
                }),
                data + ds,
            ),
            T_NVLIST_ARRAY => {
                self.skip = r.nitems;
                (
                    ValueRef::NvListArray(NvListArrayRef {
                        msg,
                        first: data,
                        count: r.nitems as usize,
                        order,
                    }),
                    data,
                )
            }
            _ => (
                ValueRef::DescriptorArray(DescriptorArrayRef(NumberArrayRef {
                    raw: &msg[data..data + ds],
                    order,
                })),
                data + ds,
            ),
        };
        self.pos = next;
        Some(PairRef { name, value })
    }
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
        let (order, flags) = validate(bytes, nfds, options, TableMode::Stack)?;
        Ok(NvView {
            msg: bytes,
            header: 0,
            order,
            flags,
        })
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
        let (order, flags) = validate(bytes, nfds, options, TableMode::Scratch(scratch))?;
        Ok(NvView {
            msg: bytes,
            header: 0,
            order,
            flags,
        })
    }

    /// Like [`NvView::parse`], but big lists' duplicate checks use a heap table sized for the
    /// message (linear time for any message; allocates).
    pub(crate) fn parse_allocating(
        bytes: &'a [u8],
        nfds: usize,
        options: &UnpackOptions,
    ) -> Result<NvView<'a>, DecodeError> {
        let (order, flags) = validate(bytes, nfds, options, TableMode::Heap)?;
        Ok(NvView {
            msg: bytes,
            header: 0,
            order,
            flags,
        })
    }

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
        self.order.u64(self.msg[3..11].try_into().unwrap_or([0; 8])) as usize
    }

    /// The pairs in order.
    pub fn iter(&self) -> PairIter<'a> {
        PairIter {
            msg: self.msg,
            pos: self.header + HEADER_SIZE,
            skip: 0,
            order: self.order,
            done: false,
        }
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

    /// A BOOL value.
    pub fn get_bool(&self, name: impl AsRef<[u8]>) -> Option<bool> {
        match self.get_type(name, Type::Bool)? {
            ValueRef::Bool(b) => Some(b),
            _ => None,
        }
    }
    /// A NUMBER value.
    pub fn get_number(&self, name: impl AsRef<[u8]>) -> Option<u64> {
        match self.get_type(name, Type::Number)? {
            ValueRef::Number(n) => Some(n),
            _ => None,
        }
    }
    /// A STRING value as bytes.
    pub fn get_string(&self, name: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        match self.get_type(name, Type::String)? {
            ValueRef::String(s) => Some(s),
            _ => None,
        }
    }
    /// A STRING value as UTF-8 (`None` if absent or not UTF-8).
    pub fn get_str(&self, name: impl AsRef<[u8]>) -> Option<&'a str> {
        self.get_string(name)
            .and_then(|s| std::str::from_utf8(s).ok())
    }
    /// A nested list.
    pub fn get_nvlist(&self, name: impl AsRef<[u8]>) -> Option<NvView<'a>> {
        match self.get_type(name, Type::NvList)? {
            ValueRef::NvList(v) => Some(v),
            _ => None,
        }
    }
    /// A DESCRIPTOR value: the index into the message's descriptors.
    pub fn get_descriptor(&self, name: impl AsRef<[u8]>) -> Option<usize> {
        match self.get_type(name, Type::Descriptor)? {
            ValueRef::Descriptor(i) => Some(i),
            _ => None,
        }
    }
    /// A BINARY value.
    pub fn get_binary(&self, name: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        match self.get_type(name, Type::Binary)? {
            ValueRef::Binary(b) => Some(b),
            _ => None,
        }
    }
    /// A BOOL_ARRAY value.
    pub fn get_bool_array(&self, name: impl AsRef<[u8]>) -> Option<BoolArrayRef<'a>> {
        match self.get_type(name, Type::BoolArray)? {
            ValueRef::BoolArray(v) => Some(v),
            _ => None,
        }
    }
    /// A NUMBER_ARRAY value.
    pub fn get_number_array(&self, name: impl AsRef<[u8]>) -> Option<NumberArrayRef<'a>> {
        match self.get_type(name, Type::NumberArray)? {
            ValueRef::NumberArray(v) => Some(v),
            _ => None,
        }
    }
    /// A STRING_ARRAY value.
    pub fn get_string_array(&self, name: impl AsRef<[u8]>) -> Option<StringArrayRef<'a>> {
        match self.get_type(name, Type::StringArray)? {
            ValueRef::StringArray(v) => Some(v),
            _ => None,
        }
    }
    /// An NVLIST_ARRAY value.
    pub fn get_nvlist_array(&self, name: impl AsRef<[u8]>) -> Option<NvListArrayRef<'a>> {
        match self.get_type(name, Type::NvListArray)? {
            ValueRef::NvListArray(v) => Some(v),
            _ => None,
        }
    }
    /// A DESCRIPTOR_ARRAY value (indices).
    pub fn get_descriptor_array(&self, name: impl AsRef<[u8]>) -> Option<DescriptorArrayRef<'a>> {
        match self.get_type(name, Type::DescriptorArray)? {
            ValueRef::DescriptorArray(v) => Some(v),
            _ => None,
        }
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

#[derive(Clone, Copy, Default)]
struct Frame {
    header: usize,
    /// Two bits per name seen in this list (a Bloom filter): a name whose bits are not both
    /// set cannot be a duplicate, so most pairs need no rescan.
    bloom: [u64; 2],
    /// Pairs of this list so far.
    pairs: u32,
    /// Its names are in the duplicate table.
    hashed: bool,
    /// Elements still to come in this nvlist array (for array elements).
    remaining: u64,
    flags: Flags,
    element: bool,
}

struct HeaderInfo {
    flags: u8,
    descriptors: u64,
}

fn read_header(
    msg: &[u8],
    at: usize,
    nfds: usize,
    order: Option<ByteOrder>,
) -> Result<HeaderInfo, DecodeError> {
    let left = msg.len() - at;
    if left < HEADER_SIZE {
        return Err(derr(at, K::TruncatedHeader));
    }
    let h = &msg[at..at + HEADER_SIZE];
    if h[0] != MAGIC {
        return Err(derr(at, K::BadMagic(h[0])));
    }
    if h[2] & !FLAG_WIRE_MASK != 0 {
        return Err(derr(at + 2, K::UnknownFlags(h[2])));
    }
    let own = if h[2] & FLAG_BIG_ENDIAN != 0 {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    if order.is_some_and(|o| o != own) {
        return Err(derr(at + 2, K::MixedByteOrder));
    }
    let descriptors = own.u64(h[3..11].try_into().unwrap_or([0; 8]));
    let size = own.u64(h[11..19].try_into().unwrap_or([0; 8]));
    let actual = (left - HEADER_SIZE) as u64;
    if size != actual {
        return Err(derr(
            at + 11,
            K::SizeMismatch {
                declared: size,
                actual,
            },
        ));
    }
    if descriptors > nfds as u64 {
        return Err(derr(
            at + 3,
            K::TooManyDescriptorsAnnounced {
                declared: descriptors,
                available: nfds as u64,
            },
        ));
    }
    Ok(HeaderInfo {
        flags: h[2],
        descriptors,
    })
}

/// Calls `f(name_offset, name)` for each pair of the list whose header is at `header`, up to
/// offset `end`, until `f` returns true (then returns true). Skips nested content with a
/// depth counter: the part already validated is strictly nested.
fn level_pairs(
    msg: &[u8],
    header: usize,
    end: usize,
    order: ByteOrder,
    mut f: impl FnMut(usize, &[u8]) -> bool,
) -> bool {
    let mut depth = 0usize;
    let mut p = header + HEADER_SIZE;
    while p < end {
        if msg[p] == MAGIC {
            depth += 1;
            p += HEADER_SIZE;
            continue;
        }
        let code = msg[p];
        let namesize = order.u16([msg[p + 1], msg[p + 2]]) as usize;
        let after_name = p + HEADER_SIZE + namesize;
        match code {
            T_UP | T_ARRAY_NEXT => {
                depth = depth.saturating_sub(1);
                p = after_name;
            }
            _ => {
                if depth == 0 && f(p + HEADER_SIZE, &msg[p + HEADER_SIZE..after_name - 1]) {
                    return true;
                }
                p = if code == T_NVLIST || code == T_NVLIST_ARRAY {
                    after_name
                } else {
                    let mut ds = [0u8; 8];
                    ds.copy_from_slice(&msg[p + 3..p + 11]);
                    after_name + order.u64(ds) as usize
                };
            }
        }
    }
    false
}

/// Lists with fewer pairs than this are checked for duplicates by rescanning them (cheap);
/// from this many on, their names go into a hash table.
const RESCAN_PAIRS: u32 = 48;
/// Slots of the on-stack name table of the zero-allocation validator (64 KiB of stack):
/// enough for every pair of any message up to about 120 KiB.
const STACK_SLOTS: usize = 8192;
/// Messages up to this size are validated in a small stack frame: a supervisor validates
/// one on every request, and stack pages once touched stay resident (stack probes touch
/// every page of a big frame even when the table itself is never used).
const SMALL_MESSAGE: usize = 2048;
/// Every pair can be a duplicate candidate: at most `SMALL_MESSAGE / 20` pairs, at load 3/4.
const SMALL_SLOTS: usize = 256;
/// Each level of nesting costs at least a pair header, a one-byte name and a list header
/// (39 bytes) before the next level can open, so a small message nests at most 52 deep.
const SMALL_FRAMES: usize = SMALL_MESSAGE / 39 + 2;

/// Stack space for a name table, zero-filled only when a list gets big.
trait StackSlots {
    fn zeroed(&mut self) -> &mut [u64];
}

impl<const N: usize> StackSlots for std::mem::MaybeUninit<[u64; N]> {
    fn zeroed(&mut self) -> &mut [u64] {
        self.write([0; N])
    }
}

/// Where the duplicate-name hash table lives.
enum Slots<'s> {
    /// Not needed yet.
    Unused,
    /// On the stack (the validator's frame): the zero-allocation validator.
    Stack(&'s mut [u64]),
    /// On the heap, sized for every possible pair of the message: the owned unpacker.
    Heap(Vec<u64>),
    /// A prefix of a caller's [`Scratch`], sized for the message; zeroed again afterwards.
    Scratch(&'s mut [u64]),
}

/// Reusable memory for [`NvView::parse_with`]: a hash table big enough to check names of
/// every message within some [`Limits`] in linear time, allocated once.
///
/// Without it the zero-allocation validator uses a 64 KiB table on the stack, which holds
/// about 6000 names; beyond that, duplicate checks of big lists fall back to rescanning
/// (quadratic in a list's pairs: seconds for a hostile list of 20 000 pairs).
pub struct Scratch {
    slots: Vec<u64>,
}

impl Scratch {
    /// Scratch for messages up to `limits.max_size`: between half and once `max_size` bytes,
    /// zero-filled lazily by the kernel (only the part a message needs is ever touched).
    pub fn new(limits: &Limits) -> Scratch {
        Scratch {
            slots: vec![0; slots_for(limits.max_size)],
        }
    }
}

/// Hash slots needed for every possible pair of a `len`-byte message at load ≤ 3/4.
fn slots_for(len: usize) -> usize {
    // Every pair takes at least 20 bytes.
    let pairs = len / (HEADER_SIZE + 1) + 1;
    (pairs * 4 / 3 + 16).next_power_of_two()
}

/// Duplicate-name detection for one validation pass.
///
/// Small lists are rescanned. Big ones use an open-addressing set of (list header, name);
/// each slot holds `header << 32 | (name offset + 1)`, 0 is empty. If the table fills up
/// (more than 3/4 used: only the stack table can, for messages of over 6144 pairs in big
/// lists) the validator falls back to rescanning, which is complete but quadratic in the
/// pairs of a list.
pub(crate) struct Duplicates<'s> {
    slots: Slots<'s>,
    /// Uninitialized stack space for the stack table, zeroed only if a list gets big.
    stack: Option<&'s mut dyn StackSlots>,
    heap: bool,
    /// A caller's scratch, not yet cut to size.
    scratch: Option<&'s mut [u64]>,
    used: usize,
    full: bool,
}

fn name_hash(name: &[u8], flags: Flags, header: usize) -> usize {
    // FNV-1a over the (case-folded) name, mixed with the list's header offset.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (header as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in name {
        let b = if flags.ignore_case() {
            b.to_ascii_lowercase()
        } else {
            b
        };
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize
}

impl<'s> Duplicates<'s> {
    /// Stack table, no allocation.
    pub(crate) fn on_stack(message_len: usize) -> Duplicates<'s> {
        Duplicates {
            slots: Slots::Unused,
            stack: None,
            heap: false,
            scratch: None,
            used: 0,
            full: message_len > u32::MAX as usize,
        }
    }

    /// Heap table sized for the whole message (allocated only if a list gets big).
    pub(crate) fn on_heap(message_len: usize) -> Duplicates<'s> {
        let mut d = Duplicates::on_stack(message_len);
        d.heap = true;
        d
    }

    /// A prefix of `scratch` sized for the message (the stack table if it is too small).
    pub(crate) fn in_scratch(message_len: usize, scratch: &'s mut Scratch) -> Duplicates<'s> {
        let want = slots_for(message_len);
        let mut d = Duplicates::on_stack(message_len);
        d.scratch = (scratch.slots.len() >= want).then(|| &mut scratch.slots[..want]);
        d
    }

    fn table(&mut self, message_len: usize) -> &mut [u64] {
        if let Slots::Unused = self.slots {
            self.slots = if let Some(s) = self.scratch.take() {
                Slots::Scratch(s)
            } else if self.heap {
                Slots::Heap(vec![0; slots_for(message_len)])
            } else if let Some(space) = self.stack.take() {
                Slots::Stack(space.zeroed())
            } else {
                Slots::Unused
            };
        }
        match &mut self.slots {
            Slots::Stack(s) => s,
            Slots::Heap(v) => v,
            Slots::Scratch(s) => s,
            Slots::Unused => &mut [],
        }
    }

    /// Looks `name` up in list `header`; records it if absent (unless the table is full).
    /// Returns `Some(true)` if present, `Some(false)` if recorded, `None` if full.
    fn insert(
        &mut self,
        msg: &[u8],
        header: usize,
        name: &[u8],
        name_at: usize,
        flags: Flags,
        order: ByteOrder,
    ) -> Option<bool> {
        if self.full {
            return None;
        }
        let used = self.used;
        let slots = self.table(msg.len());
        if slots.is_empty() {
            self.full = true;
            return None;
        }
        let mask = slots.len() - 1;
        let mut i = name_hash(name, flags, header) & mask;
        loop {
            let slot = slots[i];
            if slot == 0 {
                break;
            }
            if (slot >> 32) as usize == header {
                let at = (slot & 0xffff_ffff) as usize - 1;
                let pair = at - HEADER_SIZE;
                let ns = order.u16([msg[pair + 1], msg[pair + 2]]) as usize;
                if names_equal(&msg[at..at + ns - 1], name, flags) {
                    return Some(true);
                }
            }
            i = (i + 1) & mask;
        }
        if used >= slots.len() / 4 * 3 {
            self.full = true;
            return None;
        }
        slots[i] = ((header as u64) << 32) | (name_at as u64 + 1);
        self.used += 1;
        Some(false)
    }

    /// Whether the pair at `p` (name `name` at `name_at`) repeats a name of its list
    /// `frame`; records it. `frame.pairs` counts the list's pairs before this one.
    fn check(
        &mut self,
        msg: &[u8],
        frame: &mut Frame,
        p: usize,
        name: &[u8],
        name_at: usize,
        order: ByteOrder,
    ) -> bool {
        let (header, flags) = (frame.header, frame.flags);
        let rescan =
            |name: &[u8]| level_pairs(msg, header, p, order, |_, n| names_equal(n, name, flags));
        if frame.pairs < RESCAN_PAIRS {
            // The filter holds every name of a list this small.
            let h = name_hash(name, flags, 0);
            let (a, b) = (h & 127, (h >> 7) & 127);
            let maybe_seen = frame.bloom[a / 64] & (1 << (a % 64)) != 0
                && frame.bloom[b / 64] & (1 << (b % 64)) != 0;
            frame.bloom[a / 64] |= 1 << (a % 64);
            frame.bloom[b / 64] |= 1 << (b % 64);
            return maybe_seen && rescan(name);
        }
        if self.full {
            return rescan(name);
        }
        if !frame.hashed {
            // First time this list is big: enter its earlier names.
            level_pairs(msg, header, p, order, |at, n| {
                self.insert(msg, header, n, at, flags, order).is_none()
            });
            frame.hashed = !self.full;
        }
        if frame.hashed {
            if let Some(seen) = self.insert(msg, header, name, name_at, flags, order) {
                return seen;
            }
        }
        frame.hashed = false;
        rescan(name)
    }
}

/// Which table big lists' duplicate checks use.
pub(crate) enum TableMode<'s> {
    /// 64 KiB on the stack (no allocation; rescans beyond ~6000 names).
    Stack,
    /// Allocated for the message.
    Heap,
    /// The caller's scratch.
    Scratch(&'s mut Scratch),
}

impl Drop for Duplicates<'_> {
    fn drop(&mut self) {
        if let Slots::Scratch(s) = &mut self.slots {
            s.fill(0);
        }
    }
}

/// The validator. Returns the message's byte order and top-level flags.
pub(crate) fn validate(
    msg: &[u8],
    nfds: usize,
    options: &UnpackOptions,
    table: TableMode<'_>,
) -> Result<(ByteOrder, Flags), DecodeError> {
    if msg.len() <= SMALL_MESSAGE {
        validate_in::<SMALL_SLOTS, SMALL_FRAMES>(msg, nfds, options, table)
    } else {
        validate_in::<STACK_SLOTS, { MAX_DEPTH_CAP + 1 }>(msg, nfds, options, table)
    }
}

/// The validator proper, with `SLOTS` slots of stack table and room for `FRAMES - 1` levels.
#[inline(never)]
fn validate_in<const SLOTS: usize, const FRAMES: usize>(
    msg: &[u8],
    nfds: usize,
    options: &UnpackOptions,
    table: TableMode<'_>,
) -> Result<(ByteOrder, Flags), DecodeError> {
    let mut stack_table = std::mem::MaybeUninit::<[u64; SLOTS]>::uninit();
    let mut duplicates = match table {
        TableMode::Stack => Duplicates::on_stack(msg.len()),
        TableMode::Heap => Duplicates::on_heap(msg.len()),
        TableMode::Scratch(s) => Duplicates::in_scratch(msg.len(), s),
    };
    duplicates.stack = Some(&mut stack_table);
    let limits = &options.limits;
    if msg.len() > limits.max_size {
        return Err(derr(
            0,
            K::MessageTooLarge {
                size: msg.len() as u64,
                limit: limits.max_size as u64,
            },
        ));
    }
    if nfds > limits.descriptors() {
        return Err(derr(
            0,
            K::TooManyDescriptors {
                count: nfds as u64,
                limit: limits.descriptors() as u64,
            },
        ));
    }
    let top = read_header(msg, 0, nfds, None)?;
    let order = if top.flags & FLAG_BIG_ENDIAN != 0 {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let top_flags = Flags::from_bits_truncate(top.flags);
    if let FlagsCheck::Exact(want) = options.flags {
        if want != top_flags {
            return Err(derr(
                2,
                K::FlagsMismatch {
                    expected: want.bits(),
                    found: top_flags.bits(),
                },
            ));
        }
    }
    // FRAMES covers any depth a message of this size can reach (see SMALL_FRAMES).
    let max_depth = limits.depth().min(FRAMES - 1);
    let mut frames = [Frame::default(); FRAMES];
    let mut depth = 0usize;
    frames[0] = Frame {
        pairs: 0,
        bloom: [0; 2],
        hashed: false,
        header: 0,
        remaining: 0,
        flags: top_flags,
        element: false,
    };
    let mut used = [0u64; MAX_DESCRIPTORS_CAP / 64];
    let mut refs = 0u64;
    let mut use_fd = |at: usize, raw: u64, refs: &mut u64| -> Result<(), DecodeError> {
        let idx = raw as i64;
        if idx < 0 || raw >= nfds as u64 {
            return Err(derr(at, K::BadDescriptorIndex(idx)));
        }
        let (w, b) = (raw as usize / 64, raw % 64);
        if used[w] & (1 << b) != 0 {
            return Err(derr(at, K::DuplicateDescriptorIndex(idx)));
        }
        used[w] |= 1 << b;
        *refs += 1;
        Ok(())
    };

    let len = msg.len();
    let mut p = HEADER_SIZE;
    while p < len {
        if len - p < HEADER_SIZE {
            return Err(derr(p, K::TruncatedPair));
        }
        let r = raw_pair(msg, p, order);
        let code = r.code;
        if !matches!(code, 1..=12 | T_ARRAY_NEXT | T_UP) {
            return Err(derr(p, K::UnknownType(code)));
        }
        let ns = r.namesize;
        if ns == 0 {
            return Err(derr(p + 1, K::EmptyNameSize));
        }
        if ns > NAME_MAX + 1 {
            return Err(derr(p + 1, K::NameTooLong(ns as u16)));
        }
        let name_at = p + HEADER_SIZE;
        if ns > len - name_at {
            return Err(derr(p + 1, K::NameTruncated));
        }
        let name = &msg[name_at..name_at + ns];
        if name[ns - 1] != 0 || name[..ns - 1].contains(&0) {
            return Err(derr(name_at, K::BadName));
        }
        let name = &name[..ns - 1];
        let data = name_at + ns;
        let left = (len - data) as u64;
        let ds = r.datasize;
        if ds > left {
            return Err(derr(p + 3, K::DataTooLong));
        }
        let dsu = ds as usize;
        let bad_size = || Err(derr(p + 3, K::BadDataSize));
        let bad_count = || Err(derr(p + 11, K::BadArrayCount));
        let u64_at = |at: usize| order.u64(msg[at..at + 8].try_into().unwrap_or([0; 8]));

        // Markers first: they are not pairs of any list.
        if code == T_UP {
            let f = frames[depth];
            if depth == 0 || f.element {
                return Err(derr(p, K::UnexpectedUp));
            }
            depth -= 1;
            p = data;
            continue;
        }
        if code == T_ARRAY_NEXT {
            let f = frames[depth];
            if !f.element {
                return Err(derr(p, K::UnexpectedArrayNext));
            }
            if f.remaining > 0 {
                let h = read_header(msg, data, nfds, Some(order))?;
                frames[depth] = Frame {
                    pairs: 0,
                    bloom: [0; 2],
                    hashed: false,
                    header: data,
                    remaining: f.remaining - 1,
                    flags: Flags::from_bits_truncate(h.flags),
                    element: true,
                };
                p = data + HEADER_SIZE;
            } else {
                depth -= 1;
                p = data;
            }
            continue;
        }

        let frame = &mut frames[depth];
        if !frame.flags.no_unique() && duplicates.check(msg, frame, p, name, name_at, order) {
            return Err(derr(name_at, K::DuplicateName));
        }
        frame.pairs = frame.pairs.saturating_add(1);

        p = match code {
            T_NULL => {
                if ds != 0 {
                    return bad_size();
                }
                data
            }
            T_BOOL => {
                if ds != 1 {
                    return bad_size();
                }
                if msg[data] > 1 {
                    return Err(derr(data, K::BadBool(msg[data])));
                }
                data + 1
            }
            T_NUMBER => {
                if ds != 8 {
                    return bad_size();
                }
                data + 8
            }
            T_STRING => {
                if ds == 0 {
                    return bad_size();
                }
                let s = &msg[data..data + dsu];
                if s[dsu - 1] != 0 || s[..dsu - 1].contains(&0) {
                    return Err(derr(data, K::BadString));
                }
                data + dsu
            }
            T_DESCRIPTOR => {
                if ds != 8 {
                    return bad_size();
                }
                use_fd(data, u64_at(data), &mut refs)?;
                data + 8
            }
            T_BINARY => {
                if ds == 0 {
                    return bad_size();
                }
                data + dsu
            }
            T_BOOL_ARRAY => {
                if r.nitems == 0 || ds != r.nitems {
                    return bad_count();
                }
                data + dsu
            }
            T_NUMBER_ARRAY | T_DESCRIPTOR_ARRAY => {
                if r.nitems == 0 || r.nitems.checked_mul(8) != Some(ds) {
                    return bad_count();
                }
                if code == T_DESCRIPTOR_ARRAY {
                    for i in 0..dsu / 8 {
                        use_fd(data + 8 * i, u64_at(data + 8 * i), &mut refs)?;
                    }
                }
                data + dsu
            }
            T_STRING_ARRAY => {
                if r.nitems == 0 || ds == 0 {
                    return bad_count();
                }
                let s = &msg[data..data + dsu];
                let nuls = s.iter().filter(|&&b| b == 0).count() as u64;
                if s[dsu - 1] != 0 || nuls != r.nitems {
                    return bad_count();
                }
                data + dsu
            }
            T_NVLIST => {
                if ds == 0 {
                    return bad_size();
                }
                if depth >= max_depth {
                    return Err(derr(p, K::TooDeep { limit: max_depth }));
                }
                let h = read_header(msg, data, nfds, Some(order))?;
                depth += 1;
                frames[depth] = Frame {
                    pairs: 0,
                    bloom: [0; 2],
                    hashed: false,
                    header: data,
                    remaining: 0,
                    flags: Flags::from_bits_truncate(h.flags),
                    element: false,
                };
                data + HEADER_SIZE
            }
            _ => {
                // T_NVLIST_ARRAY
                if r.nitems == 0 {
                    return bad_count();
                }
                if r.nitems > left / HEADER_SIZE as u64 {
                    return bad_count();
                }
                if depth >= max_depth {
                    return Err(derr(p, K::TooDeep { limit: max_depth }));
                }
                let h = read_header(msg, data, nfds, Some(order))?;
                depth += 1;
                frames[depth] = Frame {
                    pairs: 0,
                    bloom: [0; 2],
                    hashed: false,
                    header: data,
                    remaining: r.nitems - 1,
                    flags: Flags::from_bits_truncate(h.flags),
                    element: true,
                };
                data + HEADER_SIZE
            }
        };
    }
    if depth != 0 {
        return Err(derr(len, K::UnclosedList));
    }
    if refs != top.descriptors {
        return Err(derr(
            3,
            K::DescriptorCountMismatch {
                declared: top.descriptors,
                used: refs,
            },
        ));
    }
    Ok((order, top_flags))
}
