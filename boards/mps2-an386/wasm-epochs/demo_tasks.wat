;; The three tasks of the time-slicing demo (examples/demo_tasks.rs), compiled with epoch
;; checks and fuel metering (build.rs: every module of wasm-epochs/). Each task runs in its
;; own store and instance and publishes its progress as an i32 at address 0 of its memory,
;; which the scheduler reads between slices.
(module
  (memory (export "memory") 1)

  ;; Task "count": n steps of an FNV-1a-style fold over the step numbers; progress = steps
  ;; done. Returns the fold.
  (func (export "count") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (local.set $acc (i32.const 0x811c9dc5))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc
          (i32.mul (i32.xor (local.get $acc) (local.get $i)) (i32.const 0x01000193)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (i32.store (i32.const 0) (local.get $i))
        (br $step)))
    (local.get $acc))

  ;; Task "crc": CRC-32 (reflected, polynomial 0xedb88320, bit by bit) of `rounds` blocks of
  ;; 256 bytes, byte i of round r being (r + 13 i) mod 256; progress = rounds done. Returns
  ;; the CRC.
  (func (export "crc") (param $rounds i32) (result i32)
    (local $r i32) (local $i i32) (local $bit i32) (local $crc i32)
    (local.set $crc (i32.const -1))
    (block $done
      (loop $round
        (br_if $done (i32.ge_u (local.get $r) (local.get $rounds)))
        (local.set $i (i32.const 0))
        (loop $byte
          (local.set $crc
            (i32.xor (local.get $crc)
              (i32.and (i32.add (local.get $r) (i32.mul (local.get $i) (i32.const 13)))
                       (i32.const 0xff))))
          (local.set $bit (i32.const 0))
          (loop $shift
            (local.set $crc
              (i32.xor (i32.shr_u (local.get $crc) (i32.const 1))
                (i32.and (i32.const 0xedb88320)
                  (i32.sub (i32.const 0) (i32.and (local.get $crc) (i32.const 1))))))
            (local.set $bit (i32.add (local.get $bit) (i32.const 1)))
            (br_if $shift (i32.lt_u (local.get $bit) (i32.const 8))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $i) (i32.const 256))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (i32.store (i32.const 0) (local.get $r))
        (br $round)))
    (i32.xor (local.get $crc) (i32.const -1)))

  ;; Task "spin": the runaway. Counts forever; progress = iterations (wrapping).
  (func (export "spin")
    (loop $forever
      (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
      (br $forever)))
)
