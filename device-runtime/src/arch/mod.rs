//! The only assembly in the runtime: entering wasm with a saved context and unwinding to it.
//!
//! Also the SHA-256 block function image verification uses (`sha256_compress`: the Armv8
//! SHA-256 instructions on aarch64 when present).
//!
//! [`entry`] saves the callee-saved registers, the stack pointer and the return address into a
//! [`JmpBuf`] and calls an array-convention function; it returns that function's status (0 or a
//! trap code). [`unwind`] restores a `JmpBuf` and makes the `entry` that filled it return the
//! given non-zero status. Frames between the two are skipped without running any code: they are
//! wasm frames, the `Trap` libcall's frame (which owns nothing) or, for a fault, the frame the
//! signal handler redirected.
//!
//! Code pointers into image text are formed only by [`code_pointer`] (bit 0 set on 32-bit Arm,
//! where images hold Thumb code), and fault handlers compare addresses with the trap table
//! through [`instruction_address`].
//!
//! One submodule per architecture (x86_64, aarch64, 32-bit Arm); any other reports
//! [`crate::Error::UnsupportedArch`] through `unsupported`.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use self::aarch64::*;

#[cfg(target_arch = "arm")]
mod arm;
#[cfg(target_arch = "arm")]
pub use self::arm::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
mod unsupported;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
pub use self::unsupported::*;

/// The code pointer to `offset` in text loaded at `text_base`: the address, with bit 0 set
/// where images hold Thumb code ([`CODE_POINTER_TAG`]). Every code pointer the runtime forms
/// into image text (array-entry trampolines, `VMFuncRef::wasm_call`, wasm-to-array trampolines
/// of imports) comes from here. Offsets are validated against the text by the metadata checks.
pub fn code_pointer(text_base: usize, offset: u32) -> usize {
    (text_base + offset as usize) | CODE_POINTER_TAG
}

/// The address of the instruction a code pointer (or a faulting PC) designates: bit 0 cleared
/// where it selects the instruction set.
pub fn instruction_address(pointer: usize) -> usize {
    pointer & !CODE_POINTER_TAG
}

/// Signature of array-convention code: `(callee_vmctx, caller_vmctx, values, count) -> status`.
pub type ArrayCall = unsafe extern "C" fn(*mut u8, *mut u8, *mut crate::vm::ValRaw, usize) -> u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_pointers_carry_the_instruction_set_bit() {
        let pointer = code_pointer(0x1_0000, 0x40);
        if cfg!(target_arch = "arm") {
            assert_eq!(pointer, 0x1_0041, "Thumb code: bit 0 set");
        } else {
            assert_eq!(pointer, 0x1_0040);
        }
        assert_eq!(instruction_address(pointer), 0x1_0040);
        assert_eq!(instruction_address(0x1_0040), 0x1_0040);
    }
}
