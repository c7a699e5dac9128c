//! Duplicate-name detection for one validation pass: a per-list Bloom filter and rescans
//! for small lists, an open-addressing hash table for big ones (on the validator's stack, on
//! the heap, or in a caller's [`Scratch`]).

use super::Frame;
use crate::walk::level_pairs;
use crate::wire::*;

/// Lists with fewer pairs than this are checked for duplicates by rescanning them (cheap);
/// from this many on, their names go into a hash table.
const RESCAN_PAIRS: u32 = 48;

/// Stack space for a name table, zero-filled only when a list gets big.
pub(super) trait StackSlots {
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

/// Reusable memory for [`NvView::parse_with`](crate::NvView::parse_with): a hash table big
/// enough to check names of every message within some [`Limits`] in linear time, allocated
/// once.
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
pub(super) struct Duplicates<'s> {
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
    /// The table for one pass over a `message_len`-byte message: where `table` says, or in
    /// `stack` (uninitialized until a list gets big).
    pub(super) fn new(
        message_len: usize,
        table: TableMode<'s>,
        stack: &'s mut dyn StackSlots,
    ) -> Duplicates<'s> {
        let mut d = Duplicates {
            slots: Slots::Unused,
            stack: Some(stack),
            heap: false,
            scratch: None,
            used: 0,
            full: message_len > u32::MAX as usize,
        };
        match table {
            TableMode::Stack => {}
            // Allocated only if a list gets big.
            TableMode::Heap => d.heap = true,
            // A prefix sized for the message (the stack table if the scratch is too small).
            TableMode::Scratch(scratch) => {
                let want = slots_for(message_len);
                d.scratch = (scratch.slots.len() >= want).then(|| &mut scratch.slots[..want]);
            }
        }
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
                let ns = order.u16_at(msg, pair + 1) as usize;
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
    pub(super) fn check(
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
