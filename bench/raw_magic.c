/*
 * raw_magic: the C baseline for magicguard's benchmarks -- libmagic called
 * in a plain loop, no Python anywhere.
 *
 * Usage:
 *   raw_magic [-m buffer|file|descriptor] [-r ROUNDS] [-w WARMUP] [-t THREADS]
 *             [-d DATABASE] [-f FLAGS] [-p] [-l LISTFILE | FILE...]
 *
 *   -m MODE     buffer (default): every file is read into memory first and
 *               identified with magic_buffer(); file: magic_file(path);
 *               descriptor: magic_descriptor() on a descriptor opened once.
 *   -r ROUNDS   timed passes over all files (default 5).
 *   -w WARMUP   untimed passes first (default 1).
 *   -t THREADS  threads, each with its own magic_t; in each pass they share
 *               the files through one atomic counter, as a pool does
 *               (default 1).
 *   -d DATABASE magic_load() argument (default NULL: libmagic's default).
 *   -f FLAGS    magic_open() flags as an integer, e.g. 0x10 for MIME type
 *               (default 0).
 *   -p          print "result<TAB>path<TAB>description" for each file once
 *               (from the warm-up pass, or the first timed pass).
 *   -l LISTFILE read file names from LISTFILE, one per line ("-": stdin),
 *               instead of the command line.
 *
 * Output: "key=value" lines on stdout (times in nanoseconds):
 *   files, threads, rounds, mode, bytes   what was run
 *   call_ns_median                        median of every timed call
 *   round_ns_median                       median wall time of one pass
 *   round_cpu_ns_median                   median CPU time (all threads) of one pass
 *   calls_per_second                      files / round_ns_median
 *   errors                                calls that returned NULL
 * Exit status 0, or 2 for a usage error, 1 if setup failed.
 *
 * Build against the same libmagic as the extension:
 *   bundled: cc -O2 -pthread -I build/libmagic/<key>/include raw_magic.c \
 *              build/libmagic/<key>/lib/libmagic.a -o raw_magic
 *   system:  cc -O2 -pthread raw_magic.c -lmagic -o raw_magic
 * (bench/bench_pool.py does this for you.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_BUFFER, MODE_FILE, MODE_DESCRIPTOR };

struct item {
	char *path;
	unsigned char *data;
	size_t size;
	int fd;
};

static struct item *items;
static size_t nitems;
static enum mode mode = MODE_BUFFER;
static const char *database;
static int flags;

/* Shared by the threads of one pass. */
static atomic_size_t next_item;
static pthread_barrier_t start_barrier, end_barrier;

struct worker {
	pthread_t thread;
	magic_t cookie;
	int rounds; /* warm-up + timed */
	int warmup;
	int print;
	long long *calls; /* durations of this thread's timed calls */
	size_t ncalls;
	size_t errors;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static long long median(long long *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_ll);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *identify(magic_t cookie, struct item *it)
{
	switch (mode) {
	case MODE_FILE:
		return magic_file(cookie, it->path);
	case MODE_DESCRIPTOR:
		return magic_descriptor(cookie, it->fd);
	default:
		return magic_buffer(cookie, it->data, it->size);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int round = 0; round < w->rounds; round++) {
		int timed = round >= w->warmup;
		pthread_barrier_wait(&start_barrier);
		for (;;) {
			size_t i = atomic_fetch_add(&next_item, 1);
			if (i >= nitems)
				break;
			long long t0 = now_ns();
			const char *res = identify(w->cookie, &items[i]);
			long long t1 = now_ns();
			if (res == NULL)
				w->errors += timed;
			if (timed)
				w->calls[w->ncalls++] = t1 - t0;
			if (w->print && round == 0)
				printf("result\t%s\t%s\n", items[i].path,
				       res ? res : magic_error(w->cookie));
		}
		pthread_barrier_wait(&end_barrier);
	}
	return NULL;
}

static int load_item(struct item *it)
{
	it->fd = -1;
	if (mode == MODE_FILE)
		return 0;
	int fd = open(it->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "raw_magic: %s: %s\n", it->path, strerror(errno));
		return -1;
	}
	if (mode == MODE_DESCRIPTOR) {
		it->fd = fd;
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "raw_magic: %s: %s\n", it->path, strerror(errno));
		close(fd);
		return -1;
	}
	it->size = (size_t)st.st_size;
	it->data = malloc(it->size ? it->size : 1);
	size_t got = 0;
	while (it->data && got < it->size) {
		ssize_t n = read(fd, it->data + got, it->size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!it->data || got != it->size) {
		fprintf(stderr, "raw_magic: %s: short read\n", it->path);
		return -1;
	}
	return 0;
}

