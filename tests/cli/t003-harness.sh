#!/bin/sh
# The harness itself (lib.sh): must_fail fails on a sanitizer report
# and runs without leak detection; wait_for waits for a file that does
# not exist yet, and fails loudly when the job ends or the time is up.
. "$TESTS_DIR/lib.sh"

# inner SCRIPT: run SCRIPT with lib.sh in a shell of its own, output
# in inner.out (the numbering and the failures stay there)
inner() {
	printf '. "%s/lib.sh"\n%s\ndone_testing\n' "$TESTS_DIR" "$1" > inner.sh
	sh inner.sh > inner.out 2>&1
}

mkdir bin
cat > bin/fakeprog <<'EOF'
#!/bin/sh
echo "fakeprog: it failed" >&2
[ "$1" = report ] && echo "==42==ERROR: LeakSanitizer: detected memory leaks" >&2
[ "$1" = ub ] && echo "x.c:3:5: runtime error: signed integer overflow" >&2
[ "$1" = opts ] && echo "$ASAN_OPTIONS" >&2
exit 1
EOF
chmod +x bin/fakeprog
PATH=$T/bin:$PATH

inner 'must_fail 1 "plain" fakeprog'
check "must_fail: a failing run passes" grep -q '^ok 1 - plain$' inner.out
inner 'must_fail 1 "leak" fakeprog report'
check "must_fail: a LeakSanitizer report fails" \
    grep -q '^not ok 1 - leak (a sanitizer report)' inner.out
inner 'must_fail 1 "ub" fakeprog ub'
check "must_fail: a UBSan report fails" \
    grep -q '^not ok 1 - ub (a sanitizer report)' inner.out
ASAN_OPTIONS=abort_on_error=1 inner 'must_fail 1 "opts" fakeprog opts
check "options" grep -qx "abort_on_error=1:detect_leaks=0" .err'
check "must_fail: no leak detection, other options kept" \
    grep -q '^ok 2 - options' inner.out

inner '(sleep 0.3; echo "epoch 1" > late.txt; sleep 5) & pid=$!
wait_for "$pid" late.txt 1 "^epoch"
check "after the wait" grep -q "^epoch 1" late.txt
kill "$pid"'
check "wait_for: a file made later" grep -q '^ok 1 - after the wait' inner.out
check "... and nothing failed" sh -c '! grep -q "^not ok" inner.out'
inner 'sleep 0.2 & pid=$!
wait_for "$pid" never.txt 1 x'
check "wait_for: the job ends first" grep -q \
    "^not ok 1 - wait for 1 lines 'x' in never.txt: the job ended with 0" inner.out
start=$(date +%s)
inner 'sleep 30 & pid=$!
wait_for "$pid" never.txt 2 x 1
kill "$pid"'
check "wait_for: times out" grep -q \
    "^not ok 1 - wait for 2 lines 'x' in never.txt: timed out after 1 s" inner.out
check "... within seconds" test $(($(date +%s) - start)) -le 5

inner 'need sh nosuchtool-hgq; check "not reached" false'
check "need: one skip line, nothing after" \
    test "$(cat inner.out)" = "ok 1 - # skip: nosuchtool-hgq is missing"
done_testing
