/*
 * save.c - the one atomic writer of output files: write to a new
 * temporary file beside the target, flush it to disk, rename it over the
 * target.  A failed or interrupted run never leaves a partial file under
 * the target's name, and never a temporary file either: failures remove
 * it here, and a program's fatal-signal handler calls hgq_afile_cleanup().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * The temporary files being written, for hgq_afile_cleanup() in a signal
 * handler: a slot holds its name from the file's creation until its
 * rename or removal.  Slots are taken and given back under the lock; the
 * handler only reads them (a pointer store is atomic on every host we
 * build on, and a name is complete before its pointer is stored).
 */
#define MAX_OPEN	32
#define MAX_TRIES	100	/* names tried when path.tmp.<pid> exists */

static char *volatile open_tmp[MAX_OPEN];
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

struct hgq_afile {
	FILE	*f;
	char	*path;
	char	*tmp;
	int	 slot;
};

/* register tmp in a free slot; -1 when all are taken */
static int
slot_take(char *tmp)
{
	int slot = -1;

	pthread_mutex_lock(&open_lock);
	for (int j = 0; j < MAX_OPEN && slot < 0; j++)
		if (open_tmp[j] == NULL) {
			open_tmp[j] = tmp;
			slot = j;
		}
	pthread_mutex_unlock(&open_lock);
	return slot;
}

static void
slot_give(int slot)
{
	pthread_mutex_lock(&open_lock);
	open_tmp[slot] = NULL;
	pthread_mutex_unlock(&open_lock);
}

/*
 * Create the temporary file with O_EXCL, so that nothing already there
 * (a file of another run, or a symlink planted under the name) is ever
 * written through: "path.tmp.<pid>", then "path.tmp.<pid>.<n>".  Signals
 * are blocked from the creation to the registration of the name, so that
 * a signal handler either finds the file registered or finds no file.
 * Returns the descriptor, -1 (errno set) or -2 (every slot taken).
 */
static int
create_tmp(struct hgq_afile *a, size_t size, int n)
{
	sigset_t all, old;
	int fd;

	if (n == 0)
		snprintf(a->tmp, size, "%s.tmp.%ld", a->path, (long)getpid());
	else
		snprintf(a->tmp, size, "%s.tmp.%ld.%d", a->path,
		    (long)getpid(), n);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd >= 0 && (a->slot = slot_take(a->tmp)) < 0) {
		close(fd);
		unlink(a->tmp);
		fd = -2;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return fd;
}

int
hgq_afile_open(struct hgq_afile **out, const char *path,
    struct hgq_err *err)
{
	struct hgq_afile *a;
	size_t size = strlen(path) + 48;
	int fd = -1, rc;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->path = strdup(path)) == NULL ||
	    (a->tmp = malloc(size)) == NULL) {
		rc = hgq_errf(err, HGQ_ENOMEM, "out of memory");
		goto fail;
	}
	a->slot = -1;
	for (int n = 0; n < MAX_TRIES && fd < 0; n++) {
		fd = create_tmp(a, size, n);
		if (fd == -2) {
			rc = hgq_errf(err, HGQ_EINVAL, "cannot create '%s': "
			    "more than %d output files open", path, MAX_OPEN);
			goto fail;
		}
		if (fd < 0 && errno != EEXIST) {
			rc = hgq_errf(err, HGQ_EIO, "cannot create '%s': %s",
			    path, strerror(errno));
			goto fail;
		}
	}
	if (fd < 0) {
		rc = hgq_errf(err, HGQ_EIO, "cannot create '%s': %d temporary "
		    "names beside it are taken", path, MAX_TRIES);
		goto fail;
	}
	if ((a->f = fdopen(fd, "wb")) == NULL) {
		rc = hgq_errf(err, HGQ_EIO, "cannot create '%s': %s", path,
		    strerror(errno));
		close(fd);
		unlink(a->tmp);
		slot_give(a->slot);
		goto fail;
	}
	*out = a;
	return HGQ_OK;
fail:
	if (a != NULL) {
		free(a->path);
		free(a->tmp);
		free(a);
	}
	return rc;
}

FILE *
hgq_afile_stream(const struct hgq_afile *a)
{
	return a->f;
}

static void
afile_free(struct hgq_afile *a)
{
	slot_give(a->slot);
	free(a->path);
	free(a->tmp);
	free(a);
}

int
hgq_afile_commit(struct hgq_afile *a, struct hgq_err *err)
{
	int rc = HGQ_OK;

	if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
		rc = hgq_errf(err, HGQ_EIO, "cannot write '%s': %s", a->path,
		    strerror(errno));
	if (fclose(a->f) != 0 && rc == HGQ_OK)
		rc = hgq_errf(err, HGQ_EIO, "cannot write '%s': %s", a->path,
		    strerror(errno));
	if (rc == HGQ_OK && rename(a->tmp, a->path) != 0)
		rc = hgq_errf(err, HGQ_EIO, "cannot rename to '%s': %s",
		    a->path, strerror(errno));
	if (rc != HGQ_OK)
		unlink(a->tmp);
	afile_free(a);
	return rc;
}

void
hgq_afile_abort(struct hgq_afile *a)
{
	if (a == NULL)
		return;
	fclose(a->f);
	unlink(a->tmp);
	afile_free(a);
}

/* async-signal-safe: reads the slots and calls unlink() only */
void
hgq_afile_cleanup(void)
{
	for (int j = 0; j < MAX_OPEN; j++) {
		char *tmp = open_tmp[j];

		if (tmp != NULL)
			unlink(tmp);
	}
}

int
hgq_model_save(const char *path, const struct hgq_model *m, unsigned flags,
    struct hgq_err *err)
{
	struct hgq_afile *a;
	int rc;

	if ((rc = hgq_afile_open(&a, path, err)) != HGQ_OK)
		return rc;
	if ((rc = hgq_model_write(hgq_afile_stream(a), m, flags, err)) !=
	    HGQ_OK) {
		hgq_afile_abort(a);
		return rc;
	}
	return hgq_afile_commit(a, err);
}
