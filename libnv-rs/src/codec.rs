//! Packing and unpacking of owned lists.

use std::os::fd::{OwnedFd, RawFd};

use crate::error::Result;
use crate::list::NvList;
use crate::view::NvView;
use crate::wire::*;
use crate::writer::{NvWriter, write_list};

impl NvList {
    /// Packs the list in the machine's byte order, byte-exact with C's `nvlist_pack`.
    /// Refuses lists holding descriptors ([`crate::Error::HasDescriptors`], C's `EOPNOTSUPP`).
    pub fn pack(&self) -> Result<Vec<u8>> {
        self.pack_with_order(ByteOrder::native())
    }

    /// Packs the list in byte order `order` (big endian: what the C library writes on a
    /// big-endian host).
    pub fn pack_with_order(&self, order: ByteOrder) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(self.packed_size());
        self.pack_into_with_order(&mut buf, order)?;
        Ok(buf)
    }

    /// Appends the packed list (machine byte order) to `buf` and returns its length; no
    /// allocation when `buf` has room. Refuses descriptors; on error `buf` is unchanged.
    pub fn pack_into(&self, buf: &mut Vec<u8>) -> Result<usize> {
        self.pack_into_with_order(buf, ByteOrder::native())
    }

    /// [`NvList::pack_into`] in byte order `order`.
    pub fn pack_into_with_order(&self, buf: &mut Vec<u8>, order: ByteOrder) -> Result<usize> {
        let mut w = NvWriter::with_order(buf, self.flags(), order);
        write_list(&mut w, self)?;
        w.finish()
    }

    /// Packs the list with its descriptors, as `nvlist_send` does: descriptor pairs hold
    /// indices, and the raw descriptors are appended to `fds` in index (depth-first) order.
    /// They stay owned by the list. Returns the packed length.
    pub fn pack_with_fds(
        &self,
        buf: &mut Vec<u8>,
        fds: &mut Vec<RawFd>,
        order: ByteOrder,
    ) -> Result<usize> {
        let fds_before = fds.len();
        let result = {
            let mut w = NvWriter::with_fds(buf, fds, self.flags(), order);
            write_list(&mut w, self).and_then(|()| w.finish())
        };
        if result.is_err() {
            fds.truncate(fds_before);
        }
        result
    }

    /// The size [`NvList::pack`] produces (C's `nvlist_size`), computed without packing.
    pub fn packed_size(&self) -> usize {
        fn list_size(l: &NvList) -> usize {
            let mut n = HEADER_SIZE;
            for (name, value) in l.iter() {
                use crate::Value::*;
                n += HEADER_SIZE + name.len() + 1;
                n += match value {
                    Null => 0,
                    Bool(_) => 1,
                    Number(_) | Descriptor(_) => 8,
                    String(s) => s.len() + 1,
                    NvList(c) => list_size(c) + MARKER_SIZE,
                    Binary(b) => b.len(),
                    BoolArray(v) => v.len(),
                    NumberArray(v) => 8 * v.len(),
                    StringArray(v) => v.iter().map(|s| s.len() + 1).sum(),
                    NvListArray(v) => v.iter().map(|e| list_size(e) + MARKER_SIZE).sum(),
                    DescriptorArray(v) => 8 * v.len(),
                };
            }
            n
        }
        list_size(self)
    }

    /// Unpacks a message without descriptors, demanding top-level flags `flags` exactly like
    /// C's `nvlist_unpack(buf, size, flags)` (a mismatch is `EILSEQ`), with default limits.
    pub fn unpack(bytes: &[u8], flags: Flags) -> Result<NvList> {
        NvList::unpack_with(bytes, Vec::new(), &UnpackOptions::exact(flags))
    }

    /// Unpacks a message without descriptors, accepting any top-level flags (the list keeps
    /// the flags it was packed with), with default limits.
    pub fn unpack_any(bytes: &[u8]) -> Result<NvList> {
        NvList::unpack_with(bytes, Vec::new(), &UnpackOptions::default())
    }

    /// Unpacks a message that came with descriptors `fds` (index order). Every descriptor
    /// the message references moves into the list; the rest are closed. On error all are
    /// closed. Everything is validated (sizes, depth, counts) before anything is allocated.
    pub fn unpack_with(bytes: &[u8], fds: Vec<OwnedFd>, options: &UnpackOptions) -> Result<NvList> {
        let view = NvView::parse_allocating(bytes, fds.len(), options)?;
        let mut slots: Vec<Option<OwnedFd>> = fds.into_iter().map(Some).collect();
        Ok(view.to_owned_with_fds(&mut slots)?)
    }
}
