/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.c - the daemon's one logger: level threshold, stderr, a size-capped file, syslog
 *
 * State: a single static struct log_state (ident, threshold, which sinks are on, the log file's
 * descriptor, its size cap and current size). It is set up once by log_init() and the
 * log_open_file()/log_to_*() switches from conf.c and main.c; there is no locking because the
 * daemon is single-threaded.
 *
 * Path of a message: log_msg() drops it if it is above the threshold, formats it once into a stack
 * buffer (long messages are cut), then hands the text to each active sink:
 *   - stderr:  "ident: message\n" (while in the foreground)
 *   - file:    "YYYY-MM-DDTHH:MM:SS level: message\n", appended; when the next line would push the
 *              file past its cap, the file is truncated to zero and restarted with a marker line,
 *              so it never grows beyond the cap
 *   - syslog:  syslog(3) with the level mapped to a priority, only when no file is open
 * errno is preserved across log_msg(), so callers may log before reporting errno.
 *
 * log_ratelimit_allow() keeps one word per call site: the CLOCK_MONOTONIC second (+1, so that 0
 * means "never") in which it last said yes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LOG_LINE_MAX 1024
#define LOG_IDENT_MAX 32

static struct log_state {
	char ident[LOG_IDENT_MAX];
	enum log_level level;
	bool to_stderr;
	bool to_syslog;
	bool syslog_open;
	int file_fd;
	size_t file_size_max; /* 0: no cap */
	size_t file_size; /* bytes in the file now */
} log_state = {
	.ident = "bpasst",
	.level = LOG_LVL_INFO,
	.to_stderr = true,
	.file_fd = -1,
};

static const char *const log_level_name[] = {
	[LOG_LVL_ERR] = "error",   [LOG_LVL_WARN] = "warning", [LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug", [LOG_LVL_TRACE] = "trace",
};

static const int log_level_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR,     [LOG_LVL_WARN] = LOG_WARNING, [LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG, [LOG_LVL_TRACE] = LOG_DEBUG,
};

static enum log_level log_level_clamp(enum log_level level)
{
	if ((int)level < LOG_LVL_ERR)
		return LOG_LVL_ERR;
	if (level > LOG_LVL_TRACE)
		return LOG_LVL_TRACE;
	return level;
}

void log_init(const char *ident, enum log_level level)
{
	const char *base;

	if (ident) {
		base = strrchr(ident, '/');
		base = base ? base + 1 : ident;
		snprintf(log_state.ident, sizeof(log_state.ident), "%s", base);
	}
	log_state.level = log_level_clamp(level);
}

void log_set_level(enum log_level level)
{
	log_state.level = log_level_clamp(level);
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

int log_open_file(const char *path, size_t size_max)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (log_state.file_fd >= 0)
		close(log_state.file_fd);
	log_state.file_fd = fd;
	log_state.file_size_max = size_max;
	log_state.file_size = (size_t)st.st_size;
	return 0;
}

void log_to_syslog(bool on)
{
	if (on) {
		if (!log_state.syslog_open) {
			openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
			log_state.syslog_open = true;
		}
		log_state.to_stderr = false;
	}
	log_state.to_syslog = on;
}

void log_to_stderr(bool on)
{
	log_state.to_stderr = on;
}

/* Write all of buf to fd, retrying on EINTR and short writes. */
static void log_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void log_file_write(const char *line, size_t len)
{
	static const char marker[] = "--- log truncated: size cap reached ---\n";
	size_t cap = log_state.file_size_max;

	if (cap && log_state.file_size + len > cap) {
		if (ftruncate(log_state.file_fd, 0) < 0)
			return;
		log_state.file_size = 0;
		if (sizeof(marker) - 1 + len <= cap) {
			log_write_all(log_state.file_fd, marker, sizeof(marker) - 1);
			log_state.file_size = sizeof(marker) - 1;
		}
		if (len > cap)
			len = cap; /* a single line larger than the cap: keep its head */
	}
	log_write_all(log_state.file_fd, line, len);
	log_state.file_size += len;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 96];
	int saved_errno = errno;
	va_list ap;
	int n;

	level = log_level_clamp(level);
	if (level > log_state.level)
		return;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = saved_errno;
		return;
	}
	/* Drop one trailing newline: every sink adds its own. */
	n = (int)strnlen(msg, sizeof(msg));
	if (n && msg[n - 1] == '\n')
		msg[--n] = '\0';

	if (log_state.to_stderr) {
		n = snprintf(line, sizeof(line), "%s: %s\n", log_state.ident, msg);
		if (n > 0)
			log_write_all(STDERR_FILENO, line, strnlen(line, sizeof(line)));
	}

	if (log_state.file_fd >= 0) {
		char stamp[32] = "";
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		if (localtime_r(&now.tv_sec, &tm))
			strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ld %s: %s\n", stamp, now.tv_nsec / 1000000L,
			     log_level_name[level], msg);
		if (n > 0)
			log_file_write(line, strnlen(line, sizeof(line)));
	} else if (log_state.to_syslog) {
		syslog(log_level_prio[level], "%s", msg);
	}

	errno = saved_errno;
}

bool log_ratelimit_allow(long *last_sec)
{
	struct timespec now;
	long stamp;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return true;
	stamp = (long)now.tv_sec + 1; /* +1: 0 in *last_sec means "never allowed yet" */
	if (*last_sec && stamp <= *last_sec)
		return false;
	*last_sec = stamp;
	return true;
}
