#!/bin/sh
# NEON inner loops of the sparse kernels (kernels/sparse/neon): instructions
# per MAC from the disassembly, and llvm-mca throughput as a percentage of the
# core's peak int8 (or fp32) MAC rate.
#
#   tests/bench/neon_mca.sh [source-root]
#
# Method:
#  1. Cross-compile each NEON kernel as the meson build does (-O2, baseline
#     ARMv8-A; +dotprod for the SDOT kernel) and disassemble it with objdump.
#  2. The inner loop is the backward branch whose body holds the most MAC
#     instructions (SDOT 16 MACs; SMULL/SMULL2/SMLAL/SMLAL2 8b->8h 8 MACs; FMLA
#     .4s 4 MACs). Instructions per MAC = loop instructions / loop MACs.
#  3. llvm-mca simulates 1000 iterations of that loop for each core model:
#     MACs per cycle = loop MACs / (total cycles / iterations).
#  4. The peak is measured with the same tool on a loop of independent
#     instances of the core's best MAC instruction: SDOT on Neoverse N1 (A76
#     family); SMLAL 8b->8h on Cortex-A72, which has no dot product (MLA .16b
#     would count more MACs but accumulates in 8 bits, useless for int8
#     inference); FMLA .4s for fp32.
#  5. Caveat: LLVM 14 (Debian 12; 16 as well) has no Neoverse-N1 scheduling
#     model and simulates -mcpu=neoverse-n1 (and cortex-a72/a76) with the
#     Cortex-A57 model: right for A72, too pessimistic for N1 (one load pipe
#     instead of two, 3-wide instead of 4-wide). So N1 also gets a port-count
#     estimate from the N1 Software Optimization Guide's resources: 4 decoded
#     instructions, 2 loads (one 128-bit register each), 2 ASIMD ops (SDOT,
#     SMLAL, FMLA, ... on V0/V1) and 3 integer ops per cycle; cycles = the
#     largest of those four counts divided by its rate.
# Needs gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu, llvm (llvm-mca), python3.
set -eu

ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
CC=${CC_AARCH64:-aarch64-linux-gnu-gcc}
OBJDUMP=${OBJDUMP_AARCH64:-aarch64-linux-gnu-objdump}
MCA=${LLVM_MCA:-llvm-mca}
for t in "$CC" "$OBJDUMP" "$MCA" python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "neon_mca.sh: $t not found" >&2; exit 77; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
CFLAGS="-O2 -std=c17 -D_GNU_SOURCE -fno-strict-aliasing -I$ROOT"
S=$ROOT/kernels/sparse/neon

"$CC" $CFLAGS -march=armv8.2-a+dotprod -c "$S/q8_neondot.c" -o "$TMP/q8_neondot.o"
"$CC" $CFLAGS -c "$S/q8_neon.c" -o "$TMP/q8_neon.o"
"$CC" $CFLAGS -c "$S/f32_neon.c" -o "$TMP/f32_neon.o"

