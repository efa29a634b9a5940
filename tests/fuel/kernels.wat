;; Compute kernels for the fuel golden (tests/fuel-consumption.txt) and the preemption bench
;; (`bench preemption`): loops, calls, recursion, memory traffic and a br_table, written by
;; hand so that no toolchain beyond `wat` is needed.
(module
  (memory (export "memory") 1)
  (table 4 funcref)
  (elem (i32.const 0) $add $sub $mul $xor)
  (type $binop (func (param i32 i32) (result i32)))

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $xor (type $binop) (i32.xor (local.get 0) (local.get 1)))

  ;; Naive recursive Fibonacci.
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; Sieve of Eratosthenes over bytes [0, n) of memory; returns the number of primes below n.
  (func (export "sieve") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32)
    (memory.fill (i32.const 0) (i32.const 1) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.load8_u (local.get $i))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 0))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $count))

  ;; Bitwise CRC-32 (reflected, polynomial 0xedb88320) of n bytes of a xorshift stream.
  (func (export "crc32") (param $n i32) (result i32)
    (local $crc i32) (local $x i32) (local $bit i32) (local $i i32)
    (local.set $crc (i32.const -1))
    (local.set $x (i32.const 2463534242))
    (loop $bytes
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (local.set $crc (i32.xor (local.get $crc) (i32.and (local.get $x) (i32.const 255))))
      (local.set $bit (i32.const 8))
      (loop $bits
        (local.set $crc
          (i32.xor (i32.shr_u (local.get $crc) (i32.const 1))
                   (i32.and (i32.const 0xedb88320)
                            (i32.sub (i32.const 0) (i32.and (local.get $crc) (i32.const 1))))))
        (br_if $bits (local.tee $bit (i32.sub (local.get $bit) (i32.const 1)))))
      (br_if $bytes (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                              (local.get $n))))
    (i32.xor (local.get $crc) (i32.const -1)))

  ;; n x n i32 matrix product C = A * B with A[i][j] = i + j, B[i][j] = i - j (n <= 32),
  ;; A at 0, B at 4096, C at 8192; returns the sum of C.
  (func (export "matmul") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $k i32) (local $acc i32) (local $sum i32)
    (local.set $i (i32.const 0))
    (loop $fill_i
      (local.set $j (i32.const 0))
      (loop $fill_j
        (i32.store (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j))
                            (i32.const 2))
                   (i32.add (local.get $i) (local.get $j)))
        (i32.store offset=4096
                   (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j))
                            (i32.const 2))
                   (i32.sub (local.get $i) (local.get $j)))
        (br_if $fill_j (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1)))
                                 (local.get $n))))
      (br_if $fill_i (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                               (local.get $n))))
    (local.set $i (i32.const 0))
    (loop $row
      (local.set $j (i32.const 0))
      (loop $col
        (local.set $acc (i32.const 0))
        (local.set $k (i32.const 0))
        (loop $dot
          (local.set $acc
            (i32.add (local.get $acc)
              (i32.mul
                (i32.load (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n))
                                            (local.get $k)) (i32.const 2)))
                (i32.load offset=4096
                          (i32.shl (i32.add (i32.mul (local.get $k) (local.get $n))
                                            (local.get $j)) (i32.const 2))))))
          (br_if $dot (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1)))
                                (local.get $n))))
        (i32.store offset=8192
                   (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j))
                            (i32.const 2))
                   (local.get $acc))
        (local.set $sum (i32.add (local.get $sum) (local.get $acc)))
        (br_if $col (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1)))
                              (local.get $n))))
      (br_if $row (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                            (local.get $n))))
    (local.get $sum))

  ;; A byte-code interpreter loop: n steps of a 4-operation machine dispatched by br_table,
  ;; every fourth step through call_indirect.
  (func (export "interp") (param $n i32) (result i32)
    (local $acc i32) (local $pc i32)
    (local.set $acc (i32.const 1))
    (block $exit
      (loop $step
        (br_if $exit (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $pc (i32.and (i32.add (local.get $pc) (i32.const 1)) (i32.const 3)))
        (block $op3 (block $op2 (block $op1 (block $op0
          (br_table $op0 $op1 $op2 $op3 (local.get $pc)))
          (local.set $acc (i32.add (local.get $acc) (i32.const 7)))
          (br $step))
          (local.set $acc (i32.mul (local.get $acc) (i32.const 3)))
          (br $step))
          (local.set $acc (i32.rotl (local.get $acc) (i32.const 5)))
          (br $step))
        (local.set $acc
          (call_indirect (type $binop) (local.get $acc) (local.get $n)
                         (i32.and (local.get $n) (i32.const 3))))
        (br $step)))
    (local.get $acc))

  ;; Insertion sort of n i32 (n <= 1024) from a linear congruential generator at 16384;
  ;; returns a checksum of the sorted array.
  (func (export "sort") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $x i32) (local $seed i32) (local $sum i32)
    (local.set $seed (i32.const 12345))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $seed (i32.add (i32.mul (local.get $seed) (i32.const 1103515245))
                                  (i32.const 12345)))
        (i32.store offset=16384 (i32.shl (local.get $i) (i32.const 2))
                   (i32.shr_u (local.get $seed) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (local.set $i (i32.const 1))
    (block $sorted
      (loop $outer
        (br_if $sorted (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (i32.load offset=16384 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (local.get $i))
        (block $placed
          (loop $shift
            (br_if $placed (i32.eqz (local.get $j)))
            (br_if $placed
              (i32.le_u (i32.load offset=16380 (i32.shl (local.get $j) (i32.const 2)))
                        (local.get $x)))
            (i32.store offset=16384 (i32.shl (local.get $j) (i32.const 2))
                       (i32.load offset=16380 (i32.shl (local.get $j) (i32.const 2))))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $shift)))
        (i32.store offset=16384 (i32.shl (local.get $j) (i32.const 2)) (local.get $x))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.set $i (i32.const 0))
    (block $summed
      (loop $sum_loop
        (br_if $summed (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum
          (i32.add (i32.mul (local.get $sum) (i32.const 31))
                   (i32.load offset=16384 (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sum_loop)))
    (local.get $sum))

  ;; A running hash over a 256-word vector in the shape LLVM gives loops with a constant trip
  ;; count (a counter from -1024 stepped by 4 to 0, the address `i + 1024`), n rounds, each
  ;; writing the hash back into the vector: its inner loop is counted (module::fuel).
  (func (export "hash") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $rounds
      (local.set $i (i32.const -1024))
      (loop $words
        (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31))
                                 (i32.load (i32.add (local.get $i) (i32.const 1024)))))
        (i32.store (i32.add (local.get $i) (i32.const 1024))
                   (i32.xor (local.get $acc) (local.get $i)))
        (br_if $words (local.tee $i (i32.add (local.get $i) (i32.const 4)))))
      (br_if $rounds (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc))

  ;; Classifies 256 bytes of a xorshift stream n times, counting digits and letters: a branchy
  ;; loop with a constant trip count (bounded but not counted: module::fuel).
  (func (export "classify") (param $n i32) (result i32)
    (local $i i32) (local $x i32) (local $digits i32) (local $letters i32)
    (local.set $x (i32.const 2463534242))
    (loop $rounds
      (local.set $i (i32.const 0))
      (loop $bytes
        (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
        (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
        (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
        (if (i32.lt_u (i32.sub (i32.and (local.get $x) (i32.const 255)) (i32.const 48))
                      (i32.const 10))
          (then (local.set $digits (i32.add (local.get $digits) (i32.const 1))))
          (else
            (if (i32.lt_u (i32.sub (i32.and (local.get $x) (i32.const 223)) (i32.const 65))
                          (i32.const 26))
              (then (local.set $letters (i32.add (local.get $letters) (i32.const 1)))))))
        (br_if $bytes (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                              (i32.const 256))))
      (br_if $rounds (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (i32.shl (local.get $digits) (i32.const 16)) (local.get $letters)))

  ;; Sums the first n words of memory behind a Rust-style index check: a `br_if` to a block
  ;; whose end is followed by `unreachable` (a cold branch: module::fuel). n > 1024 traps.
  (func (export "checked") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (block $panic
      (block $done
        (loop $l
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (br_if $panic (i32.ge_u (local.get $i) (i32.const 1024)))
          (local.set $sum (i32.add (local.get $sum)
                                   (i32.load (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (return (local.get $sum)))
    (unreachable))

  ;; Floating point: n steps of a logistic map in f64 and a dot product in f32.
  (func (export "float") (param $n i32) (result i64)
    (local $x f64) (local $s f32)
    (local.set $x (f64.const 0.25))
    (loop $l
      (local.set $x (f64.mul (f64.const 3.7) (f64.mul (local.get $x)
                                                      (f64.sub (f64.const 1) (local.get $x)))))
      (local.set $s (f32.add (local.get $s) (f32.demote_f64 (f64.sqrt (local.get $x)))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i64.add (i64.reinterpret_f64 (local.get $x))
             (i64.extend_i32_u (i32.reinterpret_f32 (local.get $s))))))
