/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpf_check.h - the check macro and exit codes shared by the BPF test programs
 *
 * Unlike tests/unit/check.h, a failed CHECK here does not stop the program: a BPF test runs a
 * table of fixtures against one loaded program, and reporting every fixture that fails in one run
 * is worth more than stopping at the first. CHECK prints the file:line and a printf-style message
 * and counts the failure in `failures`; the program exits 1 when it is non-zero at the end.
 * BPF_TEST_SKIP (77) is what meson reports as SKIP: only for "bpf() is not permitted here" and
 * "the kernel cannot load this program type", never for a failed check. Include once per program.
 */
#ifndef BPASST_TEST_BPF_CHECK_H
#define BPASST_TEST_BPF_CHECK_H

#include <stdio.h>

#define BPF_TEST_SKIP 77

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#endif /* BPASST_TEST_BPF_CHECK_H */
