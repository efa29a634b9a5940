;; 32-bit memory, no loads (the baseline) per iteration:
;; Counted by scripts/mem64-bench.sh.
(module
  (memory 1)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $p i32)
    (loop $l
      (local.set $acc (i32.xor (local.get $acc) (i32.const 1)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 2)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 3)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 4)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 5)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 6)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 7)))
      (local.set $acc (i32.xor (local.get $acc) (i32.const 8)))
      (local.set $acc (i32.xor (local.get $acc) (local.get $p)))
      (local.set $p (i32.and (i32.add (local.get $p) (i32.const 32)) (i32.const 65504)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))
