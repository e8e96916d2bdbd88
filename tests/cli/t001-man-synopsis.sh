#!/bin/sh
# Every program's usage line is its man page's SYNOPSIS, and every
# program has a page (STYLE.md 3.11).
. "$TESTS_DIR/lib.sh"

# the words of the usage text, on one line
usage_words() {
	"$1" --help 2>/dev/null | awk '/^usage:/ { on = 1; sub(/^usage:/, "") }
	    on && /^$/ { exit } on { printf "%s ", $0 }' | tr -s ' \t' '  ' |
	    sed 's/^ //; s/ $//; s/ | /|/g'
}

# the words of the SYNOPSIS section of the page
synopsis_words() {
	mandoc -Tascii "$1" | col -b | awk '/^SYNOPSIS/ { on = 1; next }
	    on && /^[A-Z]/ { exit } on { printf "%s ", $0 }' | tr -s ' \t' '  ' |
	    sed 's/^ //; s/ $//; s/ | /|/g'
}

have mandoc && mandoc=1 || mandoc=
for p in hgq-train hgq-prune hgq-ebops hgq-sim hgq-emit-verilog hgq-pareto; do
	command -v "$p" >/dev/null 2>&1 || continue
	page="$ROOT/man/$p.1"
	check "$p has a man page" test -f "$page"
	[ -f "$page" ] || continue
	if [ -n "$mandoc" ]; then
		u=$(usage_words "$p")
		s=$(synopsis_words "$page")
		n=$((n + 1))
		if [ "$u" = "$s" ]; then
			echo "ok $n - $p: usage line = SYNOPSIS"
		else
			echo "not ok $n - $p: usage line and SYNOPSIS differ"
			echo "#   usage:    $u"
			echo "#   synopsis: $s"
			n_fail=$((n_fail + 1))
		fi
		ok "$p page lints clean" sh -c "mandoc -Tlint -W warning '$page' |
		    grep -v 'referenced manual not found' | grep . && exit 1;
		    exit 0"
	fi
done
done_testing
