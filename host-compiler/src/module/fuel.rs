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
//! The cost of a fuel block is the sum of the costs of its operators ([`block_costs`]). Code
//! compiled with fuel **pays for a block at its start**: it subtracts the cost from the
//! store's fuel slice (`VMStoreContext::fuel`, an `i32`) before running any of the block. A
//! block of cost 0 subtracts nothing. The fuel consumed by a call is therefore the sum of the
//! costs of the blocks it entered (a block in which a trap happens counts whole), and that sum
//! is the same on every target. The charge of the block that starts at a loop header is placed
//! inside the loop (after the header label), so every iteration pays for it; every cycle of
//! the control flow passes through a branch, which costs 1, so every iteration of every loop
//! consumes fuel.
//!
//! # Fuel checks: function entry and loop headers only
//!
//! The slice is *checked* only at the **check points**: the function's entry (the first
//! block) and every loop header (the block right after `loop`, [`checks_fuel_after`]), the
//! same points as the epoch check. There, after subtracting the block's cost (also when it is
//! 0), the code calls `Libcall::OutOfFuel` (or `OutOfFuelPreserving`) with the block's cost
//! when the slice is negative. Every other block only subtracts its cost (Thumb-2: one `sub`;
//! Cranelift: an `isub` without a branch). Fewer branches is the point: most blocks are short
//! (a compare and a `br_if`), and a branch per block was a large part of the overhead.
//!
//! Between two checks the slice can therefore go below zero by more than one block's cost.
//! The overrun is a *debt*: the check that finds the slice negative pays the whole deficit
//! (the blocks that ran since the last check, and its own block) from the store's reserve. If
//! it cannot, the call stops (`OutOfFuel`, or a yield of a resumable call) before running the
//! block of the check point; the blocks that ran are consumed all the same, so the store
//! shows no fuel left and the unpaid rest as its debt (`Store::fuel_debt`), which `add_fuel`
//! pays first. A call thus never runs a loop iteration or enters a function its budget has
//! not paid for, and stops at most one function's straight-line cost (below
//! [`MAX_FUNCTION_COST`]) plus [`MAX_UNCHECKED_TAIL`] per frame it returns through past its
//! budget before the next check.
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
//!   [`MAX_FUNCTION_COST`] `= 2^20 - 1`; beyond it the compiler returns a `CompileError`
//!   ([`block_costs`]). So one frame subtracts less than 2^20 between two check points of
//!   its own (it runs each of its blocks at most once between them: every cycle passes a
//!   loop header).
//! * Between two checks, code subtracts the blocks after the last check in the current frame
//!   (less than 2^20) and, each time a frame returns, its caller's blocks after the call up to
//!   the caller's next check point or return: at most [`MAX_UNCHECKED_TAIL`] `= 256`, since a
//!   longer tail starts with a check. Every frame returned through was on the stack at the
//!   last check, and each frame that calls takes at least 8 bytes of it (the saved return
//!   address, `sp` kept 8-aligned: Thumb-2; 16 bytes on AArch64 and x86_64) within the wasm
//!   stack, which the runtime caps at `shared_types::vmoffsets::MAX_WASM_STACK` `= 64 MiB`
//!   (`EngineConfig::max_wasm_stack` is clamped to it). So at most 2^23 frames return between
//!   two checks, subtracting at most `2^23 * 256 + 2^20 < 2^31 + 2^20`, while the slice,
//!   at most `2^30 - 1` at the last check (or the slow path's refill), reaches `i32::MIN`
//!   only after `2^30 + 2^31` of them. The slice never wraps.
//! * The runtime's slow path computes in `i64`/`i128` and saturates; a debt it records is at
//!   most the magnitude of an `i32` plus a block's cost.
//!
//! Backends walk the operators once, reachable or not, and ask a [`FuelBlocks`] cursor for the
//! cost of each block as they reach its start ([`FuelBlocks::next_block`] at the entry and
//! after every operator that ends a block), whether or not they emit code for it.
//!
//! # Epoch checks
//!
//! Code compiled with epochs checks the epoch at function entry and at every loop header,
//! after that point's fuel charge and check (and, at entry, after the stack-limit check): it
//! compares the low word of the engine's epoch counter with the store's deadline word and
//! calls `Libcall::EpochDeadline` when `(counter - deadline) as i32 >= 0`.

use wasmparser::{FunctionBody, Operator};

use crate::error::CompileError;

/// The largest total cost of one function body (the sum of its fuel block costs): what one
/// frame may subtract from the 32-bit slice between two checks (see the module doc).
pub const MAX_FUNCTION_COST: u32 = (1 << 20) - 1;

/// The most fuel a caller's blocks after a call may cost without a check right after the call
/// (see the module doc, "Checks after calls with a long tail").
pub const MAX_UNCHECKED_TAIL: u32 = 256;

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

/// Whether the fuel block that starts right after `op` is a check point (a loop header); the
/// block at the function's entry is one too.
pub fn checks_fuel_after(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Loop { .. })
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

