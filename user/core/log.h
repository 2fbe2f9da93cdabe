/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - logging for the daemon (floor 1)
 *
 * One global logger: a level threshold, and three sinks chosen at start-up: stderr (while in the
 * foreground), a file (-l/--log-file, with size cap --log-size), syslog (once daemonised).
 * --quiet shows only warnings and errors, --debug adds debug, --trace adds per-packet traces.
 * log_ratelimited() is for messages that could repeat per packet: at most one per second per
 * call site.
 */
#ifndef BPASST_LOG_H
#define BPASST_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL_TRACE,
};

/* Set up the logger. ident is the program name used by syslog and as the stderr prefix. */
void log_init(const char *ident, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Open a log file (append); returns 0, or -errno. size_max 0: no cap. */
int log_open_file(const char *path, size_t size_max);
/* Stop writing to stderr, start writing to syslog (after daemonising, unless a file is open). */
void log_to_syslog(bool on);
void log_to_stderr(bool on);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns true at most once per second for a given state word (one static per call site). */
bool log_ratelimit_allow(long *last_sec);

#define err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define debug(...)                                                                                 \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)
#define trace(...)                                                                                 \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_TRACE)                                              \
			log_msg(LOG_LVL_TRACE, __VA_ARGS__);                                       \
	} while (0)
#define log_ratelimited(level, ...)                                                                \
	do {                                                                                       \
		static long log_rl_last_;                                                          \
		if (log_ratelimit_allow(&log_rl_last_))                                            \
			log_msg((level), __VA_ARGS__);                                             \
	} while (0)

#endif /* BPASST_LOG_H */
