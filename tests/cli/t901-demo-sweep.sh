#!/bin/sh
# The beta sweep (examples/sweep.mk) on a tiny made-up data set: 2 betas
# x 2 seeds with make -j2, one folder per job, the table and the plot; a
# rerun does nothing; one job made alone, as a cluster array task would,
# gives the same model as in the parallel run.
. "$TESTS_DIR/lib.sh"

need gnuplot make

argmax_data 11 1000 8 200
# written out whole, as in t900 (they differ in the seed, the epochs and
# the beta schedule): a test's training run reads in one place
cat > base.yaml <<YAML
seed: 5
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
  epochs: 10
  batch_size: 64
  beta: [ { epoch: 0, value: 1.0e-6, interp: log }, { epoch: 3, value: 1.0e-5 } ]
YAML

sweep_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" \
	    --no-print-directory -f examples/sweep.mk BIN="$HGQ_BIN" \
	    BASE="$T/base.yaml" BETAS="1e-5 1e-3" SEEDS="1 2" EPOCHS=3 "$@"
}

ok "the sweep with make -j2" sweep_make -j2 S="$T/sweep"
cp .out run.out
for j in 1e-5-1 1e-5-2 1e-3-1 1e-3-2; do
	for f in config.yaml model.hgqm pruned.hgqm ebops.json sim.json \
	    result.tsv train.tsv; do
		check "job $j: $f" test -s "$T/sweep/$j/$f"
	done
done
check "a job's config has its seed" grep -qx 'seed: 2' "$T/sweep/1e-3-2/config.yaml"
check "a job trains at its beta" grep -q -- '--beta-max 1e-3 --seed 2 ' run.out
check "results.tsv: a header and 4 rows" \
    test "$(grep -c . "$T/sweep/results.tsv")" -eq 5
check "results.tsv: sorted by EBOPs" sh -c "grep -v '^#' '$T/sweep/results.tsv' |
    cut -f 4 | sort -n -c"
check "results.tsv: beta and seed columns" \
    grep -q '^1e-3-2	1e-3	2	[0-9]*	0\.[0-9]*	' "$T/sweep/results.tsv"
check "the plot: PNG" sh -c "head -c 8 '$T/sweep/pareto.png' |
    od -An -c | grep -q 'P   N   G'"
check "the plot: SVG, one series per beta" sh -c "
    grep -q '<svg' '$T/sweep/pareto.svg' &&
    grep -q '>1e-5<' '$T/sweep/pareto.svg' &&
    grep -q '>1e-3<' '$T/sweep/pareto.svg'"
ok "a rerun has nothing to do" sweep_make -q S="$T/sweep"

ok "the list of jobs" sweep_make -s S="$T/sweep" jobs
check "... 4 targets" test "$(grep -c 'result.tsv$' .out)" -eq 4
job=$(sed -n 2p .out)
ok "one job alone, as an array task" sweep_make S="$T/one" \
    "$T/one/${job#$T/sweep/}"
check "... makes that job only" test "$(ls "$T/one")" = "$(basename \
    "$(dirname "$job")")"
j=$(basename "$(dirname "$job")")
same "... and the same model" "$T/sweep/$j/model.hgqm" \
    "$T/one/$j/model.hgqm"
done_testing
