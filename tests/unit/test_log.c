/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_log.c - unit tests for core/log.c
 *
 * Level filtering and the file sink (messages written to a temporary file and read back), the
 * stderr sink with its program-name prefix (stderr redirected to a temporary file), switching
 * stderr off (log_to_syslog), the file size cap, errno preservation, and the per-call-site rate
 * limiter (at most one yes per second; yes again after the second has passed: ~1 s of sleeping).
 *
 * Every check prints the failing expression with file:line and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#include "check.h"

static char text[1 << 16];

/* Read the whole file at path into text (NUL-terminated); its length. */
static size_t slurp(const char *path)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	CHECK(n >= 0);
	text[n] = '\0';
	close(fd);
	return (size_t)n;
}

static size_t file_size(const char *path)
{
	struct stat st;

	CHECK(stat(path, &st) == 0);
	return (size_t)st.st_size;
}

static void temp_path(char *path, size_t len, const char *name)
{
	int fd;

	snprintf(path, len, "/tmp/test_log_%s.XXXXXX", name);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
}

static void test_levels_file(void)
{
	char path[64];

	temp_path(path, sizeof(path), "levels");
	CHECK(log_open_file(path, 0) == 0);

	log_set_level(LOG_LVL_INFO);
	CHECK(log_get_level() == LOG_LVL_INFO);
	info("info line %d", 1);
	warn("warn line %s", "two");
	err("err line");
	debug("debug hidden");
	trace("trace hidden");
	log_msg(LOG_LVL_DEBUG, "debug via log_msg hidden");
	slurp(path);
	CHECK(strstr(text, "info: info line 1\n"));
	CHECK(strstr(text, "warning: warn line two\n"));
	CHECK(strstr(text, "error: err line\n"));
	CHECK(!strstr(text, "hidden"));

	/* --quiet: only warnings and errors */
	log_set_level(LOG_LVL_WARN);
	info("quiet info hidden");
	warn("quiet warn shown");
	/* --debug, --trace */
	log_set_level(LOG_LVL_DEBUG);
	debug("debug shown");
	trace("trace still hidden");
	log_set_level(LOG_LVL_TRACE);
	trace("trace shown\n"); /* a trailing newline is not doubled */
	log_set_level(LOG_LVL_ERR);
	warn("err-only warn hidden");
	err("err-only err shown");
	slurp(path);
	CHECK(!strstr(text, "hidden"));
	CHECK(strstr(text, "quiet warn shown"));
	CHECK(strstr(text, "debug: debug shown\n"));
	CHECK(strstr(text, "trace: trace shown\n") && !strstr(text, "trace shown\n\n"));
	CHECK(strstr(text, "err-only err shown"));

	/* errno survives logging */
	log_set_level(LOG_LVL_INFO);
	errno = EIO;
	info("errno kept");
	CHECK(errno == EIO);
	/* ... also when a sink fails (stderr closed: the write gets EBADF) */
	{
		int saved = dup(STDERR_FILENO);

		CHECK(saved >= 0);
		close(STDERR_FILENO);
		log_to_stderr(true);
		errno = EIO;
		info("errno kept with a failing sink");
		log_to_stderr(false);
		CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
		close(saved);
		CHECK(errno == EIO);
	}

	/* a message longer than the line buffer is cut, not overflowed */
	{
		static char big[5000];

		memset(big, 'x', sizeof(big) - 1);
		info("%s", big);
		slurp(path);
		CHECK(strstr(text, "xxxxxxxxxx\n"));
	}
	unlink(path);
}

static void test_size_cap(void)
{
	char path[64];
	size_t size;
	int i;

	temp_path(path, sizeof(path), "cap");
	CHECK(log_open_file(path, 1000) == 0);
	log_set_level(LOG_LVL_INFO);
	for (i = 0; i < 200; i++) {
		info("line number %04d with some padding text", i);
		size = file_size(path);
		CHECK(size <= 1000);
		CHECK(size > 0);
	}
	slurp(path);
	CHECK(strstr(text, "line number 0199"));
	CHECK(!strstr(text, "line number 0000"));
	CHECK(strstr(text, "log truncated"));

	/* A single line longer than the cap: the file still stays within it. */
	CHECK(log_open_file(path, 60) == 0);
	info("this message is much longer than the sixty byte cap of this log file, surely");
	CHECK(file_size(path) <= 60);
	CHECK(file_size(path) > 0);
	unlink(path);

	CHECK(log_open_file("/nonexistent-dir/x/log", 0) == -ENOENT);
}

static void test_stderr(void)
{
	char path[64], file_path[64];
	int saved, fd;

	temp_path(path, sizeof(path), "stderr");
	temp_path(file_path, sizeof(file_path), "file");
	CHECK(log_open_file(file_path, 0) == 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	saved = dup(STDERR_FILENO);
	CHECK(saved >= 0);
	CHECK(dup2(fd, STDERR_FILENO) == STDERR_FILENO);

	log_to_stderr(true);
	info("to stderr %d", 42);
	log_to_stderr(false);
	info("stderr off hidden");
	log_to_stderr(true);
	log_to_syslog(true); /* daemonised: stderr stops; a file is open, so it gets the lines */
	info("after syslog switch");

	CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
	close(saved);
	close(fd);
	log_to_syslog(false);
	log_to_stderr(false);

	slurp(path);
	CHECK(strstr(text, "test_log: to stderr 42\n") == text);
	CHECK(!strstr(text, "hidden"));
	CHECK(!strstr(text, "after syslog switch"));
	slurp(file_path);
	CHECK(strstr(text, "after syslog switch"));
	unlink(path);
	unlink(file_path);
}

static void test_ratelimit(void)
{
	struct timespec start, now, pause = { 0, 50 * 1000 * 1000 };
	long site_a = 0, site_b = 0;
	int yes = 0, i;

	CHECK(log_ratelimit_allow(&site_a));
	CHECK(log_ratelimit_allow(&site_b)); /* call sites are independent */
	for (i = 0; i < 10000; i++)
		yes += log_ratelimit_allow(&site_a);
	/* At most one more yes, if a second boundary was crossed during the loop. */
	CHECK(yes <= 1);

	/* Within ~1.1 s of polling, a new second gives exactly one more yes (bounded loop). */
	clock_gettime(CLOCK_MONOTONIC, &start);
	yes = 0;
	for (i = 0; i < 24; i++) {
		nanosleep(&pause, NULL);
		yes += log_ratelimit_allow(&site_b);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	CHECK(now.tv_sec - start.tv_sec >= 1);
	CHECK(yes >= 1 && yes <= 2);

	/* The macro form: one static per call site */
	for (i = 0; i < 100; i++)
		log_ratelimited(LOG_LVL_INFO, "rate limited %d", i);
}

int main(void)
{
	log_init("/usr/local/bin/test_log", LOG_LVL_INFO);
	CHECK(log_get_level() == LOG_LVL_INFO);
	log_to_stderr(false);

	test_levels_file();
	test_size_cap();
	test_stderr();
	test_ratelimit();

	printf("test_log: %lu checks passed\n", checks);
	return 0;
}
