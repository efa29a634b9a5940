;; 32-bit memory, eight i32 loads per iteration:
;; Counted by scripts/mem64-bench.sh.
(module
  (memory 1)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $p i32)
    (loop $l
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=0 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=4 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=8 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=12 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=16 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=20 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=24 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (i32.load offset=28 (local.get $p))))
      (local.set $acc (i32.xor (local.get $acc) (local.get $p)))
      (local.set $p (i32.and (i32.add (local.get $p) (i32.const 32)) (i32.const 65504)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))
