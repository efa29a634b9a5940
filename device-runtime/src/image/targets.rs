//! Which image targets a runtime accepts.
//!
//! Two inputs decide it:
//!
//! * what the runtime **detects** by itself ([`Detected`], from `arch`): its own target on
//!   aarch64 and x86_64; on 32-bit Arm Linux the Cortex-M cores the CPU behaves like (from the
//!   kernel's HWCAPs, `arch::arm::cpu`), or none; on 32-bit Arm bare metal nothing
//!   ([`Detected::Unknown`]);
//! * the core the firmware **declares**, `EngineConfig::core`. Bare-metal Cortex-M firmware
//!   must declare it; elsewhere it can only narrow what is detected.
//!
//! An image is accepted when every known core runs it ([`core_runs`]): the detected one (if
//! known; of several detected cores, any one) and the declared one (if any). With neither,
//! nothing is accepted.
//!
//! # Which images a core runs
//!
//! Conservative and explicit: a core runs images of its own target, and a Cortex-M core also
//! runs the images of a profile whose instructions are a subset of its own **within the same
//! architecture family**:
//!
//! | core | runs images for | why |
//! |---|---|---|
//! | cortex-m4f | cortex-m4f | |
//! | cortex-m7 | cortex-m7, cortex-m4f | both ARMv7E-M; FPv5-D16 contains FPv4-SP; both check the stack limit in software |
//! | cortex-m33 | cortex-m33 | |
//! | cortex-m55 | cortex-m55, cortex-m33 | ARMv8.1-M Mainline contains ARMv8-M Mainline, FPv5-D16 contains FPv5-SP, the DSP extension (optional on the M33) is always present; both use `PSPLIM` |
//! | aarch64, x86_64 | itself | |
//!
//! Across families nothing is accepted even where the instructions would be a subset (an
//! ARMv7E-M image on an M55): the stack-limit mechanism and the fault paths differ, and no
//! test covers the combination yet. A cortex-m4f image on an M33 is refused also because the
//! M33's DSP extension is optional.

#![forbid(unsafe_code)]

use shared_types::Target;

use crate::error::LoadError;