static void add_path(const char *path, size_t *cap)
{
	if (nitems == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		items = realloc(items, *cap * sizeof *items);
		if (!items) {
			perror("raw_magic");
			exit(1);
		}
	}
	memset(&items[nitems], 0, sizeof *items);
	items[nitems++].path = strdup(path);
}

static void usage(void)
{
	fprintf(stderr, "usage: raw_magic [-m buffer|file|descriptor] [-r ROUNDS] [-w WARMUP] "
			"[-t THREADS] [-d DATABASE] [-f FLAGS] [-p] [-l LISTFILE | FILE...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int rounds = 5, warmup = 1, nthreads = 1, print = 0, opt;
	const char *list = NULL;
	size_t cap = 0;
	while ((opt = getopt(argc, argv, "m:r:w:t:d:f:pl:")) != -1) {
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "buffer"))
				mode = MODE_BUFFER;
			else if (!strcmp(optarg, "file"))
				mode = MODE_FILE;
			else if (!strcmp(optarg, "descriptor"))
				mode = MODE_DESCRIPTOR;
			else
				usage();
			break;
		case 'r': rounds = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'd': database = optarg; break;
		case 'f': flags = (int)strtol(optarg, NULL, 0); break;
		case 'p': print = 1; break;
		case 'l': list = optarg; break;
		default: usage();
		}
	}
	if (rounds < 1 || warmup < 0 || nthreads < 1)
		usage();
	if (list) {
		FILE *f = strcmp(list, "-") ? fopen(list, "r") : stdin;
		if (!f) {
			fprintf(stderr, "raw_magic: %s: %s\n", list, strerror(errno));
			return 1;
		}
		char *line = NULL;
		size_t n = 0;
		ssize_t len;
		while ((len = getline(&line, &n, f)) > 0) {
			if (line[len - 1] == '\n')
				line[--len] = '\0';
			if (len)
				add_path(line, &cap);
		}
		free(line);
		if (f != stdin)
			fclose(f);
	}
	for (int i = optind; i < argc; i++)
		add_path(argv[i], &cap);
	if (nitems == 0)
		usage();
	size_t bytes = 0;
	for (size_t i = 0; i < nitems; i++) {
		if (load_item(&items[i]) < 0)
			return 1;
		bytes += items[i].size;
	}

	struct worker *workers = calloc((size_t)nthreads, sizeof *workers);
	pthread_barrier_init(&start_barrier, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&end_barrier, NULL, (unsigned)nthreads + 1);
	for (int t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];
		w->cookie = magic_open(flags);
		if (!w->cookie || magic_load(w->cookie, database) != 0) {
			fprintf(stderr, "raw_magic: magic_load(%s): %s\n", database ? database : "default",
				w->cookie ? magic_error(w->cookie) : strerror(errno));
			return 1;
		}
		w->rounds = warmup + rounds;
		w->warmup = warmup;
		w->print = print;
		w->calls = malloc(nitems * (size_t)rounds * sizeof *w->calls);
		pthread_create(&w->thread, NULL, work, w);
	}
	long long *round_ns = malloc((size_t)rounds * sizeof *round_ns);
	long long *round_cpu = malloc((size_t)rounds * sizeof *round_cpu);
	for (int round = 0; round < warmup + rounds; round++) {
		atomic_store(&next_item, 0);
		long long t0 = now_ns(), c0 = cpu_ns();
		pthread_barrier_wait(&start_barrier);
		pthread_barrier_wait(&end_barrier);
		if (round >= warmup) {
			round_ns[round - warmup] = now_ns() - t0;
			round_cpu[round - warmup] = cpu_ns() - c0;
		}
		fflush(stdout);
	}
	size_t total = 0, errors = 0;
	for (int t = 0; t < nthreads; t++) {
		pthread_join(workers[t].thread, NULL);
		total += workers[t].ncalls;
		errors += workers[t].errors;
	}
	long long *all = malloc((total ? total : 1) * sizeof *all);
	size_t k = 0;
	for (int t = 0; t < nthreads; t++) {
		memcpy(all + k, workers[t].calls, workers[t].ncalls * sizeof *all);
		k += workers[t].ncalls;
		magic_close(workers[t].cookie);
	}
	static const char *names[] = {"buffer", "file", "descriptor"};
	long long round_median = median(round_ns, (size_t)rounds);
	printf("files=%zu\nthreads=%d\nrounds=%d\nmode=%s\nbytes=%zu\n", nitems, nthreads, rounds,
	       names[mode], bytes);
	printf("call_ns_median=%lld\nround_ns_median=%lld\n", median(all, total), round_median);
	printf("round_cpu_ns_median=%lld\n", median(round_cpu, (size_t)rounds));
	printf("calls_per_second=%.1f\nerrors=%zu\n",
	       round_median ? (double)nitems * 1e9 / (double)round_median : 0.0, errors);
	return 0;
}
