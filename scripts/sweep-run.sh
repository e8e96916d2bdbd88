#!/bin/sh
# sweep-run.sh - run the jobs of a sweep manifest (examples/sweep.mk,
# hgq-sweep(7)) one by one, under GNU parallel or as a Slurm job array,
# then the gather.
#
# usage: sweep-run.sh task S MANIFEST N
#        sweep-run.sh gather S TARGET
#        sweep-run.sh parallel S MANIFEST TARGET [PARALLEL_FLAGS...]
#        sweep-run.sh slurm [-w] [-c CPUS] [-m MEM] [-n MAX_TASKS]
#                     [-p PARTITION] [-t MINUTES] [-x SBATCH_FLAGS]
#                     S MANIFEST TARGET
#
#   S         the sweep's folder, holding sweep.vars (the resolved
#             description) and the manifest
#   MANIFEST  jobs.tsv (training jobs) or synth-jobs.tsv (synthesis):
#             a '#' header, then one job a line, its id first
#   task      make job N (line N + 1 of S/MANIFEST) with examples/sweep.mk:
#             S/<id>/result.tsv, or S/synth/<id>/row.tsv
#   gather    make TARGET of examples/sweep.mk for the sweep
#   parallel  every job not yet done with GNU parallel (PARALLEL_FLAGS, e.g.
#             -j 4 or --sshlogin a,b: the hosts must see S and this tree
#             at the same paths), logs in S/logs/; then TARGET
#   slurm     sbatch --array of the jobs not yet done (per-task logs
#             S/logs/<manifest>-<N>.log; -c CPUs per task, -m memory,
#             -t time limit, -p partition, -n at most that many tasks at
#             once, -x more sbatch flags) and a gather job of TARGET that
#             runs after them (--dependency=afterok); -w waits for the
#             gather (sbatch --wait).  The scripts and the job ids stay in
#             S/slurm/.  A resubmission submits only the jobs without a
#             result; it refuses while jobs it submitted before are queued.
#
# A job writes only its own folder and is a make target, so running it
# again after a crash redoes (or resumes) only what is missing.
# Exit status 0 on success, 1 on failure, 2 on a usage error.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
prog=sweep-run.sh

die() {
	echo "$prog: $*" >&2
	exit 1
}
usage() {
	sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "$0" | sed '/^$/d' >&2
	exit 2
}

# make on the resolved description; the caller's make variables (in
# MAKEFLAGS) must not leak into the job
sweep_make() {
	cd "$ROOT" || exit 1
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory \
	    -f examples/sweep.mk SWEEP="$S/sweep.vars" S="$S" "$@"
}

# the folder, absolute, with its manifest
sweep_dir() {
	[ -d "$1" ] || die "no sweep folder '$1'"
	S=$(cd "$1" && pwd)
	[ -f "$S/sweep.vars" ] || die "'$S' has no sweep.vars (make the manifest first)"
}

# the target of job line N of manifest M (empty when there is none)
job_target() {
	id=$(awk -F '\t' -v n="$2" '!/^#/ && ++k == n { print $1; exit }' \
	    "$S/$1") || exit 1
	[ -n "$id" ] || return 0
	case $1 in
	jobs.tsv) echo "$S/$id/result.tsv" ;;
	synth-jobs.tsv) echo "$S/synth/$id/row.tsv" ;;
	*) die "unknown manifest '$1'" ;;
	esac
}

n_jobs() {
	grep -vc '^#' "$S/$1"
}

# the numbers of the jobs whose target is missing, comma-separated
todo() {
	k=1 list=""
	while [ "$k" -le "$(n_jobs "$1")" ]; do
		t=$(job_target "$1" "$k")
		[ -f "$t" ] || list="$list${list:+,}$k"
		k=$((k + 1))
	done
	echo "$list"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
task)
	[ $# -eq 3 ] || usage
	sweep_dir "$1"
	[ -f "$S/$2" ] || die "no manifest '$S/$2'"
	case $3 in ''|*[!0-9]*) die "job number '$3' is not a number" ;; esac
	t=$(job_target "$2" "$3")
	[ -n "$t" ] || die "no job $3 in '$S/$2' ($(n_jobs "$2") jobs)"
	echo "$prog: job $3 of $S/$2: $t"
	sweep_make "$t"
	;;
