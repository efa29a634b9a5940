;; The module of the Cortex-M boards' `test_memories` firmware
;; (cortex-m-common/src/memories_test.rs): a 300-byte memory of 1-byte pages beside a
;; 64 KiB-page memory, and a 64-bit memory.
(module
  (memory $small (export "small") 300 400 (pagesize 1))
  (memory $big (export "big") 1 2)
  (memory $wide (export "wide") i64 1 2)
  (data (memory $small) (i32.const 296) "\01\02\03\04")
  (data (memory $big) (i32.const 65532) "\0a\0b\0c\0d")
  (data (memory $wide) (i64.const 8) "\01\02\03\04\05\06\07\08")
  (func (export "load_small") (param i32) (result i32) (i32.load8_u $small (local.get 0)))
  (func (export "load_big") (param i32) (result i32) (i32.load8_u $big (local.get 0)))
  (func (export "grow_small") (param i32) (result i32) (memory.grow $small (local.get 0)))
  (func (export "copy_big_to_small") (param i32 i32 i32)
    (memory.copy $small $big (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load64") (param i64) (result i64) (i64.load $wide (local.get 0)))
  (func (export "size64") (result i64) (memory.size $wide))
  (func (export "grow64") (param i64) (result i64) (memory.grow $wide (local.get 0)))
)
