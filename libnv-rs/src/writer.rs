//! Streaming packer: appends a packed nvlist to a caller's `Vec<u8>` without allocating when
//! the vector has room, and back-patches the header sizes, descriptor counts and the odd
//! NVLIST datasizes (format §6.1) in [`NvWriter::finish`].
//!
//! The writer keeps no stack of its own: while a list is open, the two 8-byte fields of its
//! header (patched at the end anyway) hold the link to the enclosing header and what kind of
//! list it is. Any nesting depth therefore costs no memory besides the output itself.

use std::os::fd::RawFd;

use crate::error::{Error, Result};
use crate::wire::*;

/// Open-list kinds stored in the placeholder `nvlh_descriptors` field while writing.
const KIND_ROOT: u64 = 0;
const KIND_NESTED: u64 = 1;
/// Element of the array whose pair header starts at `value - KIND_ELEMENT_BASE`.
const KIND_ELEMENT_BASE: u64 = 2;

/// Appends one packed nvlist to a `Vec<u8>`.
///
/// ```
/// use libnv::{Flags, NvWriter, NvView};
/// let mut buf = Vec::with_capacity(256);
/// let mut w = NvWriter::new(&mut buf, Flags::NONE);
/// w.add_string("ipc:method", "status")?;
/// w.begin_nvlist("args", Flags::NONE)?;
/// w.add_number("pid", 42)?;
/// w.end_nvlist()?;
/// w.finish()?;
/// let view = NvView::new(&buf)?;
/// assert_eq!(view.get_nvlist("args").unwrap().get_number("pid"), Some(42));
/// # Ok::<(), libnv::Error>(())
/// ```
///
/// Names are checked (≤ 2047 bytes, no NUL) and so are values, but uniqueness of names is
/// **not** checked: a duplicate makes a message the receiver rejects. If the writer is dropped
/// without a successful [`finish`](NvWriter::finish), the vector is truncated back to where the
/// writer started.
pub struct NvWriter<'b> {
    buf: &'b mut Vec<u8>,
    fds: Option<&'b mut Vec<RawFd>>,
    start: usize,
    order: ByteOrder,
    /// Offset (absolute) of the header of the innermost open list.
    current: usize,
    /// Absolute offset of the NVLIST_ARRAY pair whose elements are being written, when the
    /// writer is between elements.
    open_array: Option<usize>,
    /// Descriptors referenced so far.
    descriptors: u64,
    /// Σ over written pairs of what C's `nvlist_size` counts for them (format §6.1).
    size_units: u64,
    finished: bool,
}

