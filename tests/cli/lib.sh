# lib.sh - the tiny harness of the CLI tests.  Source it first; every test
# script then runs in its own scratch folder $T (removed at exit).
#
#   ok "what" cmd...          cmd must exit 0
#   must_fail N "what" cmd... cmd must exit N, and its stderr must start
#                             with the program's name (cmd's basename)
#   same "what" FILE1 FILE2   byte-identical files
#   done_testing              exit non-zero if anything failed
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
n_fail=0
n=0

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
	"$@" >"$T/.out" 2>"$T/.err"
	got=$?
	prog=$(basename "$1")
	if [ "$prog" = sh ] && [ "$2" = -c ]; then
		prog=${3%% *}		# sh -c 'prog ...': the first word
	fi
	if [ "$got" -ne "$want" ]; then
		echo "not ok $n - $what (exit $got, wanted $want)"
		sed 's/^/#   /' "$T/.err" | head -n 5
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

done_testing() {
	[ "$n_fail" -eq 0 ]
}
