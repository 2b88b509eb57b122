"""Evaluation plots people would rather look at than read: an ROC curve and a confusion matrix, as PNG.

From true labels (0/1) and scores (probabilities of class 1); matplotlib with the Agg backend (no
display needed), numpy for the curve, so the plots also work where scikit-learn is absent. The churn
demo's evaluation can call `write_evaluation_plots(labels, scores, out_dir)`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def roc_points(labels: Sequence[int] | Any, scores: Sequence[float] | Any) -> tuple[np.ndarray, np.ndarray, float]:
    """(false positive rates, true positive rates, area under the curve); ties in scores share one point.

    Raises:
        ValueError: labels and scores differ in length, or the labels are not both classes (0 and 1).
    """
    y = np.asarray(labels).astype(int).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    if positives == 0 or negatives == 0 or positives + negatives != len(y):
        raise ValueError("an ROC curve needs labels of both classes, 0 and 1")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    tpr = np.r_[0.0, tp / positives]
    fpr = np.r_[0.0, fp / negatives]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def confusion(labels: Sequence[int] | Any, scores: Sequence[float] | Any, threshold: float = 0.5) -> np.ndarray:
    """[[tn, fp], [fn, tp]] for predictions `score >= threshold`."""
    y = np.asarray(labels).astype(int).ravel()
    predicted = (np.asarray(scores, dtype=float).ravel() >= threshold).astype(int)
    if y.shape != predicted.shape:
        raise ValueError(f"{len(y)} labels but {len(predicted)} scores")
    return np.array([[int(((y == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)])


def _figure(size: tuple[float, float]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100)
    return figure, figure.add_subplot()


def plot_roc(labels: Any, scores: Any, path: str | Path, *, title: str = "ROC curve") -> float:
    """Write the ROC curve to `path` (PNG); returns its AUC."""
    fpr, tpr, auc = roc_points(labels, scores)
    figure, ax = _figure((5, 5))
    ax.plot(fpr, tpr, color="#1565c0", lw=2, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#9e9e9e", lw=1, ls="--", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return auc


def plot_confusion_matrix(labels: Any, scores: Any, path: str | Path, *, threshold: float = 0.5,
                          class_names: tuple[str, str] = ("stays", "churns"),
                          title: str = "Confusion matrix") -> np.ndarray:
    """Write the confusion matrix at `threshold` to `path` (PNG); returns [[tn, fp], [fn, tp]]."""
    matrix = confusion(labels, scores, threshold)
    figure, ax = _figure((5, 4.4))
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=class_names, yticklabels=class_names,
           xlabel="Predicted", ylabel="Actual", title=f"{title} (threshold {threshold:g})")
    high = matrix.max() / 2 if matrix.max() else 0.5
    total = matrix.sum() or 1
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{count}\n{count / total:.1%}", ha="center", va="center",
                color="white" if count > high else "#212121", fontsize=12)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return matrix


def write_evaluation_plots(labels: Any, scores: Any, out_dir: str | Path, *, threshold: float = 0.5) -> dict[str, Path]:
    """`roc.png` and `confusion_matrix.png` in `out_dir` (made if missing); returns their paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"roc": out / "roc.png", "confusion_matrix": out / "confusion_matrix.png"}
    plot_roc(labels, scores, paths["roc"])
    plot_confusion_matrix(labels, scores, paths["confusion_matrix"], threshold=threshold)
    return paths
