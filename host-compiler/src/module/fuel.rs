//! The fuel cost model and the places of fuel and epoch checks, shared by every backend so that
//! a call consumes exactly the same fuel on every target.
//!
//! # Cost model
//!
//! Every operator costs 1 fuel except those that produce no work of their own: `nop`, `drop`,
//! `block`, `loop`, `else` and `end` cost 0 ([`operator_cost`]).
//!
//! # Fuel blocks
//!
//! A function body is cut into *fuel blocks*, in operator order: the first starts at the
//! function's entry, and a new one starts right after every operator for which
//! [`ends_block`] holds: `loop` (its body starts at the loop header, the target of its back
//! edges), `if`, `else`, `end`, `br`, `br_if`, `br_table`, `return` and `unreachable`. A fuel
//! block is therefore straight-line code entered only at its start (the targets of all
//! branches, and the fall-through of `br_if`, start blocks), and it contains its terminating
//! operator. Calls do not end a block: the callee pays for its own code.
//!
//! The cost of a fuel block is the sum of the costs of its operators ([`fuel_blocks`]; a
//! counted loop moves its body's cost, times its trips, to the block that enters it, a loop
//! left only by its back edge the costs of its body's top-level blocks to its header, and a
//! cold branch its fall-through's cost to its own block, below). Code
//! compiled with fuel **pays for a block at its start**: it subtracts the cost from the
//! store's fuel slice (`VMStoreContext::fuel`, an `i32`) before running any of the block. A
//! block of cost 0 subtracts nothing. The fuel consumed by a call is therefore the sum of the
//! costs of the blocks it entered (a block in which a trap happens counts whole), and that sum
//! is the same on every target. The charge of the block that starts at a loop header is placed
//! inside the loop (after the header label), so every iteration pays for it; every cycle of
//! the control flow passes through a branch, which costs 1, so every iteration of every loop
//! consumes fuel (a counted loop's iterations are paid before it).
//!
//! # Fuel checks: function entry and loop headers
//!
//! The slice is *checked* only at the **check points**: the function's entry (the first
//! block), the header of every loop that is not bounded (the block right after `loop`) and
//! the block that enters a bounded loop (below), the same points as the epoch check. There,
//! after subtracting the block's cost (also when it is 0), the code calls `Libcall::OutOfFuel`
//! (or `OutOfFuelPreserving`) with the block's cost when the slice is negative. Every other
//! block only subtracts its cost (Thumb-2: one `sub`; Cranelift: an `isub` without a branch).
//! Fewer branches is the point: most blocks are short (a compare and a `br_if`), and a branch
//! per block was a large part of the overhead.
//!
//! Between two checks the slice can therefore go below zero by more than one block's cost.
//! The overrun is a *debt*: the check that finds the slice negative pays the whole deficit
//! (the blocks that ran since the last check, and its own block) from the store's reserve. If
//! it cannot, the call stops (`OutOfFuel`, or a yield of a resumable call) before running the
//! block of the check point; the blocks that ran are consumed all the same, so the store
//! shows no fuel left and the unpaid rest as its debt (`Store::fuel_debt`), which `add_fuel`
//! pays first. A call thus never enters a function or a loop, or runs an iteration of a loop
//! that is not bounded, while its budget is spent, and stops at most one function's
//! straight-line cost (below [`MAX_FUNCTION_COST`]) plus one bounded loop's run (at most
//! [`MAX_COUNTED_LOOP_COST`]) plus [`MAX_UNCHECKED_TAIL`] per frame it returns through past
//! its budget before the next check.
//!
//! # Bounded and counted loops
//!
//! A loop is *bounded* when the compiler knows how often each entry runs it at most and its
//! iterations are short: its back edge is the step of a loop counter
//! (`module::loops::loop_counter`: a local set to a constant before the loop, stepped by a
//! constant that reaches the end value after exactly `trips` iterations, written nowhere else
//! in the body, and no other branch back to the header), its body makes no call and holds no
//! other loop, its block type gives it no parameters, and `trips` times the cost of all the
//! blocks of its body is at most [`MAX_COUNTED_LOOP_COST`]. A branch out of the body may end it
//! early. Its header is no check point; the block that enters it (the one ending with `loop`)
//! is one instead. Its blocks pay their costs as any block does.
//!
//! A bounded loop is moreover *counted* when its body is a single fuel block (no operator in
//! it ends a block but the back edge): then nothing but a trap leaves it early, every entry
//! runs exactly `trips` iterations, and the loop is **prepaid** (unless that takes the
//! function's total past [`MAX_FUNCTION_COST`]): the block that enters it is charged its own
//! cost plus `trips` times the body's, and the header charges nothing. The fuel a call
//! consumes is the same as without prepaying whenever no trap stops it inside such a loop (a
//! trap there counts the loop's iterations whole, as a trap in a block counts the block
//! whole), and its check still never lets an iteration run that the budget has not paid for.
//!
//! Why: the inner loops of compute kernels (a CRC over a buffer, a dot product, a filter's
//! taps, a parser's pass over a fixed buffer) are such loops. A check per iteration cost them
//! 2 (fuel) to 5 (epochs) instructions, 10-30% of their instructions; a charge per iteration
//! of a single-block body 1 more. Checked at their entry instead, their iterations pay at most
//! the charges of their blocks (nothing when prepaid), and what runs between two checks stays
//! bounded: for the epoch, by one function's straight-line cost plus one bounded loop's run,
//! at most 2^17 operators (about a millisecond at 100 MHz, a few instructions per operator).
//!
//! # Loops left only by their back edge
//!
//! When the body of a loop ends with its back edge (`br 0` or `br_if 0`) and no other branch
//! in it targets the loop or a label outside it, and it does not return, every iteration that
//! starts at the header runs every block that starts at the body's own level (after the `end`
//! of a construct inside it) exactly once, up to the back edge, unless it traps. The header
//! pays for those blocks (except check points, which pay for themselves), so an iteration of
//! a loop over a state machine pays once for its common tail. The fuel a call consumes is
//! unchanged unless a trap stops an iteration before such a block, which then counts as
//! consumed.
//!
//! # Cold branches
//!
//! A `br_if` whose target is a `block` or `if` after whose `end` (and any `end`s right after
//! it) the next fuel block ends with `unreachable` leads only to a trap: the index checks that
//! rustc and clang emit before every slice access branch to a panic path of that shape
//! (`call $panic; unreachable`). Its fall-through block pays with the block of the `br_if`:
//! its cost moves there (unless it is a check point), so a chain of such checks pays once, at
//! its first block. The fuel a call consumes is unchanged unless it takes the branch to the
//! trap; then the fall-through block counts as consumed, as a trap inside a block counts the
//! block whole.
//!
//! # Checks after calls with a long tail
//!
//! A call does not end a fuel block, and the blocks of the caller that follow its return are
//! paid without a check until the caller reaches a check point or returns. So that a chain of
//! returns cannot pile up an unbounded debt, a call (`call`, `call_indirect`) whose caller has
//! more than [`MAX_UNCHECKED_TAIL`] of fuel in the blocks after the call's own block (the
//! *tail*: everything those blocks may run before the next check point or return, bounded by
//! their sum) is followed by a check of cost 0 ([`FuelBlocks::checks_after`]): right
//! after the call returns, the code calls `OutOfFuel` with cost 0 when the slice is negative.
//! Like any check it pays the debt or stops the call (the rest of the call's block has been
//! paid at its start, so it counts as consumed, as a trap inside a block does). Most
//! functions cost less than the threshold in all and never need one.
//!
//! # Why the slice cannot wrap
//!
//! * The runtime never puts more than `i32::MAX / 2` (`shared_types::vmoffsets::
//!   FUEL_SLICE_MAX`) in the slice; the rest of the budget is its reserve.
//! * The total cost of a function body (the sum of all its block costs) is at most
//!   [`MAX_FUNCTION_COST`] `= 2^20 - 1` with counted loops prepaid; beyond it the compiler
//!   returns a `CompileError` ([`fuel_blocks`]; a counted loop that would take the total past
//!   it is not prepaid). So one frame subtracts less than 2^20 + 2^17 between two check
//!   points of its own: every cycle passes the header of a loop, which is a check point
//!   unless the loop is bounded, so between them the frame runs each block outside bounded
//!   loops at most once (less than 2^20 in all) and at most one run of a bounded loop (its
//!   entering block is a check point), which costs at most [`MAX_COUNTED_LOOP_COST`] `=
//!   2^17` (0 when prepaid).
//! * Between two checks, code subtracts the blocks after the last check in the current frame
//!   (less than 2^20 + 2^17) and, each time a frame returns, its caller's blocks after the call up to
//!   the caller's next check point or return: at most [`MAX_UNCHECKED_TAIL`] `= 256`, since a
//!   longer tail starts with a check. Every frame returned through was on the stack at the
//!   last check, and each frame that calls takes at least 8 bytes of it (the saved return
//!   address, `sp` kept 8-aligned: Thumb-2; 16 bytes on AArch64 and x86_64) within the wasm
//!   stack, which the runtime caps at `shared_types::vmoffsets::MAX_WASM_STACK` `= 64 MiB`
//!   (`EngineConfig::max_wasm_stack` is clamped to it). So at most 2^23 frames return between
//!   two checks, subtracting at most `2^23 * 256 + 2^20 + 2^17 < 2^31 + 2^21`, while the slice,
//!   at most `2^30 - 1` at the last check (or the slow path's refill), reaches `i32::MIN`
//!   only after `2^30 + 2^31` of them. The slice never wraps.
//! * The runtime's slow path computes in `i64`/`i128` and saturates; a debt it records is at
//!   most the magnitude of an `i32` plus a block's cost.
//!
//! Backends walk the operators once, reachable or not, and ask a [`FuelBlocks`] cursor for the
//! cost of each block and whether it is a check point as they reach its start
//! ([`FuelBlocks::next_block`] at the entry and after every operator that ends a block),
//! whether or not they emit code for it.
//!
//! # Epoch checks
//!
//! Code compiled with epochs checks the epoch at the check points (the entry, the headers of
//! loops that are not bounded, the blocks that enter bounded loops), after that point's fuel
//! charge and check (and, at entry, after the stack-limit check); epoch-only images walk a
//! [`FuelBlocks`] cursor too and ignore its costs. The check compares the low word of the
//! engine's epoch counter with the store's deadline word and calls `Libcall::EpochDeadline`
//! when `(counter - deadline) as i32 >= 0`.

