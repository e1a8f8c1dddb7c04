#!/usr/bin/python3
"""Checks split.cv against scikit-learn: for every train_model step of a run that ran
cross-validation, its folds must be StratifiedKFold(n_splits=K) (no shuffle) on the train + valid
rows in the order mlrun wrote them, and each fold's metrics (metrics.json cv.folds) must equal
scikit-learn's on that fold's out-of-fold probabilities (cv_predictions.csv).

    scripts/check_cv_sklearn.py RUN_ID [--mlrun build/mlrun]     (MLRUN_HOME as for mlrun)

Exit 1 on a fold assignment that differs or a metric more than 1e-6 away (the CSV keeps 9
digits). Needs python3-sklearn.
"""
import argparse
import csv
import json
import subprocess
import sys
import urllib.parse

import numpy as np
from sklearn import metrics
from sklearn.model_selection import StratifiedKFold


def artifact(task, name):
    for a in task.get("artifacts", []):
        if a["name"] == name:
            return urllib.parse.unquote(urllib.parse.urlparse(a["uri"]).path)
    return None


def fold_metrics(y, p, n_classes):
    labels = list(range(n_classes))
    pred = p.argmax(axis=1)
    out = {"accuracy": metrics.accuracy_score(y, pred), "log_loss": metrics.log_loss(y, p, labels=labels)}
    if n_classes == 2:
        out["roc_auc"] = metrics.roc_auc_score(y, p[:, 1])
        out["f1"] = metrics.f1_score(y, pred, zero_division=0)
    else:
        out["roc_auc"] = metrics.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)
        out["f1"] = metrics.f1_score(y, pred, average="macro", zero_division=0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_id")
    ap.add_argument("--mlrun", default="build/mlrun")
    args = ap.parse_args()
    tasks = json.loads(subprocess.check_output([args.mlrun, "task", "list", "--run", args.run_id, "--json"]))
    checked = 0
    worst = 0.0
    ok = True
    for t in tasks:
        if t["kind"] != "train_model" or t["status"] != "completed" or not artifact(t, "cv_predictions.csv"):
            continue
        cv = json.load(open(artifact(t, "metrics.json")))["cv"]
        rows = list(csv.DictReader(open(artifact(t, "cv_predictions.csv"))))
        prob_cols = [c for c in rows[0] if c.startswith("prob_")]
        classes = [c[len("prob_"):] for c in prob_cols]
        y = np.array([classes.index(r["label"]) for r in rows])
        p = np.array([[float(r[c]) for c in prob_cols] for r in rows])
        ours = np.array([int(r["fold"]) for r in rows])
        theirs = np.empty(len(y), dtype=int)
        for k, (_, test) in enumerate(StratifiedKFold(n_splits=cv["k"]).split(p, y)):
            theirs[test] = k
        same_folds = bool((ours == theirs).all())
        ok = ok and same_folds
        for f in cv["folds"]:
            k = f["fold"]
            ref = fold_metrics(y[theirs == k], p[theirs == k], len(classes))
            for name, value in ref.items():
                mine = f["metrics"][name]
                # cv_predictions.csv holds probabilities to 9 digits: compare on them.
                diff = abs(mine - value)
                worst = max(worst, diff)
                if diff > 1e-6:
                    ok = False
                    print(f"  {t['step']} fold {k} {name}: mlrun {mine:.12f} sklearn {value:.12f}")
        checked += 1
        print(f"{t.get('step') or t['id']}: {cv['k']} folds {'equal' if same_folds else 'DIFFER'}, "
              f"{cv['metric']} {cv['mean']:.4f} +- {cv['std']:.4f}")
    if checked == 0:
        sys.exit(f"run {args.run_id}: no completed train_model step with cv_predictions.csv")
    print(("ok" if ok else "MISS") + f": {checked} models, largest metric difference {worst:.2e}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
