//! Memory planning: in-place reuse, buffer lifetimes, offsets in one arena, and the liveness
//! lower bound the plan is measured against.

use crate::lower::{Loc, Program, loc_of};
use whittle_runtime::format::{ARENA_ALIGN, OpKind, Space};

/// Offsets of every arena buffer and the resulting sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Offset of each buffer (by index).
    pub offsets: Vec<usize>,
    /// Arena size the plan needs.
    pub arena_bytes: usize,
    /// Largest total size of buffers alive at one time.
    pub lower_bound_bytes: usize,
}

/// Inclusive range of operator indices during which a buffer must hold its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lifetime {
    first: usize,
    last: usize,
}

impl Lifetime {
    fn overlaps(&self, other: &Lifetime) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

fn lifetimes(p: &Program) -> Vec<Option<Lifetime>> {
    let n = p.ops.len();
    let mut life: Vec<Option<Lifetime>> = vec![None; p.buffers.len()];
    let mut touch = |b: usize, t: usize| {
        let l = life[b].get_or_insert(Lifetime { first: t, last: t });
        l.first = l.first.min(t);
        l.last = l.last.max(t);
    };
    for (j, op) in p.ops.iter().enumerate() {
        let mut kind = op.kind;
        for buf in kind.buffers_mut() {
            if buf.space == Space::Arena {
                touch(buf.offset as usize, j);
            }
        }
    }
    for (b, buffer) in p.buffers.iter().enumerate() {
        if buffer.live_at_start {
            touch(b, 0);
        }
        if buffer.live_at_end {
            touch(b, n);
        }
    }
    life
}

/// Lets element-wise operators write over an operand that dies at that operator.
pub fn reuse_in_place(p: &mut Program) {
    for j in 0..p.ops.len() {
        let life = lifetimes(p);
        let kind = p.ops[j].kind;
        let out = kind.output();
        let candidates = match kind {
            OpKind::Unary(op) => vec![op.input],
            OpKind::Binary(op) => {
                let mut c = Vec::new();
                if op.a_shape == op.out_shape {
                    c.push(op.a);
                }
                if op.b_shape == op.out_shape {
                    c.push(op.b);
                }
                c
            }
            _ => continue,
        };
        let o = out.offset as usize;
        for cand in candidates {
            let Loc::Arena(a) = loc_of(&cand) else {
                continue;
            };
            let fits = cand.bytes == out.bytes
                && a != o
                && !p.buffers[a].live_at_end
                && life[a].is_some_and(|l| l.last == j)
                && life[o].is_some_and(|l| l.first == j);
            // The other operand must not be a different view of the same buffer.
            let clash = match kind {
                OpKind::Binary(op) => [op.a, op.b]
                    .iter()
                    .any(|b| b.space == Space::Arena && b.offset as usize == a && *b != cand),
                _ => false,
            };
            if fits && !clash {
                merge(p, o, a);
                break;
            }
        }
    }
}

/// Replaces buffer `from` with buffer `into` everywhere.
fn merge(p: &mut Program, from: usize, into: usize) {
    for op in &mut p.ops {
        for buf in op.kind.buffers_mut() {
            if buf.space == Space::Arena && buf.offset as usize == from {
                buf.offset = into as u32;
            }
        }
    }
    for t in &mut p.tensors {
        if t.loc == Loc::Arena(from) {
            t.loc = Loc::Arena(into);
        }
    }
    p.buffers[into].live_at_end |= p.buffers[from].live_at_end;
    p.buffers[from].bytes = 0;
}

fn aligned(bytes: usize) -> usize {
    bytes.next_multiple_of(ARENA_ALIGN)
}

/// Greedy placement in the given order: each buffer takes the smallest gap that fits among the
/// buffers already placed whose lifetimes overlap its own.
fn place(order: &[usize], sizes: &[usize], life: &[Option<Lifetime>]) -> (Vec<usize>, usize) {
    let mut offsets = vec![0usize; sizes.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut total = 0;
    for &b in order {
        let (Some(lb), size) = (life[b], aligned(sizes[b])) else {
            continue;
        };
        if size == 0 {
            continue;
        }
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&o| life[o].is_some_and(|lo| lo.overlaps(&lb)))
            .map(|&o| (offsets[o], offsets[o] + aligned(sizes[o])))
            .collect();
        busy.sort_unstable();
        let mut best: Option<(usize, usize)> = None; // (gap size, offset)
        let mut cursor = 0;
        for &(start, end) in &busy {
            if start >= cursor + size {
                let gap = start - cursor;
                if best.is_none_or(|(g, _)| gap < g) {
                    best = Some((gap, cursor));
                }
            }
            cursor = cursor.max(end);
        }
        let offset = best.map_or(cursor, |(_, off)| off);
        offsets[b] = offset;
        total = total.max(offset + size);
        placed.push(b);
    }
    (offsets, total)
}

/// Plans the arena of `p` (after [`reuse_in_place`]).
pub fn plan(p: &Program) -> MemoryPlan {
    let life = lifetimes(p);
    let sizes: Vec<usize> = p.buffers.iter().map(|b| b.bytes).collect();
    let n = p.ops.len();
    let mut lower_bound = 0;
    for t in 0..=n {
        let live: usize = (0..sizes.len())
            .filter(|&b| life[b].is_some_and(|l| l.first <= t && t <= l.last))
            .map(|b| sizes[b])
            .sum();
        lower_bound = lower_bound.max(live);
    }
    let ids: Vec<usize> = (0..sizes.len()).collect();
    let span = |b: usize| life[b].map_or(0, |l| l.last - l.first + 1);
    let first = |b: usize| life[b].map_or(0, |l| l.first);
    // Greedy placement depends on the order buffers are placed in; try several, keep the best.
    let keys: [&dyn Fn(usize) -> (i64, i64); 4] = [
        &|b| (-(sizes[b] as i64), first(b) as i64),
        &|b| (-(span(b) as i64), -(sizes[b] as i64)),
        &|b| (-((sizes[b] * span(b)) as i64), first(b) as i64),
        &|b| (first(b) as i64, -(sizes[b] as i64)),
    ];
    let mut best: Option<(Vec<usize>, Vec<usize>, usize)> = None; // (order, offsets, total)
    for key in keys {
        let mut order = ids.clone();
        order.sort_by_key(|&b| key(b));
        let (offsets, total) = place(&order, &sizes, &life);
        if best.as_ref().is_none_or(|(_, _, t)| total < *t) {
            best = Some((order, offsets, total));
        }
    }
    let (mut order, mut offsets, mut arena_bytes) = best.unwrap_or_default();
    // Local search: swap buffers in the placement order, keep changes that do not grow the
    // arena, stop at the lower bound. Deterministic (fixed seed), bounded work.
    let n = order.len();
    let aligned_bound = lower_bound.next_multiple_of(ARENA_ALIGN);
    let budget = (4_000_000 / (n * n + 1)).clamp(50, 4000);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = |limit: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % limit.max(1) as u64) as usize
    };
    for _ in 0..budget {
        if n < 2 || arena_bytes <= aligned_bound {
            break;
        }
        let mut candidate = order.clone();
        for _ in 0..1 + random(3) {
            let (a, b) = (random(n), random(n));
            candidate.swap(a, b);
        }
        let (cand_offsets, total) = place(&candidate, &sizes, &life);
        if total <= arena_bytes {
            (order, offsets, arena_bytes) = (candidate, cand_offsets, total);
        }
    }
    MemoryPlan {
        offsets,
        arena_bytes,
        lower_bound_bytes: lower_bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{ArenaBuffer, ProgramOp};
    use proptest::prelude::*;
    use whittle_runtime::format::{Buf, Unary, UnaryKind};

    /// A program of unary ops whose reads and writes give the buffers the wanted lifetimes.
    fn program(buffers: &[(usize, usize, usize)], n_ops: usize) -> Program {
        let mut p = Program::default();
        for &(bytes, _, _) in buffers {
            p.buffers.push(ArenaBuffer {
                bytes,
                live_at_start: false,
                live_at_end: false,
            });
        }
        for t in 0..n_ops {
            for (b, &(bytes, first, last)) in buffers.iter().enumerate() {
                if t == first || t == last {
                    let buf = Buf::arena(b as u32, bytes as u32);
                    let kind = OpKind::Unary(Unary {
                        kind: UnaryKind::Relu,
                        input: buf,
                        output: buf,
                        len: 0,
                    });
                    p.ops.push(ProgramOp {
                        kind,
                        tensor: 0,
                        node: String::new(),
                        value: None,
                    });
                }
            }
        }
        p
    }

    proptest! {
        #[test]
        fn plans_never_overlap_live_buffers(spec in proptest::collection::vec((1usize..5000, 0usize..12, 0usize..6), 1..24)) {
            let buffers: Vec<(usize, usize, usize)> = spec.iter().map(|&(s, f, d)| (s, f, (f + d).min(11))).collect();
            let p = program(&buffers, 12);
            let life = lifetimes(&p);
            let plan = plan(&p);
            prop_assert!(plan.arena_bytes >= plan.lower_bound_bytes);
            for a in 0..buffers.len() {
                prop_assert_eq!(plan.offsets[a] % ARENA_ALIGN, 0);
                prop_assert!(plan.offsets[a] + buffers[a].0 <= plan.arena_bytes);
                for b in a + 1..buffers.len() {
                    let (la, lb) = (life[a].unwrap(), life[b].unwrap());
                    if la.overlaps(&lb) {
                        let (sa, sb) = (plan.offsets[a], plan.offsets[b]);
                        prop_assert!(sa + buffers[a].0 <= sb || sb + buffers[b].0 <= sa, "buffers {} and {} overlap", a, b);
                    }
                }
            }
        }
    }

    #[test]
    fn disjoint_lifetimes_share_memory_and_overlapping_ones_do_not() {
        let life = vec![
            Some(Lifetime { first: 0, last: 1 }),
            Some(Lifetime { first: 1, last: 2 }),
            Some(Lifetime { first: 2, last: 3 }),
        ];
        let sizes = vec![64, 32, 64];
        let (offsets, total) = place(&[0, 2, 1], &sizes, &life);
        assert_eq!(total, 96);
        assert_eq!(offsets[0], offsets[2]);
        assert!(offsets[1] >= 64);
    }
}
