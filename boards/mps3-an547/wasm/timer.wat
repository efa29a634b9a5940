;; The tick-interrupt test's workload (examples/test_timer.rs): a long loop of f32 work
;; (inexact division and square root, values through subnormals) and i32 work whose result is
;; a hash of every intermediate value, so that an interrupt that changed a register, the
;; rounding mode or flush-to-zero (FPSCR) shows as a different result. Most of the loop is
;; floating point: SysTick lands in FPU code.
(module
  (func (export "work") (param $n i32) (result i32)
    (local $i i32) (local $h i32) (local $x f32) (local $y f32) (local $s f32)
    (local $a f32) (local $b f32) (local $c f32)
    (local.set $h (i32.const 0x243f6a88))
    (local.set $x (f32.const 1.0))
    (local.set $y (f32.const 0.5))
    (local.set $a (f32.const 1.5))
    (local.set $b (f32.const -2.25))
    (local.set $c (f32.const 0.1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; Inexact division and square root (rounding-mode sensitive), bounded.
        (local.set $x
          (f32.add (f32.div (local.get $x) (f32.const 3.0))
                   (f32.sqrt (f32.add (local.get $x) (f32.const 7.25)))))
        ;; Through subnormals (flush-to-zero sensitive): x * 1e-39 is below 2^-126.
        (local.set $s (f32.mul (local.get $x) (f32.const 1e-39)))
        (local.set $y (f32.add (f32.mul (local.get $y) (f32.const 0.999)) (local.get $s)))
        ;; Three more values live across the loop (more registers in use).
        (local.set $a (f32.sqrt (f32.add (f32.abs (local.get $a)) (local.get $x))))
        (local.set $b (f32.sub (f32.mul (local.get $b) (f32.const -0.75)) (local.get $a)))
        (local.set $c (f32.div (f32.add (local.get $c) (local.get $b)) (f32.const 1.1)))
        ;; Fold everything into the hash.
        (local.set $h
          (i32.add
            (i32.mul (i32.xor (i32.rotl (local.get $h) (i32.const 7))
                              (i32.reinterpret_f32 (local.get $x)))
                     (i32.const 0x01000193))
            (i32.xor
              (i32.xor (i32.reinterpret_f32 (local.get $a))
                       (i32.rotl (i32.reinterpret_f32 (local.get $c)) (i32.const 17)))
              (i32.xor (i32.reinterpret_f32 (local.get $y))
                       (i32.rotl (i32.reinterpret_f32 (local.get $s)) (i32.const 11))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.xor (local.get $h) (i32.reinterpret_f32 (local.get $b))))
)
