;; Module of the `wasm-aot run --board` check in run-tests.sh: results of every number type,
;; multi-value, a trap, and NaN.
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "swap") (param i64 f64) (result f64 i64 f32)
    (local.get 1) (local.get 0) (f32.const 0.1))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "nan") (param f32) (result f32 f64)
    (f32.div (local.get 0) (local.get 0)) (f64.const -inf))
  (func (export "none")))
