"""SageMaker Processing entry point: score the trained churn model on the held-out test split.

Inputs: /opt/ml/processing/model/model.tar.gz (the training job's artifact) and /opt/ml/processing/test/*.csv
(label first, no header). Output: /opt/ml/processing/evaluation/evaluation.json in the Model Quality
`binary_classification_metrics` shape, read by the pipeline's PropertyFile and attached to the model package.
"""
import argparse
import glob
import json
import os
import tarfile

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

MODEL_ARCHIVE = "/opt/ml/processing/model/model.tar.gz"
TEST_DIR = "/opt/ml/processing/test"
EVALUATION_DIR = "/opt/ml/processing/evaluation"


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=0.5, help="probability above which a customer churns")
    return parser.parse_args()


def load_model():
    with tarfile.open(MODEL_ARCHIVE) as archive:
        archive.extractall(path=".")
    booster = xgb.Booster()
    booster.load_model("xgboost-model")
    return booster


def read_test():
    files = sorted(glob.glob(os.path.join(TEST_DIR, "*.csv")))
    if not files:
        raise ValueError("no CSV files in " + TEST_DIR)
    frame = pd.concat((pd.read_csv(f, header=None) for f in files), ignore_index=True)
    return frame.iloc[:, 0].values.astype(int), frame.iloc[:, 1:].values


def binary_classification_metrics(labels, probabilities, threshold):
    predicted = (probabilities >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1])
    return {
        "auc": {"value": float(roc_auc_score(labels, probabilities))},
        "precision": {"value": float(precision_score(labels, predicted, zero_division=0))},
        "recall": {"value": float(recall_score(labels, predicted, zero_division=0))},
        "f1": {"value": float(f1_score(labels, predicted, zero_division=0))},
        "accuracy": {"value": float(accuracy_score(labels, predicted))},
        "confusion_matrix": {"0": {"0": int(tn), "1": int(fp)}, "1": {"0": int(fn), "1": int(tp)}},
    }


def main():
    args = parse_args()
    booster = load_model()
    labels, features = read_test()
    probabilities = booster.predict(xgb.DMatrix(features))
    report = {"binary_classification_metrics": binary_classification_metrics(labels, probabilities, args.threshold)}
    os.makedirs(EVALUATION_DIR, exist_ok=True)
    with open(os.path.join(EVALUATION_DIR, "evaluation.json"), "w") as out:
        json.dump(report, out, indent=2)
    metrics = report["binary_classification_metrics"]
    print("evaluated {} rows: auc={:.4f} f1={:.4f} (positive rate {:.3f})".format(
        len(labels), metrics["auc"]["value"], metrics["f1"]["value"], float(np.mean(labels))))


if __name__ == "__main__":
    main()
