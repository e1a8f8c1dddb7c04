#!/usr/bin/env python3
"""PyTorch (Python) peer of `mlp_bench train`: samples/s of MLP training, same shapes,
same loop as mlrun's fit (shuffle per epoch, contiguous batches, Adam, BCE with logits,
loss.item() per batch), median of --runs runs. Not a test: see bench/README-models.md.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/mlp_bench.py [--threads 1] [--runs 5]
"""
import argparse
import os
import statistics
import time

import torch


def synthetic(rows, features, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g)
    w = torch.tensor([1.0 if c % 3 == 0 else -0.5 for c in range(features)])
    y = ((x @ w + 0.5 * torch.randn(rows, generator=g)) > 0).float().unsqueeze(1)
    return x, y


def mlp(features, hidden):
    layers, prev = [], features
    for h in hidden:
        layers += [torch.nn.Linear(prev, h), torch.nn.ReLU()]
        prev = h
    layers.append(torch.nn.Linear(prev, 1))
    return torch.nn.Sequential(*layers)


def fit(model, x, y, batch, epochs, lr, weight_decay=0.0, seed=1, on_epoch=None):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    n = x.shape[0]
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        xs, ys = x[perm], y[perm]
        total = 0.0
        for start in range(0, n, batch):
            xb, yb = xs[start:start + batch], ys[start:start + batch]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        if on_epoch:
            on_epoch()
    return total / n


def bench(features, hidden, batch, rows, epochs, runs):
    x, y = synthetic(rows, features, 1)
    rates = []
    for run in range(runs):
        torch.manual_seed(run + 1)
        model = mlp(features, hidden)
        t0 = time.perf_counter()
        fit(model, x, y, batch, epochs, 0.001)
        rates.append(rows * epochs / (time.perf_counter() - t0))
    arch = "-".join(str(v) for v in [features] + hidden)
    print(f"mlp {arch}-1 batch {batch}: median {statistics.median(rates):.0f} samples/s "
          f"(min {min(rates):.0f}, max {max(rates):.0f}) over {runs} runs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    bench(30, [64, 32], 32, 16384, 3, args.runs)
    bench(50, [128, 64], 256, 65536, 3, args.runs)


if __name__ == "__main__":
    main()
