#!/bin/sh
# hgq-train --target-ebops on examples/fmnist.yaml, the whole run
# (minutes each): the exact EBOPs of the final model (hgq-ebops) land
# within 5 % of the targets 30,000 and 100,000.  Slow, so it runs only
# with HGQ_SLOW=1 (make check-slow).
. "$TESTS_DIR/lib.sh"

D=/usr/share/datasets/fashion-mnist
if [ "${HGQ_SLOW:-0}" != 1 ] || [ ! -r "$D/train-images-idx3-ubyte.gz" ]; then
	done_testing
	exit 0
fi
for tgt in 30000 100000; do
	start=$(date +%s)
	ok "train to $tgt EBOPs" hgq-train -q -c "$ROOT/examples/fmnist.yaml" \
	    --target-ebops $tgt --log t$tgt.tsv -o t$tgt.hgqm
	ok "hgq-ebops" hgq-ebops --json t$tgt.hgqm
	eb=$(sed -n 's/.*"total_ebops": *\([0-9]*\).*/\1/p' .out | head -n 1)
	echo "# target $tgt: $eb EBOPs in $(($(date +%s) - start)) s"
	check "EBOPs $eb within 5 % of $tgt" test $((eb * 100)) -ge \
	    $((tgt * 95)) -a $((eb * 100)) -le $((tgt * 105))
done
done_testing
