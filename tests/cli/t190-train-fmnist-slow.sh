#!/bin/sh
# hgq-train on examples/fmnist.yaml, the whole run (minutes): at least
# 87 % test accuracy, bit-exact as hgq-sim computes it, at no more than
# 112,000 exact EBOPs (1/30 of the network at uniform 8 bits).  Slow, so
# it runs only with HGQ_SLOW=1 (make check-slow), which then needs the
# data: without them it fails rather than skips, since it was asked for.
. "$TESTS_DIR/lib.sh"

D=/usr/share/datasets/fashion-mnist
if [ "${HGQ_SLOW:-0}" != 1 ]; then
	echo "ok 1 - # skip: slow (make check-slow runs it)"
	exit 0
fi
check "Fashion-MNIST is installed in $D (Debian package \
dataset-fashion-mnist: sh scripts/deps.sh)" test -r "$D/t10k-images-idx3-ubyte.gz"
done_testing || exit 1
start=$(date +%s)
ok "train examples/fmnist.yaml" hgq-train -c "$ROOT/examples/fmnist.yaml" -o fm.hgqm
echo "# $(($(date +%s) - start)) s; $(tail -n 1 .err)"
ok "hgq-sim on the test set" hgq-sim -i "$D/t10k-images-idx3-ubyte.gz" \
    -l "$D/t10k-labels-idx1-ubyte.gz" --report json fm.hgqm
acc=$(sed 's/.*"accuracy": *\([0-9.]*\).*/\1/' .out)
check "test accuracy $acc >= 0.87" awk -v a="$acc" 'BEGIN { exit !(a >= 0.87) }'
ok "hgq-ebops" hgq-ebops --json fm.hgqm
eb=$(sed -n 's/.*"total_ebops": *\([0-9]*\).*/\1/p' .out | head -n 1)
check "exact EBOPs $eb <= 112000" test "$eb" -le 112000
echo "# Pareto front (validation accuracy, EBOPs):"
ls runs/fmnist/pareto 2>/dev/null | sed 's/^/#   /'
done_testing
