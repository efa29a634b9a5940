;; The example module (i32 and f32 only: what the Thumb backend compiles for the Cortex-M4F):
;; prints through a host function and computes.
(module
  (import "env" "print" (func $print (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "hello from wasm on the Cortex-M4F\n")
  (func (export "hello")
    (call $print (i32.const 16) (i32.const 34)))
  ;; Iterative Fibonacci, wrapping at 32 bits: fib(0) = 0, fib(1) = 1.
  (func (export "fib") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $t i32)
    (local.set $b (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i32.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a))
  ;; Length of the vector (x, y) on the FPU: sqrt(x*x + y*y).
  (func (export "hypot") (param $x f32) (param $y f32) (result f32)
    (f32.sqrt (f32.add (f32.mul (local.get $x) (local.get $x))
                       (f32.mul (local.get $y) (local.get $y)))))
)
