#!/bin/sh
# hgq-emit-verilog on convolutional models under Icarus Verilog: random
# fitted models (conv1d/conv2d, valid and same, strides, max and average
# pooling, flatten, dense; per-element formats with zero widths, WRAP and
# SAT), combinational and pipelined, adder graphs and behavioral, each on
# 100 vectors whose expected outputs come from the engine: every testbench
# prints PASS 100 and every design is Verilator lint clean.  Then the
# golden conv models, and the identity quantizers after max-pooling and
# flatten: no logic of their own.
. "$TESTS_DIR/lib.sh"

if ! command -v iverilog >/dev/null 2>&1; then
	echo "ok 1 - # skip: iverilog is not installed"
	exit 0
fi
lint=1
command -v verilator >/dev/null 2>&1 || lint=0

archs="in:6x6x2,conv2d:3:3x3:1x1:same,maxpool:2x2,conv2d:4:2x2:2x2,flatten,dense:3
in:12x2,conv1d:3:3:2,avgpool:2,conv1d:2:2:1:same,maxpool:2,flatten,dense:4
in:5x7x1,conv2d:2:2x3:2x1,avgpool:2x1,flatten,dense:5,dense:2
in:9x3,maxpool:3:2,conv1d:4:2,flatten,dense:3"
s=0
cmp=0
for a in $archs; do
	s=$((s + 1))
	mkfixture --seed $((400 + s)) --fit --max-width $((3 + s)) --arch "$a" \
	    -o m$s.hgqm
	n_in=$(hgq-ebops --dump m$s.hgqm | awk -F'[][]' '/"index_map"/ \
	    { print split($2, a, ",") }')
	mkdata --seed $s --lo -9 --hi 9 100 "$n_in" x$s.npy
	for v in "0 adders" "2 adders" "1 behavioral"; do
		set -- $v
		t=$s-$1-$2
		ok "model $s ($a), pipeline $1, $2: emit" \
		    hgq-emit-verilog --style $2 --pipeline $1 --report json \
		    -o n$t.v --testbench tb$t.v --vectors x$s.npy m$s.hgqm
		[ $2 = adders ] && [ $1 = 0 ] && cmp=$((cmp + $(sed \
		    's/.*"comparators": \([0-9]*\), "layers".*/\1/' .out)))
		iverilog -g2005 -o sim$t tb$t.v n$t.v &&
		    vvp -n sim$t > run$t.txt 2>&1
		check "model $s, pipeline $1, $2: PASS 100" \
		    grep -q '^PASS 100$' run$t.txt
		[ $lint = 1 ] && check "model $s, pipeline $1, $2: lint clean" \
		    verilator --lint-only -Wall n$t.v
	done
done
check "the designs hold comparators ($cmp)" test "$cmp" -ge 20

# the identity quantizers: flatten and max-pooling layers cost only their
# comparators; one solve per pattern of taps, or one per position
mkfixture --seed 31 --fit --max-width 5 \
    --arch in:6x6x1,conv2d:4:3x3,maxpool:2x2,flatten,dense:4 -o id.hgqm
ok "identity: emit" hgq-emit-verilog --report text -o id.v id.hgqm
check "flatten: no adders, no LUTs" grep -q '^5	0	0	0	flatten	0	0	0	0$' .out
check "max-pooling: comparators only" \
    grep -q '^3	0	[0-9]*	[0-9]*	maxpool	[1-9][0-9]*	0	0	0$' .out
solves=$(awk -F'	' '$5 == "conv2d" { print $7 }' .out)
check "conv2d: fewer CMVMs ($solves) than 16 positions" \
    test "$solves" -ge 1 -a "$solves" -lt 16
ok "identity: one solve per position" \
    hgq-emit-verilog --share none --report text -o id2.v id.hgqm
check "conv2d: 16 CMVMs" \
    grep -q '^1	[0-9]*	[0-9]*	[0-9]*	conv2d	0	16	0	0$' .out

# the golden models of formats/examples
EX=$ROOT/formats/examples
mkdata --seed 1 20 16 g16.npy
mkdata --seed 2 20 12 g12.npy
for m in conv2d conv1d; do
	x=g16.npy
	[ $m = conv1d ] && x=g12.npy
	ok "$m: emit with a testbench" hgq-emit-verilog --pipeline 1 -o g$m.v \
	    --testbench gtb$m.v --vectors $x "$EX/$m.hgqm"
	iverilog -g2005 -o gsim$m gtb$m.v g$m.v && vvp -n gsim$m > grun$m.txt 2>&1
	check "$m: PASS 20" grep -q '^PASS 20$' grun$m.txt
done
done_testing
