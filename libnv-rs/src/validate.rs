//! The validator: one bounded, iterative pass over a packed message that checks everything
//! the reader relies on, before any [`NvView`](crate::NvView) is handed out. It allocates
//! nothing of its own: a fixed-size frame array on the stack (bounded by
//! [`Limits::max_depth`](crate::Limits)), a fixed-size bitset for descriptor indices, and a
//! duplicate-name table (`validate/duplicates.rs`) on the stack, on the heap or in a
//! caller's [`Scratch`].
//!
//! Small messages (every request a supervisor gets) are validated in a small stack frame:
//! see `SMALL_MESSAGE`.

use crate::error::{DecodeError, DecodeErrorKind as K, derr};
use crate::walk::RawPair;
use crate::wire::*;

mod duplicates;

use duplicates::Duplicates;
pub use duplicates::Scratch;
pub(crate) use duplicates::TableMode;

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

/// One open list (or nvlist array element) of the validation pass.
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

impl Frame {
    /// A list with no pairs seen yet.
    fn new(header: usize, flags: Flags, remaining: u64, element: bool) -> Frame {
        Frame {
            header,
            flags,
            remaining,
            element,
            ..Frame::default()
        }
    }
}

/// A checked list header.
struct HeaderInfo {
    flags: Flags,
    order: ByteOrder,
    descriptors: u64,
}

/// Checks the list header at `at`: magic, flags, byte order (`order`, if given, is the
/// message's), a size reaching exactly to the end of the message, and no more descriptors
/// announced than `nfds`.
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
    let h = list_header(&msg[at..at + HEADER_SIZE], at)?;
    if order.is_some_and(|o| o != h.order) {
        return Err(derr(at + 2, K::MixedByteOrder));
    }
    let actual = (left - HEADER_SIZE) as u64;
    if h.size != actual {
        return Err(derr(
            at + 11,
            K::SizeMismatch {
                declared: h.size,
                actual,
            },
        ));
    }
    if h.descriptors > nfds as u64 {
        return Err(derr(
            at + 3,
            K::TooManyDescriptorsAnnounced {
                declared: h.descriptors,
                available: nfds as u64,
            },
        ));
    }
    Ok(HeaderInfo {
        flags: Flags::from_bits_truncate(h.flags),
        order: h.order,
        descriptors: h.descriptors,
    })
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
    let mut duplicates = Duplicates::new(msg.len(), table, &mut stack_table);
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
    let order = top.order;
    if let FlagsCheck::Exact(want) = options.flags {
        if want != top.flags {
            return Err(derr(
                2,
                K::FlagsMismatch {
                    expected: want.bits(),
                    found: top.flags.bits(),
                },
            ));
        }
    }
    // FRAMES covers any depth a message of this size can reach (see SMALL_FRAMES).
    let max_depth = limits.depth().min(FRAMES - 1);
    let mut frames = [Frame::default(); FRAMES];
    let mut depth = 0usize;
    frames[0] = Frame::new(0, top.flags, 0, false);
    let mut used = [0u64; MAX_DESCRIPTORS_CAP / 64];
    let mut refs = 0u64;
    let mut use_fd = |at: usize, refs: &mut u64| -> Result<(), DecodeError> {
        let raw = order.u64_at(msg, at);
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
        let r = RawPair::at(msg, p, order);
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
        let bad_count = || Err(derr(p + 11, K::BadArrayCount));

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
                frames[depth] = Frame::new(data, h.flags, f.remaining - 1, true);
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

        let bad_size = || Err(derr(p + 3, K::BadDataSize));
        match code {
            T_NULL => {
                if ds != 0 {
                    return bad_size();
                }
            }
            T_BOOL => {
                if ds != 1 {
                    return bad_size();
                }
                if msg[data] > 1 {
                    return Err(derr(data, K::BadBool(msg[data])));
                }
            }
            T_NUMBER => {
                if ds != 8 {
                    return bad_size();
                }
            }
            T_STRING => {
                if ds == 0 {
                    return bad_size();
                }
                let s = &msg[data..data + dsu];
                if s[dsu - 1] != 0 || s[..dsu - 1].contains(&0) {
                    return Err(derr(data, K::BadString));
                }
            }
            T_DESCRIPTOR => {
                if ds != 8 {
                    return bad_size();
                }
                use_fd(data, &mut refs)?;
            }
            T_BINARY => {
                if ds == 0 {
                    return bad_size();
                }
            }
            T_BOOL_ARRAY => {
                if r.nitems == 0 || ds != r.nitems {
                    return bad_count();
                }
            }
            T_NUMBER_ARRAY | T_DESCRIPTOR_ARRAY => {
                if r.nitems == 0 || r.nitems.checked_mul(8) != Some(ds) {
                    return bad_count();
                }
                if code == T_DESCRIPTOR_ARRAY {
                    for i in 0..dsu / 8 {
                        use_fd(data + 8 * i, &mut refs)?;
                    }
                }
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
            }
            _ => {
                // T_NVLIST or T_NVLIST_ARRAY: the (first) nested list's header follows the
                // pair; its datasize is not skipped.
                let array = code == T_NVLIST_ARRAY;
                if array {
                    if r.nitems == 0 || r.nitems > left / HEADER_SIZE as u64 {
                        return bad_count();
                    }
                } else if ds == 0 {
                    return bad_size();
                }
                if depth >= max_depth {
                    return Err(derr(p, K::TooDeep { limit: max_depth }));
                }
                let remaining = if array { r.nitems - 1 } else { 0 };
                depth += 1;
                let h = read_header(msg, data, nfds, Some(order))?;
                frames[depth] = Frame::new(data, h.flags, remaining, array);
                p = data + HEADER_SIZE;
                continue;
            }
        }
        // Every other pair is exactly its datasize long.
        p = data + dsu;
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
    Ok((order, top.flags))
}
