#!/bin/sh
# hgq-emit-verilog output is clean under verilator --lint-only -Wall:
# combinational, pipelined and behavioral, on random models.
. "$TESTS_DIR/lib.sh"

need verilator

s=0
for shape in 12,10,6 5,7,7,3 8,16,4; do
	s=$((s + 1))
	mkfixture --seed $((200 + s)) --shape $shape --max-width 10 -o m$s.hgqm
	for opt in "--pipeline 0" "--pipeline 2" "--style behavioral" \
	    "--style behavioral --pipeline 1"; do
		hgq-emit-verilog $opt -o n.v m$s.hgqm
		ok "model $s, $opt: lint clean" sh -c \
		    'verilator --lint-only -Wall n.v 2>&1 | grep . >&2 && exit 1;
		    exit 0'
	done
done
done_testing
