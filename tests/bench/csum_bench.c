/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * csum_bench.c - throughput of csum_partial() against the byte-pair reference csum_partial_ref()
 *
 * For each buffer size (64, 1500 and 65520 bytes: a small packet, an Ethernet MTU frame, pasta's
 * largest frame) and each implementation, sums the same random buffer over and over for a fixed
 * time budget (BENCH_BUDGET_NS, and at most BENCH_MAX_ITER iterations), then prints ns/byte and
 * GB/s, and the speed-up of the fast path. The whole run takes about 6 * budget (~2 s).
 *
 * The results of both implementations are compared on every size; a mismatch exits 1, so the
 * benchmark doubles as a smoke test. Output is one line per (size, implementation) in a
 * "key=value" format that scripts/bench can parse:
 *   csum size=1500 impl=fast ns_per_byte=0.0412 gb_per_s=24.27 iters=...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/checksum.h"

#define BENCH_BUDGET_NS 300000000LL /* per measurement */
#define BENCH_MAX_ITER 50000000L
#define BENCH_CHECK_EVERY 256 /* iterations between clock reads */

typedef uint32_t (*csum_fn)(const void *buf, size_t len, uint32_t sum);

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Run fn over buf for up to the budget; ns per byte. *iters_out gets the iteration count. */
static double bench_one(csum_fn fn, const uint8_t *buf, size_t len, long *iters_out)
{
	volatile uint32_t sink = 0;
	long long start = now_ns(), elapsed = 0;
	long iters = 0;

	while (iters < BENCH_MAX_ITER) {
		int k;

		for (k = 0; k < BENCH_CHECK_EVERY; k++)
			sink += fn(buf, len, sink & 0xffff);
		iters += BENCH_CHECK_EVERY;
		elapsed = now_ns() - start;
		if (elapsed >= BENCH_BUDGET_NS)
			break;
	}
	(void)sink;
	*iters_out = iters;
	return (double)elapsed / ((double)iters * (double)len);
}

int main(void)
{
	static const size_t sizes[] = { 64, 1500, 65520 };
	static uint8_t buf[65520 + 8];
	uint64_t x = 0x853c49e6748fea9bULL;
	size_t i;

	for (i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		double fast, ref;
		long it_fast, it_ref;

		if (csum_fold(csum_partial(buf + 1, len, 0)) !=
		    csum_fold(csum_partial_ref(buf + 1, len, 0))) {
			fprintf(stderr, "csum_bench: fast and reference sums differ at %zu bytes\n",
				len);
			return 1;
		}
		fast = bench_one(csum_partial, buf, len, &it_fast);
		ref = bench_one(csum_partial_ref, buf, len, &it_ref);
		printf("csum size=%zu impl=fast ns_per_byte=%.4f gb_per_s=%.2f iters=%ld\n", len,
		       fast, 1.0 / fast, it_fast);
		printf("csum size=%zu impl=ref ns_per_byte=%.4f gb_per_s=%.2f iters=%ld\n", len,
		       ref, 1.0 / ref, it_ref);
		printf("csum size=%zu speedup=%.2f\n", len, ref / fast);
	}
	return 0;
}
