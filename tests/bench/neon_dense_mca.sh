#!/bin/sh
# Inner loops of the dense NEON kernels (kernels/dense/neon): instructions per MAC
# from the disassembly, and llvm-mca throughput as a percentage of the core's
# peak int8 MAC rate, for Cortex-A72 and Neoverse N1.
#
#   tests/bench/neon_dense_mca.sh [source-root]
#
# Method:
#  1. Cross-compile each kernel source as the meson build does (-O2, baseline
#     ARMv8-A; +dotprod for the SDOT kernel) and disassemble each kernel
#     function with objdump.
#  2. The innermost loops (a backward branch with no other loop inside) with
#     the most MAC instructions of each kernel are reported: SDOT .16b 16
#     MACs; SMULL/SMLAL(2) into .8h 8 MACs; SMLAL(2) into .4s from 16-bit
#     lanes 4 MACs. Instructions per MAC = loop instructions / loop MACs.
#     Kernels have one loop per version (paired/unpaired products; left
#     shifts, right shifts only (sl_dense_requant.all_rsh), without the
#     negative-tie fix-up (clamps_negative: ReLU/ReLU6, every depthwise layer
#     of MobileNet v2) or neither; int8 or
#     uint8 input and output): each version is a row, except that versions
#     differing only in the data types (same instruction count but for a
#     narrowing or widening instruction) share one, which simulates the
#     longest of them and says how many it stands for.
#     What a loop holds differs: the GEMM and "dw any" loops are MAC-only
#     (K steps, taps); the "dw 3x3" loops are whole output pixels, the 9 taps
#     AND the requantization and store of their 16 (smlal16: 8) outputs,
#     which in depthwise is per 9 MACs, not per K, and cannot leave the loop.
#  3. llvm-mca simulates 1000 iterations of the loop: MACs per cycle = loop
#     MACs / cycles per iteration, as a percentage of the peak below.
#  4. Peaks, measured with the same tool on 12 independent instances of the
#     core's best int8 MAC instruction: Cortex-A72 SMLAL 8b->8h (it has no
#     dot product; one multiply pipe, 8 MACs/cycle); Neoverse N1 SDOT (two
#     pipes, 32 MACs/cycle). The N1 rows of the SMLAL kernels are against
#     N1's SMLAL peak (one pipe, 8 MACs/cycle), the best an ARMv8.0 kernel can
#     do there (a quarter of the SDOT peak).
#  5. Caveat: LLVM 14 (Debian 12) has no Neoverse-N1 (or A72/A76) scheduling
#     model: -mcpu=neoverse-n1 and cortex-a72 both use the Cortex-A57 model,
#     which is right for A72 (same pipes) and pessimistic for N1 (3-wide
#     dispatch instead of 4-wide decode / 8-wide dispatch, one load pipe
#     instead of two). N1 therefore also gets a port-count estimate from the
#     N1 Software Optimization Guide's throughputs: 4 instructions decoded, 2
#     loads (one 128-bit register each; a 4-register LD1 counts 4), 3 integer
#     ops per cycle; ASIMD: multiplies (MUL, SMULL, SMLAL, SQRDMULH) on V0
#     only, SADALP, shifts and narrowing on V1 only, the rest (SDOT included)
#     on either; cycles = the largest of the resulting bounds.
#  6. "MAC part only" (whole-pixel depthwise loops, i.e. those with SQRDMULH):
#     the same loop with the requantization and output instructions deleted
#     (SQRDMULH, SSRA, SRSHL, SSHL, the fix-up AND, the zero-point ADD/SQADD,
#     narrowing, clamping, stores; the loads of the constants stay), simulated
#     the same way. It is not a runnable loop: it shows what the taps alone
#     cost, for comparison with the MAC-only GEMM rows.
#  7. Bound of the 3x3 depthwise loops. Per 16 outputs (144 MACs), with the
#     A57 model's costs (SQRDMULH and SRSHL on 4 lanes take their pipe 2
#     cycles): 18 multiplies (F0) + 20 SADDW (the int16 pair sums widened
#     into int32: either pipe) + requantization (right shifts only: 4
#     SQRDMULH = 8 F0 cycles; SSRA, SRSHL, narrowing and SQADD = 20 F1
#     cycles; 2 clamps) = 68 pipe-cycles on 2 pipes: at least 34 cycles, 53 %
#     of the SMLAL peak, whatever the loads. In a layer that clamps negative
#     values (ReLU6: MobileNet v2's depthwise layers) the 4 SSRA (4 F1
#     cycles) go: 64 pipe-cycles, at least 32 cycles, 56 %. The gemmlowp
#     rounding (bit-exact with TFLite) leaves no cheaper requantization, and
#     two int8 products fill an int16 lane, so the widening cannot be shared
#     further.
# Needs gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu, llvm (llvm-mca), python3.
set -eu

ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
CC=${CC_AARCH64:-aarch64-linux-gnu-gcc}
OBJDUMP=${OBJDUMP_AARCH64:-aarch64-linux-gnu-objdump}
MCA=${LLVM_MCA:-llvm-mca}
for t in "$CC" "$OBJDUMP" "$MCA" python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "neon_dense_mca.sh: $t not found" >&2; exit 77; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
CFLAGS="-O2 -g -std=c17 -D_GNU_SOURCE -fno-strict-aliasing -I$ROOT"
S=$ROOT/kernels/dense/neon

