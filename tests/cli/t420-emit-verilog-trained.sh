#!/bin/sh
# hgq-emit-verilog on a trained model: combinational, pipelined and
# behavioral designs equal hgq-sim under Icarus Verilog on all 1,500
# training rows (0 mismatches), and the report adds up.
. "$TESTS_DIR/lib.sh"

need hgq-train iverilog vvp

train_small

for p in 0 1 4; do
	ok "pipeline $p: emit" hgq-emit-verilog --pipeline $p --report json \
	    -o net$p.v --testbench tb$p.v --vectors x.csv t.hgqm
	cp .out r$p.json
	ok "pipeline $p: compile" iverilog -g2005 -o sim$p tb$p.v net$p.v
	vvp -n sim$p > run$p.txt 2>&1
	check "pipeline $p: PASS 1500" grep -q '^PASS 1500$' run$p.txt
done
check "combinational: latency 0, no flip-flops" \
    grep -q '"ff": 0, "latency_cycles": 0,' r0.json
check "one level per stage: latency = depth + 0" sh -c '
    d=$(sed "s/.*\"max_adder_depth\": \([0-9]*\),.*/\1/" r1.json)
    grep -q "\"latency_cycles\": $d," r1.json'
check "pipelined: flip-flops" sh -c '! grep -q "\"ff\": 0," r4.json'
check "the adders sum over the layers" sh -c '
    tot=$(sed "s/^{\"adders\": \([0-9]*\),.*/\1/" r0.json)
    sum=$(grep -o "{\"layer\": [0-9]*, \"adders\": [0-9]*" r0.json |
        sed "s/.* //" | awk "{ s += \$1 } END { print s }")
    test "$tot" -eq "$sum"'

ok "behavioral: emit" hgq-emit-verilog --style behavioral -o beh.v \
    --testbench tbb.v --vectors x.csv t.hgqm
check "behavioral: uses *" grep -q ' \* ' beh.v
check "adder graphs: no *" sh -c '! grep -q " \* " net0.v'
ok "behavioral: compile" iverilog -g2005 -o simb tbb.v beh.v
vvp -n simb > runb.txt 2>&1
check "behavioral: PASS 1500" grep -q '^PASS 1500$' runb.txt
done_testing
