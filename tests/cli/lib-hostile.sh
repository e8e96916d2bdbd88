# lib-hostile.sh - helpers of the hostile-input tests (t8xx), sourced after
# lib.sh.  The checks use shell built-ins only, since these scripts start
# hundreds of programs and must stay fast on a busy machine.
#
#   refuses PROG "what" cmd...   cmd must exit 1 with exactly one line on
#                                stderr, starting "PROG: ", containing
#                                $want_name (if set) and matching the
#                                glob $want_msg (if set); no file out.* and
#                                no temporary file *.tmp.* may be left
#   exits N PROG "what" cmd...   the same with exit status N (2: usage;
#                                then stderr may have several lines)
#   (have PROG, in lib.sh: PROG is built, else an "ok # skip" line)
#   resume_config                d.csv (2 features and a label) and
#                                cfg.yaml, so that hgq-train -c cfg.yaml
#                                --resume MODEL gets to reading MODEL
#   reader_setup                 what read_model needs (x.npy of 2 raw
#                                columns, as tiny.hgqm takes, and
#                                resume_config), and $progs: the five
#                                programs, those that are built
#   read_model PROG MODEL        PROG reads MODEL as its operand; its
#                                outputs go to out.*

want_name=
want_msg=

# problem_of N PROG: sets _why to why the last run (status $rc, stderr
# $T/.err) fails, or to nothing; _left to the output files it left.
# The run is made with $fail_asan_options (lib.sh says why): any
# sanitizer report is a failure.
problem_of() {
	_want=$1 _prog=$2 _l1='' _more='' _why='' _left='' _san=''
	for _f in out.* ./*.tmp.*; do
		[ -e "$_f" ] && _left="$_left $_f"
	done
	{
		IFS= read -r _l1
		while IFS= read -r _l2; do
			case $_l2 in
			'') ;;
			=======*) _san=1; break ;;
			*) _more=1 ;;
			esac
		done
	} <"$T/.err"
	if [ -n "$_san" ]; then
		_why="a sanitizer report"
		return
	fi
	if [ "$rc" -ne "$_want" ]; then
		_why="exit $rc, wanted $_want"
		return
	fi
	case $_l1 in
	"$_prog: "*) ;;
	*) _why="stderr does not start with '$_prog: '"; return ;;
	esac
	if [ -n "$_more" ] && [ "$_want" -ne 2 ]; then
		_why="more than one line on stderr"
		return
	fi
	if [ -n "$want_name" ]; then
		case $_l1 in
		*"$want_name"*) ;;
		*) _why="the message does not name '$want_name'"; return ;;
		esac
	fi
	if [ -n "$want_msg" ]; then
		# shellcheck disable=SC2254
		case $_l1 in
		$want_msg) ;;
		*) _why="the message does not match '$want_msg'"; return ;;
		esac
	fi
	[ -z "$_left" ] || _why="left behind:$_left"
}

exits() {
	_n=$1 _p=$2 _what=$3
	shift 3
	n=$((n + 1))
	ASAN_OPTIONS=$fail_asan_options "$@" >"$T/.out" 2>"$T/.err" </dev/null
	rc=$?
	problem_of "$_n" "$_p"
	if [ -z "$_why" ]; then
		echo "ok $n - $_p: $_what"
	else
		echo "not ok $n - $_p: $_what ($_why)"
		sed 's/^/#   /' "$T/.err" | head -n 3
		n_fail=$((n_fail + 1))
	fi
	# shellcheck disable=SC2086
	[ -z "$_left" ] || rm -f $_left
}

refuses() {
	exits 1 "$@"
}

resume_config() {
	awk 'BEGIN { for (r = 0; r < 40; r++)
		print (r % 5) / 4 "," (r % 3) / 2 "," r % 2 }' > d.csv
	cat > cfg.yaml <<EOF
seed: 1
data: { train_x: d.csv, label_col: 2, val_split: 0.25 }
model: { layers: [ { type: dense, units: 2, activation: relu }, { type: dense, units: 2 } ] }
train: { epochs: 1, batch_size: 10, threads: 1 }
EOF
}

reader_setup() {
	mkdata --seed 1 4 2 x.npy
	resume_config
	progs=
	for p in hgq-ebops hgq-sim hgq-prune hgq-emit-verilog hgq-train; do
		have "$p" && progs="$progs $p"
	done
}

read_model() {
	case $1 in
	hgq-ebops)	hgq-ebops "$2" ;;
	hgq-sim)	hgq-sim -t 1 -i x.npy -o out.npy "$2" ;;
	hgq-prune)	hgq-prune -o out.hgqm "$2" ;;
	hgq-emit-verilog) hgq-emit-verilog -o out.v "$2" ;;
	hgq-train)	hgq-train -q -c cfg.yaml --resume "$2" -o out.hgqm ;;
	esac
}
