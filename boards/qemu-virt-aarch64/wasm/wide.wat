;; The guard-elided test's module (build.rs also compiles it with `--bounds-checks
;; guard-elided` into `wide_elided.img`): accesses with offsets up to the 64 KiB guard carry no
;; bounds check, so out-of-bounds ones fault on the wide slot's unmapped pages and become
;; `out of bounds memory access` through the trap table.
(module
  (memory (export "memory") 1 65536)
  (func (export "store") (param $addr i32) (param $value i32)
    (i32.store (local.get $addr) (local.get $value)))
  (func (export "store8") (param $addr i32) (param $value i32)
    (i32.store8 (local.get $addr) (local.get $value)))
  ;; Offset 0xfff0: still within the guard, so unchecked.
  (func (export "store_offset") (param $addr i32) (param $value i32)
    (i32.store offset=0xfff0 (local.get $addr) (local.get $value)))
  ;; Offset 1 GiB: larger than the guard, so the compiler keeps an explicit check.
  (func (export "store_far") (param $addr i32) (param $value i32)
    (i32.store offset=0x40000000 (local.get $addr) (local.get $value)))
  ;; Stores in bounds; `wide_broken_elided.img` (build.rs) replaces it with hand-made A64 that
  ;; stores at memory base - 4, on the wide slot's front guard, from a PC not in the trap table.
  (global $pokes (mut i32) (i32.const 0))
  (func (export "poke")
    (global.set $pokes (i32.add (global.get $pokes) (i32.const 1)))
    (global.set $pokes (i32.mul (global.get $pokes) (i32.const 3)))
    (i32.store (i32.const 0) (global.get $pokes)))
  (func (export "load") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  (func (export "load8") (param $addr i32) (result i32)
    (i32.load8_u (local.get $addr)))
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages)))
  (func (export "size") (result i32)
    (memory.size))
  ;; Writes a pattern derived from $seed over the first $len bytes.
  (func (export "fill") (param $seed i32) (param $len i32)
    (local $addr i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $addr) (local.get $len)))
        (i32.store (local.get $addr)
          (i32.mul (i32.add (local.get $addr) (local.get $seed)) (i32.const 0x9e3779b1)))
        (local.set $addr (i32.add (local.get $addr) (i32.const 4)))
        (br $next))))
)
