#!/bin/sh
# The make demo pipeline (mk/demo.mk) on a tiny made-up data set: every
# file from training to the summary, PASS under Icarus Verilog, the plot;
# a rerun does nothing, a lost file is remade alone, a failed step leaves
# no file, an interrupted training is resumed.  Yosys is replaced by a
# stub (t440 runs the real one; it would take most of the time here).
. "$TESTS_DIR/lib.sh"

need iverilog vvp gnuplot make

argmax_data 7 1500 12 300
cat > c.yaml <<YAML
seed: 3
data:
  train_x: $T/x.csv
  train_y: $T/y.csv
  test_x: $T/tx.csv
  test_y: $T/ty.csv
  val_split: 0.2
model:
  input: { init_f: 3 }
  layers:
    - { type: dense, units: 8, activation: relu }
    - { type: dense, units: 3 }
train:
  epochs: 4
  batch_size: 64
  lr_schedule: { type: cosine, min_lr: 1.0e-5 }
  beta: [ { epoch: 0, value: 1.0e-4 } ]
YAML
cat > yosys-stub.sh <<'EOF'
[ -s "$1" ] || exit 1
echo '{"lut": 321, "carry": 45, "ff": 67, "dsp": 0, "inv": 8, "seconds": 0.1}'
EOF

D=$T/demo
# the make of the tests' caller must not leak in (jobserver, asan=1 ...)
demo_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" \
	    --no-print-directory DEMO_BIN="$HGQ_BIN" DEMO_CONFIG="$T/c.yaml" \
	    DEMO_DIR="$D" DEMO_VECTORS=200 DEMO_TUNE_EPOCHS=2 \
	    DEMO_TUNE_BETA=1e-3 DEMO_SYNTH_EBOPS=100000 \
	    DEMO_YOSYS="sh $T/yosys-stub.sh" "$@"
}

ok "make demo-run" demo_make demo-run
cp .out run1.out
for f in model.hgqm pruned.hgqm ebops.json ebops-unpruned.json sim.json \
    net.v tb.v tb_inp.mem tb_exp.mem verilog.json iverilog.log tune.yaml \
    tuned.hgqm \
    pareto.tsv synth.txt synth.hgqm synth.v synth.json yosys.json \
    pareto.png pareto.svg summary.md train.tsv; do
	check "demo made $f" test -s "$D/$f"
done
check "no partial model left" test ! -e "$D/partial.hgqm"
check "Icarus Verilog: PASS 200" grep -q '^PASS 200$' "$D/iverilog.log"
check "the summary is printed" grep -q '^# hgq demo' run1.out
check "PNG" sh -c "head -c 8 '$D/pareto.png' | od -An -c | grep -q 'P   N   G'"
check "SVG" grep -q '<svg' "$D/pareto.svg"

# the numbers of the summary are those of the programs
hgq-sim -i tx.csv -l ty.csv --report json "$D/pruned.hgqm" > sim.json
acc=$(sed 's/.*"accuracy": \([0-9.]*\).*/\1/' sim.json)
acc=$(awk -v a="$acc" 'BEGIN { printf "%.2f %%", 100 * a }')
check "summary: test accuracy $acc" grep -q "rows) | $acc |" "$D/summary.md"
eb=$(hgq-ebops --json "$D/pruned.hgqm" | sed -n 's/.*"total_ebops": \([0-9]*\).*/\1/p')
check "pareto.tsv: the final model, $eb EBOPs" \
    grep -q "^final	final	$eb	" "$D/pareto.tsv"
check "summary: uniform 8-bit = 64 x (12*8 + 8*3)" \
    grep -q '| uniform 8-bit EBOPs of the same network | 7,680 ' "$D/summary.md"
# a convolution's weights serve every position: conv1d [6,2] -> [3,2],
# kernel 3, stride 2, same (8 taps read the input, of 9) x 2 x 2, then
# dense 4 -> 1: 64 x (32 + 4)
ok "hgq-ebops --json of a conv1d model" hgq-ebops --json \
    "$ROOT/formats/examples/conv1d.hgqm"
check "... dense8_ebops: 64 x 36 multiplications" \
    grep -q '^  "dense8_ebops": 2304,$' .out
check "summary: the Yosys LUTs" grep -q 'Yosys synth_xilinx LUTs.* | 321 |' \
    "$D/summary.md"
check "summary: the machine" grep -q '^- CPUs: [0-9]' "$D/summary.md"
check "tune.yaml: a constant learning rate" \
    grep -qx '  lr_schedule: { type: constant }' "$D/tune.yaml"
check "pareto.tsv: the tuned front is there" \
    sh -c "cut -f 2 '$D/pareto.tsv' | grep -qx tuned"

# a rerun has nothing to do; a lost file is remade without retraining
targets="$D/summary.md $D/pareto.png $D/pareto.svg"
ok "a rerun has nothing to do" demo_make -q $targets
cksum "$D/model.hgqm" > before
rm "$D/sim.json"
ok "a lost file is remade" demo_make $targets
cp .out run2.out
check "... by hgq-sim" grep -q 'hgq-sim' run2.out
check "... without training" sh -c '! grep -q hgq-train run2.out'
cksum "$D/model.hgqm" > after
same "... the model is untouched" before after
ok "then nothing to do again" demo_make -q $targets

# a failed step leaves no file behind (.DELETE_ON_ERROR)
rm "$D/sim.json"
demo_make DEMO_TEST_X=/nonexistent "$D/sim.json" >/dev/null 2>&1
rc=$?
check "a failing step fails make" test $rc -ne 0
check "... and leaves no sim.json" test ! -e "$D/sim.json"

# an interrupted training (its model in partial.hgqm) is resumed
rm "$D/model.hgqm"
ok "a training stopped at epoch 2" hgq-train -q -c c.yaml --epochs 2 \
    -o "$D/partial.hgqm" --pareto-dir "$D/pareto" --log "$D/train.tsv"
ok "make resumes it" demo_make "$D/model.hgqm"
check "... says so" grep -q 'resuming the training' .out
check "... to epoch 4" sh -c "tail -n 1 '$D/train.tsv' | grep -q '^4	'"
check "... and removes the partial model" test ! -e "$D/partial.hgqm"
done_testing