"$CC" $CFLAGS -march=armv8.2-a+dotprod -c "$S/gemm_sdot.c" -o "$TMP/gemm_sdot.o"
"$CC" $CFLAGS -c "$S/gemm_smlal.c" -o "$TMP/gemm_smlal.o"
"$CC" $CFLAGS -c "$S/dw_smlal.c" -o "$TMP/dw_smlal.o"
"$CC" $CFLAGS -c "$S/dw_3x3.c" -o "$TMP/dw_3x3.o"

# Innermost MAC loops of one function, written to $TMP/loop.<i>.s; prints one
# line per loop: "i insns macs n1_port_cycles has_smlal".
extract() { # object function
	"$OBJDUMP" -d --no-show-raw-insn --disassemble="$2" "$1" | python3 -c '
import re, sys
tmp = sys.argv[1]
ins = []
for line in sys.stdin:
    m = re.match(r"\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line.rstrip())
    if m:
        ins.append((int(m.group(1), 16), m.group(2), m.group(3).split("//")[0].strip()))
def macs(op, a):
    if op in ("sdot", "udot"):
        return 16
    if re.match(r"[su]m(ull|lal|lsl)2?$", op):
        if ".8h" in a.split(",")[0]:
            return 8
        if ".4s" in a.split(",")[0] and (".4h" in a or ".8h" in a):
            return 4
    return 0
def target(addr, op, a):
    if not (op == "b" or op.startswith("b.") or op in ("cbz", "cbnz", "tbz", "tbnz")):
        return None
    t = re.match(r"([0-9a-f]+) <", a.split(",")[-1].strip())
    return int(t.group(1), 16) if t and int(t.group(1), 16) <= addr else None
loops = []
for i, (addr, op, a) in enumerate(ins):
    t = target(addr, op, a)
    if t is not None:
        s = next((j for j, x in enumerate(ins) if x[0] == t), None)
        if s is not None:
            loops.append((s, i))
found = []
V0 = re.compile(r"^(mul|mla|mls|[su]mull2?|[su]mlal2?|[su]mlsl2?|sqr?dmulh)$")
V1 = re.compile(r"^([su]adalp|[su]addlp|[su]r?shl|[su]r?shr|shl|sq?shrn2?|[su]qxtu?n2?|sqxtun2?|xtn2?|[su]shll2?|[su]xtl2?)$")
out = 0
for s, e in loops:
    if any(s2 >= s and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops):
        continue
    body = ins[s:e + 1]
    n = sum(macs(o, a) for _, o, a in body)
    if n:
        found.append((n, s, e))
def ports(body):
    loads = v0 = v1 = vany = integer = 0
    for _, o, a in body:
        if o.startswith("ld"):
            r = re.match(r"\{\s*v(\d+)\.\w+\s*-\s*v(\d+)", a)
            loads += (int(r.group(2)) - int(r.group(1)) + 1) if r else (2 if o == "ldp" else 1)
        elif o.startswith("st"):
            integer += 1
        elif re.search(r"\bv\d+\.", a) or re.match(r"^[dqs]\d", a) or o == "sdot":
            if V0.match(o):
                v0 += 1
            elif V1.match(o):
                v1 += 1
            else:
                vany += 1
        elif not (o == "b" or o.startswith("b.") or o in ("cbz", "cbnz", "tbz", "tbnz")):
            integer += 1
    return max(len(body) / 4.0, loads / 2.0, integer / 3.0, float(v0), float(v1), (v0 + v1 + vany) / 2.0)
# Requantization and output instructions of the depthwise loops (the fix-up
# AND and the zero point ADD only in their .4s/.16b forms next to them).
RQ = re.compile(r"^(sqrdmulh|ssra|srshl|sshl|sq?xtu?n2?|sqadd|[su]max|[su]min|st[r1p].*)$")
def mac_part(body):
    return [x for x in body if not (RQ.match(x[1]) or (x[1] in ("and", "add") and ".4s" in x[2] and
                                                        not any(m in x[2] for m in (".4h", ".8h"))) or
                                    (x[1] == "and" and ".16b" in x[2]))]
best = max((n for n, _, _ in found), default=0)
recs = []
for n, s, e in found:
    if n < best:
        continue
    body = ins[s:e + 1]
    n1 = ports(body)
    tags = []
    if any(o.startswith("smull") for _, o, _ in body) and any(o == "smlal2" for _, o, _ in body):
        tags.append("paired")
    elif any(o == "smull2" for _, o, _ in body) and any(o == "sadalp" for _, o, _ in body):
        tags.append("unpaired")
    if any(o == "sshl" for _, o, _ in body):
        tags.append("lshift")
    if any(o == "sqadd" for _, o, _ in body):
        tags.append("right shifts only")
        if any(o == "sqrdmulh" for _, o, _ in body) and not any(o == "ssra" for _, o, _ in body):
            tags.append("clamps negative")
    recs.append((tags, body, n, n1, any(o.startswith("sqxtun") for _, o, _ in body) or
                 any(o.startswith("usubl") for _, o, _ in body)))
# Versions that differ only in the input or output type (uint8 / int8: a
# different narrowing or widening instruction, same count) form one row: the
# longest loop of the group is simulated, and the row says how many it stands for.
groups = {}
for r in recs:
    groups.setdefault(",".join(r[0]), []).append(r)
for key, rs in groups.items():
    tags, body, n, n1, _ = max(rs, key=lambda r: (len(r[1]), r[3]))
    with open("%s/loop.%d.s" % (tmp, out), "w") as f:
        f.write("loop:\n")
        for _, o, a in body[:-1]:
            f.write("\t%s %s\n" % (o, a))
        o, a = body[-1][1], body[-1][2]
        parts = a.split(",")
        parts[-1] = " loop"
        f.write("\t%s %s\n" % (o, ",".join(parts)))
    label = list(tags)
    if len(rs) > 1:
        label.append("%d dtype versions" % len(rs))
    mac = mac_part(body)
    if any(o == "sqrdmulh" for _, o, _ in body):
        with open("%s/loop.%d.mac.s" % (tmp, out), "w") as f:
            f.write("loop:\n")
            for _, o, a in mac[:-1]:
                f.write("\t%s %s\n" % (o, a))
            f.write("\t%s %s\n" % (o, ",".join(parts)))
    print(out, len(body), n, "%.2f" % n1, ",".join(label).replace(" ", "_") or "-", len(mac), "%.2f" % ports(mac))
    out += 1
' "$TMP"
}

cycles() { # cpu file
	"$MCA" -mtriple=aarch64 -mcpu="$1" -iterations=1000 "$2" 2>/dev/null | awk '/^Total Cycles:/ { print $3 / 1000 }'
}

peak() { # cpu insn macs-per-insn: MACs per cycle of 12 independent instances
	i=0
	while [ $i -lt 12 ]; do
		echo "	$(echo "$2" | sed "s/ACC/v$((i + 4))/")"
		i=$((i + 1))
	done >"$TMP/peak.s"
	awk -v c="$(cycles "$1" "$TMP/peak.s")" -v m="$3" 'BEGIN { printf "%.2f", 12 * m / c }'
}

P_A72=$(peak cortex-a72 "smlal ACC.8h, v0.8b, v1.8b" 8)
P_N1_SMLAL=$(peak neoverse-n1 "smlal ACC.8h, v0.8b, v1.8b" 8)
P_N1_DOT=$(peak neoverse-n1 "sdot ACC.4s, v0.16b, v1.4b[1]" 16)
printf "Peak int8 MACs/cycle (llvm-mca): Cortex-A72 SMLAL %s; Neoverse-N1 SDOT %s, SMLAL %s (A57 model)\n" \
	"$P_A72" "$P_N1_DOT" "$P_N1_SMLAL"
printf "N1 port-count peaks: SDOT 32 (2 pipes x 16), SMLAL 8 (V0 only)\n\n"
printf "%-70s %5s %5s %9s  %-24s %8s %8s %7s\n" "kernel loop" insns MACs insns/MAC "core (model)" cyc/iter MACs/cyc "% peak"

row() { # label insns macs core-label cycles peak
	awk -v n="$1" -v i="$2" -v m="$3" -v core="$4" -v c="$5" -v p="$6" 'BEGIN {
		printf "%-70s %5d %5d %9.3f  %-24s %8.2f %8.2f %6.0f%%\n", n, i, m, i / m, core, c, m / c, 100 * m / c / p }'
}

