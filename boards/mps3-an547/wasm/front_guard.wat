;; The front-guard test's module. `poke` stores 0x5a5a5a5a at address 0 of its own memory, in
;; bounds. build.rs derives two broken images from this one by replacing `poke`'s machine code
;; with hand-assembled Thumb-2: `front_guard_broken.img` stores at memory base - 4 (on the MPU
;; front guard), `front_guard_wild.img` at an address outside every memory slot. `poke` has a
;; long enough body for the replacement code.
(module
  (memory (export "memory") 1 1)
  (func (export "poke")
    (i32.store (i32.const 0) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 4) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 8) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 12) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 16) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 20) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 24) (i32.const 0x5a5a5a5a))
    (i32.store (i32.const 28) (i32.const 0x5a5a5a5a)))
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
)
