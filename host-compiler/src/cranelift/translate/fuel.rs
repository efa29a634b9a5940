//! Fuel metering and epoch checks (images compiled with `Tunables::fuel` / `Tunables::epochs`).
//!
//! The cost model and the places of the checks are [`crate::module::fuel`]'s, shared with the
//! Thumb-2 backend so that a call consumes the same fuel on every target. The translator asks
//! its [`FuelBlocks`](crate::module::fuel::FuelBlocks) cursor for the cost of a fuel block at
//! the function entry and after every operator that ends one, and, when the position is
//! reachable and the cost is not 0, emits the charge there: a plain subtraction, except at the
//! check points (the entry and loop headers, also for a block of cost 0 there), where the
//! slice is then checked. Between checks the slice may go negative by several blocks' costs;
//! the check pays that debt (`module::fuel`). Every branch target is such a
//! position: a loop header is entered right after `loop` (the charge lands inside the header
//! block, so every iteration pays), the following block of a frame right after its `end`, the
//! arms of an `if` right after `if`/`else`, the fall-through of `br_if` right after it.
//!
//! After a call that [`FuelBlocks::checks_after`](crate::module::fuel::FuelBlocks::checks_after)
//! marks (the caller's blocks after it cost more than `MAX_UNCHECKED_TAIL`), the translator
//! adds a check of cost 0 (`module::fuel`, "Checks after calls with a long tail").
//!
//! # The charge
//!
//! Between calls the fuel slice (`VMStoreContext::fuel`, an `i32`) lives in a Cranelift
//! variable, loaded at the function entry:
//!
//! ```text
//!     fuel = fuel - cost                     ; the variable (every block of non-zero cost)
//!     brif fuel < 0, out_of_fuel, continue   ; entry and loop headers only: the sign bit;
//!                                            ;   out_of_fuel is cold
//! out_of_fuel:
//!     store.i32 fuel, [store + fuel]
//!     call OutOfFuelPreserving(vmctx, cost)  ; pays the debt from the store's reserve, or
//!                                            ;   traps (or yields) itself
//!     fuel = load.i32 [store + fuel]
//!     jump continue
//! ```
//!
//! Both cold calls go to the register-preserving helpers (`Libcall::OutOfFuelPreserving`,
//! `Libcall::EpochDeadlinePreserving`) with `CallConv::PreserveAll`: the call clobbers no
//! register, so the values live across a check (loop counters, f64 accumulators) stay in
//! caller-saved registers instead of being spilled around every check, which the C-convention
//! call forced on the hot path (e.g. a `stur q20, [sp]` / `ldur` pair per iteration in a float
//! loop). `PreserveAll` has no return values, so the helpers raise the trap themselves rather
//! than returning a status; the runtime's stubs (`device-runtime/src/arch`) save the registers
//! on the wasm stack and call the C helpers. The cold block loads everything the call takes
//! itself ([`FuncTranslator::call_preserving`]): the helper's address, and the vmctx argument
//! from the function's own `VMFuncRef`, so that no copy of the vmctx waits in the argument
//! register on the hot path.
//!
//! The runtime and the host read and write the slice in memory, so the variable is stored
//! back wherever anything can observe it ([`FuncTranslator::fuel_to_memory`]) and reloaded
//! where something may have changed it ([`FuncTranslator::reload_preemption_variables`]):
//!
//! * before and after every call out of the function: wasm calls (direct, imported,
//!   `call_indirect`) and every runtime helper, including the `Trap` helper of the trap blocks
//!   the translator raises (bounds, `unreachable`, `call_indirect` checks, failed helpers);
//! * before every return;
//! * before every instruction with which Cranelift may trap by itself without calling anything
//!   (integer division and remainder, float-to-integer truncation, guard-elided memory
//!   accesses): these unwind from a signal, so the slice must already be in memory. The stack
//!   check of a callee's prologue needs nothing: the caller stored the slice before the call.
//!
//! ## Deferred reloads
//!
//! After a wasm call (direct, imported, `call_indirect`) the reload is deferred
//! ([`FuncTranslator::defer_preemption_reload`]): memory holds the current values, so a store
//! before a following direct call is not needed, and a reload that the next call would
//! overwrite is not emitted (e.g. `f(a) + f(b)` loads nothing between the calls). The reload
//! is emitted at the next use of a variable (a charge, an epoch check) and before the next
//! operator that is not plain straight-line arithmetic (`keeps_reload_deferred`): every branch,
//! block boundary, trapping operator and helper call therefore sees the variables defined, as
//! the trap blocks and the joins of SSA construction need. Helper calls reload at once. Two
//! operators keep a reload deferred although they end a block: `return` (it uses neither
//! variable, and memory is current), and `end`, whose join starts deferred when memory holds
//! the current value on every edge into it. That always holds for the deadline word, which
//! wasm code never writes. For the slice it holds when no branch targets the join (a branch
//! reloads before it leaves, and a charge after that changes only the register): `block`,
//! `loop` and the function body then have only the fall-through, and an `if` with `else` gets
//! a store of the slice inserted before its `then` arm's jump
//! ([`FuncTranslator::fuel_stays_deferred_at_end`]). `fib`'s `if ... call ... end` thus
//! neither reloads nor stores anything after its calls.
//!
//! # The epoch check
//!
//! At the function entry (the stack-limit check is in the prologue, before it) and at every
//! loop header, after the charge of the block that starts there:
//!
//! ```text
//!     counter  = load.i32 [load.ptr [store + epoch_counter]]   ; the pointer is hoisted
//!     brif (counter - deadline) as i32 >= 0, epoch_deadline, continue   ; cold
//! epoch_deadline:
//!     call EpochDeadlinePreserving(vmctx)    ; compares the full 64-bit values; may trap
//!     jump continue
//! ```
//!
//! The deadline word (`VMStoreContext::epoch_deadline`) is only written by the runtime and the
//! host, so it too lives in a variable, loaded at the entry and reloaded after every call out
//! (the `EpochDeadline` helper rewrites it). The store-context pointer and the counter's
//! address never change while wasm runs, so their loads are `readonly` and `can_move` and
//! Cranelift hoists them out of loops; the counter itself (advanced by the host or a timer
//! interrupt at any time) is loaded at every check.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::Variable;
use shared_types::Libcall;
use wasmparser::Operator;

