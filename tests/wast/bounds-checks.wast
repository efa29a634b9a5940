;; Bounds checks the Thumb-2 backend leaves out (host-compiler/src/thumb/DESIGN.md section 8).
;;
;; Access windows: the Thumb-2 backend checks a
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
;; Window bases: after the first load of a window, later loads of p + k go through one register
;; holding the first load's address. Many live values between them (the register pool runs out
;; and values spill while the base is held), and a second window through another local.
(module
  (memory 1)
  (data (i32.const 0) "\01\00\00\00\00\00\00\00\02")
  (data (i32.const 1000) "\10\00\00\00\20")
  (func (export "pressure") (param $p i32) (param $q i32) (result i32)
    local.get $p i32.load
    local.get $q i32.load offset=4
    local.get $q i32.load offset=8
    local.get $q i32.load offset=12
    local.get $q i32.load offset=16
    local.get $q i32.load offset=20
    local.get $q i32.load offset=24
    local.get $q i32.load offset=28
    local.get $q i32.load offset=32
    local.get $q i32.load offset=36
    local.get $q i32.load offset=40
    local.get $q i32.load offset=44
    local.get $q i32.load offset=48
    local.get $p i32.const 8 i32.add i32.load
    i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add
  )
  (func (export "two-windows") (param $p i32) (param $q i32) (result i32)
    (i32.add
      (i32.add (i32.load (local.get $p)) (i32.load (i32.add (local.get $p) (i32.const 8))))
      (i32.add (i32.load (local.get $q)) (i32.load (i32.add (local.get $q) (i32.const 4))))))
)
(assert_return (invoke "pressure" (i32.const 0) (i32.const 2000)) (i32.const 3))
(assert_return (invoke "pressure" (i32.const 0) (i32.const 996)) (i32.const 51))
(assert_trap (invoke "pressure" (i32.const 65528) (i32.const 0)) "out of bounds memory access")
(assert_trap (invoke "pressure" (i32.const 0) (i32.const 65500)) "out of bounds memory access")
(assert_return (invoke "two-windows" (i32.const 0) (i32.const 1000)) (i32.const 51))
(assert_return (invoke "two-windows" (i32.const 65524) (i32.const 65528)) (i32.const 0))
(assert_trap (invoke "two-windows" (i32.const 65525) (i32.const 0)) "out of bounds memory access")

