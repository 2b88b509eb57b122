"""SageMaker XGBoost script-mode entry point: train the churn classifier.

The estimator passes hyperparameters as `--name value` arguments and the channels as SM_CHANNEL_TRAIN /
SM_CHANNEL_VALIDATION (CSV, label first, no header). Per-round lines such as `[3]	train-auc:0.91	validation-auc:0.87`
and a final `validation-auc:0.87` feed the estimator's MetricDefinitions. The model is saved as
$SM_MODEL_DIR/xgboost-model, which SageMaker packs into model.tar.gz; on error the reason goes to
/opt/ml/output/failure, which SageMaker reports as the job's FailureReason.
"""
import argparse
import glob
import os
import sys
import traceback

import pandas as pd
import xgboost as xgb

FAILURE_FILE = "/opt/ml/output/failure"
MODEL_FILE = "xgboost-model"


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_depth", type=int, default=5)
    parser.add_argument("--eta", type=float, default=0.2)
    parser.add_argument("--gamma", type=float, default=0.0)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--subsample", type=float, default=0.8)
    parser.add_argument("--objective", default="binary:logistic")
    parser.add_argument("--eval_metric", default="auc")
    parser.add_argument("--num_round", type=int, default=100)
    parser.add_argument("--early_stopping_rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    return parser.parse_args()


def read_channel(name, channel_dir):
    if not channel_dir:
        raise ValueError("no {0} channel: add a '{0}' input to the estimator".format(name))
    files = sorted(glob.glob(os.path.join(channel_dir, "*.csv")))
    if not files:
        raise ValueError("no CSV files in the {} channel ({})".format(name, channel_dir))
    frame = pd.concat((pd.read_csv(f, header=None) for f in files), ignore_index=True)
    return xgb.DMatrix(frame.iloc[:, 1:].values, label=frame.iloc[:, 0].values)


def train(args):
    dtrain = read_channel("train", args.train)
    dvalidation = read_channel("validation", args.validation)
    params = {
        "max_depth": args.max_depth,
        "eta": args.eta,
        "gamma": args.gamma,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "objective": args.objective,
        "eval_metric": args.eval_metric,
        "seed": args.seed,
    }
    booster = xgb.train(
        params, dtrain, num_boost_round=args.num_round,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        early_stopping_rounds=args.early_stopping_rounds, verbose_eval=True)
    best = booster[: booster.best_iteration + 1]
    print("best iteration: {}".format(booster.best_iteration))
    print("validation-{}:{:.5f}".format(args.eval_metric, booster.best_score))
    best.save_model(os.path.join(args.model_dir, MODEL_FILE))


def main():
    args = parse_args()
    try:
        train(args)
    except Exception as exc:
        with open(FAILURE_FILE, "w") as failure:
            failure.write("{}: {}".format(type(exc).__name__, exc))
        print("Exception during training: {}\n{}".format(exc, traceback.format_exc()), file=sys.stderr)
        sys.exit(255)


if __name__ == "__main__":
    main()
