/*
 * fuzz_data - libFuzzer harness for the data loaders (npy, CSV, IDX,
 * gzip), through a temporary file since the readers take paths.  The
 * first byte picks the label column for CSV; the kind is found from the
 * magic bytes.  Property besides not crashing: the whole-file load and
 * the chunked reader agree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hgq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct hgq_data_opts o;
	struct hgq_table t;
	struct hgq_reader *r;
	FILE *f;
	int rc;

	if (size < 1)
		return 0;
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/hgq-fuzz-data.%ld",
		    (long)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	hgq_data_opts_init(&o);
	o.label_col = (data[0] & 3) == 3 ? -1 : data[0] & 3;
	memset(&t, 0, sizeof(t));
	rc = hgq_table_load(path, &o, &t, NULL);
	if (hgq_reader_open(&r, path, &o, NULL) == HGQ_OK) {
		size_t cols = hgq_reader_cols(r), got, row = 0;
		double *x = calloc(7 * (cols ? cols : 1), sizeof(double));
		double y[7];
		int rrc;

		while (x != NULL && (rrc = hgq_reader_read(r, x, y, 7, &got,
		    NULL)) == HGQ_OK && got > 0) {
			if (rc == HGQ_OK && (row + got > t.n_rows ||
			    memcmp(x, t.x + row * cols, got * cols *
			    sizeof(double)) != 0))
				abort();	/* chunked != whole */
			row += got;
		}
		if (x != NULL && rc == HGQ_OK && rrc == HGQ_OK &&
		    row != t.n_rows)
			abort();
		free(x);
		hgq_reader_close(r);
	}
	if (rc == HGQ_OK)
		hgq_table_release(&t);
	unlink(path);
	return 0;
}