impl<'b> NvWriter<'b> {
    /// Starts a top-level list with `flags` in the machine's byte order, appending to `buf`.
    pub fn new(buf: &'b mut Vec<u8>, flags: Flags) -> NvWriter<'b> {
        NvWriter::with_order(buf, flags, ByteOrder::native())
    }

    /// Starts a top-level list with `flags` in byte order `order`.
    pub fn with_order(buf: &'b mut Vec<u8>, flags: Flags, order: ByteOrder) -> NvWriter<'b> {
        let start = buf.len();
        let mut w = NvWriter {
            buf,
            fds: None,
            start,
            order,
            current: start,
            open_array: None,
            descriptors: 0,
            size_units: 0,
            finished: false,
        };
        w.put_header(flags, KIND_ROOT, 0);
        w
    }

    /// Like [`NvWriter::with_order`], and descriptors may be added: their raw numbers are
    /// appended to `fds` in index order (the order to send them in). The caller keeps them
    /// open until sent.
    pub fn with_fds(
        buf: &'b mut Vec<u8>,
        fds: &'b mut Vec<RawFd>,
        flags: Flags,
        order: ByteOrder,
    ) -> NvWriter<'b> {
        let mut w = NvWriter::with_order(buf, flags, order);
        w.fds = Some(fds);
        w
    }

    /// The byte order being written.
    pub fn order(&self) -> ByteOrder {
        self.order
    }

    fn put_header(&mut self, flags: Flags, kind: u64, link: u64) {
        let mut flag_byte = flags.bits();
        if self.order.is_big() {
            flag_byte |= FLAG_BIG_ENDIAN;
        }
        self.buf.extend_from_slice(&[MAGIC, VERSION, flag_byte]);
        // Placeholders until finish(): kind and link, always little endian.
        self.buf.extend_from_slice(&kind.to_le_bytes());
        self.buf.extend_from_slice(&link.to_le_bytes());
    }

    fn put_pair_header(&mut self, code: u8, name: &[u8], datasize: u64, nitems: u64) {
        let o = self.order;
        self.buf.push(code);
        self.buf
            .extend_from_slice(&o.u16_bytes((name.len() + 1) as u16));
        self.buf.extend_from_slice(&o.u64_bytes(datasize));
        self.buf.extend_from_slice(&o.u64_bytes(nitems));
        self.buf.extend_from_slice(name);
        self.buf.push(0);
    }

    fn can_add(&self, name: &[u8]) -> Result<()> {
        if self.finished {
            return Err(Error::Writer("the writer is finished"));
        }
        if self.open_array.is_some() {
            return Err(Error::Writer(
                "inside an nvlist array: begin an element or end the array",
            ));
        }
        check_name(name)
    }

    fn leaf(&mut self, code: u8, name: &[u8], datasize: u64, nitems: u64) {
        self.put_pair_header(code, name, datasize, nitems);
        self.size_units += (HEADER_SIZE + name.len() + 1) as u64 + datasize;
    }

    /// Appends a NULL pair.
    pub fn add_null(&mut self, name: impl AsRef<[u8]>) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        self.leaf(T_NULL, name, 0, 0);
        Ok(())
    }

