/*
 * save.c - atomic model files: write to a temporary name beside the
 * target, flush to disk, rename over the target.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int
hgq_model_save(const char *path, const struct hgq_model *m, unsigned flags,
    struct hgq_err *err)
{
	size_t len = strlen(path);
	char *tmp;
	FILE *f = NULL;
	int fd, rc;

	if ((tmp = malloc(len + 32)) == NULL)
		return hgq_errf(err, HGQ_ENOMEM, "out of memory");
	snprintf(tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0 || (f = fdopen(fd, "wb")) == NULL) {
		rc = hgq_errf(err, HGQ_EIO, "cannot create '%s': %s", tmp,
		    strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return rc;
	}
	rc = hgq_model_write(f, m, flags, err);
	if (rc == HGQ_OK && (fflush(f) != 0 || ferror(f) ||
	    fsync(fileno(f)) != 0))
		rc = hgq_errf(err, HGQ_EIO, "cannot write '%s': %s", tmp,
		    strerror(errno));
	if (fclose(f) != 0 && rc == HGQ_OK)
		rc = hgq_errf(err, HGQ_EIO, "cannot write '%s': %s", tmp,
		    strerror(errno));
	if (rc == HGQ_OK && rename(tmp, path) != 0)
		rc = hgq_errf(err, HGQ_EIO, "cannot rename '%s' to '%s': %s",
		    tmp, path, strerror(errno));
	if (rc != HGQ_OK)
		unlink(tmp);
	free(tmp);
	return rc;
}
