//! Which Cortex-M images this 32-bit Arm core runs, as far as the runtime can tell by itself.
//!
//! * **Bare metal** (`target_os = "none"`): nothing can be told without reading the core's
//!   identification registers, whose meaning differs between ARMv7-M and ARMv8-M and which
//!   say nothing about what a *board* guarantees (caches maintained, FPU enabled): the
//!   firmware names its core in `EngineConfig::core` ([`Detected::Unknown`] here).
//! * **Linux** (the hosted platform, `qemu-arm` in CI): the kernel's description of the CPU
//!   in the auxiliary vector, read with `getauxval`, nothing guessed:
//!   - every profile needs Thumb-2 (any ARMv7 or later core: `AT_PLATFORM` `v7*`/`v8*`),
//!     `sdiv`/`udiv` in Thumb state (`HWCAP_IDIVT`) and the VFPv4 instructions
//!     (`HWCAP_VFPv4`: FPv4-SP is a subset: fused multiply-add, half-precision conversion);
//!   - FPv5 (`vrint*`, `vmaxnm`/`vminnm`, `vsel`, `vcvt{a,n,p,m}`; cortex-m7, m33, m55) is
//!     the ARMv8 floating-point extension, which an ARMv8-A core in AArch32 state always
//!     implements with its FPU (ARMv8-A makes them part of any AArch32 floating-point unit): `AT_PLATFORM` `v8l`/`v8b` together with
//!     `HWCAP_VFPv4`. Double precision (cortex-m7, m55) comes with every A-profile VFPv3/VFPv4
//!     the kernel reports (`HWCAP_VFPv3`/`HWCAP_VFPv4`; 16 double registers are enough, so
//!     `HWCAP_VFPD32` is not needed).
//!   - What no A-profile core has: the ARMv8-M stack-limit registers `PSPLIM`/`MSPLIM` and
//!     the ARMv8.1-M instructions of cortex-m55 (low-overhead loops, `csel`, MVE). The Thumb
//!     backend uses neither: every profile's images check the stack limit in software (Thumb
//!     backend design, section 5) and its assembler has no ARMv8.1-M-only instruction, so an
//!     ARMv8-M or ARMv8.1-M image is, instruction for instruction, ARMv8-A AArch32 Thumb code
//!     with FPv5 (`host-compiler/src/thumb/asm` refuses, per profile, what a core lacks; a
//!     later ARMv8.1-M-only instruction must end this rule first).
//!
//!   So a Linux core behaves like **cortex-m7 and cortex-m55** cores at once (ARMv8-A AArch32
//!   with an FPU, e.g. `qemu-arm`'s default `max` CPU, Cortex-A53/A72 in AArch32), running the
//!   images of all four profiles, like a **cortex-m4f** core (ARMv7-A with VFPv4 and Thumb
//!   divide: Cortex-A7, A15, A17), or runs no Cortex-M image (Cortex-A8, A9: no Thumb divide,
//!   VFPv3), with [`crate::image::targets::core_runs`] deciding which images each of those
//!   cores runs.
//! * **Big-endian builds** (`armeb`, `thumbeb`) run nothing: images assume little-endian data
//!   accesses (Thumb backend design, section 1), so a big-endian runtime refuses every image
//!   whatever core is declared.

#![cfg_attr(
    not(all(target_os = "linux", feature = "hosted")),
    allow(
        dead_code,
        reason = "the HWCAP rules serve the hosted detection; they are unit-tested everywhere"
    )
)]

use shared_types::Target;

use crate::image::targets::Detected;

/// `HWCAP_VFPv4` (Linux `arch/arm/include/uapi/asm/hwcap.h`).
pub const HWCAP_VFPV4: u32 = 1 << 16;
/// `HWCAP_IDIVT`: `sdiv`/`udiv` in Thumb state.
pub const HWCAP_IDIVT: u32 = 1 << 18;

/// What the kernel reports about the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxCpu {
    /// `getauxval(AT_HWCAP)`.
    pub hwcap: u32,
    /// The architecture version of `AT_PLATFORM` (`"v7l"` gives 7, `"v8l"` 8; 0 if absent or
    /// unrecognised).
    pub platform_version: u8,
}

/// The architecture version in an `AT_PLATFORM` string (`v5l`, `v6l`, `v7l`, `v8l`, `v7b`, ...).
pub fn platform_version(platform: &[u8]) -> u8 {
    match platform {
        [b'v', d, rest @ ..] if d.is_ascii_digit() && matches!(rest, [b'l' | b'b', ..]) => d - b'0',
        _ => 0,
    }
}

