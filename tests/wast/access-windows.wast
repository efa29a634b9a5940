;; Access windows (host-compiler/src/thumb/DESIGN.md section 8): the Thumb-2 backend checks a
;; run of loads through one local once, against the furthest of them, and traps at the first
;; load when that check fails. These cases pin down what that must not change: an observable
;; effect or another trap between the loads comes first, a local written between the loads
;; starts a new run, indices that wrap around 2^32 stay valid, and a branch ends the run.
(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 0) "\10\00\00\00\00\00\00\00\20")
  (data (i32.const 65472) "\01\00\00\00\00\00\00\00\02")
  (data (i32.const 65532) "\04")
  ;; three loads through p, the last at p + 60
  (func (export "sum3") (param $p i32) (result i32)
    (i32.add
      (i32.add (i32.load (local.get $p))
               (i32.load (i32.add (local.get $p) (i32.const 8))))
      (i32.load (i32.add (local.get $p) (i32.const 60)))))
  ;; the same loads in the other order: the furthest first
  (func (export "sum3-down") (param $p i32) (result i32)
    (i32.add
      (i32.add (i32.load (i32.add (local.get $p) (i32.const 60)))
               (i32.load (i32.add (local.get $p) (i32.const 8))))
      (i32.load (local.get $p))))
  ;; a store between two loads happens before the second one traps
  (func (export "store-between") (param $p i32) (result i32)
    (drop (i32.load (local.get $p)))
    (i32.store (i32.const 100) (i32.const 77))
    (i32.load (i32.add (local.get $p) (i32.const 8))))
  (func (export "word100") (result i32) (i32.load (i32.const 100)))
  ;; so does a global.set
  (func (export "global-between") (param $p i32) (result i32)
    (drop (i32.load (local.get $p)))
    (global.set $g (i32.const 5))
    (i32.load (i32.add (local.get $p) (i32.const 8))))
  (func (export "g") (result i32) (global.get $g))
  ;; a division between traps first
  (func (export "div-between") (param $p i32) (param $d i32) (result i32)
    (i32.add
      (i32.add (i32.load (local.get $p)) (i32.div_u (i32.const 1) (local.get $d)))
      (i32.load (i32.add (local.get $p) (i32.const 8)))))
  ;; the local is written between the loads: the second goes through the new value
  (func (export "chase") (param $p i32) (result i32)
    (local.set $p (i32.load (local.get $p)))
    (i32.load (i32.add (local.get $p) (i32.const 8))))
  (func (export "chase-tee") (param $p i32) (result i32)
    (i32.add (local.tee $p (i32.load (local.get $p)))
             (i32.load (i32.add (local.get $p) (i32.const 8)))))
  ;; p + 0x1000 and p + 0x1008 are 0 and 8 for p = -0x1000
  (func (export "wrap") (param $p i32) (result i32)
    (i32.add (i32.load (i32.add (local.get $p) (i32.const 0x1000)))
             (i32.load (i32.add (local.get $p) (i32.const 0x1008)))))
  ;; a branch between: the second load is not reached when it is taken
  (func (export "branch-between") (param $p i32) (param $c i32) (result i32)
    (drop (i32.load (local.get $p)))
    (if (local.get $c) (then (return (i32.const 9))))
    (i32.load (i32.add (local.get $p) (i32.const 8))))
  ;; in a loop: every iteration's loads through the new value of p
  (func (export "walk") (param $p i32) (param $n i32) (result i32)
    (local $s i32)
    (loop $l
      (local.set $s
        (i32.add (local.get $s)
          (i32.add (i32.load8_u (local.get $p))
                   (i32.load8_u (i32.add (local.get $p) (i32.const 8))))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
)
(assert_return (invoke "sum3" (i32.const 65472)) (i32.const 7))
(assert_trap (invoke "sum3" (i32.const 65473)) "out of bounds memory access")
(assert_trap (invoke "sum3" (i32.const -1)) "out of bounds memory access")
(assert_return (invoke "sum3-down" (i32.const 65472)) (i32.const 7))
(assert_trap (invoke "sum3-down" (i32.const 65473)) "out of bounds memory access")
(assert_return (invoke "word100") (i32.const 0))
(assert_trap (invoke "store-between" (i32.const 65532)) "out of bounds memory access")
(assert_return (invoke "word100") (i32.const 77))
(assert_trap (invoke "global-between" (i32.const 65532)) "out of bounds memory access")
(assert_return (invoke "g") (i32.const 5))
(assert_trap (invoke "div-between" (i32.const 65532) (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "div-between" (i32.const 65533) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "div-between" (i32.const 0) (i32.const 1)) (i32.const 49))
(assert_return (invoke "chase" (i32.const 65528)) (i32.const 32))
(assert_return (invoke "chase-tee" (i32.const 65528)) (i32.const 32))
(assert_return (invoke "wrap" (i32.const -0x1000)) (i32.const 48))
(assert_trap (invoke "wrap" (i32.const -0x1001)) "out of bounds memory access")
(assert_return (invoke "branch-between" (i32.const 65532) (i32.const 1)) (i32.const 9))
(assert_trap (invoke "branch-between" (i32.const 65532) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "walk" (i32.const 0) (i32.const 9)) (i32.const 80))
(assert_return (invoke "walk" (i32.const 65519) (i32.const 9)) (i32.const 4))
(assert_trap (invoke "walk" (i32.const 65520) (i32.const 9)) "out of bounds memory access")
