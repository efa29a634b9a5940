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
//! store's fuel slice (`VMStoreContext::fuel`) and, if the slice went negative, calls
//! `Libcall::OutOfFuel` with the cost before running any of the block. A block of cost 0
//! emits nothing. So a call never runs an operator its budget has not paid for, the fuel
//! consumed by a call is the sum of the costs of the blocks it entered (a block in which a trap
//! happens counts whole), and that sum is the same on every target. The charge of the block
//! that starts at a loop header is placed inside the loop (after the header label), so every
//! iteration pays for it; every cycle of the control flow passes through a branch, which costs
//! 1, so every iteration of every loop consumes fuel and is checked.
//!
//! Backends walk the operators once, reachable or not, and ask a [`FuelBlocks`] cursor for the
//! cost of each block as they reach its start ([`FuelBlocks::next_block`] at the entry and
//! after every operator that ends a block), whether or not they emit code for it.
//!
//! # Epoch checks
//!
//! Code compiled with epochs checks the epoch at function entry and at every loop header,
//! after that point's fuel charge (and, at entry, after the stack-limit check): it compares the
//! low word of the engine's epoch counter with the store's deadline word and calls
//! `Libcall::EpochDeadline` when `(counter - deadline) as i32 >= 0`.

use wasmparser::{FunctionBody, Operator};

use crate::error::CompileError;

/// The largest cost of one fuel block: a block's cost is subtracted from a 32-bit slice that
/// is never negative before the subtraction, so it must stay well below 2^31.
pub const MAX_BLOCK_COST: u32 = (1 << 30) - 1;

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

/// The cost of every fuel block of a function body, in order (the first is the block at the
/// function's entry; a body of `n` block-ending operators has `n + 1` blocks, the last one
/// empty after the body's final `end`). The body must be valid; `func_index` and the offsets
/// are for errors.
pub fn block_costs(func_index: u32, body: &FunctionBody<'_>) -> Result<Vec<u32>, CompileError> {
    let mut reader = body
        .get_operators_reader()
        .map_err(|e| CompileError::invalid(Some(func_index), &e))?;
    let mut costs = Vec::new();
    let mut current: u32 = 0;
    while !reader.eof() {
        let offset = usize::try_from(reader.original_position()).unwrap_or(usize::MAX);
        let op = reader
            .read()
            .map_err(|e| CompileError::invalid(Some(func_index), &e))?;
        current += operator_cost(&op);
        if current > MAX_BLOCK_COST {
            return Err(CompileError::unsupported(
                Some(func_index),
                offset,
                format!("a fuel block costing more than {MAX_BLOCK_COST}"),
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
}

impl FuelBlocks {
    /// The blocks of `body` (see [`block_costs`]).
    pub fn new(func_index: u32, body: &FunctionBody<'_>) -> Result<FuelBlocks, CompileError> {
        Ok(FuelBlocks {
            costs: block_costs(func_index, body)?,
            next: 0,
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
        cost
    }

    /// Whether every block has been reached (true at the end of a correct translation).
    pub fn is_finished(&self) -> bool {
        self.next == self.costs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs_of(wat_body: &str) -> Vec<u32> {
        let wasm = wat::parse_str(format!("(module (func {wat_body}))")).unwrap();
        let mut body = None;
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(b) = payload.unwrap() {
                body = Some(b);
            }
        }
        block_costs(0, &body.unwrap()).unwrap()
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
    fn cursor_walks_every_block_once() {
        let wasm = wat::parse_str("(module (func loop br 0 end))").unwrap();
        let body = wasmparser::Parser::new(0)
            .parse_all(&wasm)
            .find_map(|p| match p.unwrap() {
                wasmparser::Payload::CodeSectionEntry(b) => Some(b),
                _ => None,
            })
            .unwrap();
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