/// The cost of every fuel block of a function body, in order (the first is the block at the
/// function's entry; a body of `n` block-ending operators has `n + 1` blocks, the last one
/// empty after the body's final `end`). The body must be valid; `func_index` and the offsets
/// are for errors. A body whose total cost exceeds [`MAX_FUNCTION_COST`] is an error.
pub fn block_costs(func_index: u32, body: &FunctionBody<'_>) -> Result<Vec<u32>, CompileError> {
    let mut reader = body
        .get_operators_reader()
        .map_err(|e| CompileError::invalid(Some(func_index), &e))?;
    let mut costs = Vec::new();
    let mut current: u32 = 0;
    let mut total: u32 = 0;
    while !reader.eof() {
        let offset = usize::try_from(reader.original_position()).unwrap_or(usize::MAX);
        let op = reader
            .read()
            .map_err(|e| CompileError::invalid(Some(func_index), &e))?;
        let cost = operator_cost(&op);
        current += cost;
        total += cost;
        if total > MAX_FUNCTION_COST {
            return Err(CompileError::unsupported(
                Some(func_index),
                offset,
                format!(
                    "function {func_index}: fuel cost of the body exceeds {MAX_FUNCTION_COST} \
                     (the most one frame may consume between two fuel checks)"
                ),
            ));
        }
        if ends_block(&op) {
            costs.push(current);
            current = 0;
        }
    }
    costs.push(current);
    Ok(costs)
}

/// A cursor over a function's fuel block costs, advanced by a backend as it translates.
#[derive(Clone, Debug)]
pub struct FuelBlocks {
    costs: Vec<u32>,
    next: usize,
    /// The sum of the costs of the blocks from `next` on.
    remaining: u32,
}

impl FuelBlocks {
    /// The blocks of `body` (see [`block_costs`]).
    pub fn new(func_index: u32, body: &FunctionBody<'_>) -> Result<FuelBlocks, CompileError> {
        let costs = block_costs(func_index, body)?;
        // At most MAX_FUNCTION_COST: `block_costs` checked the total.
        let remaining = costs.iter().sum();
        Ok(FuelBlocks {
            costs,
            next: 0,
            remaining,
        })
    }

    /// The cost of the block that starts here: call at the function's entry and right after
    /// every operator for which [`ends_block`] holds. Returns 0 past the last block (the
    /// translator then has a bug, which the debug assertion catches in tests).
    pub fn next_block(&mut self) -> u32 {
        debug_assert!(
            self.next < self.costs.len(),
            "more fuel blocks than operators end"
        );
        let cost = self.costs.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        self.remaining -= cost;
        cost
    }

    /// Whether `op`, an operator of the current block (the one [`FuelBlocks::next_block`]
    /// returned last), must be followed by a check of cost 0: it is a call (`call`,
    /// `call_indirect`) and the blocks after the current one cost more than
    /// [`MAX_UNCHECKED_TAIL`] (see the module doc). The same answer on every backend.
    pub fn checks_after(&self, op: &Operator<'_>) -> bool {
        matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. })
            && self.remaining > MAX_UNCHECKED_TAIL
    }

    /// Whether every block has been reached (true at the end of a correct translation).
    pub fn is_finished(&self) -> bool {
        self.next == self.costs.len()
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

    fn costs_of(wat_body: &str) -> Vec<u32> {
        let wasm = wat::parse_str(format!("(module (func {wat_body}))")).unwrap();
        block_costs(0, &first_body(&wasm)).unwrap()
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
    fn only_loop_headers_are_check_points() {
        let ops = [
            Operator::Loop {
                blockty: wasmparser::BlockType::Empty,
            },
            Operator::Br { relative_depth: 0 },
            Operator::BrIf { relative_depth: 0 },
            Operator::End,
            Operator::Return,
        ];
        let checks: Vec<bool> = ops.iter().map(checks_fuel_after).collect();
        assert_eq!(checks, vec![true, false, false, false, false]);
    }

    #[test]
    fn a_body_costing_more_than_the_function_limit_is_a_compile_error() {
        // MAX_FUNCTION_COST `nop`s cost nothing; `i32.const`/`drop` pairs cost 1 each.
        let fits = "i32.const 0 drop ".repeat(MAX_FUNCTION_COST as usize);
        let wasm = wat::parse_str(format!("(module (func {fits}))")).unwrap();
        let body = first_body(&wasm);
        assert_eq!(block_costs(0, &body).unwrap()[0], MAX_FUNCTION_COST);
        let over = format!("{fits} i32.const 0 drop");
        let wasm = wat::parse_str(format!("(module (func {over}))")).unwrap();
        let body = first_body(&wasm);
        let message = block_costs(7, &body).unwrap_err().to_string();
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
            assert_eq!(blocks.next_block(), 1);
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
        let mut seen = vec![blocks.next_block()];
        let mut reader = body.get_operators_reader().unwrap();
        while !reader.eof() {
            if ends_block(&reader.read().unwrap()) {
                seen.push(blocks.next_block());
            }
        }
        assert!(blocks.is_finished());
        assert_eq!(seen, vec![0, 1, 0, 0, 0]);
    }
}
