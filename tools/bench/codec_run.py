#!/usr/bin/env python3
"""Runs codec_bench and codec_orjson.py alternately, pinned to one CPU, and
prints the medians as the markdown table of tools/bench/CODEC.md.

  codec_run.py PATH/TO/codec_bench [--runs 3] [--cpu 1] [--quick] [--raw]

All figures are ns per element; "kinfer / orjson" below 1 means kinfer is
faster (0.5: twice as fast).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def table(text):
    """{(dtype, n): [floats]} from a program's output."""
    rows = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) >= 6:
            rows[(f[0], int(f[1]))] = [float(x) for x in f[2:]]
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("codec_bench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", default="1")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--raw", action="store_true",
                    help="also print each run's own output (stderr)")
    a = ap.parse_args()
    extra = ["--quick"] if a.quick else []
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(a.runs):
            out = subprocess.run(["taskset", "-c", a.cpu, a.codec_bench, "--dump", d] + extra,
                                 check=True, capture_output=True, text=True).stdout
            ours.append(table(out))
            if a.raw:
                print(out, file=sys.stderr)
            out = subprocess.run(["taskset", "-c", a.cpu, sys.executable,
                                  os.path.join(HERE, "codec_orjson.py"), d] + extra,
                                 check=True, capture_output=True, text=True).stdout
            theirs.append(table(out))
            if a.raw:
                print(out, file=sys.stderr)
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    def med(runs, key, i):
        return statistics.median(r[key][i] for r in runs)

    print("| dtype | elements | kinfer enc | kinfer dec | **kinfer enc+dec** "
          "| orjson enc | orjson dec | orjson enc+dec | json-c enc+dec "
          "| kinfer / orjson | kinfer / json-c "
          "| kinfer bin enc+dec | orjson bin enc+dec | kinfer bin GB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in ours[0]:
        je, jd = med(ours, key, 0), med(ours, key, 1)
        be, bd = med(ours, key, 2), med(ours, key, 3)
        ce, cd = med(ours, key, 4), med(ours, key, 5)
        oe, od = med(theirs, key, 0), med(theirs, key, 1)
        obe, obd = med(theirs, key, 2), med(theirs, key, 3)
        size = 4 if key[0] == "FP32" else 8
        print("| %s | %d | %.1f | %.1f | **%.1f** | %.1f | %.1f | %.1f | %.1f "
              "| %.2f | %.2f | %.2f | %.2f | %.0f |" % (
                  key[0], key[1], je, jd, je + jd, oe, od, oe + od, ce + cd,
                  (je + jd) / (oe + od), (je + jd) / (ce + cd), be + bd,
                  obe + obd, size / (be + bd)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
