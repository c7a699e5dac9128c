//! Walking bytes the validator has already checked: strictly nested (every nested list
//! closed by its own marker), one byte order, every size in bounds. The reader walks whole
//! validated messages; the validator walks the part of a list it has checked so far when it
//! rescans for a duplicate name. Neither needs more than a depth counter.

use crate::wire::*;

/// A pair header's fields.
pub(crate) struct RawPair {
    pub(crate) code: u8,
    pub(crate) namesize: usize,
    pub(crate) datasize: u64,
    pub(crate) nitems: u64,
}

impl RawPair {
    /// The pair header at `p` (which must have [`HEADER_SIZE`] bytes).
    pub(crate) fn at(msg: &[u8], p: usize, order: ByteOrder) -> RawPair {
        RawPair {
            code: msg[p],
            namesize: order.u16_at(msg, p + 1) as usize,
            datasize: order.u64_at(msg, p + 3),
            nitems: order.u64_at(msg, p + 11),
        }
    }

    /// Where the item after the pair at `p` starts: past its data, or, for a list-valued
    /// pair, at its first nested list's header. A marker's datasize is never skipped (like
    /// C).
    pub(crate) fn next(&self, p: usize) -> usize {
        let after_name = p + HEADER_SIZE + self.namesize;
        match self.code {
            T_UP | T_ARRAY_NEXT | T_NVLIST | T_NVLIST_ARRAY => after_name,
            _ => after_name + self.datasize as usize,
        }
    }
}

/// What a walk finds at an offset.
enum Step {
    /// A list header: one level deeper.
    Open,
    /// An `NVLIST_UP` or `NVLIST_ARRAY_NEXT` marker: one level up.
    Close,
    /// A pair.
    Pair(RawPair),
}

/// The item at `p` and the offset of the next one.
fn step(msg: &[u8], p: usize, order: ByteOrder) -> (Step, usize) {
    if msg[p] == MAGIC {
        return (Step::Open, p + HEADER_SIZE);
    }
    let r = RawPair::at(msg, p, order);
    let next = r.next(p);
    match r.code {
        T_UP | T_ARRAY_NEXT => (Step::Close, next),
        _ => (Step::Pair(r), next),
    }
}

/// Offset just past the list whose header is at `header` (after its UP / ARRAY_NEXT marker,
/// or the end of the message for the top level).
pub(crate) fn skip_list(msg: &[u8], header: usize, order: ByteOrder) -> usize {
    let mut depth = 1usize;
    let mut p = header + HEADER_SIZE;
    while p < msg.len() {
        let (item, next) = step(msg, p, order);
        p = next;
        match item {
            Step::Open => depth += 1,
            Step::Close => {
                depth -= 1;
                if depth == 0 {
                    return p;
                }
            }
            Step::Pair(_) => {}
        }
    }
    p
}

/// Calls `f(name_offset, name)` for each pair of the list whose header is at `header`, up to
/// offset `end`, until `f` returns true (then returns true).
pub(crate) fn level_pairs(
    msg: &[u8],
    header: usize,
    end: usize,
    order: ByteOrder,
    mut f: impl FnMut(usize, &[u8]) -> bool,
) -> bool {
    let mut depth = 0usize;
    let mut p = header + HEADER_SIZE;
    while p < end {
        let (item, next) = step(msg, p, order);
        match item {
            Step::Open => depth += 1,
            Step::Close => depth = depth.saturating_sub(1),
            Step::Pair(r) if depth == 0 => {
                let name_at = p + HEADER_SIZE;
                if f(name_at, &msg[name_at..name_at + r.namesize - 1]) {
                    return true;
                }
            }
            Step::Pair(_) => {}
        }
        p = next;
    }
    false
}