use wasmparser::{FunctionBody, Operator};

use crate::error::CompileError;
use crate::module::loops::loop_counter;

/// The largest total cost of one function body (the sum of its fuel block costs): what one
/// frame may subtract from the 32-bit slice between two checks (see the module doc).
pub const MAX_FUNCTION_COST: u32 = (1 << 20) - 1;

/// The most fuel a caller's blocks after a call may cost without a check right after the call
/// (see the module doc, "Checks after calls with a long tail").
pub const MAX_UNCHECKED_TAIL: u32 = 256;

/// The most fuel one entry of a bounded loop may cost (its trips times the cost of all its
/// body's blocks; see the module doc, "Bounded and counted loops"): what may run after its
/// check point before the next one.
pub const MAX_COUNTED_LOOP_COST: u32 = 1 << 17;

/// The fuel one operator costs.
pub fn operator_cost(op: &Operator<'_>) -> u32 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::Else
        | Operator::End => 0,
        _ => 1,
    }
}

/// Whether a new fuel block starts right after `op`.
pub fn ends_block(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Unreachable
    )
}

/// One fuel block as a backend meets it: what its start charges and whether it is a check
/// point (fuel and epochs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuelBlock {
    /// The fuel subtracted at the block's start.
    pub cost: u32,
    /// Whether the block's start is a check point: the function's entry, the header of a loop
    /// that is not bounded, and the block that enters a bounded loop.
    pub check: bool,
}

