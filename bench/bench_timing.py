"""Interleaved timing of shell commands for the store and dispatch benches.

    python3 bench_timing.py RUNS NAME=COMMAND [NAME=COMMAND ...]

Runs every command once to warm up, then RUNS rounds, each running every command once in
turn (interleaved: a slow moment of the machine hits all of them alike), and prints one
line per command: its name and the median wall time in ms. A command that fails stops
the bench. Also importable: `interleaved(runs, {name: callable})`.
"""
import statistics
import subprocess
import sys
import time


def interleaved(runs, cases, warmup=1):
    """Median ms of each callable (name -> fn) over `runs` interleaved rounds."""
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    times = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: statistics.median(v) for name, v in times.items()}


def shell(cmd):
    return lambda: subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    runs = int(sys.argv[1])
    cases = dict(arg.split("=", 1) for arg in sys.argv[2:])
    for name, ms in interleaved(runs, {n: shell(c) for n, c in cases.items()}).items():
        print("%s %.3f" % (name, ms))
