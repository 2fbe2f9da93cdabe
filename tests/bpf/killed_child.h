/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * killed_child.h - an instance started by a child that dies by SIGKILL, for the BPF tests
 *
 * The loaders must clean up after an instance that could not: a child process runs start(arg),
 * which starts an instance and returns its pin directory (NULL if it could not), writes that
 * directory to a pipe and kills itself with SIGKILL, so that nothing of its own stop path runs.
 * The parent gets the directory and the child's wait status, and makes its own checks on both.
 */
#ifndef BPASST_TEST_KILLED_CHILD_H
#define BPASST_TEST_KILLED_CHILD_H

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

/* The pin directory's length in dir (NUL-terminated; <= 0: the child reported none, or the
 * pipe or fork failed), the child's wait status in *status (0 when there was no child). */
static inline ssize_t killed_child_run(const char *(*start)(void *arg), void *arg,
				       char dir[PATH_MAX], int *status)
{
	int pipefd[2];
	ssize_t n;
	pid_t child;

	*status = 0;
	dir[0] = '\0';
	if (pipe(pipefd))
		return -1;
	child = fork();
	if (child < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (child == 0) {
		const char *pins;

		close(pipefd[0]);
		pins = start(arg);
		if (pins && write(pipefd[1], pins, strlen(pins)) < 0)
			_exit(3);
		close(pipefd[1]);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	close(pipefd[1]);
	n = read(pipefd[0], dir, PATH_MAX - 1);
	close(pipefd[0]);
	if (waitpid(child, status, 0) != child)
		*status = 0;
	if (n > 0)
		dir[n] = '\0';
	return n;
}

#endif /* BPASST_TEST_KILLED_CHILD_H */
