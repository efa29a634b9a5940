;; The example module: prints through a host function and computes, with i32, i64 and f64
;; (the Cortex-M55's FPU is double precision, so f64 runs on it).
(module
  (import "env" "print" (func $print (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "hello from wasm on the Cortex-M55\n")
  (func (export "hello")
    (call $print (i32.const 16) (i32.const 34)))
  ;; Iterative Fibonacci in 64 bits: fib(0) = 0, fib(1) = 1.
  (func (export "fib") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a))
  ;; Length of the vector (x, y) in double precision: sqrt(x*x + y*y).
  (func (export "hypot") (param $x f64) (param $y f64) (result f64)
    (f64.sqrt (f64.add (f64.mul (local.get $x) (local.get $x))
                       (f64.mul (local.get $y) (local.get $y)))))
)
