//! The owned list: `NvList`, its pairs and values.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::wire::{Flags, Type, check_name, lossy, names_equal};

/// A value of a pair. Strings are NUL-free byte strings (not necessarily UTF-8).
///
/// Build values freely; [`NvList::add`] checks them (no NUL inside strings, no empty arrays
/// or binaries) before they enter a list.
#[derive(Debug)]
pub enum Value {
    /// `NV_TYPE_NULL`
    Null,
    /// `NV_TYPE_BOOL`
    Bool(bool),
    /// `NV_TYPE_NUMBER`
    Number(u64),
    /// `NV_TYPE_STRING` (without the NUL)
    String(Vec<u8>),
    /// `NV_TYPE_NVLIST`
    NvList(NvList),
    /// `NV_TYPE_DESCRIPTOR`
    Descriptor(OwnedFd),
    /// `NV_TYPE_BINARY` (at least one byte)
    Binary(Vec<u8>),
    /// `NV_TYPE_BOOL_ARRAY` (at least one item)
    BoolArray(Vec<bool>),
    /// `NV_TYPE_NUMBER_ARRAY` (at least one item)
    NumberArray(Vec<u64>),
    /// `NV_TYPE_STRING_ARRAY` (at least one item; items without NUL)
    StringArray(Vec<Vec<u8>>),
    /// `NV_TYPE_NVLIST_ARRAY` (at least one item)
    NvListArray(Vec<NvList>),
    /// `NV_TYPE_DESCRIPTOR_ARRAY` (at least one item)
    DescriptorArray(Vec<OwnedFd>),
}

impl Value {
    /// The value's type.
    pub fn kind(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::NvList(_) => Type::NvList,
            Value::Descriptor(_) => Type::Descriptor,
            Value::Binary(_) => Type::Binary,
            Value::BoolArray(_) => Type::BoolArray,
            Value::NumberArray(_) => Type::NumberArray,
            Value::StringArray(_) => Type::StringArray,
            Value::NvListArray(_) => Type::NvListArray,
            Value::DescriptorArray(_) => Type::DescriptorArray,
        }
    }

    /// A deep copy; descriptors are duplicated with `F_DUPFD_CLOEXEC`.
    pub fn try_clone(&self) -> std::io::Result<Value> {
        Ok(match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Number(n) => Value::Number(*n),
            Value::String(s) => Value::String(s.clone()),
            Value::NvList(l) => Value::NvList(l.try_clone()?),
            Value::Descriptor(fd) => Value::Descriptor(dup_cloexec(fd.as_fd())?),
            Value::Binary(b) => Value::Binary(b.clone()),
            Value::BoolArray(v) => Value::BoolArray(v.clone()),
            Value::NumberArray(v) => Value::NumberArray(v.clone()),
            Value::StringArray(v) => Value::StringArray(v.clone()),
            Value::NvListArray(v) => Value::NvListArray(
                v.iter()
                    .map(NvList::try_clone)
                    .collect::<std::io::Result<_>>()?,
            ),
            Value::DescriptorArray(v) => Value::DescriptorArray(
                v.iter()
                    .map(|fd| dup_cloexec(fd.as_fd()))
                    .collect::<std::io::Result<_>>()?,
            ),
        })
    }

    /// Number of descriptors in this value, nested lists included.
    pub fn descriptor_count(&self) -> usize {
        match self {
            Value::Descriptor(_) => 1,
            Value::DescriptorArray(v) => v.len(),
            Value::NvList(l) => l.descriptor_count(),
            Value::NvListArray(v) => v.iter().map(NvList::descriptor_count).sum(),
            _ => 0,
        }
    }

    fn check(&self, name: &[u8]) -> Result<()> {
        let empty = |kind| {
            Err(Error::Empty {
                kind,
                name: lossy(name),
            })
        };
        match self {
            Value::String(s) if s.contains(&0) => Err(Error::StringHasNul(lossy(name))),
            Value::StringArray(v) if v.iter().any(|s| s.contains(&0)) => {
                Err(Error::StringHasNul(lossy(name)))
            }
            Value::Binary(b) if b.is_empty() => empty("binary"),
            Value::BoolArray(v) if v.is_empty() => empty("bool array"),
            Value::NumberArray(v) if v.is_empty() => empty("number array"),
            Value::StringArray(v) if v.is_empty() => empty("string array"),
            Value::NvListArray(v) if v.is_empty() => empty("nvlist array"),
            Value::DescriptorArray(v) if v.is_empty() => empty("descriptor array"),
            _ => Ok(()),
        }
    }
}

