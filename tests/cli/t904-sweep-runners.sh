#!/bin/sh
# The sweep's runners give the same bytes: one 4-job sweep (2 betas x 2
# seeds, examples/sweep.mk) run by make -j2, by GNU parallel and by a
# real Slurm cluster on localhost (sbatch --array and a dependent gather
# job); a job killed in the middle of its training and run again (GNU
# parallel rerun, Slurm resubmission) resumes and changes nothing.  The
# parts whose tools are missing print a skip.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/lib-slurm.sh"
trap 'slurm_stop; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "ok 1 - # skip: gnuplot is missing"
	exit 0
fi

# tiny data; 400 epochs of 800 rows take a fraction of a second, enough to
# kill a job in the middle of its training
awk -v dir="$T" 'BEGIN {
	srand(11)
	for (r = 0; r < 1000; r++) {
		line = ""; best = 0; bv = -9
		for (c = 0; c < 8; c++) {
			v = int((rand() * 4 - 2) * 64) / 64
			if (c < 3 && v > bv) { bv = v; best = c }
			line = line (c ? "," : "") v
		}
		x = r < 800 ? "/x.csv" : "/tx.csv"
		y = r < 800 ? "/y.csv" : "/ty.csv"
		print line > (dir x); print best > (dir y)
	}
}'
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
  epochs: 400
  batch_size: 64
  beta: [ { epoch: 0, value: 1.0e-6, interp: log }, { epoch: 3, value: 1.0e-5 } ]
YAML
cat > sweep.mk <<MK
# the sweep description
BASE = $T/base.yaml
BETAS = 1e-5 1e-3
SEEDS = 1 2
CPUS = 1
TIME = 10
MK

sweep() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" \
	    --no-print-directory -f examples/sweep.mk BIN="$HGQ_BIN" \
	    SWEEP="$T/sweep.mk" "$@"
}
# the files that must not depend on the runner
FILES="jobs.tsv results.tsv models.tsv front.tsv front.json"
JOBFILES="model.hgqm pruned.hgqm front.tsv result.tsv"
same_sweep() {
	for f in $FILES; do
		same "$1: $f" "$T/ref/$f" "$2/$f"
	done
	for j in 1e-5-1 1e-5-2 1e-3-1 1e-3-2; do
		for f in $JOBFILES; do
			same "$1: $j/$f" "$T/ref/$j/$f" "$2/$j/$f"
		done
	done
}
# wait until job $1 of sweep $2 has trained 3 epochs (of 400)
mid_training() {
	i=0
	while [ "$i" -lt 1000 ] && [ "$(cat "$2/$1/train.tsv" 2>/dev/null |
	    grep -c .)" -lt 4 ]; do
		sleep 0.01
		i=$((i + 1))
	done
}

ok "make -j2 runs the sweep" sweep -j2 S="$T/ref"
check "... 4 jobs in the manifest" \
    test "$(grep -vc '^#' "$T/ref/jobs.tsv")" -eq 4
check "... the manifest line of a job" grep -qx \
    "1e-3-2	$T/base.yaml	1e-3	2	--beta-max 1e-3 --seed 2 --threads 1" \
    "$T/ref/jobs.tsv"
check "... a merged front" test "$(grep -c '	1$' "$T/ref/front.tsv")" -ge 1
check "... every front row is on the front" \
    test "$(grep -vc '^#' "$T/ref/front.tsv")" -eq \
    "$(grep -c '	1$' "$T/ref/front.tsv")"
check "... the front plot" test -s "$T/ref/front.svg"

if ! command -v parallel >/dev/null 2>&1; then
	echo "ok $((n + 1)) - # skip: GNU parallel is not installed"
	n=$((n + 1))
else
	ok "GNU parallel runs the sweep" sweep S="$T/par" parallel \
	    PARALLEL_FLAGS="-j 2"
	same_sweep "parallel" "$T/par"
	check "... a log per job" test -s "$T/par/logs/jobs-4.log"

	# job 2 killed in the middle of its training: the run fails, a
	# rerun resumes the job and gives the same sweep
	sweep S="$T/pk" parallel PARALLEL_FLAGS="-j 2" >pk.out 2>&1 &
	mid_training 1e-5-2 "$T/pk"
	# the trainer of job 2 (only its command line names the config)
	pid=$(grep -laF -- "$T/pk/1e-5-2/config.yaml" /proc/[0-9]*/cmdline \
	    2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/cmdline$|\1|p' | head -n 1)
	check "job 2 is training" test -n "$pid"
	[ -n "$pid" ] && kill -TERM "$pid"
	wait $!
	st=$?
	check "the interrupted sweep fails ($st)" test "$st" -ne 0
	check "... job 2 left its partial model" test -s "$T/pk/1e-5-2/partial.hgqm"
	check "... and no result" test ! -f "$T/pk/1e-5-2/result.tsv"
	ok "a rerun finishes it" sweep S="$T/pk" parallel PARALLEL_FLAGS="-j 2"
	check "... running job 2 only" grep -q '1 of 4 jobs' .out
	same_sweep "parallel, killed and rerun" "$T/pk"
fi

why=$(slurm_missing)
if [ -n "$why" ]; then
	n=$((n + 1))
	echo "ok $n - # skip: no Slurm cluster on localhost: $why"
	done_testing
	exit
fi
ok "a Slurm cluster on localhost starts" slurm_start "$T/slurm"
if [ "$n_fail" -ne 0 ]; then
	cat .out
	done_testing
	exit
fi

ok "Slurm runs the sweep as an array job and a gather job" \
    sweep S="$T/slurm-run" WAIT=1 slurm
check "... submitted as an array of 4" grep -q 'tasks 1,2,3,4 of 4' .out
check "... the array script picks the job line by SLURM_ARRAY_TASK_ID" \
    grep -q 'SLURM_ARRAY_TASK_ID' "$T/slurm-run/slurm/jobs.sbatch"
check "... per-task logs" test -s "$T/slurm-run/logs/jobs-3.log"
check "... the gather ran" grep -q hgq-pareto "$T/slurm-run/logs/jobs-gather.log"
same_sweep "slurm" "$T/slurm-run"

# task 2 cancelled in the middle of its training: the gather never runs;
# the resubmission runs task 2 alone and the gather
sweep S="$T/sk" slurm >sk.out 2>&1
a=$(sed -n 's/.*submitted array job \([0-9]*\).*/\1/p' sk.out)
g=$(sed -n 's/.*submitted gather job \([0-9]*\).*/\1/p' sk.out)
check "submitted ($a, $g)" test -n "$a" -a -n "$g"
mid_training 1e-5-2 "$T/sk"
ok "task 2 cancelled while it trains" scancel "${a}_2"
slurm_wait_gone "$a"
slurm_wait_gone "$g"
check "... the gather job did not run" test ! -f "$T/sk/results.tsv"
check "... job 2 left its partial model" test -s "$T/sk/1e-5-2/partial.hgqm"
ok "the resubmission finishes the sweep" sweep S="$T/sk" WAIT=1 slurm
check "... with task 2 alone" grep -q 'tasks 2 of 4' .out
same_sweep "slurm, cancelled and resubmitted" "$T/sk"
done_testing
