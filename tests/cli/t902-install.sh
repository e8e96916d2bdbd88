#!/bin/sh
# make install DESTDIR=... PREFIX=/usr puts every program and every page
# (section 1 per program, hgqm(5), hgq(7)) in place, and the pages lint
# clean and refer only to pages that are installed.  `-o all` keeps make
# from rebuilding anything: it installs the programs the tests run.
. "$TESTS_DIR/lib.sh"

need make

R=$T/root
# B is the build folder of the programs under test (build or build/asan)
ok "make install" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" \
    --no-print-directory -o all B="${HGQ_BIN%/bin}" DESTDIR="$R" \
    PREFIX=/usr install

for p in hgq-train hgq-prune hgq-ebops hgq-sim hgq-emit-verilog hgq-pareto; do
	[ -x "$HGQ_BIN/$p" ] || continue
	check "$p installed" test -x "$R/usr/bin/$p"
	ok "$p runs" "$R/usr/bin/$p" --version
	check "$p(1) installed" test -s "$R/usr/share/man/man1/$p.1"
done
check "hgqm(5) installed" test -s "$R/usr/share/man/man5/hgqm.5"
check "hgq(7) installed" test -s "$R/usr/share/man/man7/hgq.7"
check "nothing else in bin" test "$(ls "$R/usr/bin" | grep -vc '^hgq-')" -eq 0

# every .Xr hgq* reference names an installed page
xr=$(cat "$R"/usr/share/man/man*/* |
    sed -n 's/^\.Xr \(hgq[-a-z]*\) \([0-9]\).*/\1.\2/p' | sort -u)
for x in $xr; do
	check "referenced page $x installed" \
	    test -f "$R/usr/share/man/man${x##*.}/$x"
done

if have mandoc; then
	for p in "$R/usr/share/man/man5/hgqm.5" "$R/usr/share/man/man7/hgq.7"; do
		ok "$(basename "$p") lints clean" sh -c "mandoc -Tlint -W warning \
		    '$p' | grep -v 'referenced manual not found' | grep . &&
		    exit 1; exit 0"
	done
	check "hgqm(5) points to the normative spec" sh -c "mandoc -Tascii \
	    '$R/usr/share/man/man5/hgqm.5' | col -b | grep -q 'formats/hgqm.md'"
fi
done_testing
