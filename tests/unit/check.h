/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check.h - the assertion macros every unit test program uses
 *
 * CHECK(expr) and CHECK_EQ(a, b) count each check in `checks` (printed by the program at the end)
 * and stop the program at the first failure with the expression and its file:line, so meson
 * reports the test as failed. CHECK_EQ compares the two values as 64-bit integers and prints them
 * in decimal and hex. Include once per test program (the counter is static).
 */
#ifndef BPASST_TEST_CHECK_H
#define BPASST_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static unsigned long checks;

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);   \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);     \
		checks++;                                                                          \
		if (a_ != b_) {                                                                    \
			fprintf(stderr,                                                            \
				"%s:%d: check failed: %s == %s (%lld != %lld, 0x%llx != "          \
				"0x%llx)\n",                                                       \
				__FILE__, __LINE__, #a, #b, (long long)a_, (long long)b_, a_, b_); \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#endif /* BPASST_TEST_CHECK_H */