use super::control::{Frame, FrameKind, ThenExit};
use super::{FuncTranslator, trusted, trusted_readonly};
use crate::error::CompileError;

impl FuncTranslator<'_, '_> {
    /// The store context pointer (`*(vmctx + store_context)`).
    fn store_context(&mut self) -> Value {
        let ptr = self.ptr();
        let offset = self.env.offsets.store_context() as i32;
        self.builder
            .ins()
            .load(ptr, trusted_readonly(), self.vmctx, offset)
    }

    /// Called at the function entry and after every operator that ends a fuel block: takes
    /// the next block from the cursor (always, so the cursor stays in step with the
    /// operators) and, with fuel, charges its cost when the position is reachable. At a check
    /// point (the entry, the header of a loop that is not bounded, the block that enters a
    /// bounded loop) the slice is then checked, also after a block of cost 0, and then the
    /// epoch.
    pub(crate) fn start_fuel_block(&mut self) -> Result<(), CompileError> {
        let Some(blocks) = self.fuel_blocks.as_mut() else {
            return Ok(());
        };
        let block = blocks.next_block();
        if self.env.fuel && self.reachable && (block.cost != 0 || block.check) {
            self.charge_fuel(block.cost, block.check)?;
        }
        if block.check {
            self.check_epoch()?;
        }
        Ok(())
    }

    /// At the entry: declares the variables holding the fuel slice (with fuel) and the
    /// epoch deadline word (with epochs) and loads them.
    pub(crate) fn load_preemption_variables(&mut self) {
        if self.env.fuel {
            self.fuel_variable = Some(self.builder.declare_var(types::I32));
        }
        if self.env.epochs {
            self.deadline_variable = Some(self.builder.declare_var(types::I32));
        }
        self.reload_preemption_variables();
    }

    /// With fuel: stores the slice variable to `VMStoreContext::fuel`; nothing while a reload
    /// is deferred (memory holds the current value then).
    pub(crate) fn fuel_to_memory(&mut self) {
        if self.fuel_stale {
            return;
        }
        if let Some(variable) = self.fuel_variable {
            let fuel = self.builder.use_var(variable);
            let store = self.store_context();
            let offset = self.env.offsets.store_fuel() as i32;
            self.builder.ins().store(trusted(), fuel, store, offset);
        }
    }

