#!/bin/sh
# Every output file goes through one atomic writer (lib/save.c): the
# hgq-train log is rewritten after each epoch through a temporary file
# renamed into place, and no writer ever writes through a file that sits
# under its temporary name (a symlink planted there used to be followed:
# the log or a model overwrote the link's target).  A fatal signal
# removes the temporary file of an output being written.
. "$TESTS_DIR/lib.sh"

awk 'BEGIN { srand(5); for (r = 0; r < 600; r++) {
	s = 0; line = ""
	for (k = 0; k < 6; k++) {
		v = int((rand() * 2 - 1) * 32) / 32
		s += v * (k - 2.5)
		line = line v ","
	}
	print line (s > 0.5 ? 0 : s > -0.5 ? 1 : 2)
} }' > d.csv
cut -d, -f 1-6 d.csv > x.csv
cat > short.yaml <<EOF
seed: 3
data: { train_x: d.csv, label_col: 6, val_split: 0.25 }
model:
  layers:
    - { type: dense, units: 8, activation: relu }
    - { type: dense, units: 3 }
train: { epochs: 2, batch_size: 50, threads: 1 }
EOF

ok "train with a log" hgq-train -q -c short.yaml --log log.tsv -o m.hgqm
check "the log is a plain file" test -f log.tsv -a ! -h log.tsv
check "a header and one line per epoch" test "$(wc -l < log.tsv)" -eq 3
check "no temporary file" sh -c '! ls ./*.tmp.* 2>/dev/null'

# a symlink planted under the log's temporary name (the pid is known:
# exec keeps the shell's)
echo precious > victim
ok "a planted symlink does not stop the run" sh -c \
    'ln -s victim log2.tsv.tmp.$$ && exec hgq-train -q -c short.yaml --log log2.tsv -o m2.hgqm'
check "the link's target is intact" test "$(cat victim)" = precious
check "the log is a plain file" test -f log2.tsv -a ! -h log2.tsv
same "with the same log" log.tsv log2.tsv
same "and the same model" m.hgqm m2.hgqm

# the same for a model written with -o
ok "hgq-prune -o past a planted symlink" sh -c \
    'ln -s victim p.hgqm.tmp.$$ && exec hgq-prune -q -o p.hgqm m.hgqm'
check "the link's target is intact" test "$(cat victim)" = precious
check "the model is a plain file" test -f p.hgqm -a ! -h p.hgqm
ok "and reads" hgq-ebops p.hgqm

# a fatal signal while hgq-sim waits for input with its -o file open:
# the temporary file goes, nothing appears under the name.  The reader
# fills a 256 KiB buffer before the first row, so the fifo gets more
# than that (360 KB) and then stays open without an end.  (Its writing
# end is opened after hgq-sim started and opened the reading end.)
awk 'BEGIN { for (r = 0; r < 30000; r++) print "0.5,0,0,0,0,0" }' > big.csv
mkfifo in.fifo
for sig in TERM HUP; do
	rm -f out.npy
	hgq-sim -t 1 -i in.fifo -o out.npy m.hgqm 2> sim.err &
	pid=$!
	exec 3> in.fifo
	cat big.csv >&3
	i=0
	while [ "$i" -lt 400 ] && ! ls out.npy.tmp.* >/dev/null 2>&1; do
		sleep 0.05
		i=$((i + 1))
	done
	check "SIG$sig: the output is being written" \
	    sh -c 'ls out.npy.tmp.* >/dev/null 2>&1'
	kill -"$sig" "$pid"
	wait "$pid"
	st=$?
	exec 3>&-
	check "SIG$sig ended it ($st)" test "$st" -gt 128
	check "SIG$sig: no temporary file" sh -c '! ls out.npy.tmp.* 2>/dev/null'
	check "SIG$sig: no output" test ! -e out.npy
done
done_testing