report() { # label object function dot(0/1)
	rm -f "$TMP"/loop.*.s
	extract "$2" "$3" >"$TMP/loops.txt"
	while read -r idx insns macs n1 tags mac_insns mac_n1; do
		f=$TMP/loop.$idx.s
		label="$1"
		[ "$tags" = - ] || label="$label ($(echo "$tags" | tr _ ' ' | sed 's/,/, /g'))"
		if [ "$4" = 1 ]; then
			row "$label" "$insns" "$macs" "neoverse-n1 (A57 model)" "$(cycles neoverse-n1 "$f")" "$P_N1_DOT"
			row "" "$insns" "$macs" "neoverse-n1 (ports)" "$n1" 32
		else
			row "$label" "$insns" "$macs" "cortex-a72 (A57 model)" "$(cycles cortex-a72 "$f")" "$P_A72"
			row "" "$insns" "$macs" "neoverse-n1 (A57 model)" "$(cycles neoverse-n1 "$f")" "$P_N1_SMLAL"
			row "" "$insns" "$macs" "neoverse-n1 (ports)" "$n1" 8
			m=$TMP/loop.$idx.mac.s
			if [ -f "$m" ]; then
				row "  MAC part only (see 6.)" "$mac_insns" "$macs" "cortex-a72 (A57 model)" "$(cycles cortex-a72 "$m")" "$P_A72"
				row "" "$mac_insns" "$macs" "neoverse-n1 (ports)" "$mac_n1" 8
			fi
		fi
	done <"$TMP/loops.txt"
}

report "gemm sdot 8x8, 16 K" "$TMP/gemm_sdot.o" sl_dense_gemm_sdot_8x8 1
report "gemm smlal 4x4, 16 K" "$TMP/gemm_smlal.o" sl_dense_gemm_smlal_4x4 0
report "dw 3x3s1 smlal8, 2 px x 16 ch" "$TMP/dw_3x3.o" sl_dense_dw_3x3s1_smlal8 0
report "dw 3x3 smlal8, pixel x 16 ch" "$TMP/dw_3x3.o" sl_dense_dw_3x3_smlal8 0
report "dw 3x3 smlal16, pixel x 8 ch" "$TMP/dw_3x3.o" sl_dense_dw_3x3_smlal16 0
report "dw any smlal8, tap pair" "$TMP/dw_smlal.o" sl_dense_dw_any_smlal8 0
report "dw any smlal16, tap" "$TMP/dw_smlal.o" sl_dense_dw_any_smlal16 0
