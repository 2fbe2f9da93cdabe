# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib: the parts of scripts/bench (the side-by-side benchmark), imported by it.

  common   addresses, ports, result rows, places (argv prefixes), small process helpers
  worlds   one implementation set up on its own throwaway topology
  measure  the issue-5 benchmarks: tcp, fwd, rr, udp (in a world), startup, csum
  lofwd    the loopback-forward group (issue 7): direct loopback, bypass, splice, Debian pasta
  report   the tables and the targets
  machine  CPU load and other processes' share of it (noise)

scripts/bench is the entry point (options, the loop over implementations, cleanup, JSON).
"""
