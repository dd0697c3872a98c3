#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns w3tp_bench's JSON lines into a Markdown table and a chart (PNG) for the README.

    python3 bench/report.py results.jsonl [more.jsonl ...] --md results.md --png results.png

Rows are measurements ({"workload", "variant", "peer", "metric", "value", "uring_ratio", ...}), lines
with a "target" key are the targets with their verdicts, and the line with an "anchors" key says whether
the run was valid (the ceiling scaled from 1 to 2 threads). The chart shows, for every
peer on the main workloads, how far ahead w3tp is: w3tp/peer for rates, peer/w3tp for costs
(latency, bytes, instructions), so that a bar right of 1 always means w3tp is better.
"""
import argparse
import json
import math

LOWER_IS_BETTER_UNITS = {"ns", "B", "instr"}
# The workloads the chart shows (scale sweeps stay in the table).
CHART_WORKLOADS = ["posts", "file", "file cold", "pingpong", "latency same-core", "latency cross-core", "memory",
                   "instructions"]


def fmt_value(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f} M"
    if a >= 1e4:
        return f"{v / 1e3:.1f} k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}"


def load(paths):
    rows, targets, runs = [], [], []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                obj = json.loads(line)
                if "anchors" in obj:
                    runs.append(obj)
                elif "target" in obj:
                    targets.append(obj)
                else:
                    rows.append(obj)
    return rows, targets, runs


def write_markdown(rows, targets, runs, path):
    out = ["# w3tp benchmark results", ""]
    for run in runs:
        a = run["anchors"]
        out.append(f"Anchors (2 threads / 1 thread, medians of {run.get('reps')}): raw liburing "
                   f"{fmt_ratio(a.get('raw_liburing'))}, pread {fmt_ratio(a.get('pread'))}; the run is "
                   + ("**valid**" if run.get("valid") else f"**invalid** (below {a.get('min')}): no verdicts") + ".")
        out.append("")
    out += ["Medians of the runs; ratios are w3tp / peer on the same metric (for ns, B and instr lower is better).",
            "", "| workload | variant | peer | metric | value | io_uring/peer | epoll/peer | note |",
            "|---|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        unit = r.get("unit", "")
        metric = r["metric"] + (f" ({unit})" if unit else "")
        out.append(f"| {r['workload']} | {r['variant']} | {r['peer']} | {metric} | {fmt_value(r.get('value'))} | "
                   f"{fmt_ratio(r.get('uring_ratio'))} | {fmt_ratio(r.get('epoll_ratio'))} | {r.get('note', '')} |")
    if targets:
        out += ["", "## Targets", "", "| target | measured | limit | verdict |", "|---|---:|---:|---|"]
        for t in targets:
            v = t.get("value")
            op = "≤" if t.get("at_most") else "≥"
            valid = all(run.get("valid") for run in runs)
            verdict = ("not measured" if v is None else "no verdict" if not valid
                       else ("met" if t.get("met") else "**missed**"))
            out.append(f"| {t['target']} | {fmt_ratio(v)} | {op} {t['limit']} | {verdict} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def advantage(ref, peer, unit):
    """How many times better w3tp is than the peer (> 1: w3tp better)."""
    if ref is None or peer is None or ref <= 0 or peer <= 0:
        return None
    return peer / ref if unit in LOWER_IS_BETTER_UNITS else ref / peer


def write_chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = {(r["workload"], r["variant"], r["peer"], r["metric"]): r for r in rows if r.get("value") is not None}
    labels, uring, epoll = [], [], []
    for r in rows:
        if r["workload"] not in CHART_WORKLOADS or r["peer"].startswith("w3tp") or r.get("value") is None:
            continue
        if r["metric"] in ("setup_ns_per_handle", "teardown_ns_per_handle", "rtt_p99_ns"):
            continue
        unit = r.get("unit", "")
        u = index.get((r["workload"], r["variant"], "w3tp io_uring", r["metric"]))
        e = index.get((r["workload"], r["variant"], "w3tp epoll", r["metric"]))
        au = advantage(u["value"] if u else None, r["value"], unit)
        ae = advantage(e["value"] if e else None, r["value"], unit)
        if au is None and ae is None:
            continue
        metric = {"ops_per_s": "", "rtt_p50_ns": " p50", "bytes_per_handle": " B/handle", "bytes_per_op": " B/op",
                  "instr_per_op": " instr/op"}.get(r["metric"], " " + r["metric"])
        labels.append(f"{r['workload']}{metric}: {r['variant']} vs {r['peer']}")
        uring.append(au if au is not None else math.nan)
        epoll.append(ae if ae is not None else math.nan)
    if not labels:
        return
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(labels) + 1.5))
    y = list(range(len(labels)))
    h = 0.4
    ax.barh([i - h / 2 for i in y], uring, height=h, label="w3tp io_uring", color="#2b6cb0")
    ax.barh([i + h / 2 for i in y], epoll, height=h, label="w3tp epoll", color="#dd8452")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("w3tp advantage (x): > 1 means w3tp is better (rate / peer rate, or peer cost / w3tp cost)")
    ax.set_title("w3tp vs peers (medians; 2 pool threads unless the variant says otherwise)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--md", default="results.md")
    ap.add_argument("--png", default="results.png")
    args = ap.parse_args()
    rows, targets, runs = load(args.jsonl)
    write_markdown(rows, targets, runs, args.md)
    try:
        write_chart(rows, args.png)
    except ImportError:
        print("report.py: matplotlib is missing (apt-get install -y python3-matplotlib); no chart")
    print(f"report.py: wrote {args.md} and {args.png}")


if __name__ == "__main__":
    main()
