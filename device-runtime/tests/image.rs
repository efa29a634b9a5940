//! Image verification against corrupted images: every failure is a typed error, never a panic,
//! and no corrupted image is accepted unless it was re-sealed.

// These tests compile their modules with the host compiler for the runtime's own target
// (Cranelift: x86_64, aarch64). On 32-bit Arm the images are hand-assembled Thumb: `thumb.rs`.
#![cfg(all(
    feature = "hosted",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use common::{compile, compile_for, native};
use device_runtime::*;
use shared_types::HeaderError;
use shared_types::header::{DIGEST_OFFSET, DIGEST_SIZE, HEADER_SIZE, seal};

const WAT: &str = r#"(module
    (import "env" "f" (func (param i32) (result i32)))
    (memory (export "m") 1 2)
    (table 2 funcref)
    (global (mut i64) (i64.const 3))
    (data (i32.const 4) "data")
    (elem (i32.const 0) 0 1)
    (func (export "g") (param i32) (result i32) local.get 0 call 0 i32.const 1 i32.div_u))"#;

#[test]
fn intact_image_loads() {
    let engine = Engine::default();
    let image = compile(WAT);
    let module = Module::new(&engine, &image).unwrap();
    assert_eq!(module.target(), native());
    assert_eq!(module.imports().count(), 1);
    assert_eq!(
        module.exports().map(|e| e.name).collect::<Vec<_>>(),
        ["m", "g"]
    );
}

#[test]
fn truncation_at_every_length_is_refused() {
    let engine = Engine::default();
    let image = compile(WAT);
    for len in 0..image.len() {
        let err = Module::new(&engine, &image[..len]).unwrap_err();
        assert!(matches!(err, LoadError::Header(_)), "len {len}: {err}");
    }
    let mut longer = image.clone();
    longer.push(0);
    assert_eq!(
        Module::new(&engine, &longer).unwrap_err(),
        LoadError::Header(HeaderError::TrailingBytes)
    );
}

#[test]
fn every_bit_flip_is_refused() {
    let engine = Engine::default();
    let image = compile(WAT);
    let mut copy = image.clone();
    for byte in 0..image.len() {
        for bit in 0..8 {
            copy[byte] ^= 1 << bit;
            let accepted = Module::new(&engine, &copy).is_ok();
            assert!(!accepted, "flip of bit {bit} in byte {byte} accepted");
            copy[byte] ^= 1 << bit;
        }
    }
}

#[test]
fn header_byte_changes_give_precise_errors() {
    let engine = Engine::default();
    let image = compile(WAT);
    let mut bad = image.clone();
    bad[0] = b'X';
    assert_eq!(
        Module::new(&engine, &bad).unwrap_err(),
        LoadError::Header(HeaderError::BadMagic)
    );
    let mut bad = image.clone();
    bad[4] = 9;
    assert_eq!(
        Module::new(&engine, &bad).unwrap_err(),
        LoadError::Header(HeaderError::UnsupportedVersion(9))
    );
    let mut bad = image.clone();
    bad[DIGEST_OFFSET] ^= 1;
    assert_eq!(
        Module::new(&engine, &bad).unwrap_err(),
        LoadError::Header(HeaderError::DigestMismatch)
    );
    // Every header byte outside the digest and producer, changed and re-sealed: refused with a
    // header error, or (flags that only change meaning) accepted; never a panic.
    for byte in
        (0..HEADER_SIZE).filter(|b| !(DIGEST_OFFSET..DIGEST_OFFSET + DIGEST_SIZE).contains(b))
    {
        for value in [0u8, 1, 0x7f, 0xff] {
            let mut bad = image.clone();
            if bad[byte] == value {
                continue;
            }
            bad[byte] = value;
            seal(&mut bad);
            let _ = Module::new(&engine, &bad);
        }
    }
}

#[test]
fn resealed_metadata_corruption_never_panics() {
    let engine = Engine::default();
    let image = compile(WAT);
    let header = shared_types::ImageHeader::parse(&image).unwrap();
    let (start, len) = (header.metadata.0 as usize, header.metadata.1 as usize);
    let mut refused = 0;
    for i in start..start + len {
        for value in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut bad = image.clone();
            if bad[i] == value {
                continue;
            }
            bad[i] = value;
            seal(&mut bad);
            match Module::new(&engine, &bad) {
                Err(LoadError::Metadata(_)) | Err(LoadError::Unsupported(_)) => refused += 1,
                Err(e) => panic!("unexpected error {e}"),
                Ok(_) => {}
            }
        }
    }
    assert!(refused > 0);
}

#[test]
fn wrong_target_is_refused() {
    let engine = Engine::default();
    let other = if native() == Target::X86_64Sim {
        Target::Aarch64
    } else {
        Target::X86_64Sim
    };
    let image = compile_for(WAT, other);
    assert_eq!(
        Module::new(&engine, &image).unwrap_err(),
        LoadError::WrongTarget {
            image: other,
            runtime: Some(native())
        }
    );
}

#[test]
fn error_sizes_stay_small() {
    assert!(
        core::mem::size_of::<LoadError>() <= 32,
        "{}",
        core::mem::size_of::<LoadError>()
    );
    assert!(
        core::mem::size_of::<Error>() <= 128,
        "{}",
        core::mem::size_of::<Error>()
    );
}
