# lib.sh - the tiny harness of the CLI tests.  Source it first; every test
# script then runs in its own scratch folder $T (removed at exit).
#
#   ok "what" cmd...          cmd must exit 0
#   must_fail N "what" cmd... cmd must exit N, and its stderr must start
#                             with the program's name (cmd's basename)
#                             and hold no sanitizer report
#   same "what" FILE1 FILE2   byte-identical files
#   check "what" cmd...       a plain shell condition
#   need TOOL...              skip the whole test unless every TOOL is
#                             on PATH (one "ok 1 - # skip" line, exit 0)
#   have TOOL                 TOOL is on PATH; else an "ok - # skip" line
#                             and status 1, to skip a part of a test
#   wait_for PID FILE N RE    wait for a background job's output
#
# and the set-ups several tests share (made-up data, a trained model):
#   argmax_data SEED ROWS COLS [N_TEST [ZERO_COLS]]
#   lin3_data SEED            d.csv, 6 features and a label column
#   train_small [ZERO_COLS]   c.yaml and t.hgqm, trained on argmax_data
#   usual_options PROG ARG... --help, --version and a bad option (with
#                             ARG...), as every program has them
#   done_testing              exit non-zero if anything failed
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
n_fail=0
n=0

# A run that must fail ends in die() or a usage exit, which leave what
# main() holds to exit() to give back, as every program does.  Under
# make asan=1, LeakSanitizer reports some of those blocks (which ones
# depends on what the optimizer kept in registers), and they are not
# leaks: the runs that must fail (must_fail here, refuses and exits in
# lib-hostile.sh) turn leak detection off with these options, and fail
# on any other sanitizer report.  Every other run keeps leak detection.
fail_asan_options="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# sanitizer_report FILE: FILE holds an ASan, LSan or UBSan report
sanitizer_report() {
	grep -Eq '^==[0-9]+==ERROR: |: runtime error: ' "$1"
}

ok() {
	what=$1; shift
	n=$((n + 1))
	if "$@" >"$T/.out" 2>"$T/.err"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what (exit $?)"
		sed 's/^/#   /' "$T/.err" | head -n 10
		n_fail=$((n_fail + 1))
	fi
}

must_fail() {
	want=$1; what=$2; shift 2
	n=$((n + 1))
	ASAN_OPTIONS=$fail_asan_options "$@" >"$T/.out" 2>"$T/.err"
	got=$?
	prog=$(basename "$1")
	if [ "$prog" = sh ] && [ "$2" = -c ]; then
		prog=${3%% *}		# sh -c 'prog ...': the first word
	fi
	if [ "$got" -ne "$want" ]; then
		echo "not ok $n - $what (exit $got, wanted $want)"
		sed 's/^/#   /' "$T/.err" | head -n 5
		n_fail=$((n_fail + 1))
	elif sanitizer_report "$T/.err"; then
		echo "not ok $n - $what (a sanitizer report)"
		sed 's/^/#   /' "$T/.err" | head -n 10
		n_fail=$((n_fail + 1))
	elif [ "$(wc -l < "$T/.err")" -lt 1 ] || \
	    ! head -n 1 "$T/.err" | grep -q "^$prog: "; then
		echo "not ok $n - $what (stderr does not start with '$prog: ')"
		sed 's/^/#   /' "$T/.err" | head -n 5
		n_fail=$((n_fail + 1))
	else
		echo "ok $n - $what"
	fi
}

same() {
	what=$1
	n=$((n + 1))
	if cmp -s "$2" "$3"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what ($2 and $3 differ)"
		n_fail=$((n_fail + 1))
	fi
}

# check "what" test-expression...: a plain shell condition
check() {
	what=$1; shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		n_fail=$((n_fail + 1))
	fi
}

# The tests install nothing (make check does not run scripts/deps.sh): a
# tool that is missing skips what needs it, and run.sh shows the reason.
need() {
	for nd_tool; do
		if ! command -v "$nd_tool" >/dev/null 2>&1; then
			echo "ok 1 - # skip: $nd_tool is missing"
			exit 0
		fi
	done
}

have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	n=$((n + 1))
	echo "ok $n - # skip: $1 is missing"
	return 1
}

