#!/usr/bin/env python3
"""Runs signgate-load over a matrix of loads, several times each, and prints the medians as a
Markdown table (the "Gateway load" section of docs/benchmarks.md).

Usage: loadgen/scripts/bench.py [--reps N] [--duration S] [--warmup S] [--out FILE.jsonl]
        [--load sat:1 --load rate:50 ...]
Build first: cargo build --release -p signgate-loadgen
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BIN = os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "signgate-load")
DEFAULT_LOADS = ["sat:1", "sat:8", "sat:32", "rate:50", "rate:200"]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(load, duration, warmup, extra):
    kind, value = load.split(":")
    flag = "--concurrency" if kind == "sat" else "--rate"
    cmd = [BIN, flag, value, "--duration", str(duration), "--warmup", str(warmup), "--json"] + extra
    before = loadavg()
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    after = loadavg()
    report = json.loads(out)
    return {"load": load, "cmd": " ".join(cmd[1:]), "started": started,
            "load_before": before, "load_after": after, "report": report}


def med(values):
    return statistics.median(values)


def table(runs, loads):
    rows = ["| load | gateway req/s | echo req/s | ratio | gateway p50 ms | echo p50 ms | ratio "
            "| gateway p99 ms | echo p99 ms | ratio | errors (gw/echo) | missed deadlines (gw/echo) "
            "| gateway decisions |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for load in loads:
        rs = [r["report"] for r in runs if r["load"] == load]
        if not rs:
            continue
        g = lambda k, f: med([f(r[k]) for r in rs])  # noqa: E731
        gt = g("gateway", lambda t: t["throughput_rps"])
        et = g("echo", lambda t: t["throughput_rps"])
        g50 = g("gateway", lambda t: t["latency_us"]["p50"]) / 1000
        e50 = g("echo", lambda t: t["latency_us"]["p50"]) / 1000
        g99 = g("gateway", lambda t: t["latency_us"]["p99"]) / 1000
        e99 = g("echo", lambda t: t["latency_us"]["p99"]) / 1000
        errs = "/".join(str(sum(sum(r[k]["errors"].values()) for r in rs)) for k in ("gateway", "echo"))
        missed = "/".join(str(sum(r[k]["missed_deadlines"] for r in rs)) for k in ("gateway", "echo"))
        outcomes = {}
        for r in rs:
            for k, v in r["gateway"]["outcomes"].items():
                outcomes[k] = outcomes.get(k, 0) + v
        kind, value = load.split(":")
        name = f"saturation C={value}" if kind == "sat" else f"fixed {value} req/s"
        rows.append(
            f"| {name} | {gt:.1f} | {et:.1f} | {gt / et if et else 0:.3f} | {g50:.2f} | {e50:.3f} "
            f"| {g50 / e50 if e50 else 0:.1f} | {g99:.2f} | {e99:.3f} | {g99 / e99 if e99 else 0:.1f} "
            f"| {errs} | {missed} | {' '.join(f'{k}={v}' for k, v in sorted(outcomes.items()))} |")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--load", action="append")
    p.add_argument("--out", default="loadgen-runs.jsonl")
    a = p.parse_args()
    loads = a.load or DEFAULT_LOADS
    runs = []
    with open(a.out, "a") as out:
        for rep in range(a.reps):
            for load in loads:
                r = run(load, a.duration, a.warmup, [])
                r["rep"] = rep
                runs.append(r)
                out.write(json.dumps(r) + "\n")
                out.flush()
                rg, re_ = r["report"]["gateway"], r["report"]["echo"]
                print(f"rep {rep} {load}: gateway {rg['throughput_rps']:.1f}/s "
                      f"p50 {rg['latency_us']['p50']}us p99 {rg['latency_us']['p99']}us; "
                      f"echo {re_['throughput_rps']:.1f}/s p50 {re_['latency_us']['p50']}us "
                      f"p99 {re_['latency_us']['p99']}us; load {r['load_before']} -> {r['load_after']}",
                      file=sys.stderr, flush=True)
    print(table(runs, loads))


if __name__ == "__main__":
    main()
