//! Loops whose trip count the compiler knows, shared by the backends: the Thumb-2 backend
//! uses a counter's range to drop bounds checks (`thumb/DESIGN.md` section 8, "Loop
//! counters"), and the fuel model checks a bounded loop where it is entered and charges a
//! counted one there once ([`super::fuel`], "Bounded and counted loops").

use wasmparser::Operator;

use super::fuel::ends_block;

/// A loop's counter: in the loop's body, until the wasm local `local` is written, its value is
/// in `low ..= low + width` (mod 2^32), and the loop runs exactly `trips` iterations each time
/// it is entered (unless a trap or a branch out of the body leaves it first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The counter's wasm local.
    pub local: u32,
    /// Its lowest value in the body.
    pub low: u32,
    /// Its highest value in the body minus `low` (mod 2^32).
    pub width: u32,
    /// The iterations per entry: `width / |step| + 1`.
    pub trips: u32,
    /// The index of the loop's `end` in the operators.
    pub end: usize,
}

/// The counter of the loop at `ops[j]`, if it has one: the loop's body ends with `local.get
/// l; i32.const s; i32.add; local.tee l; [i32.const e; i32.ne;] br_if 0` (`e = 0` without the
/// compare; `i32.sub` steps by `-s`), nothing else in the body writes `l` or branches to the
/// loop, and the last write of `l` before the loop, in the same straight-line run of operators
/// (none that ends a fuel block between), sets it to a constant `c0`. Every iteration then runs with `l = c0 + j s`
/// for `j < n`, where `n s = e - c0` (mod 2^32) exactly; a loop that would wrap around (`s`
/// does not divide `e - c0`, or `e = c0`) has no counter.
pub fn loop_counter(ops: &[(Operator<'_>, u64)], j: usize) -> Option<Counter> {
    use Operator as O;
    // The loop's `end`.
    let mut depth = 0usize;
    let mut end = None;
    for (i, (op, _)) in ops.iter().enumerate().skip(j + 1) {
        match op {
            O::Block { .. } | O::Loop { .. } | O::If { .. } => depth += 1,
            O::End if depth == 0 => {
                end = Some(i);
                break;
            }
            O::End => depth -= 1,
            _ => {}
        }
    }
    let body = &ops[j + 1..end?];
    let tail = |n: usize| body.len().checked_sub(n).map(|at| &body[at..]);
    let (local, step, op, last, tail_len) = match (tail(7), tail(5)) {
        (
            Some(
                [
                    (O::LocalGet { local_index: a }, _),
                    (O::I32Const { value: step }, _),
                    (op, _),
                    (O::LocalTee { local_index: b }, _),
                    (O::I32Const { value: last }, _),
                    (O::I32Ne, _),
                    (O::BrIf { relative_depth: 0 }, _),
                ],
            ),
            _,
        ) if a == b => (*a, *step, op, *last as u32, 7),
        (
            _,
            Some(
                [
                    (O::LocalGet { local_index: a }, _),
                    (O::I32Const { value: step }, _),
                    (op, _),
                    (O::LocalTee { local_index: b }, _),
                    (O::BrIf { relative_depth: 0 }, _),
                ],
            ),
        ) if a == b => (*a, *step, op, 0, 5),
        _ => return None,
    };
    // `l + s` or `l - s` (hand-written and other compilers' loops count down that way).
    let step = match op {
        O::I32Add => step,
        O::I32Sub => step.wrapping_neg(),
        _ => return None,
    };
    // Nothing else writes the counter or branches back to the loop.
    let mut depth = 0u32;
    for (op, _) in &body[..body.len() - tail_len] {
        match op {
            O::Block { .. } | O::Loop { .. } | O::If { .. } => depth += 1,
            O::End => depth = depth.checked_sub(1)?,
            O::LocalSet { local_index } | O::LocalTee { local_index } if *local_index == local => {
                return None;
            }
            O::Br { relative_depth } | O::BrIf { relative_depth } if *relative_depth == depth => {
                return None;
            }
            O::BrTable { targets }
                if targets.default() == depth
                    || targets.targets().any(|t| t.is_ok_and(|t| t == depth)) =>
            {
                return None;
            }
            _ => {}
        }
    }
    // The value on entry: the last write of the counter before the loop sets a constant, in
    // the straight-line run of operators that ends with the loop (no operator that ends a fuel
    // block between, so that no branch lands between the write and the loop).
    let mut i = j;
    let first = loop {
        i = i.checked_sub(1)?;
        match &ops[i].0 {
            O::LocalSet { local_index } | O::LocalTee { local_index } if *local_index == local => {
                match i.checked_sub(1).map(|v| &ops[v].0) {
                    Some(O::I32Const { value }) => break *value as u32,
                    _ => return None,
                }
            }
            op if ends_block(op) => return None,
            _ => {}
        }
    };
    // n steps of `step` from `first` reach `last` exactly.
    let (magnitude, distance) = if step > 0 {
        (step as u32, last.wrapping_sub(first))
    } else {
        (step.unsigned_abs(), first.wrapping_sub(last))
    };
    if magnitude == 0 || distance == 0 || !distance.is_multiple_of(magnitude) {
        return None;
    }
    let width = distance - magnitude;
    let low = if step > 0 {
        first
    } else {
        first.wrapping_sub(width)
    };
    Some(Counter {
        local,
        low,
        width,
        trips: distance / magnitude,
        end: j + 1 + body.len(),
    })
}
