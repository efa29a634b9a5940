//! Structured control flow: the control stack, `block`/`loop`/`if`/`else`/`end` and the
//! branches.
//!
//! See the module documentation of `translate` for the frame model and the handling of dead
//! code. Invariant used throughout: while `reachable` is true every frame on the control stack
//! is live (dead frames are only pushed in dead code, and the code inside a dead frame stays
//! dead until its `end`).

use cranelift_codegen::ir::{Block, Inst, InstBuilder, Type, Value};
use cranelift_codegen::ir::{BlockArg, JumpTableData};
use wasmparser::{BlockType, BrTable};

use super::{FuncTranslator, block_args, value_type};
use crate::error::CompileError;

/// One entry of the control stack.
pub(crate) enum Frame {
    /// A `block`/`loop`/`if` opened in dead code: nothing was emitted for it.
    Dead,
    /// A frame opened in reachable code.
    Live(LiveFrame),
}

/// What kind of construct a live frame is.
pub(crate) enum FrameKind {
    /// `block`, or the function body.
    Block,
    /// `loop`: branches go to `header`, which takes the block parameters.
    Loop { header: Block },
    /// `if`: `else_block` is entered when the condition is zero, with the parameter values
    /// `params` (the values on the stack at the `if`, which dominate both arms).
    If {
        else_block: Block,
        params: Vec<Value>,
        else_seen: bool,
        /// With fuel, once `else` is seen: where the `then` arm jumps to the following block
        /// (when it is reachable), and the slice there (`fuel.rs`, "Deferred reloads").
        then_exit: Option<ThenExit>,
    },
}

/// The jump ending an `if`'s `then` arm and the fuel slice variable's value before it.
#[derive(Clone, Copy)]
pub(crate) struct ThenExit {
    pub(crate) jump: Inst,
    pub(crate) fuel: Value,
}

/// A frame opened in reachable code.
pub(crate) struct LiveFrame {
    pub(crate) kind: FrameKind,
    /// The block after `end`; one parameter per block result.
    pub(crate) following: Block,
    /// Number of block parameters.
    pub(crate) num_params: usize,
    /// Number of block results.
    pub(crate) num_results: usize,
    /// Operand stack height below the block parameters.
    pub(crate) stack_base: usize,
    /// Whether `following` has at least one predecessor.
    pub(crate) following_reachable: bool,
    /// Whether a branch (`br`, `br_if`, `br_table`) targets `following`.
    pub(crate) branched: bool,
}

impl FuncTranslator<'_, '_> {
    /// Parameter and result types of a block type.
    fn block_signature(&self, blockty: BlockType) -> Result<(Vec<Type>, Vec<Type>), CompileError> {
        match blockty {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(ty) => Ok((Vec::new(), vec![self.wasm_type(ty)?])),
            BlockType::FuncType(index) => {
                let sig = self
                    .env
                    .types
                    .get(index as usize)
                    .ok_or_else(|| self.internal("block type out of range"))?;
                if sig
                    .params
                    .iter()
                    .chain(&sig.results)
                    .any(|t| *t == shared_types::ValType::V128)
                {
                    return Err(self.unsupported("SIMD (v128 block type)"));
                }
                let ptr = self.ptr();
                Ok((
                    sig.params.iter().map(|t| value_type(ptr, *t)).collect(),
                    sig.results.iter().map(|t| value_type(ptr, *t)).collect(),
                ))
            }
        }
    }

    fn block_with_params(&mut self, types: &[Type]) -> Block {
        let block = self.builder.create_block();
        for ty in types {
            self.builder.append_block_param(block, *ty);
        }
        block
    }

    /// Pushes the implicit frame of the function body; its following block returns.
    pub(crate) fn push_body_frame(&mut self, results: &[Type]) {
        let following = self.block_with_params(results);
        self.control.push(Frame::Live(LiveFrame {
            kind: FrameKind::Block,
            following,
            num_params: 0,
            num_results: results.len(),
            stack_base: 0,
            following_reachable: false,
            branched: false,
        }));
    }

    pub(crate) fn translate_block(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        if !self.reachable {
            self.control.push(Frame::Dead);
            return Ok(());
        }
        let (params, results) = self.block_signature(blockty)?;
        let following = self.block_with_params(&results);
        let stack_base = self
            .stack
            .len()
            .checked_sub(params.len())
            .ok_or_else(|| self.internal("block params"))?;
        self.control.push(Frame::Live(LiveFrame {
            kind: FrameKind::Block,
            following,
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            following_reachable: false,
            branched: false,
        }));
        Ok(())
    }