/// The Cortex-M cores a Linux CPU behaves like (module documentation), the first being the
/// one it is named as; `None` if it runs no Cortex-M image.
pub fn cores_for_linux_cpu(cpu: LinuxCpu) -> Option<&'static [Target]> {
    let has = |bit: u32| cpu.hwcap & bit != 0;
    if cpu.platform_version < 7 || !has(HWCAP_IDIVT) || !has(HWCAP_VFPV4) {
        return None;
    }
    // VFPv4 (checked above) is double precision on every A-profile core.
    if cpu.platform_version >= 8 {
        Some(&[Target::CortexM7, Target::CortexM55])
    } else {
        Some(&[Target::CortexM4F])
    }
}

/// What this core runs, by itself (module documentation).
#[cfg(all(target_os = "linux", feature = "hosted"))]
pub fn detected_core() -> Detected {
    if cfg!(target_endian = "big") {
        return Detected::Nothing;
    }
    // SAFETY: getauxval has no preconditions; AT_PLATFORM, when present, points at a
    // NUL-terminated string in the process's auxiliary vector, which lives as long as the
    // process and is never written.
    let cpu = unsafe {
        let hwcap = libc::getauxval(libc::AT_HWCAP) as u32;
        let platform = libc::getauxval(libc::AT_PLATFORM) as *const libc::c_char;
        let platform_version = if platform.is_null() {
            0
        } else {
            platform_version(core::ffi::CStr::from_ptr(platform).to_bytes())
        };
        LinuxCpu {
            hwcap,
            platform_version,
        }
    };
    match cores_for_linux_cpu(cpu) {
        Some(cores) => Detected::Cores(cores),
        None => Detected::Nothing,
    }
}

/// What this core runs, by itself: unknown without the hosted platform (module
/// documentation); the firmware names its core in `EngineConfig::core`. Nothing on a
/// big-endian build.
#[cfg(not(all(target_os = "linux", feature = "hosted")))]
pub fn detected_core() -> Detected {
    if cfg!(target_endian = "big") {
        Detected::Nothing
    } else {
        Detected::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // HWCAPs and platforms as `qemu-arm` 7.2 reports them for its CPU models
    // (`getauxval` in a guest program).
    const MAX: LinuxCpu = LinuxCpu {
        hwcap: 0x1fb0d7,
        platform_version: 8,
    };
    const CORTEX_A15: LinuxCpu = LinuxCpu {
        hwcap: 0x1fb8d7,
        platform_version: 7,
    };
    const CORTEX_A9: LinuxCpu = LinuxCpu {
        hwcap: 0x8b8d7,
        platform_version: 7,
    };

    #[test]
    fn linux_cpus_map_to_cores() {
        assert_eq!(
            cores_for_linux_cpu(MAX),
            Some(&[Target::CortexM7, Target::CortexM55][..])
        );
        assert_eq!(
            cores_for_linux_cpu(CORTEX_A15),
            Some(&[Target::CortexM4F][..])
        );
        assert_eq!(cores_for_linux_cpu(CORTEX_A9), None);
        // Each requirement on its own.
        let without = |bit: u32| LinuxCpu {
            hwcap: MAX.hwcap & !bit,
            ..MAX
        };
        assert_eq!(cores_for_linux_cpu(without(HWCAP_IDIVT)), None);
        assert_eq!(cores_for_linux_cpu(without(HWCAP_VFPV4)), None);
        let v6 = LinuxCpu {
            platform_version: 6,
            ..MAX
        };
        assert_eq!(cores_for_linux_cpu(v6), None);
    }

    #[test]
    fn platform_strings_parse() {
        assert_eq!(platform_version(b"v8l"), 8);
        assert_eq!(platform_version(b"v7l"), 7);
        assert_eq!(platform_version(b"v7b"), 7);
        assert_eq!(platform_version(b"v7ml"), 0);
        assert_eq!(platform_version(b"aarch64"), 0);
        assert_eq!(platform_version(b""), 0);
    }

    #[cfg(all(target_os = "linux", feature = "hosted"))]
    #[test]
    fn this_cpu_is_detected() {
        // CI runs this under qemu-arm's default CPU (ARMv8-A AArch32 with VFPv4 and Thumb
        // divide), which behaves like cortex-m7 and cortex-m55 cores.
        let cpu_env = std::env::var("QEMU_CPU").ok();
        if cpu_env.is_none() {
            assert_eq!(
                detected_core(),
                Detected::Cores(&[Target::CortexM7, Target::CortexM55])
            );
        }
    }
}
