#!/bin/sh
# Hostile surroundings: standard output full (/dev/full) or closed (>&-)
# for everything a program writes there, standard input and error closed,
# a bad option for every program, and outputs that cannot be made (-o in
# a missing folder, -o naming a folder): exit 1 (2 for usage) with one
# line "prog: ...", and no output or temporary file left behind.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/lib-hostile.sh"

mkfixture --seed 5 --shape 6,9,4 -o m.hgqm
mkdata --seed 1 20 6 x.npy
mkdata --seed 2 --int --lo 0 --hi 4 20 0 y.npy
resume_config
mkdir adir
full=
[ -w /dev/full ] && full=/dev/full

# every way each program writes to standard output
while IFS='|' read -r prog args; do
	[ -n "$prog" ] || continue
	command -v "$prog" >/dev/null 2>&1 || continue
	want_name='' want_msg='*standard output*'
	refuses "$prog" "$args, standard output closed" sh -c "$prog $args >&-"
	if [ -n "$full" ]; then
		refuses "$prog" "$args, standard output full" sh -c "$prog $args > $full"
	fi
done <<'EOF'
hgq-ebops|m.hgqm
hgq-ebops|--tsv m.hgqm
hgq-ebops|--json m.hgqm
hgq-ebops|--dump m.hgqm
hgq-ebops|--help
hgq-ebops|--version
hgq-prune|-q m.hgqm
hgq-prune|--help
hgq-sim|-t 1 -i x.npy m.hgqm
hgq-sim|-t 1 -i x.npy --raw m.hgqm
hgq-sim|-t 1 -i x.npy -l y.npy --report text m.hgqm
hgq-sim|-t 1 -i x.npy -l y.npy --report json -o out.npy --vectors out.txt m.hgqm
hgq-sim|--version
hgq-emit-verilog|m.hgqm
hgq-emit-verilog|-o o.v --report json m.hgqm
hgq-emit-verilog|--help
hgq-train|-q -c cfg.yaml
hgq-train|--help
EOF

# the programs never write into a descriptor left closed
if command -v hgq-emit-verilog >/dev/null 2>&1; then
	want_name='' want_msg='*standard output*'
	refuses hgq-emit-verilog "stdout closed, model on stdin, report to stdout" \
	    sh -c 'hgq-emit-verilog -o v.v --report json - < m.hgqm >&-'
	check "the Verilog is complete" grep -q '^endmodule' v.v
	check "and holds nothing else" sh -c '! grep -q "\"adders\"" v.v'
fi

# standard input closed; standard error closed (the status still tells)
want_name="standard input" want_msg='*read error*'
for p in hgq-ebops hgq-prune; do
	refuses "$p" "standard input closed" sh -c "$p <&-"
done
n=$((n + 1))
if hgq-ebops nothere.hgqm 2>&-; then
	echo "not ok $n - hgq-ebops: standard error closed: exit 0"
	n_fail=$((n_fail + 1))
else
	echo "ok $n - hgq-ebops: standard error closed: still exit 1"
fi

# a bad option is a usage error (exit 2) for every program
for p in hgq-ebops hgq-prune hgq-sim hgq-emit-verilog hgq-train; do
	have "$p" || continue
	want_name='' want_msg=''
	exits 2 "$p" "a bad option" "$p" --no-such-option m.hgqm
	exits 2 "$p" "an option without its argument" "$p" -o
done

# outputs that cannot be made
want_name=nodir/
for cmd in "hgq-prune -o nodir/out.hgqm m.hgqm" \
    "hgq-sim -t 1 -i x.npy -o nodir/out.npy m.hgqm" \
    "hgq-sim -t 1 -i x.npy --vectors nodir/v.txt --report json m.hgqm" \
    "hgq-emit-verilog -o nodir/out.v m.hgqm" \
    "hgq-emit-verilog -o out.v --report-file nodir/r.json m.hgqm" \
    "hgq-emit-verilog -o out.v --testbench nodir/tb.v --vectors x.npy m.hgqm" \
    "hgq-train -q -c cfg.yaml -o nodir/out.hgqm"; do
	set -- $cmd
	command -v "$1" >/dev/null 2>&1 || continue
	want_msg="*cannot create 'nodir/*No such file or directory"
	refuses "$1" "${cmd#* }" $cmd
done
want_name=adir
for cmd in "hgq-prune -o adir m.hgqm" "hgq-sim -t 1 -i x.npy -o adir m.hgqm" \
    "hgq-emit-verilog -o adir m.hgqm" "hgq-train -q -c cfg.yaml -o adir"; do
	set -- $cmd
	command -v "$1" >/dev/null 2>&1 || continue
	want_msg="*adir*"
	refuses "$1" "-o names a folder: ${cmd#* }" $cmd
	check "$1: no temporary file in the folder's parent" sh -c '! ls adir.tmp.* 2>/dev/null'
done

# a reader that stops early (head) ends the writer quietly: SIGPIPE is
# left at its default, no message
hgq-ebops --dump m.hgqm 2>pipe.err | head -c 10 > /dev/null
check "a closed pipe: no message" test ! -s pipe.err
done_testing