;; Windows reaching down: loads of p + k' below the first load's p + k are checked with it
;; (the check is of p + k - below), and a window base reaches them with a negative offset. The
;; lowest address wraps around 2^32 when p + k is small: that load traps although the first one
;; is in bounds.
(module
  (memory 1)
  (data (i32.const 0) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00\05\00\00\00")
  (data (i32.const 65528) "\05\00\00\00\06\00\00\00")
  ;; CRC-32's unrolled pair: p + 5, then p + 4
  (func (export "down2") (param $p i32) (result i32)
    (i32.add
      (i32.load8_u (i32.add (local.get $p) (i32.const 5)))
      (i32.mul (i32.load8_u (i32.add (local.get $p) (i32.const 4))) (i32.const 256))))
  ;; below by 8 with an offset reaching above the first load, and a byte between
  (func (export "down-far") (param $p i32) (result i32)
    (i32.add
      (i32.add (i32.load (i32.add (local.get $p) (i32.const 8)))
               (i32.load offset=12 (local.get $p)))
      (i32.load8_u (i32.add (local.get $p) (i32.const 4)))))
  ;; four loads walking down from p + 16: the later three from the window base
  (func (export "down-base") (param $p i32) (result i32)
    (i32.add
      (i32.add (i32.load (i32.add (local.get $p) (i32.const 16)))
               (i32.load (i32.add (local.get $p) (i32.const 12))))
      (i32.add (i32.load (i32.add (local.get $p) (i32.const 8)))
               (i32.load (i32.add (local.get $p) (i32.const 4))))))
)
(assert_return (invoke "down2" (i32.const 0)) (i32.const 512))
(assert_return (invoke "down2" (i32.const -4)) (i32.const 256))
(assert_trap (invoke "down2" (i32.const -5)) "out of bounds memory access")
(assert_return (invoke "down2" (i32.const 65528)) (i32.const 1536))
(assert_return (invoke "down2" (i32.const 65530)) (i32.const 0))
(assert_trap (invoke "down2" (i32.const 65531)) "out of bounds memory access")
(assert_return (invoke "down-far" (i32.const 0)) (i32.const 9))
(assert_trap (invoke "down-far" (i32.const -8)) "out of bounds memory access")
(assert_trap (invoke "down-far" (i32.const -4)) "out of bounds memory access")
(assert_return (invoke "down-far" (i32.const 65520)) (i32.const 11))
(assert_trap (invoke "down-far" (i32.const 65521)) "out of bounds memory access")
(assert_return (invoke "down-base" (i32.const 0)) (i32.const 14))
(assert_return (invoke "down-base" (i32.const -4)) (i32.const 10))
(assert_trap (invoke "down-base" (i32.const -5)) "out of bounds memory access")
(assert_return (invoke "down-base" (i32.const 65516)) (i32.const 11))
(assert_trap (invoke "down-base" (i32.const 65517)) "out of bounds memory access")

;; Loop counters: a local that a loop's body steps by a constant at its end (`local.tee`, then
;; `br_if` back while it differs from a constant), from a constant set right before the loop,
;; is in a known range in the body; an access through it needs no check when that range is in
;; bounds of the minimum length. Counters that do not qualify keep their checks and trap.
(module
  (memory 1)
  (data (i32.const 0) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00")
  (data (i32.const 65520) "\05\00\00\00\06\00\00\00\07\00\00\00\08\00\00\00")
  ;; i = 0, 4, 8, 12 (leaves at 16): i + 65520 stays in bounds
  (func (export "up") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 0))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 65520)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 16))))
    (local.get $s))
  ;; one step more: the last iteration's load is past the end
  (func (export "up-past") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 0))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 65520)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 20))))
    (local.get $s))
  ;; a step that does not divide the distance never meets the end: i = 0, 3, .., 15, 18, ..
  ;; (0 .. 13 would fit the memory)
  (func (export "no-divide") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 0))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (local.get $i) (i32.const 65522)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 3))) (i32.const 16))))
    (local.get $s))
  ;; the body writes the counter too, after the load: the next iteration loads through it
  (func (export "written") (param $p i32) (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 0))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 4)))))
      (if (local.get $p) (then (local.set $i (i32.const 65528))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 12))))
    (local.get $s))
  ;; counting down: i = 16, 12, 8, 4 (leaves at 0, the `br_if` on the teed value)
  (func (export "down") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 16))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 65516)))))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const -4)))))
    (local.get $s))
  ;; i = -8, -4, 0, 4: i + 8 is 0 .. 12, in bounds; i + 4 wraps around 2^32 at i = -8
  (func (export "negative") (param $k i32) (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const -8))
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (if (result i32) (local.get $k)
          (then (i32.load (i32.add (local.get $i) (i32.const 8))))
          (else (i32.load (i32.add (local.get $i) (i32.const 4)))))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 8))))
    (local.get $s))
  ;; a scaled counter: i = 0 .. 3, i << 2 <= 12
  (func (export "scaled") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 0))
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (i32.load offset=65520 (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 4))))
    (local.get $s))
  ;; the start is a parameter: checked
  (func (export "from-param") (param $i i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 65520)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 16))))
    (local.get $s))
)
(assert_return (invoke "up") (i32.const 26))
(assert_trap (invoke "up-past") "out of bounds memory access")
(assert_trap (invoke "no-divide") "out of bounds memory access")
(assert_return (invoke "written" (i32.const 0)) (i32.const 9))
(assert_trap (invoke "written" (i32.const 1)) "out of bounds memory access")
(assert_return (invoke "down") (i32.const 26))
(assert_return (invoke "negative" (i32.const 1)) (i32.const 10))
(assert_trap (invoke "negative" (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "scaled") (i32.const 26))
(assert_return (invoke "from-param" (i32.const 4)) (i32.const 21))
(assert_trap (invoke "from-param" (i32.const 17)) "out of bounds memory access")

;; Sum accesses: `local.get l; i32.const k; i32.add` and a load (or a value and a store) that
;; need no check (a loop counter in range, or a fact from an earlier access) compile to one
;; access from a base register holding r7 + k, or from r7 + l with k as the immediate; the
;; sum may wrap around 2^32 (a counter below 0) and still address the right byte.
(module
  (memory 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (data (i32.const 40000) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00")
  ;; i = -16 .. -1: i + 16 is 0 .. 15 (mod 2^32)
  (func (export "sum-wrap") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const -16))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (local.get $i) (i32.const 16)))))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1)))))
    (local.get $s))
  ;; stores through the counter: bytes 100 .. 115 get the low byte of i
  (func (export "fill") (result i32) (local $i i32)
    (local.set $i (i32.const -16))
    (loop $l
      (i32.store8 (i32.add (local.get $i) (i32.const 116)) (local.get $i))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1)))))
    (i32.add (i32.load (i32.const 100)) (i32.load (i32.const 112))))
  ;; a base past 4095: words at 40000 .. 40012, twice each
  (func (export "far") (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const -16))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 40016)))))
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $i) (i32.const 40016)))))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 4)))))
    (local.get $s))
  ;; a store covered by the loads' check: swap the words at p and p + 4
  (func (export "swap") (param $p i32) (local $a i32) (local $b i32)
    (local.set $a (i32.load (local.get $p)))
    (local.set $b (i32.load offset=4 (local.get $p)))
    (i32.store (i32.add (local.get $p) (i32.const 4)) (local.get $a))
    (i32.store (local.get $p) (local.get $b)))
  (func (export "word") (param $p i32) (result i32) (i32.load (local.get $p)))
  ;; a sum access whose result goes straight to a local (a fused `local.set`)
  (func (export "sum-set") (result i32) (local $i i32) (local $s i32) (local $v i32)
    (local.set $i (i32.const -16))
    (loop $l
      (local.set $v (i32.load8_u (i32.add (local.get $i) (i32.const 16))))
      (local.set $s (i32.add (local.get $s) (local.get $v)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1)))))
    (local.get $s))
  ;; window loads whose results go to locals, the second one to the window's own local
  (func (export "win-set") (param $p i32) (result i32) (local $a i32) (local $b i32)
    (local.set $a (i32.load (local.get $p)))
    (local.set $b (i32.load (i32.add (local.get $p) (i32.const 4))))
    (i32.sub (local.get $b) (local.get $a)))
  (func (export "win-set-self") (param $p i32) (result i32) (local $a i32)
    (local.set $a (i32.load (local.get $p)))
    (local.set $p (i32.load (i32.add (local.get $p) (i32.const 4))))
    (i32.add (local.get $a) (local.get $p)))
  ;; copies from a local kept in its slot (e: the loop keeps a, b, c, d in the four homes)
  (func (export "slot-copy") (param $a i32) (param $b i32) (param $c i32) (param $d i32)
    (param $e i32) (result i32)
    (loop $l
      (local.set $a (i32.add (local.get $a) (local.get $b)))
      (local.set $c (i32.add (local.get $c) (local.get $a)))
      (local.set $d (i32.sub (local.get $d) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $d) (i32.const 0))))
    (local.set $a (local.get $e))
    (local.set $c (local.tee $b (i32.add (local.get $e) (i32.const 1))))
    (i32.add (i32.mul (local.get $a) (i32.const 1000)) (i32.add (local.get $b) (local.get $c))))
  ;; a `local.tee` into a local without a home register (the loop keeps p, a, b, c, d in the
  ;; four homes): the load's check is a fact about t, which covers the store through t + 4
  (func (export "tee-store") (param $p i32) (param $a i32) (param $b i32) (param $c i32)
    (param $d i32) (result i32) (local $t i32) (local $v i32)
    (loop $l
      (local.set $a (i32.add (local.get $a) (local.get $b)))
      (local.set $c (i32.add (local.get $c) (local.get $a)))
      (local.set $d (i32.sub (local.get $d) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $d) (i32.const 0))))
    (local.set $v (i32.load offset=4 (local.tee $t (i32.shl (local.get $p) (i32.const 2)))))
    (i32.store (i32.add (local.get $t) (i32.const 4)) (i32.add (local.get $a) (local.get $c)))
    (local.get $v))
)
(assert_return (invoke "tee-store" (i32.const 16382) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4)) (i32.const 0))
(assert_return (invoke "word" (i32.const 65532)) (i32.const 36))
(assert_return (invoke "tee-store" (i32.const 0x40003ffe) (i32.const 1) (i32.const 1) (i32.const 1) (i32.const 1)) (i32.const 36))
(assert_return (invoke "word" (i32.const 65532)) (i32.const 5))
(assert_trap (invoke "tee-store" (i32.const 16383) (i32.const 5) (i32.const 5) (i32.const 5) (i32.const 5)) "out of bounds memory access")
(assert_return (invoke "word" (i32.const 65532)) (i32.const 5))
(assert_return (invoke "sum-wrap") (i32.const 136))
(assert_return (invoke "sum-set") (i32.const 136))
(assert_return (invoke "win-set" (i32.const 0)) (i32.const 0x04040404))
(assert_return (invoke "win-set-self" (i32.const 4)) (i32.const 0x1412100e))
(assert_trap (invoke "win-set" (i32.const 65529)) "out of bounds memory access")
(assert_return (invoke "slot-copy" (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 2) (i32.const 7)) (i32.const 7016))
(assert_return (invoke "fill") (i32.const -202248212))
(assert_return (invoke "far") (i32.const 20))
(assert_return (invoke "swap" (i32.const 0)))
(assert_return (invoke "word" (i32.const 0)) (i32.const 0x08070605))
(assert_return (invoke "word" (i32.const 4)) (i32.const 0x04030201))
(assert_return (invoke "swap" (i32.const 65528)))
(assert_trap (invoke "swap" (i32.const 65529)) "out of bounds memory access")
(assert_return (invoke "word" (i32.const 0)) (i32.const 0x08070605))

