//! Borrowed pairs and values of a validated message, and the iterators that decode them on
//! the fly.

use super::NvView;
use crate::walk::{RawPair, skip_list};
use crate::wire::*;

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

impl<'a> PairIter<'a> {
    /// The pairs of the list whose header is at `header`.
    pub(super) fn new(msg: &'a [u8], header: usize, order: ByteOrder) -> PairIter<'a> {
        PairIter {
            msg,
            pos: header + HEADER_SIZE,
            skip: 0,
            order,
            done: false,
        }
    }
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
        let r = RawPair::at(msg, p, self.order);
        if r.code == T_UP || r.code == T_ARRAY_NEXT {
            self.done = true;
            return None;
        }
        let name_at = p + HEADER_SIZE;
        let name = &msg[name_at..name_at + r.namesize - 1];
        let data = name_at + r.namesize;
        let bytes = &msg[data..data + r.datasize as usize];
        let order = self.order;
        let value = match r.code {
            T_NULL => ValueRef::Null,
            T_BOOL => ValueRef::Bool(bytes[0] != 0),
            T_NUMBER => ValueRef::Number(order.u64_at(bytes, 0)),
            T_STRING => ValueRef::String(&bytes[..bytes.len() - 1]),
            T_NVLIST => {
                self.skip = 1;
                ValueRef::NvList(NvView::at(msg, data, order))
            }
            T_DESCRIPTOR => ValueRef::Descriptor(order.u64_at(bytes, 0) as usize),
            T_BINARY => ValueRef::Binary(bytes),
            T_BOOL_ARRAY => ValueRef::BoolArray(BoolArrayRef(bytes)),
            T_NUMBER_ARRAY => ValueRef::NumberArray(NumberArrayRef { raw: bytes, order }),
            T_STRING_ARRAY => ValueRef::StringArray(StringArrayRef {
                raw: bytes,
                count: r.nitems as usize,
            }),
            T_NVLIST_ARRAY => {
                self.skip = r.nitems;
                ValueRef::NvListArray(NvListArrayRef {
                    msg,
                    first: data,
                    count: r.nitems as usize,
                    order,
                })
            }
            _ => {
                ValueRef::DescriptorArray(DescriptorArrayRef(NumberArrayRef { raw: bytes, order }))
            }
        };
        self.pos = r.next(p);
        Some(PairRef { name, value })
    }
}
