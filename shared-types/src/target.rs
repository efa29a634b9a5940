//! Targets an image can be compiled for: an architecture plus, for Cortex-M, a core profile.

use core::fmt;

/// The machine an image's text runs on. Recorded in the image header as one byte
/// ([`Target::code`]); the device runtime refuses an image whose target it was not built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Target {
    /// 64-bit Arm (A64 instruction set), the Cranelift backend. Header code 1.
    Aarch64,
    /// x86_64, for fast host simulation of the device runtime in tests. Header code 2.
    X86_64Sim,
    /// Cortex-M4F: ARMv7E-M, single-precision FPU. Header code 16.
    CortexM4F,
    /// Cortex-M7: ARMv7E-M, double-precision FPU. Header code 17.
    CortexM7,
    /// Cortex-M33: ARMv8-M Mainline, single-precision FPU. Header code 18.
    CortexM33,
    /// Cortex-M55: ARMv8.1-M, double-precision FPU. Header code 19.
    CortexM55,
}

impl Target {
    /// Every target, in header-code order.
    pub const ALL: [Target; 6] = [
        Target::Aarch64,
        Target::X86_64Sim,
        Target::CortexM4F,
        Target::CortexM7,
        Target::CortexM33,
        Target::CortexM55,
    ];

    /// The byte stored at header offset 0x08.
    pub const fn code(self) -> u8 {
        match self {
            Target::Aarch64 => 1,
            Target::X86_64Sim => 2,
            Target::CortexM4F => 16,
            Target::CortexM7 => 17,
            Target::CortexM33 => 18,
            Target::CortexM55 => 19,
        }
    }

    /// Inverse of [`Target::code`].
    pub const fn from_code(code: u8) -> Option<Target> {
        Some(match code {
            1 => Target::Aarch64,
            2 => Target::X86_64Sim,
            16 => Target::CortexM4F,
            17 => Target::CortexM7,
            18 => Target::CortexM33,
            19 => Target::CortexM55,
            _ => return None,
        })
    }

    /// The name used on the command line and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Target::Aarch64 => "aarch64",
            Target::X86_64Sim => "x86_64",
            Target::CortexM4F => "cortex-m4f",
            Target::CortexM7 => "cortex-m7",
            Target::CortexM33 => "cortex-m33",
            Target::CortexM55 => "cortex-m55",
        }
    }

    /// Parses a name as printed by [`Target::name`].
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Width of a pointer on the target, in bytes.
    pub const fn pointer_size(self) -> u8 {
        match self {
            Target::Aarch64 | Target::X86_64Sim => 8,
            _ => 4,
        }
    }

    /// Alignment of the text section in the image and of function starts within it.
    pub const fn text_alignment(self) -> u32 {
        64
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for t in Target::ALL {
            assert_eq!(Target::from_code(t.code()), Some(t));
            assert_eq!(Target::from_name(t.name()), Some(t));
        }
        assert_eq!(Target::from_code(0), None);
        assert_eq!(Target::from_name("armv7"), None);
    }
}
