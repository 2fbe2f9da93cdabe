/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conf.h - the command line of passt and pasta, turned into a struct config (floor 5)
 *
 * conf_parse() is called once by main.c, after config_defaults(), and fills struct config from
 * argv; nothing reads the command line again. Every error (unknown option, missing or malformed
 * value, an option of the other mode, an option whose behaviour does not exist yet) prints one
 * line "<prog>: <what is wrong>" on stderr and exits with status 1; --help and --version print on
 * stdout and exit with status 0. See conf.c for the option table and the rules between options.
 *
 * What conf_parse() leaves in struct config, beyond the plain copies of the values:
 *  - c->mode and c->prog_name ("passt" or "pasta") come from basename(argv[0]): a name that
 *    starts with "pasta" selects pasta, any other name passt.
 *  - --netns NAME (no '/') is stored as the path "/run/netns/NAME"; --netns without --userns
 *    sets netns_only, as upstream.
 *  - pasta spawning a command or a shell (no PID, no --netns) sets foreground: it waits for the
 *    command in the terminal.
 *  - -a without /LEN (and, for IPv4, without -n) leaves prefix_len at 0: io/netlink.c picks the
 *    length of a host subnet holding the address, else the classful length (IPv4) or 64.
 *  - -t/-u/-T/-U not given leave the set at FWD_UNSET (upstream's default is "none" for passt,
 *    "auto" for pasta; whoever implements forwarding applies it).
 */
#ifndef BPASST_CONF_H
#define BPASST_CONF_H

#include <stddef.h>

#include "core/config.h"

/* Fill c from the command line; returns 0, or does not return (exit 1 on error, 0 after --help or
 * --version). c must have been initialised by config_defaults(). */
int conf_parse(struct config *c, int argc, char **argv);

/* The mode a program name selects: MODE_PASTA if basename(argv0) starts with "pasta". */
enum bpasst_mode conf_mode_from_argv0(const char *argv0);

/* The forwarding-spec grammar of -t/-u/-T/-U, and the other value parsers, are floor-1
 * functions: see config_parse_fwd_spec() in core/config_parse.h. */

/* State of a long option name in the option table: 1 accepted and implemented, 0 accepted but
 * not implemented yet (using it is an error), -1 unknown. For tests and diagnostics. */
int conf_option_state(const char *long_name);

#endif /* BPASST_CONF_H */
