//! FreeBSD libnv name/value lists in Rust: byte-exact packing, hardened unpacking,
//! zero-allocation views and writers, and `nvlist_send`/`nvlist_recv` framing over unix
//! stream sockets with SCM_RIGHTS.
//!
//! # API at a glance
//!
//! | need | use |
//! |---|---|
//! | build / inspect an owned list | [`NvList`]: `new`, `with_flags`, `add_*` (→ `Result`), `get_*` (→ `Option`), `take_*`, `remove`, `contains`, `iter`, `try_clone` |
//! | one value | [`Value`] (owned), [`ValueRef`] (borrowed), [`Type`], [`Flags`] |
//! | pack | [`NvList::pack`] (refuses descriptors, like C), [`NvList::pack_with_order`], [`NvList::pack_into`] (reuse a `Vec`), [`NvList::pack_with_fds`] |
//! | unpack | [`NvList::unpack`] (C's exact-flags check, `EILSEQ`), [`NvList::unpack_any`], [`NvList::unpack_with`] (descriptors, [`UnpackOptions`], [`Limits`]) |
//! | read without allocating | [`NvView::new`] / [`NvView::parse`] / [`NvView::parse_with`] ([`Scratch`]) then `get_str`, `get_number`, `get_nvlist`, `iter`, ... |
//! | write without allocating | [`NvWriter`]: `add_*`, `begin_nvlist`/`end_nvlist`, `begin_nvlist_array`/`begin_element`/`end_element`/`end_nvlist_array`, `finish` |
//! | blocking socket I/O | [`NvList::send`], [`NvList::recv`], [`NvList::xfer`], [`send_packed`], [`recv_packed`] |
//! | poll-loop socket I/O | [`NvReceiver`] (`new` or `growing`, `recv_from`, `feed`, `next_message` → [`Message`], `reset`), [`NvSender`] (`queue`, `queue_with`, `flush`, `clear`) |
//! | errors | [`Error`], [`DecodeError`] (offset + [`DecodeErrorKind`]), `Error::errno()` |
//!
//! ```
//! use libnv::{Flags, NvList, NvView};
//! let mut req = NvList::new();
//! req.add_string("ipc:method", "status")?;
//! req.add_number("ipc:id", 7)?;
//! let bytes = req.pack()?;
//! let back = NvList::unpack(&bytes, Flags::NONE)?;
//! assert_eq!(back.get_str("ipc:method"), Some("status"));
//! let view = NvView::new(&bytes)?;
//! assert_eq!(view.get_number("ipc:id"), Some(7));
//! # Ok::<(), libnv::Error>(())
//! ```
//!
//! # Compatibility with the C library
//!
//! The reference is FreeBSD 11.1 libnv as ported to Linux (kaniini/libnv); the format is
//! described in the project's `libnv-format.md`. Packing is byte-exact with `nvlist_pack` /
//! `nvlist_send` in both byte orders, including `nvlh_size` counted to the end of the whole
//! message, the NVLIST pair datasize rule, array markers and depth-first descriptor indices.
//! Unpacking accepts what `nvlist_unpack` accepts and rejects what it rejects, except for
//! these deliberate differences:
//!
//! * **Foreign byte order arrays decode** (C forgets to swap `nvph_nitems`).
//! * **Limits**: message size, nesting depth and descriptor count are bounded ([`Limits`],
//!   defaults 16 MiB, 64 levels (at most 128), 1024 descriptors) and checked before
//!   allocating. C has none.
//! * **Duplicate names** are found with a hash table for big lists (C scans linearly for
//!   every pair). The zero-allocation [`NvView::parse`] keeps its table on the stack (about
//!   6000 names); for untrusted input use [`NvView::parse_with`] and a [`Scratch`] (the
//!   [`NvReceiver`] does), which keeps validation linear for any message.
//! * **Descriptors**: the top-level `nvlh_descriptors` must equal the number of descriptor
//!   references in the message; an index may be used only once; received descriptors the
//!   message does not use are closed (C accepts all three and leaks or double-closes).
//! * **Strict structure**: a nested list must be closed by `NVLIST_UP` and an array element
//!   by `NVLIST_ARRAY_NEXT`, every list must be closed before the message ends, and all
//!   headers must share the top-level byte order. C accepts a missing trailing marker, the
//!   wrong marker, and mixed byte orders (which it then misreads). Lenient vectors
//!   `missing_trailing_up`, `array_next_closes_nested` and `up_closes_array_element` are
//!   therefore rejected.
//! * **Accepted like C** (lenient vectors): any version byte (`version_byte_nonzero`),
//!   BOOL_ARRAY items other than 0/1, read as true (`bool_array_item_2`), any NVLIST datasize
//!   1..left (`nested_datasize_arbitrary`), markers with a name and datasize, which is not
//!   skipped (`marker_with_name_and_datasize`), nitems on scalar pairs (`scalar_with_nitems`).
//! * **Flags**: [`NvList::unpack`] demands exact top-level flags like C; [`NvList::unpack_any`]
//!   and [`FlagsCheck::Any`] accept any.
//! * **API**: nothing aborts; adding a duplicate name, a bad name or an empty array returns an
//!   error and leaves the list unchanged (no sticky error state); `add_nvlist` moves the child
//!   in; packing a nested list is fine (any list is a root); empty descriptor arrays are
//!   refused when adding (C accepts them and then cannot unpack its own output).
//! * **Framing**: the receiver accepts any number of SCM_RIGHTS control messages and
//!   descriptors per message (the C port on Linux demands one descriptor per control message
//!   and so fails for 2+ descriptors); received descriptors are close-on-exec; on any error
//!   they are all closed. A foreign-endian message is received correctly (C swaps twice).
//!

#![warn(missing_docs)]

mod codec;
mod error;
mod list;
mod receiver;
mod sender;
mod stream;
mod sys;
mod validate;
mod view;
mod walk;
mod wire;
mod writer;

pub use error::{DecodeError, DecodeErrorKind, Error, Result};
pub use list::{NvList, Pair, Value, dup_cloexec};
pub use receiver::{Message, NvReceiver, RecvStatus};
pub use sender::NvSender;
pub use stream::{recv_packed, send_packed};
pub use validate::Scratch;
pub use view::{
    BoolArrayRef, DescriptorArrayRef, NumberArrayRef, NvListArrayIter, NvListArrayRef, NvView,
    PairIter, PairRef, StringArrayRef, ValueRef,
};
pub use wire::{
    ByteOrder, FDS_PER_PACKAGE, Flags, FlagsCheck, HEADER_SIZE, Limits, MAX_DEPTH_CAP,
    MAX_DESCRIPTORS_CAP, NAME_MAX, Type, UnpackOptions,
};
pub use writer::NvWriter;
