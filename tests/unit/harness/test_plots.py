"""ROC curve and confusion matrix PNGs: valid images, and numbers that agree with scikit-learn."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from harness.plots import confusion, plot_confusion_matrix, plot_roc, roc_points, write_evaluation_plots

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.35 + rng.normal(0.35, 0.2, 400), 0, 1).round(2)  # rounded: ties on purpose
    return labels, scores


def test_writes_valid_pngs(scored, tmp_path: Path) -> None:
    paths = write_evaluation_plots(*scored, tmp_path / "plots")
    assert png_size(paths["roc"]) == (500, 500)
    assert png_size(paths["confusion_matrix"]) == (500, 440)
    import matplotlib.image

    for path in paths.values():  # decodes as an image with real content, not a blank canvas
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.std() > 0.05


def test_auc_and_matrix_agree_with_sklearn(scored, tmp_path: Path) -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    labels, scores = scored
    auc = plot_roc(labels, scores, tmp_path / "roc.png")
    assert auc == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr, _ = roc_points(labels, scores)
    ref_fpr, ref_tpr, _ = sklearn_metrics.roc_curve(labels, scores, drop_intermediate=False)
    assert np.allclose(fpr, ref_fpr) and np.allclose(tpr, ref_tpr)
    matrix = plot_confusion_matrix(labels, scores, tmp_path / "cm.png", threshold=0.6)
    assert (matrix == sklearn_metrics.confusion_matrix(labels, scores >= 0.6)).all()


def test_perfect_and_inverted_scores() -> None:
    assert roc_points([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])[2] == 1.0
    assert roc_points([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])[2] == 0.0
    assert confusion([0, 1, 1], [0.7, 0.7, 0.2]).tolist() == [[0, 1], [1, 1]]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both classes"):
        plot_roc([1, 1], [0.2, 0.3], tmp_path / "x.png")
    with pytest.raises(ValueError, match="3 labels but 2 scores"):
        roc_points([0, 1, 1], [0.2, 0.3])
    assert not (tmp_path / "x.png").exists()
