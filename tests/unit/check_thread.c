/*
 * check_thread.c - what `threads` means (hgq_n_threads) and the one
 * fan-out of the library (hgq_fan_out): every job runs exactly once, each
 * on its own object, whatever the count.
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "internal.h"
#include "unit.h"

START_TEST(test_n_threads)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int all = ncpu > 0 ? (int)ncpu : 1;

	ck_assert_int_eq(hgq_n_threads(1, 64), 1);
	ck_assert_int_eq(hgq_n_threads(5, 64), 5);
	ck_assert_int_eq(hgq_n_threads(100, 64), 64);
	ck_assert_int_eq(hgq_n_threads(0, 1000), all);
	ck_assert_int_eq(hgq_n_threads(-3, 1000), all);
	ck_assert_int_eq(hgq_n_threads(0, 1), 1);
}
END_TEST

struct job {
	int		 index;
	int		 runs;
	pthread_t	 self;
	uint64_t	 sum;
};

static void *
job_main(void *arg)
{
	struct job *j = arg;

	j->runs++;
	j->self = pthread_self();
	for (uint64_t v = 0; v <= (uint64_t)j->index * 1000; v++)
		j->sum += v;
	return NULL;
}

START_TEST(test_fan_out)
{
	static const int counts[] = { 1, 2, 3, 7, 64 };
	struct job jobs[64];

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		int n = counts[c];

		for (int t = 0; t < n; t++)
			jobs[t] = (struct job){ .index = t };
		hgq_fan_out(job_main, jobs, sizeof(jobs[0]), n);
		for (int t = 0; t < n; t++) {
			uint64_t k = (uint64_t)t * 1000;

			ck_assert_int_eq(jobs[t].runs, 1);
			ck_assert_uint_eq(jobs[t].sum, k * (k + 1) / 2);
		}
		/* job 0 runs on the calling thread */
		ck_assert(pthread_equal(jobs[0].self, pthread_self()));
	}
}
END_TEST

Suite *
thread_suite(void)
{
	Suite *s = suite_create("thread");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_n_threads);
	tcase_add_test(tc, test_fan_out);
	suite_add_tcase(s, tc);
	return s;
}
