#!/usr/bin/env python3
"""PyTorch (Python) peer of `mlp_bench search`: a 50-trial random search, 30 epochs each,
of a 30-64-32-1 MLP on 569 rows (455 train / 114 valid), trials on a multiprocessing
Pool(2) (1 torch thread per worker); each trial reports its valid ROC AUC. Median wall
time of --runs runs, pool start-up included. Not a test: see bench/README-models.md.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/search_bench.py [--runs 3]
"""
import argparse
import math
import multiprocessing as mp
import random
import statistics
import time

import torch
from sklearn.metrics import roc_auc_score

from mlp_bench import fit, mlp, synthetic

_DATA = {}


def _init():
    torch.set_num_threads(1)
    x, y = synthetic(569, 30, 7)
    _DATA.update(xt=x[:455], yt=y[:455], xv=x[455:], yv=y[455:])


def trial(args):
    index, lr, weight_decay = args
    torch.manual_seed(42)
    model = mlp(30, [64, 32])
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def validate():  # the same work per epoch as mlrun's fit: the validation loss
        model.eval()
        with torch.no_grad():
            loss_fn(model(_DATA["xv"]), _DATA["yv"]).item()

    fit(model, _DATA["xt"], _DATA["yt"], 32, 30, lr, weight_decay, seed=index, on_epoch=validate)
    with torch.no_grad():
        p = torch.sigmoid(model(_DATA["xv"])).squeeze(1).numpy()
    return index, roc_auc_score(_DATA["yv"].squeeze(1).numpy(), p)


def plan(seed=42, n=50):
    rng = random.Random(seed)
    log_uniform = lambda lo, hi: math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return [(i, log_uniform(1e-4, 1e-1), log_uniform(1e-6, 1e-3)) for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    times, best = [], 0.0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        with mp.Pool(args.processes, initializer=_init) as pool:
            results = pool.map(trial, plan())
        times.append(time.perf_counter() - t0)
        best = max(auc for _, auc in results)
    print(f"search 50 trials x 30 epochs, 569 rows, Pool({args.processes}): median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}) over {args.runs} runs; best valid roc_auc {best:.4f}")


if __name__ == "__main__":
    main()
