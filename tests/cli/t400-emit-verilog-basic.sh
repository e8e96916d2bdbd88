#!/bin/sh
# hgq-emit-verilog: options, streams, module names, reports, testbench
# files and bad input.
. "$TESTS_DIR/lib.sh"

mkfixture --seed 11 --shape 6,8,3 --max-width 8 -o m.hgqm
mkfixture --seed 3 --shape 6,8,3 --uncalibrated -o raw.hgqm
mkdata --seed 1 --lo -4 --hi 4 50 6 x.npy
mkdata --seed 1 50 5 x5.npy

usual_options hgq-emit-verilog m.hgqm
must_fail 2 "bad --pipeline" hgq-emit-verilog --pipeline -1 m.hgqm
must_fail 2 "bad --max-extra-depth" hgq-emit-verilog --max-extra-depth x m.hgqm
must_fail 2 "bad --style" hgq-emit-verilog --style fast m.hgqm
must_fail 2 "bad --report" hgq-emit-verilog --report xml -o n.v m.hgqm
must_fail 2 "--testbench needs --vectors" \
    hgq-emit-verilog --testbench tb.v m.hgqm
must_fail 2 "-n needs --vectors" hgq-emit-verilog -n 3 m.hgqm
must_fail 2 "report and Verilog cannot share stdout" \
    hgq-emit-verilog --report json m.hgqm
must_fail 2 "one model at most" hgq-emit-verilog m.hgqm m.hgqm
must_fail 1 "a missing model" hgq-emit-verilog nothere.hgqm
check "the message names the file" grep -q "nothere.hgqm" .err
must_fail 1 "an empty model" hgq-emit-verilog /dev/null
must_fail 1 "an uncalibrated model" hgq-emit-verilog raw.hgqm
check "says why" grep -q "calibrated" .err

ok "Verilog to stdout" hgq-emit-verilog m.hgqm
cp .out a.v
check "one module, default name" grep -q '^module hgq_top (' a.v
check "combinational: no clock" sh -c '! grep -q clk a.v'
check "the header says combinational" grep -q '^// Combinational' a.v
ok "model from stdin" sh -c 'hgq-emit-verilog - < m.hgqm > b.v'
same "stdin and operand agree" a.v b.v
ok "no operand reads stdin" sh -c 'hgq-emit-verilog < m.hgqm > c.v'
same "no operand is stdin" a.v c.v
ok "-o" hgq-emit-verilog -o net.v m.hgqm
check "the module is named after the file" grep -q '^module net (' net.v
ok "the same again" hgq-emit-verilog -o net2.v --top net m.hgqm
same "output is deterministic" net.v net2.v
ok "--top" hgq-emit-verilog --top my_net -o x.v m.hgqm
check "--top names the module" grep -q '^module my_net (' x.v
ok "a file named after a keyword" hgq-emit-verilog -o small.v m.hgqm
check "gives the default module name" grep -q '^module hgq_top (' small.v
must_fail 1 "a keyword as module name" hgq-emit-verilog --top module m.hgqm
must_fail 1 "a bad module name" hgq-emit-verilog --top 9x -o bad.v m.hgqm
check "no output left behind" test ! -e bad.v
check "no temporary file left" sh -c '! ls bad.v.tmp.* 2>/dev/null'

ok "--report json" hgq-emit-verilog -o net.v --report json m.hgqm
check "the JSON of DESIGN.md" grep -q '^{"adders": [0-9]*, "lut_estimate": [0-9]*, "ff": 0, "latency_cycles": 0, "max_adder_depth": [0-9]*, .*"layers": \[{"layer": 1, "adders": ' .out
ok "--report text" hgq-emit-verilog -o net.v --report text m.hgqm
check "text report" grep -q '^lut_estimate	[0-9]' .out
ok "--report-file, Verilog on stdout" \
    hgq-emit-verilog --pipeline 1 --report-file r.json m.hgqm
check "the report file is JSON" grep -q '^{"adders": ' r.json
check "pipelined: latency in the report" \
    grep -q '"latency_cycles": [1-9]' r.json
check "pipelined: latency in the header" \
    grep -q '^// Pipelined: .*latency [1-9][0-9]* cycles' .out
check "pipelined: a clock" grep -q '^	input clk,' .out

ok "testbench and vectors" \
    hgq-emit-verilog -o net.v --testbench tb.v --vectors x.npy m.hgqm
check "input vectors" test "$(wc -l < tb_inp.mem)" -eq 50
check "expected outputs" test "$(wc -l < tb_exp.mem)" -eq 50
check "the testbench reads them next to itself" \
    grep -q 'readmemh("tb_inp.mem"' tb.v
mkdir sub
ok "-n and a testbench in a folder" hgq-emit-verilog -o sub/net.v \
    --testbench sub/tb.v --vectors x.npy -n 7 m.hgqm
check "7 vectors" test "$(wc -l < sub/tb_exp.mem)" -eq 7
ok "an absolute testbench path" hgq-emit-verilog -o net.v \
    --testbench "$T/abs_tb.v" --vectors x.npy m.hgqm
check "absolute vector paths" grep -q "readmemh(\"$T/abs_tb_inp.mem\"" \
    abs_tb.v
must_fail 1 "vectors with the wrong width" \
    hgq-emit-verilog -o net.v --testbench tb5.v --vectors x5.npy m.hgqm
check "names the file and the counts" \
    grep -q "x5.npy: 5 columns, the model takes 6" .err
check "no testbench left behind" test ! -e tb5.v
must_fail 1 "missing vectors" \
    hgq-emit-verilog -o net.v --testbench tb6.v --vectors none.npy m.hgqm

if [ -w /dev/full ]; then
	hgq-emit-verilog m.hgqm > /dev/full 2> full.err
	check "stdout to /dev/full exits 1" test $? -eq 1
	check "and says so" grep -q '^hgq-emit-verilog: ' full.err
fi
done_testing
