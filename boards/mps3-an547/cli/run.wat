;; Module of the `wasm-aot run --board mps3-an547` check in run-tests.sh: results of the types the
;; Thumb backend compiles for the Cortex-M55 (i32, i64, f32, and f64 on its double-precision
;; FPU), multi-value, traps, and NaN. boards/mps2-an386/cli/run.wat with `hypot` in f64.
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "swap") (param i64 f32) (result f32 i64 i32)
    (local.get 1) (local.get 0) (i32.const -7))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "nan") (param f32) (result f32)
    (f32.div (local.get 0) (local.get 0)))
  (func (export "hypot") (param f64 f64) (result f64)
    (f64.sqrt (f64.add (f64.mul (local.get 0) (local.get 0))
                       (f64.mul (local.get 1) (local.get 1)))))
  (func (export "oob") (param i32) (result i32)
    (i32.load (local.get 0)))
  (memory 1)
  (func (export "none")))
