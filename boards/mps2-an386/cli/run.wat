;; Module of the `wasm-aot run --board mps2-an386` check in run-tests.sh: results of the types the
;; Thumb backend compiles for the Cortex-M4F (i32, i64, f32), multi-value, traps, and NaN.
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "swap") (param i64 f32) (result f32 i64 i32)
    (local.get 1) (local.get 0) (i32.const -7))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "nan") (param f32) (result f32)
    (f32.div (local.get 0) (local.get 0)))
  (func (export "hypot") (param f32 f32) (result f32)
    (f32.sqrt (f32.add (f32.mul (local.get 0) (local.get 0))
                       (f32.mul (local.get 1) (local.get 1)))))
  (func (export "oob") (param i32) (result i32)
    (i32.load (local.get 0)))
  (memory 1)
  (func (export "none")))
