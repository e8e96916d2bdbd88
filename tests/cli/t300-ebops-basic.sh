#!/bin/sh
# hgq-ebops: options, streams, the three report forms, --dump, refusals.
. "$TESTS_DIR/lib.sh"

mkfixture --seed 4 --shape 12,16,16,10 -o m.hgqm
mkfixture --seed 4 --shape 12,16,16,10 --uncalibrated -o raw.hgqm

usual_options hgq-ebops m.hgqm
must_fail 2 "--json and --tsv exclude each other" hgq-ebops --json --tsv m.hgqm
must_fail 2 "--dump and --json exclude each other" hgq-ebops --dump --json m.hgqm
must_fail 2 "two operands are a usage error" hgq-ebops m.hgqm m.hgqm
must_fail 1 "missing model" hgq-ebops nonexistent.hgqm
check "the message names the file" grep -q "nonexistent.hgqm" .err
must_fail 1 "an empty model" hgq-ebops /dev/null
must_fail 1 "not a model" hgq-ebops "$TESTS_DIR/lib.sh"
must_fail 1 "an uncalibrated model" hgq-ebops raw.hgqm
check "it says why" grep -q "model was never calibrated" .err
must_fail 1 "an uncalibrated model, --json" hgq-ebops --json raw.hgqm
ok "--dump works on an uncalibrated model" hgq-ebops --dump raw.hgqm
check "its fixed-point fields are null" grep -q '"k": null' .out

for mode in "" --tsv --json --dump; do
	# shellcheck disable=SC2086
	ok "operand ${mode:-text}" sh -c "hgq-ebops $mode m.hgqm > a.txt"
	# shellcheck disable=SC2086
	ok "stdin ${mode:-text}" sh -c "hgq-ebops $mode - < m.hgqm > b.txt"
	same "stdin and operand agree, ${mode:-text}" a.txt b.txt
	# shellcheck disable=SC2086
	ok "no operand ${mode:-text}" sh -c "hgq-ebops $mode < m.hgqm > c.txt"
	same "no operand reads stdin, ${mode:-text}" a.txt c.txt
	if [ -w /dev/full ]; then
		# shellcheck disable=SC2086
		hgq-ebops $mode m.hgqm > /dev/full 2> full.err
		check "stdout to /dev/full exits 1, ${mode:-text}" test $? -eq 1
		check "the write error is reported, ${mode:-text}" \
		    grep -q '^hgq-ebops: ' full.err
	fi
done

# text: an aligned table (every row as wide as the header) and a total
hgq-ebops m.hgqm > t.txt
check "text header" grep -q '^layer  *shape  *ebops  *weights  *nonzero  *pruned' t.txt
check "one row per dense layer" test "$(grep -c '^dense_[123] ' t.txt)" -ge 3
check "a total line" grep -q '^total  ' t.txt
check "the table is aligned" sh -c \
    "sed -n '1,/^total/p' t.txt | awk '{ print length }' | sort -u | wc -l | grep -qx 1"
check "both histograms" sh -c \
    'grep -q "^weight spans" t.txt && grep -q "^activation widths" t.txt'

# TSV: a # header, fixed columns, one row per dense layer
hgq-ebops --tsv m.hgqm > t.tsv
printf '#%s\n' "layer index n_in n_out ebops weights nonzero pruned act_pruned \
inputs_pruned outputs_pruned uniform8 lut_estimate span_hist width_hist" |
    tr ' ' '\t' > head.want
head -n 1 t.tsv > head.got
same "TSV header" head.want head.got
check "TSV: 3 rows" test "$(grep -vc '^#' t.tsv)" -eq 3
check "TSV: 15 fields everywhere" sh -c \
    "awk -F '\t' 'NF != 15 { exit 1 }' t.tsv"
check "TSV: shapes" sh -c "cut -f 1-4 t.tsv | tail -n 3 | tr '\t' ' ' |
    tr '\n' ';' | grep -qx 'dense_1 1 12 16;dense_2 3 16 16;dense_3 5 16 10;'"

# the three forms agree on the totals
total_txt=$(awk '$1 == "total" { print $2 }' t.txt)
total_tsv=$(awk -F '\t' '!/^#/ { s += $5 } END { print s }' t.tsv)
total_json=$(hgq-ebops --json m.hgqm |
    sed -n 's/^  "total_ebops": \([0-9]*\),$/\1/p')
check "text and TSV totals agree" test "$total_txt" = "$total_tsv"
check "text and JSON totals agree" test "$total_txt" = "$total_json"
check "the total is not 0" test "$total_txt" -gt 0

done_testing
