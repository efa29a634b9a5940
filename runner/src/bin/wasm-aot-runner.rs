//! `wasm-aot-runner IMAGE EXPORT [ARGS...]`: see the library documentation.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(wasm_aot_runner::main_with_args(&args));
}
