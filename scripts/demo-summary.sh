#!/bin/sh
# demo-summary.sh - the summary of a `make demo` run as Markdown, on
# standard output: the final model's metrics, the Yosys model, the Pareto
# front and the machine.
#
# usage: demo-summary.sh [-c CONFIG] [-f TRAIN_FLAGS] [-x TEST_X] DIR
#
# DIR holds the files mk/demo.mk makes: sim.json, ebops.json,
# uniform8.txt, verilog.json, iverilog.log, pareto.tsv, synth.txt,
# synth.json, yosys.json, and train.tsv and train.seconds when present.
# pareto.tsv has the columns model, models (final, front or tuned),
# ebops, test_acc, lut_estimate, n_test; synth.txt is one of its rows.
# CONFIG, TRAIN_FLAGS and TEST_X are only quoted in the text.
#
# Exit status 0 on success, 1 when a file is missing or incomplete, 2 on a
# usage error.
set -eu

usage() {
	echo "usage: demo-summary.sh [-c CONFIG] [-f TRAIN_FLAGS] [-x TEST_X] DIR" >&2
	exit 2
}
die() {
	echo "demo-summary.sh: $*" >&2
	exit 1
}

config="" flags="" testx=""
while getopts c:f:x: opt; do
	case $opt in
	c) config=$OPTARG ;;
	f) flags=$OPTARG ;;
	x) testx=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
dir=$1
for f in sim.json ebops.json uniform8.txt verilog.json iverilog.log \
    pareto.tsv synth.txt synth.json yosys.json; do
	[ -s "$dir/$f" ] || die "missing or empty '$dir/$f'"
done

# the first number stored under "KEY" in FILE
jget() {
	v=$(grep -o "\"$1\": *[-0-9.eE+]*" "$2" | head -n 1 | sed 's/.*: *//')
	[ -n "$v" ] || die "no \"$1\" in '$2'"
	printf '%s' "$v"
}
# 3362816 -> 3,362,816
num() {
	awk -v x="$1" 'BEGIN { while (x ~ /[0-9][0-9][0-9][0-9]/)
	    sub(/[0-9][0-9][0-9]($|,)/, ",&", x); print x }'
}
pct() {
	awk -v x="$1" 'BEGIN { printf "%.2f %%", 100 * x }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

n_test=$(jget n "$dir/sim.json")
if grep -q '"accuracy"' "$dir/sim.json"; then
	quality="$(pct "$(jget accuracy "$dir/sim.json")")"
	quality_name="test accuracy"
else
	quality="$(jget mse "$dir/sim.json")"
	quality_name="test mean squared error"
fi
ebops=$(jget total_ebops "$dir/ebops.json")
ebops_lut=$(jget lut_estimate "$dir/ebops.json")
uniform=$(cat "$dir/uniform8.txt")
case $uniform in
''|*[!0-9]*) die "'$dir/uniform8.txt' is not a number of EBOPs" ;;
esac
adders=$(jget adders "$dir/verilog.json")
vlut=$(jget lut_estimate "$dir/verilog.json")
vff=$(jget ff "$dir/verilog.json")
latency=$(jget latency_cycles "$dir/verilog.json")
depth=$(jget max_adder_depth "$dir/verilog.json")
pipeline=$(jget pipeline "$dir/verilog.json")
pass=$(grep '^PASS ' "$dir/iverilog.log" | head -n 1 | cut -d ' ' -f 2)
[ -n "$pass" ] || die "'$dir/iverilog.log' does not say PASS"

synth_model=$(cut -f 1 "$dir/synth.txt")
synth_set=$(cut -f 2 "$dir/synth.txt")
synth_ebops=$(cut -f 3 "$dir/synth.txt")
synth_acc=$(cut -f 4 "$dir/synth.txt")
synth_adders=$(jget adders "$dir/synth.json")
synth_vlut=$(jget lut_estimate "$dir/synth.json")
ylut=$(jget lut "$dir/yosys.json")
ycarry=$(jget carry "$dir/yosys.json")
yff=$(jget ff "$dir/yosys.json")
ysec=$(jget seconds "$dir/yosys.json")

