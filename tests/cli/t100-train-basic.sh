#!/bin/sh
# hgq-train: options, outputs, determinism, the log, the Pareto folder,
# agreement with hgq-sim, and the usual failures.
. "$TESTS_DIR/lib.sh"

# learnable data: 8 features on a 1/16 grid, 3 classes by a linear rule
awk 'BEGIN { srand(7); for (r = 0; r < 1500; r++) {
	s0 = 0; s1 = 0; line = ""
	for (k = 0; k < 8; k++) {
		v = int((rand() * 2 - 1) * 16) / 16
		s0 += v * (k % 3 - 1); s1 += v * ((k * 5) % 4 - 1.5)
		line = line (k ? "," : "") v
	}
	print line > "x.csv"
	print (s0 > 0.3 ? 0 : s1 > 0 ? 1 : 2) > "y.csv"
} }'
# the last 20 % are the validation split
head -n 1200 x.csv > xt.csv; tail -n 300 x.csv > xv.csv
tail -n 300 y.csv > yv.csv

cat > cfg.yaml <<EOF
seed: 3
data: { train_x: x.csv, train_y: y.csv, val_split: 0.2, normalize: standard }
model:
  input: { init_f: 5 }
  layers:
    - { type: dense, units: 16, activation: relu }
    - { type: dense, units: 3 }
quantizers:
  weight: { init_f: 3 }
  bias: { init_f: 6 }
  activation: { init_f: 4 }
train:
  epochs: 6
  batch_size: 64
  optimizer: { name: adam, lr: 0.01 }
  beta: [ { epoch: 0, value: 1.0e-6, interp: log }, { epoch: 6, value: 1.0e-4 } ]
  gamma: 1.0e-6
  threads: 2
output: { log: runs/log.tsv, pareto_dir: runs/front }
EOF

usual_options hgq-train -c cfg.yaml
ok "--help" hgq-train --help
check "--help shows defaults" grep -q 'epochs in all \[config; default 30\]' .out
must_fail 2 "-c is required" hgq-train -o m.hgqm
must_fail 2 "no operands" hgq-train -c cfg.yaml extra
must_fail 2 "bad --epochs" hgq-train -c cfg.yaml --epochs 0
must_fail 2 "bad --threads" hgq-train -c cfg.yaml --threads x
must_fail 1 "a missing config" hgq-train -c nothere.yaml -o m.hgqm
check "the message names the file" grep -q "nothere.yaml" .err

ok "train" hgq-train -c cfg.yaml -o m.hgqm
check "one progress line per epoch" test "$(grep -c '^hgq-train: epoch' .err)" -eq 6
check "the model is there" test -s m.hgqm
check "no temporary file left" sh -c '! ls m.hgqm.tmp.* runs/*.tmp.* 2>/dev/null'
check "the log has a header and 6 rows" test "$(wc -l < runs/log.tsv)" -eq 7
check "the log header" grep -q '^# epoch	loss	train_acc	val_acc	ebops' runs/log.tsv
check "the front is not empty" sh -c 'ls runs/front/epoch*-acc*-ebops*.hgqm >/dev/null'
# no member of the front dominates another (names carry the metrics)
ls runs/front | sed 's/^epoch[0-9]*-acc\([0-9.]*\)-ebops\([0-9]*\).hgqm$/\1 \2/' > front.txt
check "the front is non-dominated" awk '{ a[NR] = $1; e[NR] = $2 } END {
	for (i = 1; i <= NR; i++) for (j = 1; j <= NR; j++)
		if (i != j && a[i] >= a[j] && e[i] <= e[j]) exit 1 }' front.txt

