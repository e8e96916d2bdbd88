#!/bin/sh
# synth-yosys.sh - Yosys synth_xilinx on an emitted design; prints the LUT,
# CARRY and flip-flop counts (and DSP, INV and the run time) as one line
# of JSON:
#
#   {"lut": N, "carry": N, "ff": N, "dsp": N, "inv": N, "seconds": S}
#
# "lut" sums LUT1..LUT6; INV cells (which Vivado absorbs into LUTs) are
# counted apart, see rtl-notes.md 4.2.  The design is flattened, so the
# count compares with the LUT estimate of hgq-emit-verilog.
#
# usage: synth-yosys.sh [-t TOP] [--nodsp] [--family FAMILY] FILE.v...
#
#   -t TOP         the top module [found by Yosys]
#   --nodsp        no DSP blocks: multipliers go to LUTs as well (for a
#                  LUT-to-LUT comparison with --style behavioral)
#   --family F     synth_xilinx -family [xc7]
#
# Exit status 0 on success, 1 when Yosys fails, 2 on a usage error.
set -u

top=""
nodsp=""
family="xc7"
usage() {
	echo "usage: synth-yosys.sh [-t TOP] [--nodsp] [--family FAMILY]" \
	    "FILE.v..." >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-t) [ $# -ge 2 ] || usage; top=$2; shift 2 ;;
	--nodsp) nodsp="-nodsp"; shift ;;
	--family) [ $# -ge 2 ] || usage; family=$2; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
command -v yosys >/dev/null 2>&1 || {
	echo "synth-yosys.sh: yosys is not installed" >&2
	exit 1
}
for f in "$@"; do
	[ -r "$f" ] || { echo "synth-yosys.sh: cannot read '$f'" >&2; exit 1; }
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -n "$top" ]; then
	pre=""
	topopt="-top $top"
else
	pre="hierarchy -auto-top;"
	topopt=""
fi
start=$(date +%s.%N)
# the files on the command line are read before the -p script runs
if ! yosys -q -l "$tmp/log" -p "$pre synth_xilinx -family $family -noiopad \
    -flatten $nodsp $topopt; tee -q -o $tmp/stat.txt stat" "$@" \
    >/dev/null 2>&1; then
	echo "synth-yosys.sh: yosys failed:" >&2
	grep -i error "$tmp/log" | head -n 5 >&2
	exit 1
fi
end=$(date +%s.%N)

awk -v t0="$start" -v t1="$end" '
	$1 ~ /^LUT[1-6]$/ { lut += $2 }
	$1 ~ /^CARRY[48]$/ { carry += $2 }
	$1 ~ /^FD[RSCP]E$/ || $1 ~ /^FD[RSCP]E_1$/ || $1 == "FDRE" { ff += $2 }
	$1 ~ /^DSP48/ { dsp += $2 }
	$1 == "INV" { inv += $2 }
	END {
		printf "{\"lut\": %d, \"carry\": %d, \"ff\": %d, \"dsp\": %d, " \
		    "\"inv\": %d, \"seconds\": %.1f}\n", lut, carry, ff, dsp,
		    inv, t1 - t0
	}' "$tmp/stat.txt"
