#!/bin/sh
# make check installs nothing: it does not depend on the deps target nor
# run scripts/deps.sh or apt-get (.ci/run runs scripts/deps.sh first,
# then make check); its own build dependencies are checked, by name.
. "$TESTS_DIR/lib.sh"

need make

# the make of the tests' caller must not leak in (jobserver, -n ...)
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" \
	    --no-print-directory "$@"
}

# a line of make -n that would run deps.sh or apt
runs_install='^[[:space:]]*(sudo |[a-z]*sh )*(\./)?(scripts/)?(deps\.sh|apt-get|apt )'
for a in "" "asan=1"; do
	ok "make -n check $a" mk -n check $a
	check "make -n check $a: runs no scripts/deps.sh nor apt" \
	    sh -c "! grep -Eq '$runs_install' .out"
	check "make -n check $a: runs the tests" grep -q 'tests/cli/run.sh' .out
	ok "make -p -n check $a" mk -p -n check $a
	check "make check $a: deps is not a prerequisite" \
	    sh -c "! grep -Eq '^check: (.* )?deps( |\$)' .out"
done
# the pattern finds what it is meant to find
printf 'mkdir -p x\nsh scripts/deps.sh\n' > yes.txt
check "(the pattern sees sh scripts/deps.sh)" grep -Eq "$runs_install" yes.txt

# a missing build dependency is named, with the remedy
mk check-build-deps CPPFLAGS=-DX CC="sh -c 'exit 1' --" >bd.out 2>bd.err
check "a missing header stops make check" test $? -eq 2
check "... with a clear message" grep -q \
    "^make check: cannot build the tests: <yaml.h> is missing (sh scripts/deps.sh" bd.err
check "... and installs nothing" sh -c "! grep -Eq '$runs_install' bd.out"
done_testing
