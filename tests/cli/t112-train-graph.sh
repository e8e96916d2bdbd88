#!/bin/sh
# Graph configs (issue 13): the data generators of tools/ (deterministic,
# the shapes the examples read), the DeepSets example (a chain: dense per
# particle, global average pooling) trained for a few epochs, scored
# bit-exactly by hgq-sim, pruned without a change of function and emitted
# as Verilog that Icarus runs, and the data and config errors of graphs.
. "$TESTS_DIR/lib.sh"

PATH="$HGQ_BIN/../tools:$PATH"
usual_options hgq-gendata muon a.npy b.npy

# the generators: same seed, same bytes; another seed, other bytes
ok "muon rows" hgq-gendata -n 40 -s 3 muon mx.npy my.npy
ok "muon again" hgq-gendata -n 40 -s 3 muon mx2.npy my2.npy
same "muon is deterministic (x)" mx.npy mx2.npy
same "muon is deterministic (y)" my.npy my2.npy
ok "muon, another seed" hgq-gendata -n 40 -s 4 muon mx3.npy my3.npy
check "another seed, other rows" sh -c '! cmp -s mx.npy mx3.npy'
check "muon x: 40 rows of 350 float32" sh -c \
    "head -c 128 mx.npy | grep -aq \"'descr': '<f4', 'fortran_order': False, 'shape': (40, 350), }\""
check "muon y: 40 angles" sh -c \
    "head -c 128 my.npy | grep -aq \"'shape': (40,), }\""
check "muon x: 128 + 40*350*4 bytes" test "$(wc -c < mx.npy)" -eq 56128
ok "jets rows" hgq-gendata -n 25 jets jx.npy jy.npy
check "jets x: 25 rows of 16 particles x 3 features" sh -c \
    "head -c 128 jx.npy | grep -aq \"'shape': (25, 48), }\""
must_fail 2 "-n 0 is a usage error" hgq-gendata -n 0 jets a.npy b.npy
check "the message names -n" grep -q "^hgq-gendata: -n: '0' is not an integer" .err
must_fail 1 "an output that cannot be created" \
    hgq-gendata jets /nonexistent/x.npy y.npy
check "the message names it" grep -q "'/nonexistent/x.npy'" .err

# DeepSets: per-particle dense 16 -> 16, global_avgpool, dense 32 -> 5
mkdir -p runs/deepsets
ok "jets for training" hgq-gendata -n 6000 -s 1 jets runs/deepsets/train-x.npy \
    runs/deepsets/train-y.npy
ok "jets for testing" hgq-gendata -n 1000 -s 2 jets runs/deepsets/test-x.npy \
    runs/deepsets/test-y.npy
sed -e 's/epochs: 20/epochs: 8/' -e '/pareto_dir/d' \
    "$ROOT/examples/deepsets.yaml" > ds.yaml
ok "the DeepSets example trains" hgq-train -c ds.yaml --threads 1 -o ds.hgqm
acc=$(sed -n 's/^hgq-train: test accuracy \([0-9.]*\) (exact).*/\1/p' .err)
sim=$(hgq-sim -t 1 --report json -i runs/deepsets/test-x.npy \
    -l runs/deepsets/test-y.npy ds.hgqm |
    sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
check "hgq-sim's accuracy is training's exact one ($acc, $sim)" \
    awk -v a="$acc" -v s="$sim" 'BEGIN { exit !(a != "" && a + 0 == s + 0 && a > 0.5) }'
hgq-ebops --dump ds.hgqm > ds.json
check "per-particle dense is a 1x1 conv1d" sh -c \
    'grep -c "\"kind\": \"conv1d\"" ds.json | grep -qx 2'
check "global pooling is avgpool and flatten" sh -c \
    'grep -q "\"kind\": \"avgpool\"" ds.json && grep -q "\"kind\": \"flatten\"" ds.json'
ok "hgq-prune" hgq-prune -q -o dsp.hgqm ds.hgqm
ok "hgq-sim: the trained model" hgq-sim --raw -t 1 -i runs/deepsets/test-x.npy \
    -o a.npy ds.hgqm
ok "hgq-sim: the pruned model computes the same mantissas" \
    hgq-sim --raw -t 2 -i runs/deepsets/test-x.npy --compare a.npy dsp.hgqm
if have iverilog; then
	hgq-gendata -n 8 -s 5 jets v.npy vy.npy
	for p in 0 3; do
		ok "hgq-emit-verilog --pipeline $p" hgq-emit-verilog \
		    --pipeline $p -o n$p.v --testbench tb$p.v --vectors v.npy \
		    dsp.hgqm
		iverilog -g2005 -o sim$p tb$p.v n$p.v &&
		    vvp -n sim$p > run$p.txt 2>&1
		check "pipeline $p: Icarus Verilog PASS 8" \
		    grep -q '^PASS 8$' run$p.txt
	done
fi

# several inputs take the columns of one file, in order: 351 is one more
hgq-gendata -n 30 muon m.npy t.npy
cat > g.yaml <<CFG
data: { train_x: m.npy, train_y: t.npy }
train: { loss: mse }
model:
  inputs: [ { name: s1, shape: [50, 3] }, { name: s2, shape: [50, 2] },
            { name: s3, shape: [50, 2] }, { name: s4, shape: 1 } ]
  layers:
    - { name: c, type: flatten, inputs: [s1] }
    - { name: a, type: flatten, inputs: [s2] }
    - { name: b, type: flatten, inputs: [s3] }
    - { name: ab, type: add, inputs: [a, b] }
    - { type: concatenate, inputs: [ab, c, s4] }
    - { type: dense, units: 1 }
CFG
must_fail 1 "351 columns wanted, 350 given" hgq-train -c g.yaml -o g.hgqm
check "the message names both counts" grep -qx \
    "hgq-train: g.yaml: data.train_x: 'm.npy' has 350 columns, but model.inputs take 351" .err
sed -i -e 's/, { name: s4, shape: 1 }//' -e 's/inputs: \[ab, c, s4\]/inputs: [ab, c]/' \
    -e 's/inputs: \[a, b\]/inputs: [a, b, c]/' g.yaml
must_fail 1 "add of [100] and [150]" hgq-train -c g.yaml -o g.hgqm
check "the message names the item" grep -qx \
    "hgq-train: g.yaml:10:7: model.layers\[3\]: input 2 has shape \[150\], input 0 has \[100\] (add needs equal shapes)" .err
sed -i 's/inputs: \[a, b, c\]/inputs: [a, b, e]/' g.yaml
must_fail 1 "an unknown name" hgq-train -c g.yaml -o g.hgqm
check "file:line:col" grep -qx \
    "hgq-train: g.yaml:10:45: unknown name 'e' in the inputs of model.layers\[3\]" .err
check "no output" test ! -e g.hgqm
done_testing