/// Compares content; descriptors compare equal when their numbers are equal.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (String(a), String(b)) | (Binary(a), Binary(b)) => a == b,
            (NvList(a), NvList(b)) => a == b,
            (Descriptor(a), Descriptor(b)) => a.as_raw_fd() == b.as_raw_fd(),
            (BoolArray(a), BoolArray(b)) => a == b,
            (NumberArray(a), NumberArray(b)) => a == b,
            (StringArray(a), StringArray(b)) => a == b,
            (NvListArray(a), NvListArray(b)) => a == b,
            (DescriptorArray(a), DescriptorArray(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_raw_fd() == y.as_raw_fd())
            }
            _ => false,
        }
    }
}

/// One name/value pair of a list.
#[derive(Debug, PartialEq)]
pub struct Pair {
    name: Vec<u8>,
    value: Value,
}

impl Pair {
    /// The name (no NUL, at most 2047 bytes).
    pub fn name(&self) -> &[u8] {
        &self.name
    }
    /// The name as UTF-8, if it is.
    pub fn name_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.name).ok()
    }
    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// Splits the pair.
    pub fn into_parts(self) -> (Vec<u8>, Value) {
        (self.name, self.value)
    }
}

/// An owned name/value list (C's `nvlist_t`).
///
/// Pairs stay in insertion order. Names are unique unless the list has
/// [`Flags::NO_UNIQUE`], and compared with ASCII case folding under [`Flags::IGNORE_CASE`];
/// every lookup returns the first match. Nothing aborts: adds return `Result`, lookups
/// return `Option`.
#[derive(Debug, Default, PartialEq)]
pub struct NvList {
    flags: Flags,
    pairs: Vec<Pair>,
}

