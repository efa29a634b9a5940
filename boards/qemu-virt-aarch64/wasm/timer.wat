;; The tick-interrupt test's workload (examples/test_timer.rs): a long loop of f64, f32
;; (through subnormals) and i64 work whose result is a hash of every intermediate value, so
;; that an interrupt that changed any register, the rounding mode or flush-to-zero (FPCR)
;; shows as a different result. (The backend compiles no SIMD yet.)
(module
  (func (export "work") (param $n i32) (result i64)
    (local $i i32) (local $h i64) (local $x f64) (local $y f32) (local $s f32)
    (local $a f64) (local $b f64) (local $c f64)
    (local.set $h (i64.const 0x243f6a8885a308d3))
    (local.set $x (f64.const 1.0))
    (local.set $y (f32.const 0.5))
    (local.set $a (f64.const 1.5))
    (local.set $b (f64.const -2.25))
    (local.set $c (f64.const 0.1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; f64: inexact division and square root (rounding-mode sensitive), bounded.
        (local.set $x
          (f64.add (f64.div (local.get $x) (f64.const 3.0))
                   (f64.sqrt (f64.add (local.get $x) (f64.const 7.25)))))
        ;; f32 through subnormals (flush-to-zero sensitive): x * 1e-39 is below 2^-126.
        (local.set $s (f32.mul (f32.demote_f64 (local.get $x)) (f32.const 1e-39)))
        (local.set $y (f32.add (f32.mul (local.get $y) (f32.const 0.999)) (local.get $s)))
        ;; Three more f64 values live across the loop (more registers in use).
        (local.set $a (f64.sqrt (f64.add (f64.abs (local.get $a)) (local.get $x))))
        (local.set $b (f64.sub (f64.mul (local.get $b) (f64.const -0.75)) (local.get $a)))
        (local.set $c (f64.div (f64.add (local.get $c) (local.get $b)) (f64.const 1.1)))
        ;; i64: fold everything into the hash.
        (local.set $h
          (i64.add
            (i64.mul (i64.xor (i64.rotl (local.get $h) (i64.const 7))
                              (i64.reinterpret_f64 (local.get $x)))
                     (i64.const 0x100000001b3))
            (i64.xor
              (i64.xor (i64.reinterpret_f64 (local.get $a))
                       (i64.rotl (i64.reinterpret_f64 (local.get $c)) (i64.const 17)))
              (i64.xor (i64.extend_i32_u (i32.reinterpret_f32 (local.get $y)))
                       (i64.shl (i64.extend_i32_u (i32.reinterpret_f32 (local.get $s)))
                                (i64.const 32))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.xor (local.get $h) (i64.reinterpret_f64 (local.get $b))))
)