    pub(crate) fn translate_loop(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        if !self.reachable {
            self.control.push(Frame::Dead);
            return Ok(());
        }
        let (params, results) = self.block_signature(blockty)?;
        let header = self.block_with_params(&params);
        let following = self.block_with_params(&results);
        let args = self.popn(params.len())?;
        self.builder.ins().jump(header, &block_args(&args));
        // The header stays unsealed until `end`: back edges are still to come.
        self.builder.switch_to_block(header);
        let stack_base = self.stack.len();
        let header_params = self.builder.block_params(header).to_vec();
        self.stack.extend(header_params);
        self.control.push(Frame::Live(LiveFrame {
            kind: FrameKind::Loop { header },
            following,
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            following_reachable: false,
            branched: false,
        }));
        Ok(())
    }

    pub(crate) fn translate_if(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        if !self.reachable {
            self.control.push(Frame::Dead);
            return Ok(());
        }
        let condition = self.pop()?;
        let (params, results) = self.block_signature(blockty)?;
        let param_values = self.peekn(params.len())?;
        let then_block = self.builder.create_block();
        let else_block = self.builder.create_block();
        let following = self.block_with_params(&results);
        self.builder
            .ins()
            .brif(condition, then_block, &[], else_block, &[]);
        self.builder.switch_to_block(then_block);
        self.builder.seal_block(then_block);
        let stack_base = self.stack.len() - params.len();
        self.control.push(Frame::Live(LiveFrame {
            kind: FrameKind::If {
                else_block,
                params: param_values,
                else_seen: false,
                then_exit: None,
            },
            following,
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            following_reachable: false,
            branched: false,
        }));
        Ok(())
    }

    pub(crate) fn translate_else(&mut self) -> Result<(), CompileError> {
        let reachable = self.reachable;
        let frame = match self.control.last_mut() {
            Some(Frame::Live(frame)) => frame,
            // The `if` was in dead code: so is its `else` arm.
            Some(Frame::Dead) => return Ok(()),
            None => return Err(self.internal("else without frame")),
        };
        let FrameKind::If {
            else_block,
            params,
            else_seen,
            ..
        } = &mut frame.kind
        else {
            return Err(internal_at(self.func_index, self.offset, "else outside if"));
        };
        let (else_block, params) = (*else_block, params.clone());
        *else_seen = true;
        let following = frame.following;
        let num_results = frame.num_results;
        let stack_base = frame.stack_base;
        if reachable {
            frame.following_reachable = true;
            let results = self.peekn(num_results)?;
            let fuel = self.fuel_variable.map(|v| self.builder.use_var(v));
            let jump = self.builder.ins().jump(following, &block_args(&results));
            if let (Some(fuel), Some(Frame::Live(frame))) = (fuel, self.control.last_mut())
                && let FrameKind::If { then_exit, .. } = &mut frame.kind
            {
                *then_exit = Some(ThenExit { jump, fuel });
            }
        }
        self.stack.truncate(stack_base);
        self.stack.extend(params);
        self.builder.switch_to_block(else_block);
        self.builder.seal_block(else_block);
        self.reachable = true;
        Ok(())
    }

    pub(crate) fn translate_end(&mut self) -> Result<(), CompileError> {
        let frame = match self.control.pop() {
            Some(Frame::Live(frame)) => frame,
            Some(Frame::Dead) => return Ok(()),
            None => return Err(self.internal("end without frame")),
        };
        let mut following_reachable = frame.following_reachable;
        if self.reachable {
            let results = self.peekn(frame.num_results)?;
            self.builder
                .ins()
                .jump(frame.following, &block_args(&results));
            following_reachable = true;
        }
        match frame.kind {
            FrameKind::Block => {}
            FrameKind::Loop { header } => self.builder.seal_block(header),
            FrameKind::If {
                else_block,
                params,
                else_seen,
                ..
            } => {
                if !else_seen {
                    // The implicit empty `else` passes the parameters through (the validator
                    // checked that they match the results).
                    self.builder.switch_to_block(else_block);
                    self.builder.seal_block(else_block);
                    self.builder
                        .ins()
                        .jump(frame.following, &block_args(&params));
                    following_reachable = true;
                }
            }
        }
        self.stack.truncate(frame.stack_base);
        if following_reachable {
            self.builder.switch_to_block(frame.following);
            self.builder.seal_block(frame.following);
            let results = self.builder.block_params(frame.following).to_vec();
            self.stack.extend(results);
            self.reachable = true;
            if self.control.is_empty() {
                // End of the function body.
                let results = self.popn(frame.num_results)?;
                self.fuel_to_memory();
                self.builder.ins().return_(&results);
                self.reachable = false;
            }
        } else {
            self.reachable = false;
        }
        Ok(())
    }

