#!/usr/bin/env python3
"""Where a firmware's instructions go, per function: runs the ELF on its board's emulated
machine (the runner of examples/firmware-<board>/.cargo/config.toml) with QEMU logging every
translated block (`-d in_asm`) and every block it executes (`-d exec,nochain`), then counts
each execution as the block's instructions and sums them per function.

    tests/bench/profile-firmware.py m4f path/to/firmware.elf [--top 25] [--blocks 10]

The whole run is counted: loading, validation and reporting as well as the inferences. The log
takes about 200 bytes per executed block (about 1 GB for the KWS firmware) and is deleted.
"""

import argparse
import collections
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def runner(board):
    """The board's QEMU command line, without its final `-kernel`."""
    config = os.path.join(ROOT, "examples", f"firmware-{board}", ".cargo", "config.toml")
    with open(config) as f:
        for line in f:
            line = line.strip()
            if line.startswith("runner = "):
                args = shlex.split(line[len("runner = "):].strip('"'))
                if args[-1] != "-kernel":
                    sys.exit(f"{config}: the runner does not end with -kernel")
                return args[:-1]
    sys.exit(f"{config} has no runner")


def demangle(symbol):
    """`_ZN4core3fmt5write17h0123E` -> `core::fmt::write` (Rust's legacy mangling)."""
    if not (symbol.startswith("_ZN") and symbol.endswith("E")):
        return symbol
    body, parts = symbol[3:-1], []
    while body:
        m = re.match(r"(\d+)", body)
        if not m:
            return symbol
        n = int(m.group(1))
        part, body = body[len(m.group(1)):len(m.group(1)) + n], body[len(m.group(1)) + n:]
        parts.append(part)
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    return "::".join(parts).replace("$LT$", "<").replace("$GT$", ">").replace("$u20$", " ")


def profile(log):
    """Per block start address: instructions, function, executions."""
    size, function, runs = {}, {}, collections.Counter()
    block, name = None, None
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("Trace "):
                # "Trace 0: 0x7f.. [flags/pc/...] symbol"
                fields = line.split("[", 1)[1].split("/")
                runs[int(fields[1], 16)] += 1
            elif line.startswith("IN:"):
                name, block = line[3:].strip(), None
            elif line.startswith("0x") and name is not None:
                address = int(line.split(":", 1)[0], 16)
                if block is None:
                    block, size[address] = address, 0
                size[block] += 1
                function[block] = name
            elif not line.strip():
                block = None
    return size, function, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("board", choices=["m4f", "m3", "riscv"])
    parser.add_argument("elf")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--blocks", type=int, default=0, help="hottest blocks to list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "exec.log")
        command = runner(args.board) + ["-d", "exec,nochain,in_asm", "-D", log, "-kernel", args.elf]
        run = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"the firmware exited with {run.returncode}:\n{run.stdout}{run.stderr}")
        size, function, runs = profile(log)
    per_function = collections.Counter()
    for address, count in runs.items():
        per_function[function.get(address, "?")] += count * size.get(address, 0)
    total = sum(per_function.values())
    print(f"{total:,} instructions executed")
    print("| instructions | share | function |\n|---:|---:|---|")
    for name, count in per_function.most_common(args.top):
        print(f"| {count:,} | {100 * count / total:.1f} % | `{demangle(name)}` |")
    if args.blocks:
        print("\n| instructions | block | its length | executions | function |\n|---:|---|---:|---:|---|")
        hottest = sorted(runs, key=lambda a: runs[a] * size.get(a, 0), reverse=True)
        for address in hottest[: args.blocks]:
            n = size.get(address, 0)
            name = demangle(function.get(address, "?"))
            print(f"| {runs[address] * n:,} | 0x{address:08x} | {n} | {runs[address]:,} | `{name}` |")


if __name__ == "__main__":
    main()
