;; The bounds-check cost kernel (build.rs compiles it twice: `kernel.img` with explicit checks,
;; `kernel_elided.img` guard-elided). `run(n)` makes one pass over an array of n i32 at address
;; 0: each element is read, updated and written back, and the sum of the new values returned.
;; `scripts/board-bench.sh` counts the instructions of runs with n and 2n elements.
(module
  (memory (export "memory") 16 16)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $addr i32) (local $v i32) (local $sum i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $addr (i32.shl (local.get $i) (i32.const 2)))
        (local.set $v
          (i32.add (i32.mul (i32.load (local.get $addr)) (i32.const 3)) (local.get $i)))
        (i32.store (local.get $addr) (local.get $v))
        (local.set $sum (i32.add (local.get $sum) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum))
)
