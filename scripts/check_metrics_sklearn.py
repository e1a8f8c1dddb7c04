#!/usr/bin/env python3
"""Recompute a training task's test metrics from its predictions_test.csv with scikit-learn
(the reference implementation) and compare them with the metrics mlrun reported.

    scripts/check_metrics_sklearn.py STORE TASK_ID     (exit 0 when every metric matches to 1e-9)

Needs python3-sklearn (Debian). Used by scripts/e2e.sh when sklearn is installed.
"""
import csv, json, os, sys

import numpy as np
from sklearn import metrics as skm

store, task_id = sys.argv[1], sys.argv[2]
art = os.path.join(store, "tasks", task_id, "artifacts")
reported = json.load(open(os.path.join(art, "metrics.json")))["test"]
rows = list(csv.DictReader(open(os.path.join(art, "predictions_test.csv"))))
prob_cols = [c for c in rows[0] if c.startswith("prob_")]
classes = [c[len("prob_"):] for c in prob_cols]
y = np.array([classes.index(r["label"]) for r in rows])
proba = np.array([[float(r[c]) for c in prob_cols] for r in rows])
pred = proba.argmax(axis=1)
binary = len(classes) == 2
avg = "binary" if binary else "macro"
ref = {
    "accuracy": skm.accuracy_score(y, pred),
    "precision": skm.precision_score(y, pred, average=avg, zero_division=0),
    "recall": skm.recall_score(y, pred, average=avg, zero_division=0),
    "f1": skm.f1_score(y, pred, average=avg, zero_division=0),
    "roc_auc": skm.roc_auc_score(y, proba[:, 1]) if binary else skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"),
    "pr_auc": skm.average_precision_score(y, proba[:, 1]) if binary else
              np.mean([skm.average_precision_score(y == k, proba[:, k]) for k in range(len(classes))]),
    "log_loss": skm.log_loss(y, proba, labels=list(range(len(classes)))),
}
bad = []
for name, value in ref.items():
    # predictions_test.csv holds probabilities printed with enough digits to round-trip.
    if abs(value - reported[name]) > 1e-9:
        bad.append(f"{name}: mlrun {reported[name]!r} vs sklearn {value!r}")
print(f"{task_id}: {len(rows)} rows, {len(ref) - len(bad)}/{len(ref)} metrics equal to sklearn's")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
