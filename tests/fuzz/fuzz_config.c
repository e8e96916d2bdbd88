/*
 * fuzz_config - libFuzzer harness for the YAML config loader (through a
 * temporary file).  Besides not crashing: a failed load leaves a message
 * of the form "path:line:col: ..." or names the path.
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
	struct hgq_config c;
	struct hgq_err err = HGQ_ERR_INIT;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/hgq-fuzz-cfg.%ld",
		    (long)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	hgq_config_init(&c);
	if (hgq_config_load(&c, path, &err) != HGQ_OK) {
		if (strncmp(err.msg, path, strlen(path)) != 0 ||
		    strchr(err.msg, '\n') != NULL)
			abort();	/* every message names the file */
	}
	hgq_config_release(&c);
	unlink(path);
	return 0;
}