# wait_for PID FILE N RE [SECONDS]: wait until FILE, written by the
# background job PID, has N lines matching the regular expression RE.
# The file may not exist yet when the wait starts (the job's shell makes
# it); a job that ends first, or SECONDS (default 60) of waiting, gives
# a "not ok" line and status 1, so that a test never goes on as if the
# job had got that far.
wait_for() {
	wf_pid=$1 wf_file=$2 wf_want=$3 wf_re=$4 wf_ended=
	wf_end=$(($(date +%s) + ${5:-60}))
	while :; do
		wf_got=0
		[ -f "$wf_file" ] && wf_got=$(grep -c -e "$wf_re" "$wf_file")
		case $wf_got in ''|*[!0-9]*) wf_got=0 ;; esac
		[ "$wf_got" -ge "$wf_want" ] && return 0
		if [ -n "${wf_ended:-}" ]; then
			wf_why="the job ended"
		elif ! kill -0 "$wf_pid" 2>/dev/null ||
		    grep -q ') Z ' "/proc/$wf_pid/stat" 2>/dev/null; then
			wf_ended=1	# count once more: it may have just written
			continue
		elif [ "$(date +%s)" -gt "$wf_end" ]; then
			wf_why="timed out after ${5:-60} s"
		else
			sleep 0.05
			continue
		fi
		n=$((n + 1))
		echo "not ok $n - wait for $wf_want lines '$wf_re' in $wf_file:" \
		    "$wf_why with $wf_got"
		n_fail=$((n_fail + 1))
		return 1
	done
}

# argmax_data SEED ROWS COLS [N_TEST [ZERO_COLS]]: a learnable data set
# in x.csv and y.csv: COLS features on a 1/64 grid in [-2, 2), the label
# the index of the largest of the first three (3 classes); the last
# N_TEST rows go to tx.csv and ty.csv instead; the columns listed in
# ZERO_COLS ("3 7") are always 0.  The same arguments, the same bytes.
argmax_data() {
	awk -v seed="$1" -v rows="$2" -v cols="$3" -v n_test="${4:-0}" \
	    -v zero="${5:-}" 'BEGIN {
		srand(seed)
		nz = split(zero, zs, " ")
		for (z = 1; z <= nz; z++) is_zero[zs[z]] = 1
		for (r = 0; r < rows; r++) {
			line = ""; best = 0; bv = -9
			for (c = 0; c < cols; c++) {
				v = (c in is_zero) ? 0 : \
				    int((rand() * 4 - 2) * 64) / 64
				if (c < 3 && v > bv) { bv = v; best = c }
				line = line (c ? "," : "") v
			}
			x = r < rows - n_test ? "x.csv" : "tx.csv"
			y = r < rows - n_test ? "y.csv" : "ty.csv"
			print line > x; print best > y
		}
	}'
}

# lin3_data SEED: 2000 rows of 6 features on a 1/32 grid and a label
# column, 3 classes by a linear rule, in d.csv
lin3_data() {
	awk -v seed="$1" 'BEGIN { srand(seed); for (r = 0; r < 2000; r++) {
		s = 0; line = ""
		for (k = 0; k < 6; k++) {
			v = int((rand() * 2 - 1) * 32) / 32
			s += v * (k - 2.5)
			line = line v ","
		}
		print line (s > 0.5 ? 0 : s > -0.5 ? 1 : 2)
	} }' > d.csv
}

# train_small [ZERO_COLS]: a 12-16-8-3 model trained for 6 epochs on
# argmax_data 7 1500 12 (ZERO_COLS always 0), config in c.yaml, model
# in t.hgqm; one "ok" line
train_small() {
	argmax_data 7 1500 12 0 "${1:-}"
	cat > c.yaml <<'YAML'
seed: 3
data:
  train_x: x.csv
  train_y: y.csv
  val_split: 0.2
model:
  input: { init_f: 3 }
  layers:
    - { type: dense, units: 16, activation: relu }
    - { type: dense, units: 8, activation: relu }
    - { type: dense, units: 3 }
train:
  epochs: 6
  batch_size: 64
  beta: [ { epoch: 0, value: 1.0e-4 } ]
YAML
	ok "train a small model" hgq-train -q -c c.yaml -o t.hgqm
}

# usual_options PROG ARG...: --help exits 0 with the usage on stdout,
# --version names PROG, --bogus ARG... is a usage error (exit 2, the
# usage on stderr); six lines
usual_options() {
	uo_prog=$1; shift
	ok "--help exits 0" "$uo_prog" --help
	check "--help goes to stdout" grep -q "^usage: $uo_prog" .out
	ok "--version exits 0" "$uo_prog" --version
	check "--version names the program" grep -q "^$uo_prog " .out
	must_fail 2 "a bad option is a usage error" "$uo_prog" --bogus "$@"
	check "the usage goes to stderr" grep -q "^usage: $uo_prog" .err
}

done_testing() {
	[ "$n_fail" -eq 0 ]
}