    /// After a call out (and at the entry): reloads the fuel slice variable from
    /// `VMStoreContext::fuel` and the deadline variable from `VMStoreContext::epoch_deadline`,
    /// which the runtime and the host may have changed.
    pub(crate) fn reload_preemption_variables(&mut self) {
        let offsets = self.env.offsets;
        if let Some(variable) = self.fuel_variable {
            self.reload(variable, offsets.store_fuel());
        }
        if let Some(variable) = self.deadline_variable {
            self.reload(variable, offsets.store_epoch_deadline());
        }
    }

    /// After a wasm call: defers the reload of the variables to their next use or to the next
    /// operator that may branch, trap or call anything but a direct wasm call
    /// ([`FuncTranslator::preemption_before_operator`]).
    pub(crate) fn defer_preemption_reload(&mut self) {
        self.fuel_stale = self.fuel_variable.is_some();
        self.deadline_stale = self.deadline_variable.is_some();
    }

    /// Reloads the fuel variable if its reload was deferred.
    fn materialize_fuel(&mut self) {
        if std::mem::take(&mut self.fuel_stale)
            && let Some(variable) = self.fuel_variable
        {
            self.reload(variable, self.env.offsets.store_fuel());
        }
    }

    /// Reloads the deadline variable if its reload was deferred.
    fn materialize_deadline(&mut self) {
        if std::mem::take(&mut self.deadline_stale)
            && let Some(variable) = self.deadline_variable
        {
            self.reload(variable, self.env.offsets.store_epoch_deadline());
        }
    }

    /// Before every operator: ends a deferred reload unless `op` is straight-line code that
    /// neither uses the variables, nor branches, traps or calls out (except a direct wasm call,
    /// which finds memory current and defers again). Every branch, every trap block and every
    /// join thus sees the slice defined, with two exceptions where a stale variable is harmless:
    ///
    /// * `return` keeps both deferred: it uses neither, and `fuel_to_memory` stores nothing
    ///   while memory is current;
    /// * `end` keeps the deadline deferred (the slice is reloaded). Wasm code never writes the
    ///   deadline word, so memory holds its current value on every edge into the join, and the
    ///   join can start deferred whatever its other predecessors did; the next check reloads
    ///   it. This drops the reload after a call at the end of a block that no check follows
    ///   before the function returns or calls again (`fib`'s `if ... call ... end`).
    pub(crate) fn preemption_before_operator(&mut self, op: &Operator<'_>) {
        if !self.fuel_stale && !self.deadline_stale {
            return;
        }
        if !self.reachable {
            self.fuel_stale = false;
            self.deadline_stale = false;
            return;
        }
        match op {
            Operator::Return => {}
            Operator::End => {
                if self.fuel_stale && !self.fuel_stays_deferred_at_end() {
                    self.materialize_fuel();
                }
            }
            _ if keeps_reload_deferred(op) => {}
            _ => {
                self.materialize_fuel();
                self.materialize_deadline();
            }
        }
    }

    /// At an `end` while the slice's reload is deferred: whether the join after it can start
    /// deferred too, which needs memory to hold the current slice on every edge into it. The
    /// fall-through edge has it; branch edges (which reload before branching) do not, so the
    /// frame must have none; `loop` and `block` frames (the function body's included) have no
    /// other edge then. An `if` without `else` has the edge from the `if` itself, which does
    /// not; an `if` with `else` has its `then` arm's exit, where the slice is then stored
    /// before the jump (a store the next call or return would otherwise do after a reload).
    fn fuel_stays_deferred_at_end(&mut self) -> bool {
        let Some(Frame::Live(frame)) = self.control.last() else {
            return false;
        };
        if frame.branched {
            return false;
        }
        let exit = match &frame.kind {
            FrameKind::Block | FrameKind::Loop { .. } => return true,
            FrameKind::If {
                else_seen: false, ..
            } => return false,
            FrameKind::If { then_exit, .. } => *then_exit,
        };
        // No exit: the `then` arm does not reach the join.
        if let Some(ThenExit { jump, fuel }) = exit {
            let ptr = self.ptr();
            let offsets = self.env.offsets;
            let mut pos = FuncCursor::new(self.builder.func).at_inst(jump);
            let store = pos.ins().load(
                ptr,
                trusted_readonly(),
                self.vmctx,
                offsets.store_context() as i32,
            );
            pos.ins()
                .store(trusted(), fuel, store, offsets.store_fuel() as i32);
        }
        true
    }

    fn reload(&mut self, variable: Variable, offset: u32) {
        let store = self.store_context();
        let value = self
            .builder
            .ins()
            .load(types::I32, trusted(), store, offset as i32);
        self.builder.def_var(variable, value);
    }