    /// Appends a BOOL pair.
    pub fn add_bool(&mut self, name: impl AsRef<[u8]>, value: bool) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        self.leaf(T_BOOL, name, 1, 0);
        self.buf.push(value as u8);
        Ok(())
    }

    /// Appends a NUMBER pair.
    pub fn add_number(&mut self, name: impl AsRef<[u8]>, value: u64) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        self.leaf(T_NUMBER, name, 8, 0);
        let b = self.order.u64_bytes(value);
        self.buf.extend_from_slice(&b);
        Ok(())
    }

    /// Appends a STRING pair (no NUL inside).
    pub fn add_string(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (name, value) = (name.as_ref(), value.as_ref());
        self.can_add(name)?;
        if value.contains(&0) {
            return Err(Error::StringHasNul(lossy(name)));
        }
        self.leaf(T_STRING, name, value.len() as u64 + 1, 0);
        self.buf.extend_from_slice(value);
        self.buf.push(0);
        Ok(())
    }

    /// Appends a DESCRIPTOR pair for `fd` (needs [`NvWriter::with_fds`]).
    pub fn add_descriptor(&mut self, name: impl AsRef<[u8]>, fd: RawFd) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        let Some(fds) = self.fds.as_deref_mut() else {
            return Err(Error::HasDescriptors);
        };
        fds.push(fd);
        let index = self.descriptors;
        self.descriptors += 1;
        self.leaf(T_DESCRIPTOR, name, 8, 0);
        let b = self.order.u64_bytes(index);
        self.buf.extend_from_slice(&b);
        Ok(())
    }

    /// Appends a BINARY pair (at least one byte).
    pub fn add_binary(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (name, value) = (name.as_ref(), value.as_ref());
        self.can_add(name)?;
        if value.is_empty() {
            return Err(empty("binary", name));
        }
        self.leaf(T_BINARY, name, value.len() as u64, 0);
        self.buf.extend_from_slice(value);
        Ok(())
    }

    /// Appends a BOOL_ARRAY pair (at least one item).
    pub fn add_bool_array(&mut self, name: impl AsRef<[u8]>, value: &[bool]) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        if value.is_empty() {
            return Err(empty("bool array", name));
        }
        let n = value.len() as u64;
        self.leaf(T_BOOL_ARRAY, name, n, n);
        self.buf.extend(value.iter().map(|&b| b as u8));
        Ok(())
    }

    /// Appends a NUMBER_ARRAY pair (at least one item).
    pub fn add_number_array(&mut self, name: impl AsRef<[u8]>, value: &[u64]) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        if value.is_empty() {
            return Err(empty("number array", name));
        }
        let n = value.len() as u64;
        self.leaf(T_NUMBER_ARRAY, name, 8 * n, n);
        for &v in value {
            let b = self.order.u64_bytes(v);
            self.buf.extend_from_slice(&b);
        }
        Ok(())
    }

    /// Appends a STRING_ARRAY pair (at least one item, no NUL inside items).
    pub fn add_string_array<I>(&mut self, name: impl AsRef<[u8]>, items: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let name = name.as_ref();
        self.can_add(name)?;
        let pair = self.buf.len();
        self.put_pair_header(T_STRING_ARRAY, name, 0, 0);
        let payload = self.buf.len();
        let mut n = 0u64;
        for item in items {
            let item = item.as_ref();
            if item.contains(&0) {
                self.buf.truncate(pair);
                return Err(Error::StringHasNul(lossy(name)));
            }
            self.buf.extend_from_slice(item);
            self.buf.push(0);
            n += 1;
        }
        if n == 0 {
            self.buf.truncate(pair);
            return Err(empty("string array", name));
        }
        let datasize = (self.buf.len() - payload) as u64;
        self.patch_u64(pair + 3, datasize);
        self.patch_u64(pair + 11, n);
        self.size_units += (HEADER_SIZE + name.len() + 1) as u64 + datasize;
        Ok(())
    }

    /// Appends a DESCRIPTOR_ARRAY pair (at least one; needs [`NvWriter::with_fds`]).
    pub fn add_descriptor_array(&mut self, name: impl AsRef<[u8]>, fds: &[RawFd]) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        if fds.is_empty() {
            return Err(empty("descriptor array", name));
        }
        let Some(sink) = self.fds.as_deref_mut() else {
            return Err(Error::HasDescriptors);
        };
        sink.extend_from_slice(fds);
        let n = fds.len() as u64;
        self.leaf(T_DESCRIPTOR_ARRAY, name, 8 * n, n);
        for i in 0..n {
            let b = self.order.u64_bytes(self.descriptors + i);
            self.buf.extend_from_slice(&b);
        }
        self.descriptors += n;
        Ok(())
    }

    /// Opens a nested list named `name`; pairs added next go into it until
    /// [`NvWriter::end_nvlist`].
    pub fn begin_nvlist(&mut self, name: impl AsRef<[u8]>, flags: Flags) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        // Datasize is patched in finish().
        self.put_pair_header(T_NVLIST, name, 0, 0);
        self.size_units += (HEADER_SIZE + name.len() + 1 + HEADER_SIZE + MARKER_SIZE) as u64;
        let parent = self.current;
        self.current = self.buf.len();
        self.put_header(flags, KIND_NESTED, parent as u64);
        Ok(())
    }

    /// Closes the nested list opened last.
    pub fn end_nvlist(&mut self) -> Result<()> {
        if self.finished || self.open_array.is_some() {
            return Err(Error::Writer("no nested list is open"));
        }
        let (kind, link) = self.placeholders(self.current);
        if kind != KIND_NESTED {
            return Err(Error::Writer(
                "the innermost open list is not a nested nvlist",
            ));
        }
        self.put_marker(T_UP);
        self.current = link as usize;
        Ok(())
    }

    /// Opens an nvlist array named `name`; then call [`NvWriter::begin_element`] /
    /// [`NvWriter::end_element`] for each element and [`NvWriter::end_nvlist_array`].
    pub fn begin_nvlist_array(&mut self, name: impl AsRef<[u8]>) -> Result<()> {
        let name = name.as_ref();
        self.can_add(name)?;
        let pair = self.buf.len();
        self.put_pair_header(T_NVLIST_ARRAY, name, 0, 0);
        self.size_units += (HEADER_SIZE + name.len() + 1) as u64;
        self.open_array = Some(pair);
        Ok(())
    }

    /// Opens the next element of the open nvlist array.
    pub fn begin_element(&mut self, flags: Flags) -> Result<()> {
        let Some(pair) = self.open_array.filter(|_| !self.finished) else {
            return Err(Error::Writer("no nvlist array is open"));
        };
        let n = self.read_u64(pair + 11) + 1;
        self.patch_u64(pair + 11, n);
        self.size_units += (HEADER_SIZE + MARKER_SIZE) as u64;
        let parent = self.current;
        self.current = self.buf.len();
        self.put_header(
            flags,
            KIND_ELEMENT_BASE + (pair - self.start) as u64,
            parent as u64,
        );
        self.open_array = None;
        Ok(())
    }

    /// Closes the current nvlist-array element.
    pub fn end_element(&mut self) -> Result<()> {
        if self.finished || self.open_array.is_some() {
            return Err(Error::Writer("no array element is open"));
        }
        let (kind, link) = self.placeholders(self.current);
        if kind < KIND_ELEMENT_BASE {
            return Err(Error::Writer(
                "the innermost open list is not an array element",
            ));
        }
        self.put_marker(T_ARRAY_NEXT);
        self.current = link as usize;
        self.open_array = Some(self.start + (kind - KIND_ELEMENT_BASE) as usize);
        Ok(())
    }

    /// Closes the open nvlist array. An array without elements is refused and removed.
    pub fn end_nvlist_array(&mut self) -> Result<()> {
        let Some(pair) = self.open_array.filter(|_| !self.finished) else {
            return Err(Error::Writer("no nvlist array is open"));
        };
        self.open_array = None;
        if self.read_u64(pair + 11) == 0 {
            let namesize = self.order.u16([self.buf[pair + 1], self.buf[pair + 2]]) as usize;
            self.size_units -= (HEADER_SIZE + namesize) as u64;
            let name = lossy(&self.buf[pair + HEADER_SIZE..pair + HEADER_SIZE + namesize - 1]);
            self.buf.truncate(pair);
            return Err(Error::Empty {
                kind: "nvlist array",
                name,
            });
        }
        Ok(())
    }

    fn put_marker(&mut self, code: u8) {
        self.buf.push(code);
        self.buf.extend_from_slice(&self.order.u16_bytes(1));
        self.buf.extend_from_slice(&[0u8; 16]);
        self.buf.push(0);
    }

    fn placeholders(&self, header: usize) -> (u64, u64) {
        let kind = u64::from_le_bytes(self.buf[header + 3..header + 11].try_into().unwrap());
        let link = u64::from_le_bytes(self.buf[header + 11..header + 19].try_into().unwrap());
        (kind, link)
    }

    fn read_u64(&self, at: usize) -> u64 {
        self.order.u64(self.buf[at..at + 8].try_into().unwrap())
    }

    fn patch_u64(&mut self, at: usize, v: u64) {
        let b = self.order.u64_bytes(v);
        self.buf[at..at + 8].copy_from_slice(&b);
    }

    /// Completes the message: every nested list and array must be closed. Patches the
    /// headers and NVLIST datasizes and returns the message's length. Walks the output once
    /// and allocates nothing.
    pub fn finish(mut self) -> Result<usize> {
        if self.finished {
            return Err(Error::Writer("the writer is finished"));
        }
        if self.open_array.is_some() || self.current != self.start {
            return Err(Error::Writer("a nested list or array is still open"));
        }
        self.finished = true;
        self.patch_all();
        Ok(self.buf.len() - self.start)
    }

    fn patch_all(&mut self) {
        let end = self.buf.len();
        let order = self.order;
        let total_fds = self.descriptors;
        let total_units = self.size_units;
        let mut fds_seen = 0u64;
        let mut units_seen = 0u64;
        let mut p = self.start;
        while p < end {
            if self.buf[p] == MAGIC {
                self.patch_u64(p + 3, total_fds - fds_seen);
                self.patch_u64(p + 11, (end - p - HEADER_SIZE) as u64);
                p += HEADER_SIZE;
                continue;
            }
            let code = self.buf[p];
            let namesize = order.u16([self.buf[p + 1], self.buf[p + 2]]) as usize;
            let datasize = self.read_u64(p + 3);
            let nitems = self.read_u64(p + 11);
            let after_name = p + HEADER_SIZE + namesize;
            let own = (HEADER_SIZE + namesize) as u64;
            match code {
                T_NVLIST => {
                    units_seen += own + (HEADER_SIZE + MARKER_SIZE) as u64;
                    let child_empty = self.buf[after_name + HEADER_SIZE] == T_UP;
                    let d = if child_empty {
                        HEADER_SIZE as u64
                    } else {
                        HEADER_SIZE as u64 + total_units - units_seen
                    };
                    self.patch_u64(p + 3, d);
                    p = after_name;
                }
                T_NVLIST_ARRAY => {
                    units_seen += own + (HEADER_SIZE + MARKER_SIZE) as u64 * nitems;
                    p = after_name;
                }
                T_UP | T_ARRAY_NEXT => p = after_name,
                _ => {
                    if code == T_DESCRIPTOR {
                        fds_seen += 1;
                    } else if code == T_DESCRIPTOR_ARRAY {
                        fds_seen += nitems;
                    }
                    units_seen += own + datasize;
                    p = after_name + datasize as usize;
                }
            }
        }
    }
}