    /// The branch target of the frame `depth` levels up, and how many values it takes; marks
    /// the following block of a non-loop frame as reachable.
    fn branch_target(&mut self, depth: u32) -> Result<(Block, usize), CompileError> {
        let len = self.control.len();
        let index = len
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| self.internal("branch depth"))?;
        match &mut self.control[index] {
            Frame::Live(frame) => Ok(match frame.kind {
                FrameKind::Loop { header } => (header, frame.num_params),
                _ => {
                    frame.following_reachable = true;
                    frame.branched = true;
                    (frame.following, frame.num_results)
                }
            }),
            Frame::Dead => Err(internal_at(
                self.func_index,
                self.offset,
                "branch to a dead frame in live code",
            )),
        }
    }

    pub(crate) fn translate_br(&mut self, depth: u32) -> Result<(), CompileError> {
        let (target, arity) = self.branch_target(depth)?;
        let args = self.peekn(arity)?;
        self.builder.ins().jump(target, &block_args(&args));
        self.reachable = false;
        Ok(())
    }

    pub(crate) fn translate_br_if(&mut self, depth: u32) -> Result<(), CompileError> {
        let condition = self.pop()?;
        let (target, arity) = self.branch_target(depth)?;
        let args = self.peekn(arity)?;
        let next = self.builder.create_block();
        self.builder
            .ins()
            .brif(condition, target, &block_args(&args), next, &[]);
        self.builder.switch_to_block(next);
        self.builder.seal_block(next);
        Ok(())
    }

    /// `br_table`: a Cranelift `br_table` on the index. When the targets take arguments, each
    /// distinct target gets an edge block that jumps to it with the top stack values (jump
    /// tables carry no arguments).
    pub(crate) fn translate_br_table(&mut self, table: &BrTable<'_>) -> Result<(), CompileError> {
        let index = self.pop()?;
        let mut depths = Vec::with_capacity(table.len() as usize);
        for depth in table.targets() {
            depths.push(depth.map_err(|e| CompileError::invalid(Some(self.func_index), &e))?);
        }
        let default_depth = table.default();

        let mut edges: Vec<(u32, Block, Block)> = Vec::new(); // (depth, edge block, target)
        let mut arity = 0;
        let mut resolve = |this: &mut Self, depth: u32| -> Result<Block, CompileError> {
            if let Some((_, edge, _)) = edges.iter().find(|(d, _, _)| *d == depth) {
                return Ok(*edge);
            }
            let (target, n) = this.branch_target(depth)?;
            arity = n;
            let edge = if n == 0 {
                target
            } else {
                this.builder.create_block()
            };
            edges.push((depth, edge, target));
            Ok(edge)
        };
        let default_block = resolve(self, default_depth)?;
        let mut entries = Vec::with_capacity(depths.len());
        for depth in depths {
            entries.push(resolve(self, depth)?);
        }

        let no_args: &[BlockArg] = &[];
        let default_call = self.builder.func.dfg.block_call(default_block, no_args);
        let calls: Vec<_> = entries
            .iter()
            .map(|b| self.builder.func.dfg.block_call(*b, no_args))
            .collect();
        let jump_table = self
            .builder
            .create_jump_table(JumpTableData::new(default_call, &calls));
        self.builder.ins().br_table(index, jump_table);

        if arity > 0 {
            let args = block_args(&self.peekn(arity)?);
            for (_, edge, target) in edges {
                self.builder.switch_to_block(edge);
                self.builder.seal_block(edge);
                self.builder.ins().jump(target, &args);
            }
        }
        self.reachable = false;
        Ok(())
    }

    pub(crate) fn translate_return(&mut self) -> Result<(), CompileError> {
        let n = self.env.func_sig(self.func_index).results.len();
        let results = self.peekn(n)?;
        self.fuel_to_memory();
        self.builder.ins().return_(&results);
        self.reachable = false;
        Ok(())
    }
}

fn internal_at(func_index: u32, offset: u64, message: &str) -> CompileError {
    super::internal(func_index, format!("{message} (offset {offset:#x})"))
}