    /// With fuel, before an operator: stores the slice when Cranelift may trap in the
    /// operator's code without calling anything (see the module documentation; guard-elided
    /// memory accesses are handled where their address is formed).
    pub(crate) fn fuel_before_operator(&mut self, op: &Operator<'_>) {
        if self.fuel_variable.is_some() && traps_by_itself(op) {
            self.fuel_to_memory();
        }
    }

    /// Subtracts `cost` from the fuel slice and, at a check point (`check`), calls
    /// `OutOfFuel` when the slice is negative.
    fn charge_fuel(&mut self, cost: u32, check: bool) -> Result<(), CompileError> {
        let variable = self
            .fuel_variable
            .ok_or_else(|| self.internal("fuel charged without the fuel variable"))?;
        self.materialize_fuel();
        let fuel = self.builder.use_var(variable);
        let left = if cost == 0 {
            fuel
        } else {
            let left = self.builder.ins().iadd_imm_s(fuel, -i64::from(cost));
            self.builder.def_var(variable, left);
            left
        };
        if !check {
            return Ok(());
        }
        // The sign bit alone: AArch64 tests it with one `tbnz`.
        let negative = self.builder.ins().band_imm_u(left, 1 << 31);
        self.call_out_cold(negative, Libcall::OutOfFuelPreserving, &[cost])
    }

    /// After a call whose caller's blocks after it cost more than
    /// `fuel::MAX_UNCHECKED_TAIL` (`FuelBlocks::checks_after`): a check of cost 0, so that
    /// the debt a chain of returns piles up stays bounded (`module::fuel`).
    pub(crate) fn check_fuel_after_call(&mut self) -> Result<(), CompileError> {
        if !self.reachable {
            return Ok(());
        }
        self.charge_fuel(0, true)
    }

    /// At the function entry and loop headers (after the fuel charge): calls `EpochDeadline`
    /// when the counter's low word reached the deadline word.
    pub(crate) fn check_epoch(&mut self) -> Result<(), CompileError> {
        let Some(deadline_variable) = self.deadline_variable else {
            return Ok(());
        };
        if !self.reachable {
            return Ok(());
        }
        self.materialize_deadline();
        let ptr = self.ptr();
        let offsets = self.env.offsets;
        let store = self.store_context();
        let counter_address = self.builder.ins().load(
            ptr,
            trusted_readonly(),
            store,
            offsets.store_epoch_counter() as i32,
        );
        let counter = self
            .builder
            .ins()
            .load(types::I32, trusted(), counter_address, 0);
        let deadline = self.builder.use_var(deadline_variable);
        let ahead = self.builder.ins().isub(counter, deadline);
        // `ahead as i32 >= 0`: the sign bit is clear.
        let sign = self.builder.ins().band_imm_u(ahead, 1 << 31);
        let reached = self.builder.ins().icmp_imm_s(IntCC::Equal, sign, 0);
        self.call_out_cold(reached, Libcall::EpochDeadlinePreserving, &[])
    }

    /// When `condition` holds, calls the register-preserving `libcall(vmctx, args...)` (`u32`
    /// constants) in a cold block (the helper raises its trap itself); continues in a fresh
    /// block either way.
    fn call_out_cold(
        &mut self,
        condition: Value,
        libcall: Libcall,
        args: &[u32],
    ) -> Result<(), CompileError> {
        let cold = self.builder.create_block();
        self.builder.set_cold_block(cold);
        let next = self.builder.create_block();
        self.builder.ins().brif(condition, cold, &[], next, &[]);
        self.builder.switch_to_block(cold);
        self.builder.seal_block(cold);
        let args: Vec<Value> = args
            .iter()
            .map(|a| self.builder.ins().iconst(types::I32, i64::from(*a)))
            .collect();
        // Stores the fuel slice before the call and reloads both variables after it (at once:
        // both paths must define them where they join).
        self.fuel_to_memory();
        self.call_preserving(libcall, &args);
        self.reload_preemption_variables();
        self.builder.ins().jump(next, &[]);
        self.builder.switch_to_block(next);
        self.builder.seal_block(next);
        Ok(())
    }

