#!/usr/bin/env python3
"""A/B runs of signgate-load binaries, interleaved, each beside its echo floor in one run.
Usage: ab.py OUT.jsonl --bin name=path [--bin name=path] --load sat:1 [--load sat:8] --reps 3
"""
import argparse, json, subprocess, time, statistics

def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])

ap = argparse.ArgumentParser()
ap.add_argument("out"); ap.add_argument("--bin", action="append", required=True)
ap.add_argument("--load", action="append", required=True); ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--duration", default="10"); ap.add_argument("--warmup", default="3")
a = ap.parse_args()
bins = [b.split("=", 1) for b in a.bin]
runs = []
with open(a.out, "a") as f:
    for load in a.load:
        kind, v = load.split(":")
        flag = "--concurrency" if kind == "sat" else "--rate"
        for rep in range(a.reps):
            for name, path in bins:
                cmd = [path, flag, v, "--duration", a.duration, "--warmup", a.warmup, "--json"]
                before = loadavg(); started = time.strftime("%H:%M:%S")
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                r = {"bin": name, "load": load, "rep": rep, "started": started, "load_before": before,
                     "load_after": loadavg(), "report": json.loads(out)}
                f.write(json.dumps(r) + "\n"); f.flush(); runs.append(r)
                g, e = r["report"]["gateway"], r["report"]["echo"]
                print(f"{name} {load} rep{rep} gw {g['throughput_rps']:.0f}/s p50 {g['latency_us']['p50']/1000:.3f} ms p99 {g['latency_us']['p99']/1000:.2f} | echo {e['throughput_rps']:.0f}/s p50 {e['latency_us']['p50']/1000:.3f} | load {before}->{r['load_after']}", flush=True)
print("\n| binary | load | gw req/s | echo req/s | req/s ratio | gw p50 ms | echo p50 ms | p50 ratio | gw p99 ms | runs | load avg |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for load in a.load:
    for name, _ in bins:
        rs = [r for r in runs if r["bin"] == name and r["load"] == load]
        m = lambda f: statistics.median([f(r["report"]) for r in rs])
        gt = m(lambda r: r["gateway"]["throughput_rps"]); et = m(lambda r: r["echo"]["throughput_rps"])
        g50 = m(lambda r: r["gateway"]["latency_us"]["p50"]) / 1000; e50 = m(lambda r: r["echo"]["latency_us"]["p50"]) / 1000
        g99 = m(lambda r: r["gateway"]["latency_us"]["p99"]) / 1000
        la = ", ".join(sorted({r["load_before"].split()[0] for r in rs}))
        print(f"| {name} | {load} | {gt:,.0f} | {et:,.0f} | {gt/et:.3f} | {g50:.2f} | {e50:.3f} | {g50/e50:.1f} | {g99:.2f} | {len(rs)} | {la} |")