/// What the runtime can tell about its core by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    dead_code,
    reason = "each architecture's detection constructs only the variants it can produce"
)]
pub enum Detected {
    /// It behaves like this core ([`core_runs`] says what that runs).
    Core(Target),
    /// It behaves like each of these cores (the first is the one named in errors and by
    /// [`effective_core`]) and runs what any of them runs: an A-profile CPU under Linux, which
    /// is no Cortex-M core but executes the Thumb-2 code of several profiles
    /// (`arch::arm::cpu`).
    Cores(&'static [Target]),
    /// It runs no image target at all (a 32-bit Arm Linux CPU without Thumb divide or VFPv4).
    Nothing,
    /// It cannot tell: the firmware must name its core (32-bit Arm bare metal).
    Unknown,
}

/// Whether a `core` runs images compiled for `image` (table in the module documentation).
pub const fn core_runs(core: Target, image: Target) -> bool {
    use Target::*;
    matches!(
        (core, image),
        (Aarch64, Aarch64)
            | (X86_64Sim, X86_64Sim)
            | (CortexM4F, CortexM4F)
            | (CortexM7, CortexM7 | CortexM4F)
            | (CortexM33, CortexM33)
            | (CortexM55, CortexM55 | CortexM33)
    )
}

/// Checks that an image for `image` may run, given what was detected and the declared core.
/// The error names the core that refused it (`runtime: None` when no core is known or the
/// CPU runs no image target).
pub fn check(image: Target, detected: Detected, declared: Option<Target>) -> Result<(), LoadError> {
    let refuse = |runtime| Err(LoadError::WrongTarget { image, runtime });
    match detected {
        Detected::Nothing => return refuse(None),
        Detected::Unknown if declared.is_none() => return refuse(None),
        Detected::Core(core) if !core_runs(core, image) => return refuse(Some(core)),
        Detected::Cores(cores) if !cores.iter().any(|&core| core_runs(core, image)) => {
            return refuse(cores.first().copied());
        }
        _ => {}
    }
    match declared {
        Some(core) if !core_runs(core, image) => refuse(Some(core)),
        _ => Ok(()),
    }
}

/// The core this runtime runs as: the declared one, else the detected one (`None`: unknown, or
/// the CPU runs no image target).
pub fn effective_core(detected: Detected, declared: Option<Target>) -> Option<Target> {
    match (declared, detected) {
        (Some(core), _) | (None, Detected::Core(core)) => Some(core),
        (None, Detected::Cores(cores)) => cores.first().copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Target::*;

    #[test]
    fn cores_run_their_own_target_and_subsets_of_their_family() {
        for t in Target::ALL {
            assert!(core_runs(t, t), "{t} runs its own images");
        }
        let accepted: [(Target, &[Target]); 6] = [
            (Aarch64, &[Aarch64]),
            (X86_64Sim, &[X86_64Sim]),
            (CortexM4F, &[CortexM4F]),
            (CortexM7, &[CortexM7, CortexM4F]),
            (CortexM33, &[CortexM33]),
            (CortexM55, &[CortexM55, CortexM33]),
        ];
        for (core, images) in accepted {
            for image in Target::ALL {
                assert_eq!(
                    core_runs(core, image),
                    images.contains(&image),
                    "{core} / {image}"
                );
            }
        }
    }

    #[test]
    fn detection_and_declaration_combine() {
        let wrong = |image, runtime| Err(LoadError::WrongTarget { image, runtime });
        // Bare metal: the declared core decides; without one nothing runs.
        assert_eq!(
            check(CortexM4F, Detected::Unknown, None),
            wrong(CortexM4F, None)
        );
        assert_eq!(check(CortexM4F, Detected::Unknown, Some(CortexM4F)), Ok(()));
        assert_eq!(check(CortexM4F, Detected::Unknown, Some(CortexM7)), Ok(()));
        assert_eq!(
            check(CortexM7, Detected::Unknown, Some(CortexM4F)),
            wrong(CortexM7, Some(CortexM4F))
        );
        assert_eq!(
            check(CortexM4F, Detected::Unknown, Some(CortexM55)),
            wrong(CortexM4F, Some(CortexM55))
        );
        // Hosted: detection decides, a declaration narrows it.
        let m7 = Detected::Core(CortexM7);
        assert_eq!(check(CortexM4F, m7, None), Ok(()));
        assert_eq!(check(CortexM33, m7, None), wrong(CortexM33, Some(CortexM7)));
        assert_eq!(
            check(CortexM7, m7, Some(CortexM4F)),
            wrong(CortexM7, Some(CortexM4F))
        );
        assert_eq!(
            check(CortexM33, m7, Some(CortexM55)),
            wrong(CortexM33, Some(CortexM7))
        );
        assert_eq!(
            check(CortexM4F, Detected::Nothing, Some(CortexM4F)),
            wrong(CortexM4F, None)
        );
        assert_eq!(
            check(Aarch64, Detected::Core(X86_64Sim), None),
            wrong(Aarch64, Some(X86_64Sim))
        );
        // An ARMv8-A CPU under Linux (two families at once): any of its cores may run the image,
        // a declaration narrows it to one.
        let v8a = Detected::Cores(&[CortexM7, CortexM55]);
        for image in [CortexM4F, CortexM7, CortexM33, CortexM55] {
            assert_eq!(check(image, v8a, None), Ok(()), "{image}");
        }
        assert_eq!(check(Aarch64, v8a, None), wrong(Aarch64, Some(CortexM7)));
        assert_eq!(check(CortexM33, v8a, Some(CortexM55)), Ok(()));
        assert_eq!(
            check(CortexM33, v8a, Some(CortexM7)),
            wrong(CortexM33, Some(CortexM7))
        );
        assert_eq!(
            check(CortexM7, v8a, Some(CortexM55)),
            wrong(CortexM7, Some(CortexM55))
        );
        assert_eq!(effective_core(v8a, None), Some(CortexM7));
        assert_eq!(effective_core(v8a, Some(CortexM55)), Some(CortexM55));
        assert_eq!(effective_core(m7, None), Some(CortexM7));
        assert_eq!(effective_core(m7, Some(CortexM4F)), Some(CortexM4F));
        assert_eq!(effective_core(Detected::Unknown, None), None);
        assert_eq!(effective_core(Detected::Nothing, None), None);
    }
}
