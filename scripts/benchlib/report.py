# SPDX-License-Identifier: GPL-2.0-or-later
"""benchlib.report: the tables and the targets.

The main table has one line per (bench, case, metric) of the issue-5 benchmarks, one column per
implementation, and ratios oriented so that > 1 means the primary implementation (bpasst, or
bpasst-root when bpasst is not run) is better (rate / rate, or time / time inverted) against
veth and Debian's pasta.  The lofwd group has its own table (benchlib.lofwd.print_table), with
ratios against a direct loopback connection.  Then the targets, one line each: PASS, FAIL, or
n/a (a row that could not be measured; not met).

Issue 5's targets: namespace -> remote TCP (IPv4 and IPv6) >= 0.5x veth with no zero 1-s
interval; every other TCP row of tcp, fwd and rr (among them the p99 of the 64-byte ping-pong
through the forward on one CPU) >= Debian's pasta.  Issue 7's: see benchlib.lofwd.
"""

from benchlib import lofwd
from benchlib.worlds import IMPL_NOTES

ISSUE5_BENCHES = ("tcp", "fwd", "rr")


def ratio(value, ref, better):
    """> 1 means `value` is better than `ref`, whichever way the metric goes."""
    if value is None or ref is None or value <= 0 or ref <= 0:
        return None
    return value / ref if better == "higher" else ref / value


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def print_grid(lines, right):
    """Print rows of cells in aligned columns (right(i): right-align column i), header ruled."""
    widths = [max(len(x[i]) for x in lines) for i in range(len(lines[0]))]
    print()
    for n, line in enumerate(lines):
        print("  ".join(c.rjust(w) if right(i) else c.ljust(w)
                        for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_tables(rows, impls, primary):
    compared = [r for r in rows if r["bench"] in ("tcp", "fwd", "rr", "udp", "startup")]
    other = [r for r in rows if r not in compared and r["bench"] != lofwd.BENCH]
    if compared:
        keys = []
        values = {}
        cases, metrics = {}, {}
        for r in compared:
            cases.setdefault((r["bench"], r["case"]), len(cases))
            metrics.setdefault(r["metric"], len(metrics))
        for r in compared:
            k = (r["bench"], r["case"], r["metric"])
            if r["metric"] == "n/a":
                continue
            if k not in values:
                keys.append(k)
                values[k] = {"unit": r["unit"], "better": r["better"], "compare": r["compare"]}
            values[k][r["impl"]] = r["value"]
        keys.sort(key=lambda k: (cases[k[:2]], metrics[k[2]]))
        na = {(r["bench"], r["case"], r["impl"]) for r in compared if r["metric"] == "n/a"}
        cols = [i for i in impls if any(i in v for v in values.values()) or
                any(n[2] == i for n in na)]
        refs = [("veth", f"{primary}/veth"), ("debian-pasta", f"{primary}/debian")]
        headers = ["bench", "case", "metric", "unit"] + cols + [h for _, h in refs]
        lines = [headers]
        for k in keys:
            v = values[k]
            line = [k[0], k[1], k[2], v["unit"]]
            for c in cols:
                line.append("n/a" if (k[0], k[1], c) in na else fmt(v.get(c)))
            for ref, _ in refs:
                x = ratio(v.get(primary), v.get(ref), v["better"]) if v["compare"] else None
                line.append(f"{x:.2f}x" if x is not None else "")
            lines.append(line)
        print_grid(lines, lambda i: i >= 4)
        print(f"ratios: {primary}'s figure against the column named, oriented so that > 1 means "
              f"{primary} is better (for times: reference / {primary}).")
        for c in cols:
            print(f"{c}: {IMPL_NOTES[c]}")
        for r in compared:
            if r["metric"] == "n/a":
                print(f"n/a: {r['impl']}: {r['bench']} {r['case']}: {r.get('reason', '')}")
    lofwd.print_table(rows, impls, fmt, print_grid)
    if other:
        headers = ("bench", "case", "impl", "metric", "value", "unit")
        print_grid([headers] + [tuple(str(r[h]) for h in headers) for r in other],
                   lambda i: i == 4)


def evaluate_targets(rows, primary):
    """Issues 5's and 7's targets: a list of {issue, target, met, status, detail}."""
    def get(bench, case, metric, impl):
        for r in rows:
            if (r["bench"], r["case"], r["metric"], r["impl"]) == (bench, case, metric, impl):
                return r["value"]
        return None
    out = []
    for fam in ("IPv4", "IPv6"):
        case = f"namespace -> remote {fam}"
        ours, veth = get("tcp", case, "throughput", primary), get("tcp", case, "throughput",
                                                                   "veth")
        low = get("tcp", case, "min 1-s interval", primary)
        if ours is None or veth is None or low is None:
            continue
        met = ours >= 0.5 * veth and low > 0
        out.append({"target": f"tcp {case} >= 0.5x veth, no zero 1-s interval", "met": met,
                    "detail": f"{primary} {ours:.2f} Gbit/s (min 1-s {low:.2f}) vs veth "
                              f"{veth:.2f} Gbit/s: {ours / veth:.2f}x"})
    for r in rows:
        if r["impl"] != primary or r["bench"] not in ISSUE5_BENCHES or not r["compare"]:
            continue
        if r["metric"] == "min 1-s interval":
            continue
        if r["bench"] == "tcp" and r["case"].startswith("namespace -> remote"):
            continue
        deb = get(r["bench"], r["case"], r["metric"], "debian-pasta")
        if deb is None or r["value"] is None:
            continue
        x = ratio(r["value"], deb, r["better"])
        out.append({"target": f"{r['bench']} {r['case']} {r['metric']} >= debian-pasta",
                    "met": x is not None and x >= 1.0,
                    "detail": f"{primary} {r['value']} vs debian-pasta {deb} {r['unit']}"
                              + (f": {x:.2f}x" if x else "")})
    for t in out:
        t["issue"] = 5
        t["status"] = "PASS" if t["met"] else "FAIL"
    return out + lofwd.evaluate(rows)


def print_targets(targets):
    for issue in sorted({t["issue"] for t in targets}):
        print(f"\ntargets (issue {issue}):")
        for t in targets:
            if t["issue"] == issue:
                print(f"  {t['status']:<4}  {t['target']}: {t['detail']}")