/// The operators of a function body with their offsets; a decoding error is reported as
/// invalid input of function `func_index`.
pub fn decode<'a>(
    func_index: u32,
    body: &FunctionBody<'a>,
) -> Result<Vec<(Operator<'a>, u64)>, CompileError> {
    let mut reader = body
        .get_operators_reader()
        .map_err(|e| CompileError::invalid(Some(func_index), &e))?;
    let mut ops = Vec::new();
    while !reader.eof() {
        let offset = reader.original_position();
        let op = reader
            .read()
            .map_err(|e| CompileError::invalid(Some(func_index), &e))?;
        ops.push((op, offset));
    }
    Ok(ops)
}

/// The fuel blocks of a function body given as its operators (with their offsets, for
/// errors), in order (the first is the block at the function's entry; a body of `n`
/// block-ending operators has `n + 1` blocks, the last one empty after the body's final
/// `end`), with the counted loops prepaid (see the module doc). The body must be valid. A body
/// whose total cost exceeds [`MAX_FUNCTION_COST`] is an error.
pub fn fuel_blocks(
    func_index: u32,
    ops: &[(Operator<'_>, u64)],
) -> Result<Vec<FuelBlock>, CompileError> {
    let mut blocks = vec![FuelBlock {
        cost: 0,
        check: true,
    }];
    let mut total: u32 = 0;
    // Every `loop`: its index in `ops` and the block that ends with it.
    let mut loops = Vec::new();
    // The open constructs (`block`, `if`, `loop`: its index in `ends`, whether a loop), the
    // index of each construct's `end` once seen, and every `br_if` to a `block` or `if`: the
    // block it ends and the construct it leaves.
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut exits: Vec<(usize, usize)> = Vec::new();
    for (i, (op, offset)) in ops.iter().enumerate() {
        let cost = operator_cost(op);
        total += cost;
        if total > MAX_FUNCTION_COST {
            return Err(CompileError::unsupported(
                Some(func_index),
                usize::try_from(*offset).unwrap_or(usize::MAX),
                format!(
                    "function {func_index}: fuel cost of the body exceeds {MAX_FUNCTION_COST} \
                     (the most one frame may consume between two fuel checks)"
                ),
            ));
        }
        let last = blocks.len() - 1;
        blocks[last].cost += cost;
        match op {
            Operator::Block { .. } | Operator::If { .. } | Operator::Loop { .. } => {
                open.push((ends.len(), matches!(op, Operator::Loop { .. })));
                ends.push(usize::MAX);
            }
            Operator::End => {
                if let Some((construct, _)) = open.pop() {
                    ends[construct] = i;
                }
            }
            Operator::BrIf { relative_depth } => {
                let target = open
                    .len()
                    .checked_sub(1 + *relative_depth as usize)
                    .map(|at| open[at]);
                if let Some((construct, false)) = target {
                    exits.push((last, construct));
                }
            }
            _ => {}
        }
        if ends_block(op) {
            let header = matches!(op, Operator::Loop { .. });
            if header {
                loops.push((i, last));
            }
            blocks.push(FuelBlock {
                cost: 0,
                check: header,
            });
        }
    }
    for &(j, enter) in &loops {
        let Some(bounded) = bounded_loop(ops, j) else {
            continue;
        };
        // The blocks of one iteration: from the header to the one the back edge ends.
        let body = enter + 1..enter + 1 + bounded.blocks;
        let cost: u64 = blocks[body.clone()].iter().map(|b| u64::from(b.cost)).sum();
        let most = u64::from(bounded.trips) * cost;
        if most > u64::from(MAX_COUNTED_LOOP_COST) {
            continue;
        }
        if bounded.blocks == 1 {
            // Counted: prepaid, unless that takes the function past its limit.
            let with = u64::from(total) - cost + most;
            if with > u64::from(MAX_FUNCTION_COST) {
                continue;
            }
            // Both fit in a u32: at most MAX_FUNCTION_COST.
            total = with as u32;
            blocks[enter].cost += most as u32;
            blocks[body.start].cost = 0;
        }
        blocks[enter].check = true;
        blocks[body.start].check = false;
    }
    // Loops that only their back edge leaves: the header pays for the blocks every iteration
    // runs.
    for &(j, enter) in &loops {
        let header = enter + 1;
        for block in iteration_blocks(ops, j, header) {
            if !blocks[block].check {
                blocks[header].cost += blocks[block].cost;
                blocks[block].cost = 0;
            }
        }
    }
    // Cold branches, last first so that a chain of them pays in its first block; whether a
    // construct's continuation traps is worked out once per construct.
    let mut cold: Vec<Option<bool>> = vec![None; ends.len()];
    for &(block, construct) in exits.iter().rev() {
        let next = block + 1;
        let traps = *cold[construct].get_or_insert_with(|| {
            ends[construct] != usize::MAX && traps_after(ops, ends[construct])
        });
        if traps && !blocks[next].check {
            blocks[block].cost += blocks[next].cost;
            blocks[next].cost = 0;
        }
    }
    Ok(blocks)
}

/// Whether control that leaves the construct ending at `ops[end]` certainly traps (see the
/// module doc, "Cold branches"): after that `end` and any `end`s right after it, the fuel
/// block that starts ends with `unreachable` (possibly after calls, such as a panic handler's).
fn traps_after(ops: &[(Operator<'_>, u64)], end: usize) -> bool {
    ops.iter()
        .skip(end + 1)
        .map(|(op, _)| op)
        .skip_while(|op| matches!(op, Operator::End))
        .find(|op| ends_block(op))
        .is_some_and(|op| matches!(op, Operator::Unreachable))
}

/// The blocks after the header (block `header`) that every iteration of the loop at
/// `ops[j]` runs, when only its back edge leaves it (see the module doc, "Loops left only by
/// their back edge"): its body ends with `br 0` or `br_if 0`, and no other branch in it
/// targets the loop or a label outside it, nor returns. They are the blocks that start at the
/// body's own level, after the `end` of a construct inside it; none without such a loop.
fn iteration_blocks(ops: &[(Operator<'_>, u64)], j: usize, header: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut block = header;
    let mut depth = 0u32;
    for (i, (op, _)) in ops.iter().enumerate().skip(j + 1) {
        // A branch to `r` levels out: inside the body while `r < depth`.
        let inside = |r: u32| r < depth;
        match op {
            Operator::Block { .. } | Operator::If { .. } | Operator::Loop { .. } => depth += 1,
            Operator::End if depth == 0 => return Vec::new(),
            Operator::End => depth -= 1,
            Operator::Br { relative_depth } | Operator::BrIf { relative_depth }
                if !inside(*relative_depth) =>
            {
                // The back edge, last in the body.
                let last = matches!(ops.get(i + 1), Some((Operator::End, _)));
                return if *relative_depth == 0 && depth == 0 && last {
                    starts
                } else {
                    Vec::new()
                };
            }
            Operator::BrTable { targets } => {
                let all_inside =
                    targets.targets().all(|t| t.is_ok_and(inside)) && inside(targets.default());
                if !all_inside {
                    return Vec::new();
                }
            }
            Operator::Return => return Vec::new(),
            _ => {}
        }
        if ends_block(op) {
            block += 1;
            if depth == 0 && matches!(op, Operator::End) {
                starts.push(block);
            }
        }
    }
    Vec::new()
}

/// A bounded loop (see the module doc): how often each entry runs it at most, and how many
/// fuel blocks one iteration has (1: the loop is counted).
struct Bounded {
    trips: u32,
    blocks: usize,
}

/// The loop at `ops[j]` when it is *bounded* (see the module doc): it has a loop counter
/// (`loops::loop_counter`), takes no parameters, and its body makes no call and holds no loop.
fn bounded_loop(ops: &[(Operator<'_>, u64)], j: usize) -> Option<Bounded> {
    let Operator::Loop { blockty } = ops[j].0 else {
        return None;
    };
    if matches!(blockty, wasmparser::BlockType::FuncType(_)) {
        // A function type may give the loop parameters, which its back edge would carry.
        return None;
    }
    let counter = loop_counter(ops, j)?;
    // The body up to and with the counter's `br_if 0` (`loop_counter` found it last).
    let body = &ops[j + 1..counter.end];
    let mut blocks = 0;
    for (op, _) in body {
        match op {
            Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::Loop { .. } => {
                return None;
            }
            _ if ends_block(op) => blocks += 1,
            _ => {}
        }
    }
    Some(Bounded {
        trips: counter.trips,
        blocks,
    })
}

/// A cursor over a function's fuel blocks, advanced by a backend as it translates.
#[derive(Clone, Debug)]
pub struct FuelBlocks {
    blocks: Vec<FuelBlock>,
    next: usize,
    /// The sum of the costs of the blocks from `next` on.
    remaining: u32,
}

impl FuelBlocks {
    /// The blocks of `body` (see [`fuel_blocks`]).
    pub fn new(func_index: u32, body: &FunctionBody<'_>) -> Result<FuelBlocks, CompileError> {
        FuelBlocks::from_operators(func_index, &decode(func_index, body)?)
    }

    /// The blocks of a body given as its operators (see [`fuel_blocks`]).
    pub fn from_operators(
        func_index: u32,
        ops: &[(Operator<'_>, u64)],
    ) -> Result<FuelBlocks, CompileError> {
        let blocks = fuel_blocks(func_index, ops)?;
        // At most MAX_FUNCTION_COST: `fuel_blocks` checked the total.
        let remaining = blocks.iter().map(|b| b.cost).sum();
        Ok(FuelBlocks {
            blocks,
            next: 0,
            remaining,
        })
    }

    /// The block that starts here: call at the function's entry and right after every
    /// operator for which [`ends_block`] holds. Returns an empty block that is no check point
    /// past the last block (the translator then has a bug, which the debug assertion catches
    /// in tests).
    pub fn next_block(&mut self) -> FuelBlock {
        debug_assert!(
            self.next < self.blocks.len(),
            "more fuel blocks than operators end"
        );
        let block = self.blocks.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        self.remaining -= block.cost;
        block
    }

    /// Whether `op`, an operator of the current block (the one [`FuelBlocks::next_block`]
    /// returned last), must be followed by a check of cost 0: it is a call (`call`,
    /// `call_indirect`) and the blocks after the current one cost more than
    /// [`MAX_UNCHECKED_TAIL`] (see the module doc). The same answer on every backend.
    pub fn checks_after(&self, op: &Operator<'_>) -> bool {
        matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. })
            && self.remaining > MAX_UNCHECKED_TAIL
    }

    /// Every block of the body, in order.
    pub fn blocks(&self) -> &[FuelBlock] {
        &self.blocks
    }

    /// Whether every block has been reached (true at the end of a correct translation).
    pub fn is_finished(&self) -> bool {
        self.next == self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first function body of `wasm`.
    fn first_body(wasm: &[u8]) -> FunctionBody<'_> {
        wasmparser::Parser::new(0)
            .parse_all(wasm)
            .find_map(|p| match p.unwrap() {
                wasmparser::Payload::CodeSectionEntry(b) => Some(b),
                _ => None,
            })
            .unwrap()
    }

    /// The fuel blocks of the first function of `(module (func <wat_body>) (func))`.
    fn blocks_of(wat_body: &str) -> Vec<FuelBlock> {
        let wasm = wat::parse_str(format!("(module (func {wat_body}) (func))")).unwrap();
        let body = first_body(&wasm);
        fuel_blocks(0, &decode(0, &body).unwrap()).unwrap()
    }

    fn costs_of(wat_body: &str) -> Vec<u32> {
        blocks_of(wat_body).iter().map(|b| b.cost).collect()
    }

    fn checks_of(wat_body: &str) -> Vec<bool> {
        blocks_of(wat_body).iter().map(|b| b.check).collect()
    }

    #[test]
    fn straight_line_code_is_one_block() {
        // i32.const, i32.const, i32.add, drop (0), end (0) | after end (empty).
        assert_eq!(
            costs_of("i32.const 1 i32.const 2 i32.add drop nop"),
            vec![3, 0]
        );
    }

    #[test]
    fn a_loop_header_starts_a_block_and_the_back_edge_pays() {
        // [i32.const 0, local... ] needs a local; keep it simple:
        // entry: loop (0) | header: br 0 (1) | after br: end (0) | after loop end: end (0) | ()
        assert_eq!(costs_of("loop br 0 end"), vec![0, 1, 0, 0, 0]);
    }

    #[test]
    fn if_else_and_br_if_split_blocks() {
        let c = costs_of(
            "(local i32) local.get 0 if local.get 0 br_if 0 i32.const 1 drop else nop end",
        );
        // entry: local.get, if | then: local.get, br_if | fallthrough: i32.const, drop, else
        // | else-branch: nop, end | after if: end (function) | after the body
        assert_eq!(c, vec![2, 2, 1, 0, 0, 0]);
    }

    #[test]
    fn calls_do_not_end_blocks_and_block_costs_nothing() {
        let c = costs_of("block call 0 call 0 end");
        // entry: block (0), call, call, end | after end: end | after the body
        assert_eq!(c, vec![2, 0, 0]);
    }

    #[test]
    fn the_entry_and_loop_headers_are_the_check_points() {
        // entry: block, loop | header: local.get, br_if 0 | end (loop) | br 0 | end (block) |
        // end (function) | after the body
        let body = "(param i32) block loop local.get 0 br_if 0 end br 0 end";
        assert_eq!(costs_of(body), vec![0, 2, 0, 1, 0, 0, 0]);
        assert_eq!(
            checks_of(body),
            vec![true, true, false, false, false, false, false]
        );
    }

    /// A loop counting `local 0` from `first` by `step` to `last`, its body `body` and the
    /// counter's 7 operators (`local.get`, `i32.const`, `i32.add`, `local.tee`, `i32.const`,
    /// `i32.ne`, `br_if`), after `before`.
    fn counted(before: &str, first: i32, step: i32, last: i32, body: &str) -> String {
        format!(
            "(local i32) {before} i32.const {first} local.set 0 loop {body} local.get 0 \
             i32.const {step} i32.add local.tee 0 i32.const {last} i32.ne br_if 0 end"
        )
    }

    #[test]
    fn a_counted_loop_is_paid_and_checked_where_it_is_entered() {
        // entry: i32.const, local.set, loop + 10 trips of (i32.const, drop + 7) | header: 0,
        // no check | end (loop) | end (function) | after the body
        let body = counted("", 0, 1, 10, "i32.const 1 drop");
        assert_eq!(costs_of(&body), vec![2 + 10 * 8, 0, 0, 0, 0]);
        assert_eq!(checks_of(&body), vec![true, false, false, false, false]);
        // Counting down by 4 from 40 to 0: 10 trips. Entered after a `block ... end`, the
        // block that enters the loop becomes a check point.
        let body = counted("block end", 40, -4, 0, "i32.const 1 drop");
        assert_eq!(costs_of(&body), vec![0, 2 + 10 * 8, 0, 0, 0, 0]);
        assert_eq!(
            checks_of(&body),
            vec![true, true, false, false, false, false]
        );
        // Without the compare, `br_if` tests the counter against 0: -3 to 0 by 1, 3 trips of
        // (i32.const, drop, local.get, i32.const, i32.add, local.tee, br_if).
        let body = "(local i32) i32.const -3 local.set 0 loop i32.const 1 drop local.get 0 \
                    i32.const 1 i32.add local.tee 0 br_if 0 end";
        assert_eq!(costs_of(body), vec![2 + 3 * 6, 0, 0, 0, 0]);
    }

    #[test]
    fn loops_that_may_run_otherwise_are_not_bounded() {
        let not_bounded = |body: &str| {
            let checks = checks_of(body);
            // The header of the loop (the entry block ends with it) is a check point.
            assert!(checks[1], "{body}: {checks:?}");
        };
        // A call, an inner loop, a second write of the counter in the body.
        not_bounded(&counted("", 0, 1, 10, "call 1"));
        not_bounded(&counted("", 0, 1, 10, "loop end"));
        not_bounded(&counted("", 0, 1, 10, "i32.const 5 local.set 0"));
        // A branch back to the header that skips the step.
        not_bounded(&counted("", 0, 1, 10, "local.get 0 br_if 0"));
        // A step that does not reach the end exactly, or the end right at the start.
        not_bounded(&counted("", 0, 3, 10, ""));
        not_bounded(&counted("", 10, 1, 10, ""));
        // More than MAX_COUNTED_LOOP_COST: 2^14 + 1 trips of 8.
        let trips = (MAX_COUNTED_LOOP_COST / 8) as i32;
        assert!(!checks_of(&counted("", 0, 1, trips, "i32.const 1 drop"))[1]);
        not_bounded(&counted("", 0, 1, trips + 1, "i32.const 1 drop"));
        // A counter whose last write before the loop is not a constant, or is one before a
        // branch target (the `end` of a block).
        not_bounded(&counted("", 0, 1, 10, "").replacen(
            "loop",
            "i32.const 0 drop local.get 0 local.set 0 loop",
            1,
        ));
        let body = counted("", 0, 1, 10, "").replacen("loop", "block end loop", 1);
        assert_eq!(checks_of(&body)[..3], [true, false, true], "{body}");
        // Operators that write other locals or no local between the constant and the loop
        // are fine.
        let body = counted("", 0, 1, 10, "").replacen("loop", "i32.const 0 drop nop loop", 1);
        assert!(!checks_of(&body)[1], "{body}");
    }

    #[test]
    fn a_bounded_loop_is_checked_where_it_is_entered_and_pays_per_block() {
        // entry: block (0), end | entering: i32.const, local.set, loop (2) | header:
        // local.get, br_if 1 (2) | i32.const, drop + 7 (8) | after `br_if 0`: end (0) |
        // end (function) | after the body. The body's blocks keep their charges; the most one
        // entry may cost is 10 trips of 10.
        let body = counted(
            "block end",
            0,
            1,
            10,
            "local.get 0 br_if 1 i32.const 1 drop",
        );
        assert_eq!(costs_of(&body), vec![0, 2, 2, 8, 0, 0, 0]);
        assert_eq!(
            checks_of(&body),
            vec![true, true, false, false, false, false, false]
        );
        // A bounded loop whose iterations may cost more than MAX_COUNTED_LOOP_COST in all is
        // checked at its header.
        let trips = (MAX_COUNTED_LOOP_COST / 10) as i32;
        let body = counted("", 0, 1, trips, "local.get 0 br_if 1 i32.const 1 drop");
        assert!(!checks_of(&body)[1]);
        let body = counted("", 0, 1, trips + 1, "local.get 0 br_if 1 i32.const 1 drop");
        assert!(checks_of(&body)[1]);
    }

    #[test]
    fn the_header_of_a_loop_left_only_by_its_back_edge_pays_for_every_iteration_s_blocks() {
        // entry: loop (0) | header: block, local.get, br_if 0 (2) + the block after the inner
        // `end` (3) | i32.const, drop, end (1) | i32.const, drop, local.get, br_if 0: paid by
        // the header | end (loop) | end (function) | after the body
        let body = |inner: &str| {
            format!(
                "(param i32) loop block local.get 0 br_if {inner} i32.const 1 drop end \
                 i32.const 2 drop local.get 0 br_if 0 end"
            )
        };
        assert_eq!(costs_of(&body("0")), vec![0, 5, 1, 0, 0, 0, 0]);
        assert_eq!(checks_of(&body("0"))[..3], [true, true, false]);
        // A branch to the loop or out of it: every block pays for itself.
        assert_eq!(costs_of(&body("1")), vec![0, 2, 1, 3, 0, 0, 0]);
        assert_eq!(costs_of(&body("2")), vec![0, 2, 1, 3, 0, 0, 0]);
        let returns = body("0").replacen("i32.const 1 drop", "return", 1);
        assert_eq!(costs_of(&returns), vec![0, 2, 1, 0, 3, 0, 0, 0]);
    }

    #[test]
    fn the_fall_through_of_a_branch_to_a_trap_pays_with_the_branch() {
        // entry: block, local.get, br_if (2) + the fall-through's i32.const, drop, return (2) |
        // 0 | end (0) | the trap: call, unreachable (2) | end (0) | after the body
        let body = "(param i32) block local.get 0 br_if 0 i32.const 1 drop return end call 1 \
                    unreachable";
        assert_eq!(costs_of(body), vec![4, 0, 0, 2, 0, 0]);
        // A chain pays in its first block; `end`s between the target and the trap are fine.
        let body = "(param i32) block block local.get 0 br_if 1 local.get 0 br_if 1 i32.const 1 \
                    drop return end end unreachable";
        assert_eq!(costs_of(body), vec![6, 0, 0, 0, 0, 1, 0, 0]);
        // Not cold: the target goes on without trapping, or is a loop.
        let body = "(param i32) block local.get 0 br_if 0 i32.const 1 drop return end call 1";
        assert_eq!(costs_of(body), vec![2, 2, 0, 1, 0]);
        let body = "(param i32) loop local.get 0 br_if 0 i32.const 1 drop return end unreachable";
        assert_eq!(costs_of(body), vec![0, 2, 2, 0, 1, 0, 0]);
    }

    #[test]
    fn a_body_costing_more_than_the_function_limit_is_a_compile_error() {
        // MAX_FUNCTION_COST `nop`s cost nothing; `i32.const`/`drop` pairs cost 1 each.
        let fits = "i32.const 0 drop ".repeat(MAX_FUNCTION_COST as usize);
        let wasm = wat::parse_str(format!("(module (func {fits}))")).unwrap();
        let body = first_body(&wasm);
        let ops = decode(0, &body).unwrap();
        assert_eq!(fuel_blocks(0, &ops).unwrap()[0].cost, MAX_FUNCTION_COST);
        let over = format!("{fits} i32.const 0 drop");
        let wasm = wat::parse_str(format!("(module (func {over}))")).unwrap();
        let body = first_body(&wasm);
        let ops = decode(7, &body).unwrap();
        let message = fuel_blocks(7, &ops).unwrap_err().to_string();
        assert!(
            message.contains("function 7: fuel cost of the body exceeds 1048575"),
            "{message}"
        );
    }

    #[test]
    fn a_call_is_followed_by_a_check_when_the_blocks_after_it_cost_more_than_the_limit() {
        // entry: `block call end` (1), then `n` blocks of cost 2 (`local.get`, `br_if`), then
        // the final `end`'s (0): the call has a tail of 2 n.
        let wasm_of = |n: usize| {
            let tail = "local.get 0 br_if 0 ".repeat(n);
            wat::parse_str(format!(
                "(module (func (param i32) block call 1 end {tail}) (func))"
            ))
            .unwrap()
        };
        let at_limit = (MAX_UNCHECKED_TAIL / 2) as usize;
        for (n, expected) in [(at_limit, false), (at_limit + 1, true)] {
            let wasm = wasm_of(n);
            let body = first_body(&wasm);
            let mut blocks = FuelBlocks::new(0, &body).unwrap();
            let call = Operator::Call { function_index: 1 };
            assert_eq!(blocks.next_block().cost, 1);
            assert_eq!(blocks.checks_after(&call), expected, "tail of {n} blocks");
            assert!(!blocks.checks_after(&Operator::Nop));
            // In the last block of cost 2 the tail is 0.
            for _ in 0..n {
                blocks.next_block();
            }
            assert!(!blocks.checks_after(&call));
        }
    }

    #[test]
    fn cursor_walks_every_block_once() {
        let wasm = wat::parse_str("(module (func loop br 0 end))").unwrap();
        let body = first_body(&wasm);
        let mut blocks = FuelBlocks::new(0, &body).unwrap();
        let mut seen = vec![blocks.next_block().cost];
        let mut reader = body.get_operators_reader().unwrap();
        while !reader.eof() {
            if ends_block(&reader.read().unwrap()) {
                seen.push(blocks.next_block().cost);
            }
        }
        assert!(blocks.is_finished());
        assert_eq!(seen, vec![0, 1, 0, 0, 0]);
    }
}
