#!/bin/sh
# examples/jsc.yaml loads data laid out as the OpenML export of
# hls4ml_lhc_jets_hlf: a CSV with a header, 16 float features and the
# class as a 17th column.  A copy of the config, pointed at the made-up
# fixture tests/data/jsc-tiny.csv (tests/data/mkjsc-tiny.sh) with
# label_col 16, trains (batchnorm, standard scaling fitted on the training
# rows), and hgq-sim on the bare features reproduces its test accuracy.
. "$TESTS_DIR/lib.sh"

csv=$ROOT/tests/data/jsc-tiny.csv
check "the fixture: a header of 17 columns" sh -c "head -n 1 '$csv' |
    awk -F, '\$1 == \"zlogz\" && \$16 == \"multiplicity\" &&
    \$17 == \"class\" && NF == 17 { ok = 1 } END { exit !ok }'"
check "the fixture: 250 rows of 16 numbers and a class 0-4" sh -c "
    awk -F, 'NR > 1 && NF == 17 && \$17 ~ /^[0-4]\$/ { n++ }
    END { exit n != 250 }' '$csv'"

# the copy: the data keys point at the fixture, everything else is kept
sed -e "s|^\(  train_x:\).*|\1 $csv|" -e "s|^\(  test_x:\).*|\1 $csv|" \
    -e '/^  train_y:/d' -e '/^  test_y:/d' \
    -e 's|^data:$|data:\n  label_col: 16|' "$ROOT/examples/jsc.yaml" > jsc.yaml
check "the copy differs only in its data keys" sh -c "
    diff '$ROOT/examples/jsc.yaml' jsc.yaml | grep '^[<>]' |
    grep -v -e '_x:' -e '_y:' -e 'label_col: 16' | grep . && exit 1; exit 0"

ok "hgq-train on the fixture" hgq-train -c jsc.yaml --epochs 4 --threads 1 \
    --pareto-dir pareto --log train.tsv -o jsc.hgqm
acc=$(sed -n 's/.*test accuracy \([0-9.]*\) (exact).*/\1/p' .err)
check "it reports a test accuracy" test -n "$acc"
ok "the model" hgq-ebops --dump jsc.hgqm
cp .out dump.json
check "16 raw inputs" grep -q '"n_raw": 16,' dump.json
check "standard scaling" grep -q '"kind": "standard"' dump.json
# the offset of mass_mmdt is its mean over the 213 training rows (the
# last floor(0.15 x 250) = 37 rows validate)
check "fitted on the training rows" sh -c "
    m=\$(awk -F, 'NR > 1 && NR <= 214 { s += \$15 }
        END { printf \"%.6g\", s / 213 }' '$csv')
    o=\$(tr -d '\n' < dump.json | sed 's/.*\"offset\": \\[\\([^]]*\\)\\].*/\\1/' |
        awk -F', *' '{ printf \"%.6g\", \$15 }')
    test \"\$m\" = \"\$o\""
check "5 outputs" sh -c "hgq-ebops --tsv jsc.hgqm | tail -n 1 |
    cut -f 4 | grep -qx 5"

# hgq-sim reads the features and the labels apart
cut -d, -f 1-16 "$csv" > x.csv
cut -d, -f 17 "$csv" > y.csv
ok "hgq-sim on the fixture" hgq-sim -i x.csv -l y.csv --report json jsc.hgqm
check "the same test accuracy as hgq-train ($acc)" sh -c "
    grep -q '\"n\": 250,' .out &&
    awk -v a=\$(sed 's/.*\"accuracy\": \([0-9.]*\).*/\1/' .out) -v b='$acc' \
    'BEGIN { exit !(sprintf(\"%.4f\", a) == b) }'"
ok "hgq-prune | hgq-sim --compare: the same outputs" sh -c "
    hgq-sim -i x.csv --raw -o a.npy jsc.hgqm &&
    hgq-prune -q jsc.hgqm | hgq-sim -i x.csv --raw --compare a.npy"
done_testing