;; Constant bases: a run of loads (and stores) from constant addresses past 4095, within 4095
;; above or 255 below the first, goes through one register holding r7 + the first address.
;; Values spill while it is held; addresses out of its reach, and out of bounds, are handled
;; as before.
(module
  (memory 1 2)
  (data (i32.const 24000) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00")
  (data (i32.const 23900) "\0a\00\00\00")
  (data (i32.const 30000) "\64\00\00\00")
  (func (export "const-run") (result i32)
    (i32.add
      (i32.add
        (i32.add (i32.load (i32.const 24000)) (i32.load offset=4 (i32.const 24000)))
        (i32.add (i32.load (i32.const 24008)) (i32.load16_u (i32.const 24012))))
      (i32.add (i32.load (i32.const 23900)) (i32.load8_u (i32.const 30000)))))
  ;; stores through the base, then loads of what they wrote
  (func (export "const-store") (param $v i32) (result i32) (local $old i32)
    (local.set $old (i32.load (i32.const 24100)))
    (i32.store (i32.const 24100) (local.get $v))
    (i32.store8 (i32.const 24104) (local.get $v))
    (i32.store16 (i32.const 24106) (local.get $v))
    (i32.add (local.get $old)
      (i32.add (i32.add (i32.load (i32.const 24100)) (i32.load8_u (i32.const 24104)))
               (i32.load16_u (i32.const 24106)))))
  ;; many values live while the base is held
  (func (export "const-pressure") (param $p i32) (result i32)
    i32.const 24000 i32.load
    local.get $p i32.load offset=4
    i32.const 24004 i32.load
    local.get $p i32.load offset=8
    i32.const 24008 i32.load
    local.get $p i32.load offset=12
    i32.const 24012 i32.load
    local.get $p i32.load offset=16
    i32.const 24000 i32.load
    local.get $p i32.load offset=20
    i32.const 24004 i32.load
    i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add)
  ;; past the minimum length: checked, traps until the memory grows
  (func (export "const-far") (result i32)
    (i32.add (i32.load (i32.const 70000)) (i32.load (i32.const 70004))))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
)
(assert_return (invoke "const-run") (i32.const 120))
(assert_return (invoke "const-store" (i32.const 0x01020304)) (i32.const 16909836))
(assert_return (invoke "const-store" (i32.const 0)) (i32.const 16909060))
(assert_return (invoke "const-pressure" (i32.const 24000)) (i32.const 22))
(assert_trap (invoke "const-far") "out of bounds memory access")
(assert_return (invoke "grow") (i32.const 1))
(assert_return (invoke "const-far") (i32.const 0))

;; Bounded indices: an index computed as `x & m`, `x >>u n`, a shift or sum of bounded values that
;; cannot wrap, or a `load8_u`/`load16_u`, needs no check when its bound plus the access's end is
;; within the minimum length. The cases where the bound does not hold or does not fit keep the
;; check and trap.
(module
  (memory 1)
  (data (i32.const 65000) "\2a")
  (data (i32.const 65508) "\07")
  (data (i32.const 65207) "\05")
  (data (i32.const 65520) "\fe\ff")
  ;; index <= 508, access end <= 65512: no check
  (func (export "masked") (param $x i32) (result i32)
    (i32.load offset=65000 (i32.shl (i32.and (local.get $x) (i32.const 127)) (i32.const 2))))
  ;; index <= 1020, 66024 > 65536: checked
  (func (export "masked-wide") (param $x i32) (result i32)
    (i32.load offset=65000 (i32.shl (i32.and (local.get $x) (i32.const 255)) (i32.const 2))))
  ;; a bounded value plus an unbounded one is unbounded
  (func (export "plus-unbounded") (param $x i32) (param $y i32) (result i32)
    (i32.load offset=65000 (i32.add (i32.and (local.get $x) (i32.const 127)) (local.get $y))))
  ;; a shift that can wrap: x & 0x1ffff shifted by 16 may wrap to a small index
  (func (export "shift-wraps") (param $x i32) (result i32)
    (i32.load8_u (i32.shl (i32.and (local.get $x) (i32.const 0x1ffff)) (i32.const 16))))
  ;; x >>u 22 <= 1023, + 64000, + 508 + 1 <= 65536: no check
  (func (export "shifted-down") (param $x i32) (result i32)
    (i32.load8_u offset=508 (i32.add (i32.shr_u (local.get $x) (i32.const 22)) (i32.const 64000))))
  ;; a byte as the index: <= 255, + 65200 + 4: no check
  (func (export "byte-index") (param $p i32) (result i32)
    (i32.load offset=65200 (i32.load8_u (local.get $p))))
  ;; a halfword as the index: checked
  (func (export "half-index") (param $p i32) (result i32)
    (i32.load (i32.load16_u (local.get $p))))
  ;; the bound belongs to the entry, not to what replaces it on the stack
  (func (export "dropped") (param $x i32) (param $y i32) (result i32)
    (drop (i32.and (local.get $x) (i32.const 127)))
    (i32.load offset=65000 (local.get $y)))
)
(assert_return (invoke "masked" (i32.const 0)) (i32.const 42))
(assert_return (invoke "masked" (i32.const 0x7f)) (i32.const 7))
(assert_return (invoke "masked" (i32.const -1)) (i32.const 7))
(assert_return (invoke "masked-wide" (i32.const 0x7f)) (i32.const 7))
(assert_trap (invoke "masked-wide" (i32.const 0xff)) "out of bounds memory access")
(assert_return (invoke "plus-unbounded" (i32.const 0) (i32.const 508)) (i32.const 7))
(assert_trap (invoke "plus-unbounded" (i32.const 0) (i32.const 600)) "out of bounds memory access")
(assert_return (invoke "plus-unbounded" (i32.const 1) (i32.const -1)) (i32.const 42))
(assert_return (invoke "shift-wraps" (i32.const 0x10000)) (i32.const 0))
(assert_trap (invoke "shift-wraps" (i32.const 1)) "out of bounds memory access")
(assert_return (invoke "shifted-down" (i32.const 0x3ffff)) (i32.const 0))
(assert_return (invoke "shifted-down" (i32.const 0xfa000000)) (i32.const 7))
(assert_return (invoke "shifted-down" (i32.const -1)) (i32.const 0))
(assert_return (invoke "byte-index" (i32.const 0)) (i32.const 0))
(assert_return (invoke "byte-index" (i32.const 65508)) (i32.const 5))
(assert_return (invoke "half-index" (i32.const 0)) (i32.const 0))
(assert_return (invoke "half-index" (i32.const 65000)) (i32.const 0))
(assert_trap (invoke "half-index" (i32.const 65520)) "out of bounds memory access")
(assert_return (invoke "dropped" (i32.const 0) (i32.const 0)) (i32.const 42))
(assert_trap (invoke "dropped" (i32.const 0) (i32.const 600)) "out of bounds memory access")