    /// Emits `libcall(vmctx, args...)` for a register-preserving helper in a cold block, with
    /// every value the call needs loaded in that block: the vmctx argument from the function's
    /// own `VMFuncRef` (whose `vmctx` field is this instance's vmctx) and the helper from the
    /// table, both with plain (not `readonly`) loads that Cranelift neither hoists out of
    /// loops nor merges with the hot path's loads. Passing the vmctx value itself instead
    /// made regalloc keep a copy of it in `x0` (the helper's argument register) on the hot
    /// path, one or two `mov x0, xN` per check in sieve's loops, and the hoisted helper
    /// address held a register across every instrumented loop.
    fn call_preserving(&mut self, libcall: Libcall, args: &[Value]) {
        let ptr = self.ptr();
        let offsets = self.env.offsets;
        let own_vmctx = offsets.func_ref(self.func_index) + offsets.func_ref_vmctx();
        let vmctx = self
            .builder
            .ins()
            .load(ptr, trusted(), self.vmctx, own_vmctx as i32);
        let table = self
            .builder
            .ins()
            .load(ptr, trusted(), self.vmctx, offsets.libcalls() as i32);
        let entry = libcall.table_offset(offsets.ptr) as i32;
        let function = self.builder.ins().load(ptr, trusted(), table, entry);
        let sig = self.libcall_sig_ref(libcall);
        let mut all_args = Vec::with_capacity(args.len() + 1);
        all_args.push(vmctx);
        all_args.extend_from_slice(args);
        self.builder.ins().call_indirect(sig, function, &all_args);
    }
}

/// Whether a deferred reload may stay deferred over `op`: operators that neither use the
/// preemption variables nor branch, trap, or call anything but a direct wasm call (which needs
/// no store before it while memory is current, and defers again after it).
fn keeps_reload_deferred(op: &Operator<'_>) -> bool {
    use Operator as O;
    crate::module::operators::is_plain_integer_operator(op)
        || matches!(
            op,
            O::Nop
                | O::Drop
                | O::Call { .. }
                | O::LocalGet { .. }
                | O::LocalSet { .. }
                | O::LocalTee { .. }
                | O::Select
                | O::TypedSelect { .. }
                | O::F32Add
                | O::F32Sub
                | O::F32Mul
                | O::F32Div
                | O::F64Add
                | O::F64Sub
                | O::F64Mul
                | O::F64Div
        )
}

/// Whether Cranelift's code for `op` may trap without a call: integer division and remainder
/// (by zero, `INT_MIN / -1`) and the trapping float-to-integer truncations.
fn traps_by_itself(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::I32DivS
            | O::I32DivU
            | O::I32RemS
            | O::I32RemU
            | O::I64DivS
            | O::I64DivU
            | O::I64RemS
            | O::I64RemU
            | O::I32TruncF32S
            | O::I32TruncF32U
            | O::I32TruncF64S
            | O::I32TruncF64U
            | O::I64TruncF32S
            | O::I64TruncF32U
            | O::I64TruncF64S
            | O::I64TruncF64U
    )
}

#[cfg(test)]
mod tests {
    use cranelift_codegen::ir::{self, InstructionData, ValueDef};
    use cranelift_codegen::isa::CallConv;
    use shared_types::Libcall;
    use wasmparser::FuncValidatorAllocations;

    use cranelift_codegen::Context;
    use cranelift_codegen::control::ControlPlane;

    use super::super::tests::{compile_both, isas, parse};
    use super::super::translate_function;

    /// Translates every defined function of `wat` with the given instrumentation.
    fn translate(wat: &str, fuel: bool, epochs: bool) -> Vec<ir::Function> {
        let wasm = wat::parse_str(wat).unwrap();
        let (mut env, bodies) = parse(&wasm);
        env.fuel = fuel;
        env.epochs = epochs;
        bodies
            .into_iter()
            .map(|(index, body, to_validate)| {
                let mut validator = to_validate.into_validator(FuncValidatorAllocations::default());
                translate_function(&env, index, &body, &mut validator).unwrap()
            })
            .collect()
    }

