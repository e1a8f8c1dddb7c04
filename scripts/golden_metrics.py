#!/usr/bin/python3
"""Reference values for tests/ml/metrics_test.cpp, computed with scikit-learn 1.2.

Run:  /usr/bin/python3 scripts/golden_metrics.py
and paste the printed C++ into the golden section of the test. Every probability is a
multiple of 1/64 so that it is exact in float32 (our Matrix type) and float64 alike.
"""
import numpy as np
import sklearn
from sklearn import metrics
from sklearn.preprocessing import label_binarize

CASES = {
    # Binary with tied scores across both classes.
    "binary_ties": (
        [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1],
        [0.25, 0.75, 0.75, 0.5, 0.875, 0.25, 0.5, 0.5, 0.9375, 0.125, 0.75, 0.5],
    ),
    # Binary, every score equal: AUC 0.5, AP = positive rate; probabilities 0 and 1 exercise clipping.
    "binary_all_tied": ([0, 1, 0, 0, 1], [0.5, 0.5, 0.5, 0.5, 0.5]),
    "binary_extremes": ([0, 1, 1, 0, 1, 0], [0.0, 1.0, 0.0, 0.25, 0.75, 1.0]),
    # Three classes with ties; class 2 is never predicted (zero_division=0 precision).
    "multi3": (
        [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0],
        [
            [0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.375, 0.375, 0.25], [0.25, 0.5, 0.25],
            [0.125, 0.75, 0.125], [0.625, 0.25, 0.125], [0.25, 0.5, 0.25], [0.5, 0.25, 0.25],
            [0.25, 0.5, 0.25], [0.75, 0.125, 0.125], [0.25, 0.375, 0.375], [0.5, 0.25, 0.25],
        ],
    ),
    # Rows that do not sum to one (renormalised by log_loss) and a zero probability.
    "multi3_unnormalised": (
        [0, 1, 2, 1, 0, 2],
        [
            [0.5, 0.5, 0.5], [0.0, 0.75, 0.25], [0.125, 0.125, 0.25], [0.25, 0.25, 0.0],
            [0.875, 0.0625, 0.0625], [0.0, 0.0, 1.0],
        ],
    ),
}


def proba_of(rows):
    p = np.asarray(rows, dtype=np.float64)
    if p.ndim == 1:  # binary positive-class score
        p = np.column_stack([1.0 - p, p])
    assert np.all(p.astype(np.float32).astype(np.float64) == p)
    return p


def reference(y, p):
    n = p.shape[1]
    y = np.asarray(y)
    pred = np.argmax(p, axis=1)
    labels = list(range(n))
    out = {"accuracy": metrics.accuracy_score(y, pred)}
    if n == 2:
        out["precision"] = metrics.precision_score(y, pred, zero_division=0)
        out["recall"] = metrics.recall_score(y, pred, zero_division=0)
        out["f1"] = metrics.f1_score(y, pred, zero_division=0)
        out["roc_auc"] = metrics.roc_auc_score(y, p[:, 1])
        out["pr_auc"] = metrics.average_precision_score(y, p[:, 1])
    else:
        out["precision"] = metrics.precision_score(y, pred, average="macro", zero_division=0)
        out["recall"] = metrics.recall_score(y, pred, average="macro", zero_division=0)
        out["f1"] = metrics.f1_score(y, pred, average="macro", zero_division=0)
        # One-vs-rest macro; multi_class="ovr" needs rows summing to one, the binarised form
        # (the same computation) does not.
        out["roc_auc"] = metrics.roc_auc_score(label_binarize(y, classes=labels), p, average="macro")
        if np.allclose(p.sum(axis=1), 1):
            assert out["roc_auc"] == metrics.roc_auc_score(y, p, multi_class="ovr", average="macro")
        out["pr_auc"] = metrics.average_precision_score(label_binarize(y, classes=labels), p, average="macro")
    out["log_loss"] = metrics.log_loss(y, p, labels=labels)
    return out


def cpp_list(values):
    return "{" + ", ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values) + "}"


# data.positive_class: text labels, P(good) per row (no 0.5, so argmax never ties), scored
# with sklearn's pos_label either way. mlrun orders the classes [other, positive].
POSITIVE_Y = ["good", "bad", "good", "good", "bad", "good", "bad", "good", "good", "bad", "good", "bad", "good"]
POSITIVE_P_GOOD = [0.875, 0.25, 0.625, 0.375, 0.75, 0.9375, 0.125, 0.625, 0.8125, 0.375, 0.25, 0.0625, 0.6875]


def positive_reference(pos):
    y = np.asarray(POSITIVE_Y)
    p_good = np.asarray(POSITIVE_P_GOOD)
    p_pos = p_good if pos == "good" else 1.0 - p_good
    other = "bad" if pos == "good" else "good"
    pred = np.where(p_pos > 0.5, pos, other)
    proba = np.column_stack([1.0 - p_good, p_good])  # sklearn orders the columns by sorted label
    return [
        metrics.accuracy_score(y, pred),
        metrics.precision_score(y, pred, pos_label=pos, zero_division=0),
        metrics.recall_score(y, pred, pos_label=pos, zero_division=0),
        metrics.f1_score(y, pred, pos_label=pos, zero_division=0),
        metrics.roc_auc_score(y == pos, p_pos),
        metrics.average_precision_score(y, p_pos, pos_label=pos),
        metrics.log_loss(y, proba, labels=["bad", "good"]),
    ]


def main():
    print(f"// scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    print("// positive class (k_positive_golden): accuracy, precision, recall, f1, roc_auc, pr_auc, log_loss")
    for pos in ["good", "bad"]:
        print(f"//   {pos}: " + "{" + ", ".join("%.17g" % v for v in positive_reference(pos)) + "}")
    for name, (y, rows) in CASES.items():
        p = proba_of(rows)
        ref = reference(y, p)
        print(f"// {name}")
        print(f"GoldenCase{{\"{name}\", {cpp_list(y)}, {p.shape[1]},")
        print("  " + cpp_list(p.ravel().tolist()) + ",")
        vals = []
        for key in ["accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss"]:
            v = ref[key]
            vals.append("k_skip" if v is None else "%.17g" % v)
        print("  {" + ", ".join(vals) + "}},")


if __name__ == "__main__":
    main()
