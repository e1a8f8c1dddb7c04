"""Job bodies of bench/rq_bench.py, importable by RQ's worker processes."""
import time


def stamp():
    """The latency job: returns when its body started (CLOCK_REALTIME ns)."""
    return time.time_ns()


def noop():
    """The throughput job: nothing."""
    return None
