#!/usr/bin/env python3
"""Where the instructions of one kernel iteration go, natively and in the Thumb-2 backend's code.

Usage: classify.py KERNEL N NATIVE_N NATIVE_2N WASM_N WASM_2N

Each file is an insn_profile.c report ("COUNT ADDRESS DISASSEMBLY" lines) of a run with N or 2N
iterations. Per address, (count(2N) - count(N)) / N is what one iteration executes there, so
process start, image load and setup drop out exactly as in scripts/thumb-bench.sh's totals.
Those instructions are then put in classes by their disassembly (QEMU's, GNU syntax) and the two
builds compared class by class.

The classes rely on the Thumb-2 backend's register conventions (host-compiler/src/thumb/DESIGN.md):
r7 holds the base of linear memory and r8 its length minus 4, so in wasm code an instruction
reading r8, and the compare and `bhi` that use what it computed, are a bounds check, and an add
of r7 or a materialised offset feeding a `[rN, ip]` access is address arithmetic. In the native
code r7 and r8 are ordinary registers and neither class applies.
"""

import re
import sys

CLASSES = [
    ("bounds check", "wasm bounds checks: limit from r8, cmp, bhi to the trap"),
    ("address arithmetic", "memory base (r7) adds and offsets materialised into ip"),
    ("core<->FP vmov", "f32 values moved between core and FP registers"),
    ("register copy", "mov between core registers"),
    ("constant", "mov/movw/movt of an immediate"),
    ("stack load/store", "spills and reloads ([sp, ...]), push/pop"),
    ("memory load/store", "loads and stores of data"),
    ("compare/branch", "cmp/tst/it and branches"),
    ("FP arithmetic", "vadd/vmul/vmla/vcvt/..."),
    ("ALU", "every other data-processing instruction"),
]


def read(path):
    counts, text = {}, {}
    with open(path) as f:
        for line in f:
            if line.startswith("total:"):
                continue
            count, address, disas = line.rstrip("\n").split(" ", 2)
            counts[int(address, 16)] = int(count)
            text[int(address, 16)] = disas
    return counts, text


def per_iteration(n, one, two):
    c1, t1 = read(one)
    c2, t2 = read(two)
    t1.update(t2)
    rows = {}
    for address in set(c1) | set(c2):
        d = (c2.get(address, 0) - c1.get(address, 0)) / n
        if d != 0:
            rows[address] = (d, t1[address])
    return rows


def mnemonic(disas):
    return disas.split(" ", 1)[0].split(".", 1)[0]


def operands(disas):
    parts = disas.split(" ", 1)
    return parts[1] if len(parts) > 1 else ""


R8 = re.compile(r"\br8\b")


def classify(rows, wasm):
    """Class of every address, looking at neighbours in address order."""
    addresses = sorted(rows)
    out = {}
    ip_from_bound = False  # the last write of ip derived from r8
    last_was_bound_cmp = False
    for i, address in enumerate(addresses):
        disas = rows[address][1]
        m, ops = mnemonic(disas), operands(disas)
        nxt = rows[addresses[i + 1]][1] if i + 1 < len(addresses) else ""
        cls = None
        if wasm:
            writes_ip = ops.startswith("ip,")
            if R8.search(ops) and m in ("add", "sub", "cmp", "subs", "adds", "cmn"):
                cls = "bounds check"
            elif m in ("movw", "mov") and writes_ip and "r8" in nxt and nxt.startswith("sub"):
                cls = "bounds check"  # a large offset for the limit r8 - offset
            elif m == "cmp" and ops.endswith("ip") and ip_from_bound:
                cls = "bounds check"
            elif m.startswith("bhi") and last_was_bound_cmp:
                cls = "bounds check"
            elif re.match(r"r\d+, r7, r\d+$", ops) and m in ("add", "adds"):
                cls = "address arithmetic"
            elif m in ("mov", "movw") and writes_ip and ", ip]" in nxt:
                cls = "address arithmetic"
            if writes_ip:
                ip_from_bound = cls == "bounds check"
            last_was_bound_cmp = cls == "bounds check" and m == "cmp"
        if cls is None:
            cls = generic_class(m, ops)
        out[address] = cls
    return out


def generic_class(m, ops):
    if m == "vmov" and re.match(r"(r\d+|sb|sl|fp|ip|lr), s\d+$|s\d+, (r\d+|sb|sl|fp|ip|lr)$", ops):
        return "core<->FP vmov"
    if m in ("mov", "movs") and not ops.split(", ")[-1].startswith("#"):
        return "register copy"
    if m in ("mov", "movs", "movw", "movt", "mvn", "mvns"):
        return "constant"
    if m in ("push", "pop", "vpush", "vpop") or "[sp" in ops or ("sp!" in ops and m.startswith(("ldm", "stm"))):
        return "stack load/store"
    if m.startswith(("ldr", "str", "ldm", "stm", "vldr", "vstr", "vldm", "vstm")):
        return "memory load/store"
    if m in ("cmp", "cmn", "tst", "teq", "it", "ite", "itt", "itte", "ittt", "itee", "itet", "cbz", "cbnz", "b", "bl", "bx", "blx", "tbb", "tbh") or re.match(r"b(eq|ne|hs|cs|lo|cc|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)$", m) or m.startswith("it"):
        return "compare/branch"
    if m.startswith("v"):
        return "FP arithmetic"
    return "ALU"


def main():
    kernel, n = sys.argv[1], int(sys.argv[2])
    native = per_iteration(n, sys.argv[3], sys.argv[4])
    wasm = per_iteration(n, sys.argv[5], sys.argv[6])
    sums = {}
    for rows, is_wasm in ((native, False), (wasm, True)):
        classes = classify(rows, is_wasm)
        total = {}
        for address, (count, _) in rows.items():
            total[classes[address]] = total.get(classes[address], 0) + count
        sums[is_wasm] = total
    nat_total, wasm_total = sum(sums[False].values()), sum(sums[True].values())
    checks = sums[True].get("bounds check", 0)
    print(f"  {kernel}: {nat_total:.0f} native, {wasm_total:.0f} wasm instructions per iteration "
          f"(+{wasm_total - nat_total:.0f}), {wasm_total / nat_total:.2f}x; without the bounds "
          f"checks {(wasm_total - checks) / nat_total:.2f}x")
    print(f"    {'class':<20} {'native':>10} {'wasm':>10} {'excess':>10} {'% of excess':>12}")
    excess_total = wasm_total - nat_total
    for name, _ in CLASSES:
        a, b = sums[False].get(name, 0), sums[True].get(name, 0)
        if a == 0 and b == 0:
            continue
        share = 100 * (b - a) / excess_total if excess_total else 0
        print(f"    {name:<20} {a:>10.1f} {b:>10.1f} {b - a:>+10.1f} {share:>11.0f}%")


if __name__ == "__main__":
    main()