if [ "$pipeline" -eq 0 ]; then
	lat="combinational (adder depth $depth)"
else
	lat="$latency clock cycles (a register every $pipeline adder levels; adder depth $depth)"
fi
epochs=""
[ -s "$dir/train.tsv" ] &&
    epochs=$(awk -F '\t' '!/^#/ && NF > 1 { e = $1 } END { print e }' "$dir/train.tsv")
seconds=""
[ -s "$dir/train.seconds" ] && seconds=$(cat "$dir/train.seconds")

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)

echo "# hgq demo"
echo
printf 'Config `%s`' "${config:-?}"
[ -n "$flags" ] && printf ' with `%s`' "$flags"
printf '; test data `%s`.\n' "${testx:-?}"
echo
echo "| | final model (pruned) |"
echo "|---|---|"
echo "| $quality_name (bit-exact, hgq-sim, $(num "$n_test") rows) | $quality |"
echo "| EBOPs (exact, hgq-ebops) | $(num "$ebops") |"
echo "| uniform 8-bit EBOPs of the same network | $(num "$uniform") ($(ratio "$uniform" "$ebops") x) |"
echo "| adders (hgq-emit-verilog) | $(num "$adders") |"
echo "| LUT estimate (hgq-emit-verilog: the adders' carry chains) | $(num "$vlut") |"
echo "| LUT estimate (hgq-ebops: 0.667 x EBOPs^1.090, fitted below 8,000 EBOPs) | $(num "$ebops_lut") |"
echo "| flip-flops | $(num "$vff") |"
echo "| latency | $lat |"
echo "| Icarus Verilog, first $(num "$pass") test rows | PASS |"
echo "| Yosys synth_xilinx LUTs (model \`$synth_model\`, below) | $(num "$ylut") |"
[ -n "$epochs" ] && echo "| training | $epochs epochs${seconds:+, $seconds s} |"
echo
echo "## Yosys"
echo
echo "synth_xilinx (xc7, flattened) ran on \`$synth_model\` ($synth_set),"
echo "the most accurate model of the table below within the EBOPs limit of"
echo "the demo (or the cheapest one), so that it finishes in minutes;"
echo "the LUT estimate is that of hgq-emit-verilog for the same design."
echo
echo "| model | EBOPs | test accuracy | adders | LUT estimate | Yosys LUTs | estimate / Yosys | CARRY | FF | Yosys time |"
echo "|---|---|---|---|---|---|---|---|---|---|"
echo "| \`$synth_model\` | $(num "$synth_ebops") | $(pct "$synth_acc") | $(num "$synth_adders") | $(num "$synth_vlut") | $(num "$ylut") | $(ratio "$synth_vlut" "$ylut") | $(num "$ycarry") | $(num "$yff") | $ysec s |"
echo
echo "## Pareto front"
echo
echo "On the test rows: the final model, every model hgq-train kept on the"
echo "front of validation accuracy and EBOPs (front), and the front of the"
echo "final model trained on with a larger beta (tuned); pareto.png and"
echo "pareto.svg plot them."
echo
echo "| model | models | EBOPs | test accuracy | LUT estimate (hgq-ebops, from EBOPs) |"
echo "|---|---|---|---|---|"
awk -F '\t' '!/^#/ { print $3 "\t" $0 }' "$dir/pareto.tsv" | sort -n |
    cut -f 2- | while IFS="$(printf '\t')" read -r m set e a l _; do
	case $a in
	mse=*) acc=$a ;;
	*) acc=$(pct "$a") ;;
	esac
	echo "| \`$m\` | $set | $(num "$e") | $acc | $(num "$l") |"
done
echo
echo "## Machine"
echo
echo "- CPUs: $(nproc 2>/dev/null || echo ?) ($cpu)"
echo "- system: $(uname -srm)"