    /// The calls of `libcall` in `func`, in layout order, each with its constant arguments
    /// after the vmctx (the helper is a `call_indirect` of a load from the helper table).
    fn libcall_calls(func: &ir::Function, libcall: Libcall) -> Vec<Vec<i64>> {
        let entry = libcall.table_offset(8) as i32;
        let dfg = &func.dfg;
        let constant = |v: ir::Value| match dfg.value_def(v) {
            ValueDef::Result(inst, _) => match dfg.insts[inst] {
                InstructionData::UnaryImm { imm, .. } => imm.bits(),
                _ => panic!("helper argument is no constant"),
            },
            _ => panic!("helper argument is no constant"),
        };
        let mut calls = Vec::new();
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                if !matches!(dfg.insts[inst], InstructionData::CallIndirect { .. }) {
                    continue;
                }
                let args = dfg.inst_args(inst);
                let ValueDef::Result(load, _) = dfg.value_def(args[0]) else {
                    continue;
                };
                if let InstructionData::Load { offset, .. } = dfg.insts[load]
                    && i32::from(offset) == entry
                {
                    calls.push(args[2..].iter().map(|v| constant(*v)).collect());
                }
            }
        }
        calls
    }

    const LOOP: &str = r#"(module
      (func (param i32) (result i32)
        (loop $l
          (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
          (br_if $l (local.get 0)))
        (i32.const 7)))"#;

    #[test]
    fn without_the_settings_nothing_is_instrumented() {
        for func in translate(LOOP, false, false) {
            assert!(libcall_calls(&func, Libcall::OutOfFuelPreserving).is_empty());
            assert!(libcall_calls(&func, Libcall::EpochDeadlinePreserving).is_empty());
            compile_both(func);
        }
    }

    #[test]
    fn fuel_is_checked_at_the_entry_and_loop_headers_only() {
        // entry: loop (0, checked although it costs nothing) | header: local.get, i32.const,
        // i32.sub, local.set, local.get, br_if (6) | after br_if: end (0) | after the loop:
        // i32.const, end (1: charged, not checked) | after the body (0).
        let funcs = translate(LOOP, true, false);
        assert_eq!(
            libcall_calls(&funcs[0], Libcall::OutOfFuelPreserving),
            [[0], [6]]
        );
        // (The consumption of the unchecked charge is checked end to end by
        // `tests/tests/fuel.rs`.)
        assert!(libcall_calls(&funcs[0], Libcall::EpochDeadlinePreserving).is_empty());
        compile_both(funcs[0].clone());
    }

    #[test]
    fn epochs_check_the_entry_and_every_loop_header() {
        let wat = r#"(module
          (func (param i32)
            (loop $a (br_if $a (local.get 0)))
            (block (loop $b (br_if $b (local.get 0))))
            (return)
            (loop $dead (br $dead))))"#;
        let funcs = translate(wat, false, true);
        // Entry and the two live loops; the loop after `return` is dead code.
        assert_eq!(
            libcall_calls(&funcs[0], Libcall::EpochDeadlinePreserving).len(),
            3
        );
        assert!(libcall_calls(&funcs[0], Libcall::OutOfFuelPreserving).is_empty());
        compile_both(funcs[0].clone());
        let both = translate(wat, true, true);
        assert_eq!(
            libcall_calls(&both[0], Libcall::EpochDeadlinePreserving).len(),
            3
        );
        // The entry (0) and the two loop headers (local.get, br_if); the `return` block is
        // charged, not checked; dead code is not charged but its blocks are walked.
        assert_eq!(
            libcall_calls(&both[0], Libcall::OutOfFuelPreserving),
            [[0], [2], [2]]
        );
        compile_both(both[0].clone());
    }

    #[test]
    fn calls_if_else_and_br_table_are_instrumented_and_compile() {
        let wat = r#"(module
          (import "env" "host" (func $host (param i32) (result i32)))
          (table 1 funcref)
          (type $t (func (param i32) (result i32)))
          (func $f (param i32) (result i32)
            (if (result i32) (local.get 0)
              (then (call $host (local.get 0)))
              (else (call_indirect (type $t) (local.get 0) (i32.const 0)))))
          (func (param i32) (result i32)
            (block (block (block
              (br_table 0 1 2 (local.get 0)))
              (return (i32.const 1)))
              (return (call $f (i32.const 2))))
            (i32.div_u (i32.const 3) (local.get 0))))"#;
        let funcs = translate(wat, true, true);
        // $f: entry (local.get, if), checked | then (local.get, call; else costs 0) and else
        // (local.get, i32.const, call_indirect; end costs 0) only charged.
        assert_eq!(
            libcall_calls(&funcs[0], Libcall::OutOfFuelPreserving),
            [[2]]
        );
        // entry: local.get, br_table, checked | i32.const, return | i32.const, call, return |
        // i32.const, local.get, i32.div_u, end: only charged.
        assert_eq!(
            libcall_calls(&funcs[1], Libcall::OutOfFuelPreserving),
            [[2]]
        );
        for func in funcs {
            assert_eq!(
                libcall_calls(&func, Libcall::EpochDeadlinePreserving).len(),
                1
            );
            compile_both(func);
        }
    }

    /// The first block of `func` with a wasm call.
    fn block_with_call(func: &ir::Function) -> ir::Block {
        func.layout
            .blocks()
            .find(|b| {
                func.layout
                    .block_insts(*b)
                    .any(|i| matches!(func.dfg.insts[i], InstructionData::Call { .. }))
            })
            .unwrap()
    }

    /// The instructions between the first two wasm calls of `func` (in one block).
    fn between_first_two_calls(func: &ir::Function) -> Vec<ir::Inst> {
        let block = block_with_call(func);
        let insts: Vec<ir::Inst> = func.layout.block_insts(block).collect();
        let calls: Vec<usize> = insts
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(func.dfg.insts[**i], InstructionData::Call { .. }))
            .map(|(n, _)| n)
            .collect();
        insts[calls[0] + 1..calls[1]].to_vec()
    }

    #[test]
    fn reloads_after_a_wasm_call_are_deferred_past_the_next_direct_call() {
        let wat = r#"(module
          (func $f (param i32) (result i32) (local.get 0))
          (func (param i32) (result i32)
            (i32.add (call $f (i32.sub (local.get 0) (i32.const 1)))
                     (call $f (i32.add (local.get 0) (i32.const 2))))))"#;
        for (fuel, epochs) in [(true, false), (false, true), (true, true)] {
            let funcs = translate(wat, fuel, epochs);
            // Between the calls: the argument arithmetic only, no store of the slice and no
            // reload of either word (memory is current after the first call).
            let between = between_first_two_calls(&funcs[1]);
            for inst in &between {
                assert!(
                    !matches!(
                        funcs[1].dfg.insts[*inst],
                        InstructionData::Load { .. } | InstructionData::Store { .. }
                    ),
                    "{}",
                    funcs[1].dfg.display_inst(*inst)
                );
            }
            compile_both(funcs[1].clone());
        }
        // A branch in between ends the deferral: the words are reloaded before it.
        let wat = r#"(module
          (func $f (param i32) (result i32) (local.get 0))
          (func (param i32) (result i32)
            (drop (call $f (local.get 0)))
            (if (local.get 0) (then (drop (call $f (local.get 0)))))
            (i32.const 0)))"#;
        let funcs = translate(wat, true, true);
        let entry = block_with_call(&funcs[1]);
        let loads_after_first_call = funcs[1]
            .layout
            .block_insts(entry)
            .skip_while(|i| !matches!(funcs[1].dfg.insts[*i], InstructionData::Call { .. }))
            .filter(|i| {
                matches!(funcs[1].dfg.insts[*i], InstructionData::Load { .. })
                    && funcs[1].dfg.ctrl_typevar(*i) == ir::types::I32
            })
            .count();
        // The slice and the deadline word (the store-context pointer loads are 64-bit).
        assert_eq!(loads_after_first_call, 2);
        compile_both(funcs[1].clone());
    }

    #[test]
    fn the_cold_calls_need_nothing_from_the_hot_path_but_the_vmctx_base() {
        // Sieve's inner loop: with the vmctx itself as the helpers' argument, regalloc kept a
        // copy of it in x0 on the hot path, and the helper's address, hoisted out of the loop,
        // held a register across it. After Cranelift's optimizations (LICM, GVN, alias
        // analysis) the arguments and the callee of every preserving call must still be
        // computed in the call's own (cold) block.
        let wat = r#"(module
          (memory 1)
          (func (param $i i32) (param $n i32)
            (local $j i32)
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $done
              (loop $inner
                (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 0))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))"#;
        for (fuel, epochs) in [(true, false), (false, true), (true, true)] {
            let func = translate(wat, fuel, epochs).remove(0);
            for isa in isas() {
                let mut context = Context::for_function(func.clone());
                context
                    .compile(&*isa, &mut ControlPlane::default())
                    .unwrap();
                let func = &context.func;
                let dfg = &func.dfg;
                let mut preserving = 0;
                for block in func.layout.blocks() {
                    for inst in func.layout.block_insts(block) {
                        let InstructionData::CallIndirect { sig_ref, .. } = dfg.insts[inst] else {
                            continue;
                        };
                        if dfg.signatures[sig_ref].call_conv != CallConv::PreserveAll {
                            continue;
                        }
                        preserving += 1;
                        assert!(func.layout.is_cold(block));
                        for value in dfg.inst_values(inst) {
                            let ValueDef::Result(def, _) = dfg.value_def(value) else {
                                panic!("{}: a block parameter", dfg.display_inst(inst));
                            };
                            // Constants are materialized where they are used.
                            if matches!(dfg.insts[def], InstructionData::UnaryImm { .. }) {
                                continue;
                            }
                            assert_eq!(
                                func.layout.inst_block(def),
                                Some(block),
                                "{} uses {} from another block on {}",
                                dfg.display_inst(inst),
                                dfg.display_inst(def),
                                isa.name()
                            );
                        }
                    }
                }
                // Epochs and fuel: each checks the entry and the loop header (the block after
                // `br_if` is charged without a check).
                let expected = 2 * usize::from(epochs) + 2 * usize::from(fuel);
                assert_eq!(preserving, expected, "on {}", isa.name());
            }
        }
    }

    /// Loads and stores of the 32-bit word at `offset` of the store context in `func`, outside
    /// cold blocks: (loads, stores).
    fn hot_accesses(func: &ir::Function, offset: u32) -> (usize, usize) {
        let (mut loads, mut stores) = (0, 0);
        for block in func.layout.blocks().filter(|b| !func.layout.is_cold(*b)) {
            for inst in func.layout.block_insts(block) {
                match func.dfg.insts[inst] {
                    InstructionData::Load { offset: o, .. }
                        if i32::from(o) == offset as i32
                            && func.dfg.ctrl_typevar(inst) == ir::types::I32 =>
                    {
                        loads += 1
                    }
                    InstructionData::Store { offset: o, .. } if i32::from(o) == offset as i32 => {
                        stores += 1
                    }
                    _ => {}
                }
            }
        }
        (loads, stores)
    }

    #[test]
    fn no_reload_where_nothing_uses_the_word_before_the_return() {
        let offsets = shared_types::VmOffsets::new(8, Default::default()).unwrap();
        // `fib`'s shape: the calls end the `else` arm, and nothing checks the deadline
        // between them and the return; the deadline word is only loaded at the entry.
        let wat = r#"(module
          (func $f (param i32) (result i32)
            (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
              (then (local.get 0))
              (else (i32.add (call $f (i32.sub (local.get 0) (i32.const 1)))
                             (call $f (i32.sub (local.get 0) (i32.const 2))))))))"#;
        let funcs = translate(wat, false, true);
        assert_eq!(
            hot_accesses(&funcs[0], offsets.store_epoch_deadline()),
            (1, 0)
        );
        compile_both(funcs[0].clone());
        // With fuel the `then` arm stores its slice before joining, so that the join starts
        // deferred too: the slice is loaded at the entry only, and stored before the first
        // call (not the second: memory is current) and at the `then` arm's exit; the return
        // stores nothing.
        let funcs = translate(wat, true, true);
        assert_eq!(
            hot_accesses(&funcs[0], offsets.store_epoch_deadline()),
            (1, 0)
        );
        assert_eq!(hot_accesses(&funcs[0], offsets.store_fuel()), (1, 2));
        compile_both(funcs[0].clone());
        // A branch to the join brings a slice that only the register holds: the join reloads
        // it after the call, and the return stores it.
        let wat = r#"(module
          (func $f (param i32) (result i32)
            (block (result i32)
              (br_if 0 (i32.const 1) (local.get 0))
              (drop)
              (call $f (i32.const 0)))))"#;
        let funcs = translate(wat, true, false);
        assert_eq!(hot_accesses(&funcs[0], offsets.store_fuel()), (2, 2));
        compile_both(funcs[0].clone());
        // `return` right after a call: memory holds both words, nothing is reloaded or stored.
        let wat = r#"(module
          (func $f (param i32) (result i32)
            (if (local.get 0) (then (return (call $f (i32.const 0)))))
            (i32.const 1)))"#;
        let funcs = translate(wat, true, true);
        // The slice: loaded at the entry; stored before the call and at the final return.
        assert_eq!(hot_accesses(&funcs[0], offsets.store_fuel()), (1, 2));
        assert_eq!(
            hot_accesses(&funcs[0], offsets.store_epoch_deadline()),
            (1, 0)
        );
        compile_both(funcs[0].clone());
    }
}