impl Drop for NvWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.buf.truncate(self.start);
        }
    }
}

fn empty(kind: &'static str, name: &[u8]) -> Error {
    Error::Empty {
        kind,
        name: lossy(name),
    }
}

/// Packs an owned list through a writer (recursing over the in-memory tree).
pub(crate) fn write_list(w: &mut NvWriter<'_>, list: &crate::NvList) -> Result<()> {
    use crate::Value;
    use std::os::fd::AsRawFd;
    for (name, value) in list.iter() {
        match value {
            Value::Null => w.add_null(name)?,
            Value::Bool(b) => w.add_bool(name, *b)?,
            Value::Number(n) => w.add_number(name, *n)?,
            Value::String(s) => w.add_string(name, s)?,
            Value::NvList(child) => {
                w.begin_nvlist(name, child.flags())?;
                write_list(w, child)?;
                w.end_nvlist()?;
            }
            Value::Descriptor(fd) => w.add_descriptor(name, fd.as_raw_fd())?,
            Value::Binary(b) => w.add_binary(name, b)?,
            Value::BoolArray(v) => w.add_bool_array(name, v)?,
            Value::NumberArray(v) => w.add_number_array(name, v)?,
            Value::StringArray(v) => w.add_string_array(name, v)?,
            Value::NvListArray(v) => {
                w.begin_nvlist_array(name)?;
                for element in v {
                    w.begin_element(element.flags())?;
                    write_list(w, element)?;
                    w.end_element()?;
                }
                w.end_nvlist_array()?;
            }
            Value::DescriptorArray(v) => {
                if v.is_empty() {
                    return Err(empty("descriptor array", name));
                }
                // Same as add_descriptor_array but without a temporary RawFd slice.
                w.can_add(name)?;
                let Some(sink) = w.fds.as_deref_mut() else {
                    return Err(Error::HasDescriptors);
                };
                sink.extend(v.iter().map(|fd| fd.as_raw_fd()));
                let n = v.len() as u64;
                w.leaf(T_DESCRIPTOR_ARRAY, name, 8 * n, n);
                for i in 0..n {
                    let b = w.order.u64_bytes(w.descriptors + i);
                    w.buf.extend_from_slice(&b);
                }
                w.descriptors += n;
            }
        }
    }
    Ok(())
}
