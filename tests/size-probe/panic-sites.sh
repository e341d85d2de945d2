#!/usr/bin/env bash
# Lists the runtime source lines from which a panic is still reachable in the size probe
# (docs/panic-free.md). Usage: tests/size-probe/panic-sites.sh TARGET FEATURES [OPT_LEVEL]
# e.g. tests/size-probe/panic-sites.sh thumbv7em-none-eabihf runtime,all-ops,fast-kernels,sha256
# Builds the `panic-never` probe with line tables, links it in spite of the undefined symbol,
# and maps every call into a panic function to the first frame in this repository.
set -euo pipefail
target=$1
features=$2
opt=${3:-z}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${CARGO_TARGET_DIR:-$root/target}/panic-never/sites-$target-$opt
mkdir -p "$dir"
# The linker keeps going past the undefined symbol, and gives the line tables of discarded code
# an address nothing has (not 0, where the image starts); LLVM keeps each panic call apart (no
# tail merging, no outlining: both only rearrange machine code, after the panics were removed).
flags="-C link-arg=--noinhibit-exec -C link-arg=-zdead-reloc-in-nonalloc=.debug_*=0xffffffff"
flags+=" -C llvm-args=-enable-tail-merge=false -C llvm-args=-enable-machine-outliner=never"
CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    RUSTFLAGS="$flags" cargo build --release --quiet --target "$target" \
    --manifest-path "$root/tests/size-probe/Cargo.toml" --target-dir "$dir" \
    --features "$features,panic-never" 2>"$dir.log" || { cat "$dir.log" >&2; exit 1; }
elf=$dir/$target/release/whittle-size-probe
# Every call or tail call to a function: "address caller callee" (mangled names). A RISC-V
# call is an `auipc` and a `jalr`/`jr` pair, which llvm-objdump leaves unresolved: its target
# is computed here, and named by the function starting there.
calls=$(llvm-objdump -d --no-show-raw-insn "$elf" | awk '
    function hex(s,   n, i) {
        n = 0
        for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return n
    }
    /^[0-9a-f]+ <[^.$].*>:$/ { start[hex($1)] = substr($2, 2, length($2) - 3) }
    { lines[NR] = $0 }
    END {
        for (l = 1; l <= NR; l++) {
            line = lines[l]; split(line, f, /[ \t,]+/)
            if (line ~ /^[0-9a-f]+ <[^.$].*>:$/) { fn = substr(f[2], 2, length(f[2]) - 3); continue }
            if (line !~ /^ +[0-9a-f]+:/) continue
            addr = f[2]; sub(":", "", addr)
            if (match(line, /<[^>+ ]+>/)) {
                t = substr(line, RSTART + 1, RLENGTH - 2)
                if (t != fn) print addr, fn, t
            } else if (f[3] == "auipc") {
                imm = f[5] + 0; if (imm >= 524288) imm -= 1048576
                base[f[4]] = hex(addr) + imm * 4096
            } else if ((f[3] == "jalr" || f[3] == "jr") && match(line, /-?[0-9]+\([a-z0-9]+\)/)) {
                off = substr(line, RSTART, RLENGTH); reg = off
                sub(/\(.*/, "", off); sub(/.*\(/, "", reg); sub(/\)/, "", reg)
                if ((reg in base) && ((base[reg] + off) in start)) print addr, fn, start[base[reg] + off]
            }
        }
    }')
panicky='panic|_fail|div_by_zero'

# Reports the calls to functions matching $1: the frames in this repository, innermost first
# (line 0 is compiler-made); a call from a library function that is not itself a panic
# function is followed up to its callers.
report() {
    local depth=$2
    echo "$calls" | awk -v re="$1" '$3 ~ re' | while read -r addr caller callee; do
        site=$(llvm-addr2line -i -e "$elf" "0x$addr" | grep "^$root/" | sed "s|^$root/||" |
            paste -sd' ' | sed 's/ / < /g' || true)
        if [ -n "$site" ]; then
            echo "$site -> $(echo "$callee" | llvm-cxxfilt | sed -E 's/::h[0-9a-f]+$//; s/^_//
                s/\$LT\$/</g; s/\$GT\$/>/g; s/\$u20\$/ /g; s/\$u5b\$/[/g; s/\$u5d\$/]/g
                s/\$C\$/,/g; s/\.\./::/g')"
        elif ! [[ $caller =~ $panicky ]] && [ "$depth" -lt 4 ]; then
            report "^${caller//$/\\$}\$" $((depth + 1))
        fi
    done
}
sites=$(report "$panicky" 0 | sort | uniq -c)
echo "${sites:-no call to a panic function is left}"