gather)
	[ $# -eq 2 ] || usage
	sweep_dir "$1"
	sweep_make "$2"
	;;
parallel)
	[ $# -ge 3 ] || usage
	sweep_dir "$1"
	m=$2 target=$3
	shift 3
	command -v parallel >/dev/null 2>&1 || die "GNU parallel is not installed"
	[ -f "$S/$m" ] || die "no manifest '$S/$m'"
	mkdir -p "$S/logs"
	list=$(todo "$m")
	if [ -n "$list" ]; then
		echo "$prog: $(echo "$list" | tr , '\n' | wc -l) of" \
		    "$(n_jobs "$m") jobs of $S/$m under GNU parallel"
		echo "$list" | tr , '\n' | parallel --halt never \
		    --joblog "$S/logs/${m%.tsv}-parallel.log" "$@" \
		    "sh '$ROOT/scripts/sweep-run.sh' task '$S' '$m' {} \
		    > '$S/logs/${m%.tsv}-{}.log' 2>&1"
		rc=$?
		[ "$rc" -eq 0 ] || die "$rc jobs failed (logs in $S/logs/);" \
		    "run again to redo them"
	fi
	sweep_make "$target"
	;;
slurm)
	wait="" cpus="" mem="" max="" part="" time="" extra=""
	while getopts c:m:n:p:t:wx: opt; do
		case $opt in
		c) cpus=$OPTARG ;;
		m) mem=$OPTARG ;;
		n) max=$OPTARG ;;
		p) part=$OPTARG ;;
		t) time=$OPTARG ;;
		w) wait=1 ;;
		x) extra=$OPTARG ;;
		*) usage ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 3 ] || usage
	sweep_dir "$1"
	m=$2 target=$3
	command -v sbatch >/dev/null 2>&1 || die "sbatch is not installed"
	[ -f "$S/$m" ] || die "no manifest '$S/$m'"
	mkdir -p "$S/logs" "$S/slurm"
	ids="$S/slurm/${m%.tsv}.ids"
	if [ -s "$ids" ]; then
		q=$(squeue -h -o %i -j "$(tr '\n' , < "$ids" |
		    sed 's/,$//')" 2>/dev/null)
		[ -z "$q" ] || die "jobs submitted before are still queued or" \
		    "running ($(echo $q)); wait for them or scancel them"
	fi
	base=${m%.tsv}
	{
		echo "#!/bin/sh"
		echo "# $base of the sweep $S: array task N makes job line N"
		echo "#SBATCH --job-name=hgq-$base"
		echo "#SBATCH --output=$S/logs/$base-%a.log"
		[ -n "$cpus" ] && echo "#SBATCH --cpus-per-task=$cpus"
		[ -n "$mem" ] && echo "#SBATCH --mem=$mem"
		[ -n "$time" ] && echo "#SBATCH --time=$time"
		[ -n "$part" ] && echo "#SBATCH --partition=$part"
		echo "exec sh '$ROOT/scripts/sweep-run.sh' task '$S' '$m'" \
		    '"${SLURM_ARRAY_TASK_ID:?not a Slurm array task}"'
	} > "$S/slurm/$base.sbatch"
	{
		echo "#!/bin/sh"
		echo "# the gather of $base of the sweep $S"
		echo "#SBATCH --job-name=hgq-$base-gather"
		echo "#SBATCH --output=$S/logs/$base-gather.log"
		[ -n "$time" ] && echo "#SBATCH --time=$time"
		[ -n "$part" ] && echo "#SBATCH --partition=$part"
		echo "exec sh '$ROOT/scripts/sweep-run.sh' gather '$S' '$target'"
	} > "$S/slurm/$base-gather.sbatch"

	list=$(todo "$m")
	: > "$ids"
	dep=""
	if [ -n "$list" ]; then
		# shellcheck disable=SC2086
		a=$(sbatch --parsable --array="$list${max:+%$max}" $extra \
		    "$S/slurm/$base.sbatch") || die "sbatch failed"
		a=${a%%;*}
		echo "$a" >> "$ids"
		echo "$prog: submitted array job $a: tasks $list of" \
		    "$(n_jobs "$m") ($S/slurm/$base.sbatch)"
		dep="--dependency=afterok:$a --kill-on-invalid-dep=yes"
	fi
	# shellcheck disable=SC2086
	g=$(sbatch --parsable $dep $extra "$S/slurm/$base-gather.sbatch") ||
	    die "sbatch failed"
	g=${g%%;*}
	echo "$g" >> "$ids"
	echo "$prog: submitted gather job $g ($S/logs/$base-gather.log)"
	if [ -n "$wait" ]; then
		# sbatch --wait would submit again: poll until it has left
		# the queue, then read its state
		while [ -n "$(squeue -h -o %i -j "$g" 2>/dev/null)" ]; do
			sleep 1
		done
		st=$(scontrol -o show job "$g" 2>/dev/null |
		    sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
		[ "$st" = COMPLETED ] || die "gather job $g ended $st" \
		    "(logs in $S/logs/); submit again to redo what failed"
		echo "$prog: gather job $g completed"
	fi
	;;
*)
	usage
	;;
esac
