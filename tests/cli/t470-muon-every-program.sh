#!/bin/sh
# The muon-tracking graph of examples/muon.yaml (issue 13: three named
# inputs, Conv1D per station, tanh tables, masked dense layers and adds,
# a dense head with batchnorm, MSE) through every program, on data from
# tools/hgq-gendata: hgq-train (two short epochs), hgq-sim (its MSE is
# training's exact one, digit for digit), hgq-prune (the same mantissas),
# hgq-ebops (the EBOPs training logged, before and after pruning) and
# hgq-emit-verilog with named ports, whose testbench passes under Icarus
# Verilog, combinational and pipelined.
. "$TESTS_DIR/lib.sh"

PATH="$HGQ_BIN/../tools:$PATH"
mkdir -p runs/muon
ok "muon rows for training" hgq-gendata -n 1500 -s 1 muon \
    runs/muon/train-x.npy runs/muon/train-y.npy
ok "muon rows for testing" hgq-gendata -n 300 -s 2 muon \
    runs/muon/test-x.npy runs/muon/test-y.npy
sed -e 's/epochs: 20/epochs: 2/' -e 's/epoch: 20, value/epoch: 2, value/' \
    -e '/^output:/,$d' "$ROOT/examples/muon.yaml" > mu.yaml
ok "the muon example trains" hgq-train -c mu.yaml --threads 2 -o mu.hgqm
mse=$(sed -n 's/^hgq-train: test mse \([0-9.e-]*\) (exact).*/\1/p' .err)
check "training reports its exact test MSE ($mse)" test -n "$mse"
ok "one epoch" hgq-train -q -c mu.yaml --threads 2 --epochs 1 -o one.hgqm
ok "resumed to two" hgq-train -q -c mu.yaml --threads 2 --resume one.hgqm \
    -o res.hgqm
same "resuming the graph equals the uninterrupted run" mu.hgqm res.hgqm

ok "hgq-sim: the test rows" hgq-sim -t 2 --report json \
    -i runs/muon/test-x.npy -l runs/muon/test-y.npy mu.hgqm
sim=$(sed -n 's/.*"mse": \([0-9.e-]*\),.*/\1/p' .out)
check "hgq-sim's MSE is training's exact one ($mse, $sim)" \
    awk -v a="$mse" -v s="$sim" \
    'BEGIN { exit !(a != "" && sprintf("%.4g", s) == a) }'
hgq-ebops --dump mu.hgqm > mu.json
check "three named inputs in the dump" sh -c \
    'grep -q "\"name\": \"s1\"" mu.json && grep -q "\"name\": \"s3\"" mu.json'
check "five tanh tables" sh -c \
    'grep -c "\"function\": \"tanh\"" mu.json | grep -qx 5'

# the exact EBOPs of the last epoch, column 4 of the log in the metadata
# (epoch, loss, val_mse, ebops: a regression has no accuracies)
t='[^\\]*\\t'
eb=$(sed -n "s/.*\\\\n2\\\\t$t$t\\([0-9]*\\)\\\\t.*/\\1/p" mu.json)
check "training logged its exact EBOPs ($eb)" test -n "$eb"
ok "hgq-ebops of the trained model" hgq-ebops --json mu.hgqm
check "... the same EBOPs" grep -q "\"total_ebops\": $eb,\$" .out
ok "hgq-prune" hgq-prune -q -o mp.hgqm mu.hgqm
ok "hgq-ebops of the pruned model" hgq-ebops --json mp.hgqm
check "... the same EBOPs" grep -q "\"total_ebops\": $eb,\$" .out
ok "hgq-sim: the trained model" hgq-sim --raw -t 1 \
    -i runs/muon/test-x.npy -o a.npy mu.hgqm
ok "hgq-sim: the pruned model computes the same mantissas" \
    hgq-sim --raw -t 2 -i runs/muon/test-x.npy --compare a.npy mp.hgqm

have iverilog || { done_testing; exit; }
for p in 0 3; do
	ok "hgq-emit-verilog --pipeline $p" hgq-emit-verilog --pipeline $p \
	    -n 12 -o n$p.v --testbench tb$p.v --vectors runs/muon/test-x.npy \
	    mp.hgqm
	check "pipeline $p: a port per input and the output" sh -c \
	    "grep -q 'input \[[0-9]*:0\] inp_s1' n$p.v &&
	    grep -q 'input \[[0-9]*:0\] inp_s3' n$p.v &&
	    grep -q 'output \[[0-9]*:0\] out_theta' n$p.v"
	iverilog -g2005 -o sim$p tb$p.v n$p.v && vvp -n sim$p > run$p.txt 2>&1
	check "pipeline $p: Icarus Verilog PASS 12" grep -q '^PASS 12$' run$p.txt
done
done_testing