ok "quiet" hgq-train -q -c cfg.yaml -o q.hgqm
check "-q prints nothing" test ! -s .err
same "the same config and seed: the same model" m.hgqm q.hgqm
ok "to standard output" sh -c 'hgq-train -q -c cfg.yaml > s.hgqm'
same "stdout and -o agree" m.hgqm s.hgqm
ok "another seed" hgq-train -q -c cfg.yaml --seed 4 -o s4.hgqm
check "another seed, another model" sh -c '! cmp -s m.hgqm s4.hgqm'
ok "one thread, twice" sh -c 'hgq-train -q -c cfg.yaml --threads 1 -o t1.hgqm &&
    hgq-train -q -c cfg.yaml --threads 1 -o t1b.hgqm'
same "one thread is deterministic too" t1.hgqm t1b.hgqm

ok "--beta-max rescales the schedule" hgq-train -q -c cfg.yaml --beta-max 2e-4 --epochs 2 --log bm.tsv --pareto-dir f2 -o bm.hgqm
check "beta of epoch 1 doubled" sh -c 'test "$(sed -n 2p bm.tsv | cut -f 7)" = 2e-06'
ok "--limit-train" hgq-train -q -c cfg.yaml --limit-train 500 --epochs 1 --log lim.tsv --pareto-dir f3 -o lim.hgqm
must_fail 1 "--limit-train too small for a validation split" hgq-train -q -c cfg.yaml --limit-train 4 -o lim.hgqm

# what hgq-train measured on the validation split is what hgq-sim computes
ok "hgq-sim on the validation split" hgq-sim -i xv.csv -l yv.csv --report json m.hgqm
sim_acc=$(sed 's/.*"accuracy": *\([0-9.]*\).*/\1/' .out)
log_acc=$(tail -n 1 runs/log.tsv | cut -f 4)
check "validation accuracy: hgq-sim equals hgq-train ($sim_acc, $log_acc)" \
    awk -v a="$sim_acc" -v b="$log_acc" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }'

if command -v hgq-ebops >/dev/null 2>&1; then
	ok "a pipeline into hgq-ebops" sh -c 'hgq-train -q -c cfg.yaml | hgq-ebops > eb.txt'
	check "hgq-ebops read it" test -s eb.txt
fi
must_fail 1 "standard output full" sh -c 'hgq-train -q -c cfg.yaml > /dev/full'

# data and config errors name the file and the key
sed 's/y.csv/ybad.csv/' cfg.yaml > bad1.yaml
sed '5s/.*/7/' y.csv > ybad.csv
must_fail 1 "a label out of range" hgq-train -c bad1.yaml -o b.hgqm
check "names the key and the file" grep -q "bad1.yaml: data.train_y: .*ybad.csv.*row" .err
check "no output on failure" test ! -e b.hgqm
sed 's/val_split: 0.2/val_split: 0.0001/' cfg.yaml > bad2.yaml
must_fail 1 "an empty validation split" hgq-train -c bad2.yaml -o b.hgqm
check "says so" grep -q "bad2.yaml: data.val_split: .*empty validation split" .err
cut -d, -f 1-7 x.csv > x7.csv
sed 's/train_x: x.csv/train_x: x7.csv/' cfg.yaml > bad3.yaml
must_fail 1 "resume with another feature count" hgq-train -c bad3.yaml --resume m.hgqm -o b.hgqm
check "names the model, the key and the counts" grep -q "cannot resume from 'm.hgqm': the model takes 8 features, data.train_x of bad3.yaml has 7" .err
printf 'seed: 1\ndata: { train_x: x.csv, bogus: 1 }\n' > bad4.yaml
must_fail 1 "an unknown key" hgq-train -c bad4.yaml -o b.hgqm
check "file:line:col" grep -q "bad4.yaml:2:" .err

# divergence: the run stops with a message and keeps the last good model
sed 's/name: adam, lr: 0.01/name: sgd, lr: 1.0e+30/' cfg.yaml > nan.yaml
must_fail 1 "a diverging run" hgq-train -c nan.yaml -o nan.hgqm
check "says diverged" grep -q "diverged" .err
check "the last good model was written" test -s nan.hgqm
done_testing
