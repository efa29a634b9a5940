;; Module of the `wasm-aot run --board B --fuel N --epoch-deadline T` checks in the boards'
;; run-tests.sh, compiled with fuel metering and epoch checks: the board's run and the hosted run
;; of the same image must consume the same fuel and stop the same way.
(module
  ;; n + (n - 1) + ... + 1, one loop iteration per step.
  (func (export "sum") (param $n i32) (result i32)
    (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $s))
  ;; A runaway: only a deadline or the fuel stops it.
  (func (export "spin")
    (loop $l (br $l))))