# Extract the hottest loop of an object as llvm-mca input; print "insns macs".
extract() {
	"$OBJDUMP" -d --no-show-raw-insn "$1" | python3 -c '
import re, sys
ins = []
for line in sys.stdin:
    m = re.match(r"\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line.rstrip())
    if m:
        ins.append((int(m.group(1), 16), m.group(2), m.group(3).split("//")[0].strip()))
def macs(op, args):
    if op == "sdot" or op == "udot":
        return 16
    if op in ("smull", "smull2", "smlal", "smlal2", "umull", "umull2", "umlal", "umlal2") and ".8h" in args:
        return 8
    if op == "fmla" and ".4s" in args:
        return 4
    return 0
def back_target(addr, op, args):
    if not (op == "b" or op.startswith("b.") or op in ("cbz", "cbnz", "tbz", "tbnz")):
        return None
    t = re.match(r"([0-9a-f]+) <", args.split(",")[-1].strip())
    return int(t.group(1), 16) if t and int(t.group(1), 16) < addr else None
loops = []
for i, (addr, op, args) in enumerate(ins):
    t = back_target(addr, op, args)
    if t is not None:
        loops.append((next(j for j, x in enumerate(ins) if x[0] == t), i))
best = None
for start, end in loops:
    # innermost: no other loop inside
    if any(s >= start and e < end for s, e in loops if (s, e) != (start, end)):
        continue
    body = ins[start:end + 1]
    n = sum(macs(o, a) for _, o, a in body)
    if n and (best is None or n > best[0]):
        best = (n, body)
n, body = best
with open(sys.argv[1], "w") as f:
    f.write("loop:\n")
    for addr, op, args in body[:-1]:
        f.write("\t%s %s\n" % (op, args))
    op, args = body[-1][1], body[-1][2]
    parts = args.split(",")
    parts[-1] = " loop"
    f.write("\t%s %s\n" % (op, ",".join(parts)))
loads = asimd = integer = 0
for _, op, args in body:
    if op.startswith("ld"):
        r = re.match(r"\{\s*v(\d+)\.\w+\s*-\s*v(\d+)", args)
        loads += (int(r.group(2)) - int(r.group(1)) + 1) if r else (2 if op == "ldp" else 1)
    elif re.match(r"v\d+\.", args) or op in ("sdot", "fmla"):
        asimd += 1
    elif not (op == "b" or op.startswith("b.") or op in ("cbz", "cbnz")):
        integer += 1
n1 = max(len(body) / 4.0, loads / 2.0, asimd / 2.0, integer / 3.0)
print(len(body), n, "%.2f" % n1)
' "$2"
}

# Cycles per iteration of a loop under a core model.
cycles() {
	"$MCA" -mtriple=aarch64 -mcpu="$1" -iterations=1000 "$2" 2>/dev/null |
		awk '/^Total Cycles:/ { print $3 / 1000 }'
}

# Peak: 12 independent instances of a MAC instruction, MACs per cycle.
peak() { # cpu insn macs-per-insn
	{
		i=0
		while [ $i -lt 12 ]; do
			echo "	$(echo "$2" | sed "s/ACC/v$((i + 4))/")"
			i=$((i + 1))
		done
	} >"$TMP/peak.s"
	awk -v c="$(cycles "$1" "$TMP/peak.s")" -v m="$3" 'BEGIN { printf "%.2f", 12 * m / c }'
}

P_N1_DOT=$(peak neoverse-n1 "sdot ACC.4s, v0.16b, v1.4b[1]" 16)
P_N1_SMLAL=$(peak neoverse-n1 "smlal ACC.8h, v0.8b, v1.8b" 8)
P_A72_SMLAL=$(peak cortex-a72 "smlal ACC.8h, v0.8b, v1.8b" 8)
P_N1_FMLA=$(peak neoverse-n1 "fmla ACC.4s, v0.4s, v1.s[1]" 4)
P_A72_FMLA=$(peak cortex-a72 "fmla ACC.4s, v0.4s, v1.s[1]" 4)

printf "Peak MAC rates (llvm-mca models, MACs/cycle): N1 SDOT %s, N1 SMLAL %s, A72 SMLAL %s; fp32 FMLA: N1 %s, A72 %s\n\n" \
	"$P_N1_DOT" "$P_N1_SMLAL" "$P_A72_SMLAL" "$P_N1_FMLA" "$P_A72_FMLA"
printf "%-34s %6s %5s %9s  %-22s %8s %9s %7s\n" kernel insns MACs insns/MAC "core (model)" cyc/iter MACs/cyc "% peak"

report() { # name object core peak-rate [core peak-rate ...] (core "n1-ports": the estimate of step 5)
	name=$1 obj=$2
	shift 2
	set -- $(extract "$obj" "$TMP/loop.s") "$@"
	insns=$1 macs=$2 n1=$3
	shift 3
	while [ $# -ge 2 ]; do
		case $1 in
		n1-ports) c=$n1 label="neoverse-n1 (ports)" ;;
		neoverse-n1) c=$(cycles "$1" "$TMP/loop.s") label="neoverse-n1 (A57 mdl)" ;;
		*) c=$(cycles "$1" "$TMP/loop.s") label="$1 (llvm-mca)" ;;
		esac
		awk -v n="$name" -v i="$insns" -v m="$macs" -v core="$label" -v c="$c" -v p="$2" 'BEGIN {
			printf "%-34s %6d %5d %9.3f  %-22s %8.2f %9.2f %6.0f%%\n", n, i, m, i / m, core, c, m / c, 100 * m / c / p }'
		name=""
		shift 2
	done
}

# N1 port-model peaks: SDOT 2 x 16, SMLAL 2 x 8, FMLA .4s 2 x 4 MACs per cycle.
report "q8 SDOT (4 blocks x 16 px)" "$TMP/q8_neondot.o" neoverse-n1 "$P_N1_DOT" n1-ports 32
report "q8 SMULL+SADALP (2 blocks x 16 px)" "$TMP/q8_neon.o" cortex-a72 "$P_A72_SMLAL" neoverse-n1 "$P_N1_SMLAL" \
	n1-ports 16
report "f32 FMLA (1 block x 16 px)" "$TMP/f32_neon.o" cortex-a72 "$P_A72_FMLA" neoverse-n1 "$P_N1_FMLA" n1-ports 8
