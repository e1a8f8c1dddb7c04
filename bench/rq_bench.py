#!/usr/bin/python3
"""mlrun's agent against RQ's workers, on one redis-server that this script starts on a free
loopback port (bench/README.md, "Agents against RQ").

  /usr/bin/python3 bench/rq_bench.py [--build build] [-n 500] [--pace-ms 4]

1. Latency, enqueue -> task body starts on an idle worker, N tasks paced one every PACE ms:
   mlrun: an `agent daemon --workers 1` on the Redis broker, each task an exec of a tiny
   stamp program (bench/rq_stamp.cpp), enqueued in-process (bench/rq_agent_bench.cpp);
   RQ: `SimpleWorker` (no fork, the job runs in the worker) and `Worker` (fork per job),
   each job returning time.time_ns() from its body.
2. Throughput: N no-op tasks enqueued first, then one worker drains them:
   tasks/s = N / (last end - first start), from the records (mlrun) and RQ's job hashes.
Prints p50 / p99 / max and tasks/s for each, and the ratios. Figures only, not a test.
Needs Debian's python3-rq and python3-redis (run with /usr/bin/python3).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis
from rq import Queue
from rq.job import Job

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(tmp):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "yes", "--dir", tmp], stdout=subprocess.DEVNULL)
    conn = redis.Redis(port=port)
    for _ in range(200):
        try:
            conn.ping()
            return proc, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def quantiles(ms):
    s = sorted(ms)
    at = lambda q: s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]
    return {"p50": at(0.5), "p99": at(0.99), "max": s[-1]}


def rq_worker(port, worker_class, queue, burst=False):
    cmd = ["/usr/bin/python3", "-m", "rq.cli", "worker", "--url", f"redis://127.0.0.1:{port}/0", "-w",
           worker_class, "--disable-job-desc-logging", "-q", queue]
    if burst:
        cmd.append("--burst")
    env = dict(os.environ, PYTHONPATH=HERE)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rq_latency(port, worker_class, n, pace_ms):
    conn = redis.Redis(port=port)
    q = Queue(f"lat-{worker_class.rsplit('.', 1)[-1]}", connection=conn)
    worker = rq_worker(port, worker_class, q.name)
    time.sleep(3)  # imported and blocked in its dequeue
    sys.path.insert(0, HERE)
    import rq_bench_jobs
    jobs = []
    for _ in range(n):
        t0 = time.time_ns()
        jobs.append((t0, q.enqueue(rq_bench_jobs.stamp)))
        time.sleep(pace_ms / 1000)
    out = []
    for t0, job in jobs:
        for _ in range(30000):
            job.refresh()
            if job.get_status() == "finished":
                break
            time.sleep(0.001)
        out.append((job.result - t0) / 1e6)
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    return out


def rq_throughput(port, worker_class, n):
    conn = redis.Redis(port=port)
    q = Queue(f"tput-{worker_class.rsplit('.', 1)[-1]}", connection=conn)
    sys.path.insert(0, HERE)
    import rq_bench_jobs
    jobs = [q.enqueue(rq_bench_jobs.noop) for _ in range(n)]
    rq_worker(port, worker_class, q.name, burst=True).wait(600)
    starts, ends, done = [], [], 0
    for job in jobs:
        job = Job.fetch(job.id, connection=conn)
        if job.get_status() == "finished":
            done += 1
            starts.append(job.started_at.timestamp())
            ends.append(job.ended_at.timestamp())
    return done / (max(ends) - min(starts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--pace-ms", type=int, default=4)
    ap.add_argument("--cold", action="store_true", help="also run the agent without warm children")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rq_bench_")
    server, port = start_redis(tmp)
    try:
        uri = f"redis://127.0.0.1:{port}/1"  # mlrun on db 1, RQ on db 0
        mine = subprocess.run([os.path.join(args.build, "rq_agent_bench"), uri, str(args.n),
                               str(args.pace_ms), os.path.abspath(os.path.join(args.build, "rq_stamp"))],
                              check=True, capture_output=True, text=True)
        m = json.loads(mine.stdout.strip().splitlines()[-1])
        rows = [("mlrun agent (--workers 1, a process per task)", quantiles(m["latency_ms"]), m["throughput"])]
        if args.cold:
            cold = subprocess.run([os.path.join(args.build, "rq_agent_bench"), uri, str(args.n), str(args.pace_ms),
                                   os.path.abspath(os.path.join(args.build, "rq_stamp")), "cold"],
                                  check=True, capture_output=True, text=True)
            c = json.loads(cold.stdout.strip().splitlines()[-1])
            rows.append(("mlrun agent --cold (child started at claim)", quantiles(c["latency_ms"]), c["throughput"]))
        for cls, label in (("rq.worker.SimpleWorker", "RQ SimpleWorker (no fork)"),
                           ("rq.worker.Worker", "RQ Worker (fork per job)")):
            rows.append((label, quantiles(rq_latency(port, cls, args.n, args.pace_ms)),
                         rq_throughput(port, cls, args.n)))
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.n} tasks, paced every {args.pace_ms} ms; enqueue -> body start (ms); no-op throughput")
    print(f"{'':48} {'p50':>7} {'p99':>7} {'max':>7} {'tasks/s':>8}")
    for label, q, tput in rows:
        print(f"{label:48} {q['p50']:7.2f} {q['p99']:7.2f} {q['max']:7.2f} {tput:8.0f}")
    ours = rows[0]
    for label, q, tput in [r for r in rows[1:] if r[0].startswith("RQ")]:
        print(f"vs {label}: p50 x{ours[1]['p50'] / q['p50']:.2f}, p99 x{ours[1]['p99'] / q['p99']:.2f}, "
              f"throughput x{ours[2] / tput:.2f}")


if __name__ == "__main__":
    main()
