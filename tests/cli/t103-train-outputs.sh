#!/bin/sh
# hgq-train checks that every output (the model, the log, the Pareto
# folder) can be created before it reads the data or trains an epoch: an
# impossible output fails at once with one line and exit 1, and leaves
# nothing behind.
. "$TESTS_DIR/lib.sh"

awk 'BEGIN { srand(3); for (r = 0; r < 400; r++) {
	v = int((rand() * 2 - 1) * 16) / 16; w = int((rand() * 2 - 1) * 16) / 16
	print v "," w "," (v + w > 0 ? 1 : 0) } }' > d.csv
cat > cfg.yaml <<EOF
seed: 1
data: { train_x: d.csv, label_col: 2, val_split: 0.25 }
model: { layers: [ { type: dense, units: 2 } ] }
train: { epochs: 2, batch_size: 50, threads: 1 }
EOF
sed 's/d.csv/nothere.csv/' cfg.yaml > nodata.yaml
touch afile
mkdir afolder

# must_fail_early WHAT ARGS...: exit 1, one line, no epoch trained
must_fail_early() {
	label=$1; shift
	must_fail 1 "$label" hgq-train "$@"
	check "$label: one line" test "$(wc -l < .err)" -eq 1
	check "$label: no epoch trained" sh -c '! grep -q "epoch" .err'
}

must_fail_early "-o in a missing folder" -c cfg.yaml -o missing/m.hgqm
check "names the model" grep -q "^hgq-train: cannot create 'missing/m.hgqm': " .err
must_fail_early "-o is a folder" -c cfg.yaml -o afolder
check "says it is a folder" grep -qx "hgq-train: cannot create 'afolder': it is a folder" .err
must_fail_early "-o below a file" -c cfg.yaml -o afile/m.hgqm
must_fail_early "--log is a folder" -c cfg.yaml --log afolder -o m.hgqm
check "names the log" grep -q "'afolder'" .err
must_fail_early "--log below a file" -c cfg.yaml --log afile/x/l.tsv -o m.hgqm
must_fail_early "--pareto-dir is a file" -c cfg.yaml --pareto-dir afile -o m.hgqm
check "names the folder" grep -q "afile" .err
check "no model was written" test ! -e m.hgqm
check "no probe or temporary file is left" \
    test "$(ls | tr '\n' ' ')" = "afile afolder cfg.yaml d.csv nodata.yaml "

# the outputs are checked before the data are read
must_fail 1 "outputs before data" hgq-train -c nodata.yaml -o missing/m.hgqm
check "the output is named, not the data" grep -q "missing/m.hgqm" .err

# and possible outputs in new folders still work
ok "a new log and Pareto folder are made" hgq-train -q -c cfg.yaml \
    --log new/a/l.tsv --pareto-dir new/b -o m.hgqm
check "the log is there" test -s new/a/l.tsv
check "the front is there" sh -c 'ls new/b/epoch*.hgqm >/dev/null'
check "no probe left in the front" sh -c '! ls new/b/probe* 2>/dev/null'
done_testing
