;; The guard test's module (explicit bounds checks, the compiler's default): one instance is
;; the victim, another the attacker that writes out of bounds and traps in other ways.
(module
  (memory (export "memory") 1 1)
  (func (export "store") (param $addr i32) (param $value i32)
    (i32.store (local.get $addr) (local.get $value)))
  (func (export "load") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  ;; Writes a pattern derived from $seed over the whole 64 KiB page.
  (func (export "fill") (param $seed i32)
    (local $addr i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $addr) (i32.const 65536)))
        (i32.store (local.get $addr)
          (i32.mul (i32.add (local.get $addr) (local.get $seed)) (i32.const 0x9e3779b1)))
        (local.set $addr (i32.add (local.get $addr) (i32.const 4)))
        (br $next))))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  ;; Uses the FPU (so the core stacks the extended FP frame when it faults), then traps.
  (func (export "fp_trap") (param $x f32) (result f32)
    (local $y f32)
    (local.set $y (f32.sqrt (f32.mul (local.get $x) (f32.const 3.5))))
    (if (f32.gt (local.get $y) (f32.const 0)) (then unreachable))
    (local.get $y))
  (func $recurse (export "recurse") (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
)