macro_rules! getter {
    ($(#[$doc:meta])* $get:ident, $take:ident, $variant:ident, $ret:ty, |$v:ident| $conv:expr, $owned:ty) => {
        $(#[$doc])*
        pub fn $get(&self, name: impl AsRef<[u8]>) -> Option<$ret> {
            match self.get_typed(name.as_ref(), Type::$variant) {
                Some(Value::$variant($v)) => Some($conv),
                _ => None,
            }
        }
        /// Removes the first pair of that name *and this type* and returns its value; `None`
        /// (and the list unchanged) when there is none.
        pub fn $take(&mut self, name: impl AsRef<[u8]>) -> Option<$owned> {
            match self.take_typed(name.as_ref(), Type::$variant) {
                Some(Value::$variant(v)) => Some(v),
                _ => None,
            }
        }
    };
}

impl NvList {
    /// An empty list without flags.
    pub fn new() -> NvList {
        NvList::default()
    }

    /// An empty list with `flags`.
    pub fn with_flags(flags: Flags) -> NvList {
        NvList {
            flags,
            pairs: Vec::new(),
        }
    }

    /// The list's public flags.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// No pairs (C's `nvlist_empty`).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs in insertion order.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Iterates `(name, value)` in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Value)> {
        self.pairs.iter().map(|p| (p.name.as_slice(), &p.value))
    }

    /// Consumes the list into its pairs.
    pub fn into_pairs(self) -> Vec<Pair> {
        self.pairs
    }

    fn position(&self, name: &[u8], kind: Option<Type>) -> Option<usize> {
        self.pairs.iter().position(|p| {
            names_equal(&p.name, name, self.flags) && kind.is_none_or(|k| p.value.kind() == k)
        })
    }

    /// Adds a pair, checking the name (≤ 2047 bytes, no NUL), the value (no NUL in strings,
    /// no empty arrays or binaries) and uniqueness (unless `NO_UNIQUE`). On error the list is
    /// unchanged (and the value, with any descriptor in it, is dropped).
    pub fn add(&mut self, name: impl AsRef<[u8]>, value: Value) -> Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        value.check(name)?;
        if !self.flags.no_unique() && self.position(name, None).is_some() {
            return Err(Error::Exists(lossy(name)));
        }
        self.pairs.push(Pair {
            name: name.to_vec(),
            value,
        });
        Ok(())
    }

    /// Adds a NULL pair.
    pub fn add_null(&mut self, name: impl AsRef<[u8]>) -> Result<()> {
        self.add(name, Value::Null)
    }
    /// Adds a BOOL pair.
    pub fn add_bool(&mut self, name: impl AsRef<[u8]>, value: bool) -> Result<()> {
        self.add(name, Value::Bool(value))
    }
    /// Adds a NUMBER pair.
    pub fn add_number(&mut self, name: impl AsRef<[u8]>, value: u64) -> Result<()> {
        self.add(name, Value::Number(value))
    }
    /// Adds a STRING pair (`&str`, `&[u8]`, `String`, ...; no NUL inside).
    pub fn add_string(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.add(name, Value::String(value.as_ref().to_vec()))
    }
    /// Adds a nested list (moved in; C copies).
    pub fn add_nvlist(&mut self, name: impl AsRef<[u8]>, value: NvList) -> Result<()> {
        self.add(name, Value::NvList(value))
    }
    /// Adds a duplicate (`F_DUPFD_CLOEXEC`) of `fd` (C's `nvlist_add_descriptor`).
    pub fn add_descriptor(&mut self, name: impl AsRef<[u8]>, fd: BorrowedFd<'_>) -> Result<()> {
        let fd = dup_cloexec(fd).map_err(|e| Error::io("dup descriptor", e))?;
        self.add(name, Value::Descriptor(fd))
    }
    /// Adds `fd` itself, taking ownership (C's `nvlist_move_descriptor`).
    pub fn move_descriptor(&mut self, name: impl AsRef<[u8]>, fd: OwnedFd) -> Result<()> {
        self.add(name, Value::Descriptor(fd))
    }
    /// Adds a BINARY pair (at least one byte).
    pub fn add_binary(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.add(name, Value::Binary(value.as_ref().to_vec()))
    }
    /// Adds a BOOL_ARRAY pair (at least one item).
    pub fn add_bool_array(&mut self, name: impl AsRef<[u8]>, value: &[bool]) -> Result<()> {
        self.add(name, Value::BoolArray(value.to_vec()))
    }
    /// Adds a NUMBER_ARRAY pair (at least one item).
    pub fn add_number_array(&mut self, name: impl AsRef<[u8]>, value: &[u64]) -> Result<()> {
        self.add(name, Value::NumberArray(value.to_vec()))
    }
    /// Adds a STRING_ARRAY pair (at least one item; items `&str` or bytes, no NUL inside).
    pub fn add_string_array<I>(&mut self, name: impl AsRef<[u8]>, items: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let items = items.into_iter().map(|s| s.as_ref().to_vec()).collect();
        self.add(name, Value::StringArray(items))
    }
    /// Adds an NVLIST_ARRAY pair (at least one item; lists moved in).
    pub fn add_nvlist_array(&mut self, name: impl AsRef<[u8]>, value: Vec<NvList>) -> Result<()> {
        self.add(name, Value::NvListArray(value))
    }
    /// Adds duplicates (`F_DUPFD_CLOEXEC`) of `fds` as a DESCRIPTOR_ARRAY (at least one).
    pub fn add_descriptor_array(
        &mut self,
        name: impl AsRef<[u8]>,
        fds: &[BorrowedFd<'_>],
    ) -> Result<()> {
        let owned = fds
            .iter()
            .map(|fd| dup_cloexec(*fd))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io("dup descriptor", e))?;
        self.add(name, Value::DescriptorArray(owned))
    }
    /// Adds `fds` themselves as a DESCRIPTOR_ARRAY, taking ownership (at least one).
    pub fn move_descriptor_array(
        &mut self,
        name: impl AsRef<[u8]>,
        fds: Vec<OwnedFd>,
    ) -> Result<()> {
        self.add(name, Value::DescriptorArray(fds))
    }

    /// Whether a pair of that name exists (any type).
    pub fn contains(&self, name: impl AsRef<[u8]>) -> bool {
        self.position(name.as_ref(), None).is_some()
    }
    /// Same as [`NvList::contains`] (C's `nvlist_exists`).
    pub fn exists(&self, name: impl AsRef<[u8]>) -> bool {
        self.contains(name)
    }
    /// Whether a pair of that name and type exists (C's `nvlist_exists_type`).
    pub fn contains_type(&self, name: impl AsRef<[u8]>, kind: Type) -> bool {
        self.position(name.as_ref(), Some(kind)).is_some()
    }

    /// The value of the first pair with that name.
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&Value> {
        self.position(name.as_ref(), None)
            .map(|i| &self.pairs[i].value)
    }
    /// Mutable access to the value of the first pair with that name. Replacing it with an
    /// invalid value (an empty array, a string with a NUL) makes packing fail later.
    pub fn get_mut(&mut self, name: impl AsRef<[u8]>) -> Option<&mut Value> {
        self.position(name.as_ref(), None)
            .map(|i| &mut self.pairs[i].value)
    }
    /// Every value with that name, in order (useful with `NO_UNIQUE`).
    pub fn get_all<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s Value> + 's {
        self.pairs
            .iter()
            .filter(move |p| names_equal(&p.name, name, self.flags))
            .map(|p| &p.value)
    }
    fn get_typed(&self, name: &[u8], kind: Type) -> Option<&Value> {
        self.position(name, Some(kind))
            .map(|i| &self.pairs[i].value)
    }

    /// Whether a NULL pair of that name exists.
    pub fn get_null(&self, name: impl AsRef<[u8]>) -> bool {
        self.contains_type(name, Type::Null)
    }
    /// A BOOL value.
    pub fn get_bool(&self, name: impl AsRef<[u8]>) -> Option<bool> {
        match self.get_typed(name.as_ref(), Type::Bool) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    /// A NUMBER value.
    pub fn get_number(&self, name: impl AsRef<[u8]>) -> Option<u64> {
        match self.get_typed(name.as_ref(), Type::Number) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }
    /// A STRING value as UTF-8; `None` if absent *or not UTF-8* (see [`NvList::get_string`]).
    pub fn get_str(&self, name: impl AsRef<[u8]>) -> Option<&str> {
        self.get_string(name)
            .and_then(|s| std::str::from_utf8(s).ok())
    }
    /// A DESCRIPTOR value, borrowed.
    pub fn get_descriptor(&self, name: impl AsRef<[u8]>) -> Option<BorrowedFd<'_>> {
        match self.get_typed(name.as_ref(), Type::Descriptor) {
            Some(Value::Descriptor(fd)) => Some(fd.as_fd()),
            _ => None,
        }
    }
    /// A mutable nested list.
    pub fn get_nvlist_mut(&mut self, name: impl AsRef<[u8]>) -> Option<&mut NvList> {
        let i = self.position(name.as_ref(), Some(Type::NvList))?;
        match &mut self.pairs[i].value {
            Value::NvList(l) => Some(l),
            _ => None,
        }
    }

    getter!(
        /// A STRING value as bytes (without NUL).
        get_string, take_string, String, &[u8], |v| v.as_slice(), Vec<u8>);
    getter!(
        /// A nested list.
        get_nvlist, take_nvlist, NvList, &NvList, |v| v, NvList);
    getter!(
        /// A BINARY value.
        get_binary, take_binary, Binary, &[u8], |v| v.as_slice(), Vec<u8>);
    getter!(
        /// A BOOL_ARRAY value.
        get_bool_array, take_bool_array, BoolArray, &[bool], |v| v.as_slice(), Vec<bool>);
    getter!(
        /// A NUMBER_ARRAY value.
        get_number_array, take_number_array, NumberArray, &[u64], |v| v.as_slice(), Vec<u64>);
    getter!(
        /// A STRING_ARRAY value (items as bytes, without NUL).
        get_string_array, take_string_array, StringArray, &[Vec<u8>], |v| v.as_slice(), Vec<Vec<u8>>);
    getter!(
        /// An NVLIST_ARRAY value.
        get_nvlist_array, take_nvlist_array, NvListArray, &[NvList], |v| v.as_slice(), Vec<NvList>);
    getter!(
        /// A DESCRIPTOR_ARRAY value (owned by the list).
        get_descriptor_array, take_descriptor_array, DescriptorArray, &[OwnedFd], |v| v.as_slice(), Vec<OwnedFd>);

    /// Removes the first BOOL pair of that name and returns its value.
    pub fn take_bool(&mut self, name: impl AsRef<[u8]>) -> Option<bool> {
        match self.take_typed(name.as_ref(), Type::Bool) {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        }
    }
    /// Removes the first NUMBER pair of that name and returns its value.
    pub fn take_number(&mut self, name: impl AsRef<[u8]>) -> Option<u64> {
        match self.take_typed(name.as_ref(), Type::Number) {
            Some(Value::Number(n)) => Some(n),
            _ => None,
        }
    }
    /// Removes the first DESCRIPTOR pair of that name and returns the descriptor.
    pub fn take_descriptor(&mut self, name: impl AsRef<[u8]>) -> Option<OwnedFd> {
        match self.take_typed(name.as_ref(), Type::Descriptor) {
            Some(Value::Descriptor(fd)) => Some(fd),
            _ => None,
        }
    }

    fn take_typed(&mut self, name: &[u8], kind: Type) -> Option<Value> {
        self.position(name, Some(kind))
            .map(|i| self.pairs.remove(i).value)
    }

    /// Removes the first pair of that name (any type) and returns its value.
    pub fn take(&mut self, name: impl AsRef<[u8]>) -> Option<Value> {
        self.position(name.as_ref(), None)
            .map(|i| self.pairs.remove(i).value)
    }
    /// Removes the first pair of that name and type and returns its value.
    pub fn take_type(&mut self, name: impl AsRef<[u8]>, kind: Type) -> Option<Value> {
        self.take_typed(name.as_ref(), kind)
    }
    /// Removes (and drops, closing descriptors) the first pair of that name; false if none
    /// (C's `nvlist_free`).
    pub fn remove(&mut self, name: impl AsRef<[u8]>) -> bool {
        self.take(name).is_some()
    }
    /// Removes the first pair of that name and type; false if none.
    pub fn remove_type(&mut self, name: impl AsRef<[u8]>, kind: Type) -> bool {
        self.take_typed(name.as_ref(), kind).is_some()
    }

    /// A deep copy with the same flags; descriptors duplicated with `F_DUPFD_CLOEXEC`
    /// (C's `nvlist_clone`).
    pub fn try_clone(&self) -> std::io::Result<NvList> {
        let mut pairs = Vec::with_capacity(self.pairs.len());
        for p in &self.pairs {
            pairs.push(Pair {
                name: p.name.clone(),
                value: p.value.try_clone()?,
            });
        }
        Ok(NvList {
            flags: self.flags,
            pairs,
        })
    }

    /// Number of descriptors in the list, nested lists included.
    pub fn descriptor_count(&self) -> usize {
        self.pairs.iter().map(|p| p.value.descriptor_count()).sum()
    }

    /// Calls `f` for every descriptor in depth-first order (the order of their indices when
    /// packed).
    pub(crate) fn for_each_fd(&self, f: &mut impl FnMut(BorrowedFd<'_>)) {
        for p in &self.pairs {
            match &p.value {
                Value::Descriptor(fd) => f(fd.as_fd()),
                Value::DescriptorArray(v) => v.iter().for_each(|fd| f(fd.as_fd())),
                Value::NvList(l) => l.for_each_fd(f),
                Value::NvListArray(v) => v.iter().for_each(|l| l.for_each_fd(f)),
                _ => {}
            }
        }
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.pairs.reserve(n);
    }

    /// Adds a pair without checks; for the decoder, whose input was validated.
    pub(crate) fn push_unchecked(&mut self, name: Vec<u8>, value: Value) {
        self.pairs.push(Pair { name, value });
    }
}

/// Duplicates a descriptor with close-on-exec set (`fcntl(F_DUPFD_CLOEXEC)`).
pub fn dup_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    fd.try_clone_to_owned()
}
