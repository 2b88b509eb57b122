"""SageMaker Processing entry point: raw customer CSVs -> churn features split for XGBoost.

Runs unchanged in the SageMaker scikit-learn container (`python3 /opt/ml/processing/input/code/preprocess.py`).
Reads every CSV under /opt/ml/processing/input, derives behavioural features, splits train/validation/test
(stratified on `churned`) and writes /opt/ml/processing/output/{train,validation,test}/<split>.csv in the
built-in XGBoost CSV convention: label in the first column, no header.
"""
import argparse
import glob
import os

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing/output"
LABEL = "churned"
PLANS = ["basic", "standard", "premium"]
DATE_COLUMNS = ["signup_date", "last_login_date"]
NUMERIC = ["tenure_months", "monthly_charges", "login_frequency", "sessions_last_30d", "support_tickets",
           "payment_failures"]
BEHAVIOUR_FEATURES = ["days_since_last_login", "avg_session_duration", "minutes_last_30d",
                      "support_tickets_per_month", "payment_failures_per_month", "charges_per_login"]


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--validation-ratio", type=float, default=0.15)
    parser.add_argument("--test-ratio", type=float, default=0.15)
    parser.add_argument("--random-state", type=int, default=42)
    parser.add_argument("--snapshot-date", default=None,
                        help="date the data was extracted (YYYY-MM-DD); defaults to the latest last_login_date")
    return parser.parse_args()


def read_raw(input_dir):
    files = sorted(glob.glob(os.path.join(input_dir, "*.csv")))
    if not files:
        raise ValueError("no CSV files found in " + input_dir)
    print("reading " + ", ".join(os.path.basename(f) for f in files))
    return pd.concat((pd.read_csv(f, parse_dates=DATE_COLUMNS) for f in files), ignore_index=True)


def behaviour_features(raw, snapshot):
    """Recency and per-month ratios that trees cannot easily derive from the raw columns."""
    tenure = raw["tenure_months"].clip(lower=1)
    session_minutes = raw["avg_session_minutes"].fillna(0.0)  # missing when there was no session in 30 days
    features = pd.DataFrame({
        "days_since_last_login": (snapshot - raw["last_login_date"]).dt.days,
        "avg_session_duration": session_minutes,
        "minutes_last_30d": session_minutes * raw["sessions_last_30d"],
        "support_tickets_per_month": raw["support_tickets"] / tenure,
        "payment_failures_per_month": raw["payment_failures"] / tenure,
        "charges_per_login": raw["monthly_charges"] / (raw["login_frequency"] + 1.0),
    }, index=raw.index)
    return features[BEHAVIOUR_FEATURES]


def build_transformer(snapshot):
    derived = FunctionTransformer(
        behaviour_features, kw_args={"snapshot": snapshot},
        feature_names_out=lambda transformer, input_features: BEHAVIOUR_FEATURES)
    return ColumnTransformer(
        [
            ("behaviour", derived, ["last_login_date", "avg_session_minutes"] + NUMERIC),
            ("numeric", SimpleImputer(strategy="median"), NUMERIC),
            ("plan", OneHotEncoder(categories=[PLANS], handle_unknown="ignore"), ["plan"]),
        ],
        sparse_threshold=0.0,
    )


def write_split(name, labels, features):
    split_dir = os.path.join(OUTPUT_DIR, name)
    os.makedirs(split_dir, exist_ok=True)
    frame = np.column_stack([labels, features])
    pd.DataFrame(frame).to_csv(os.path.join(split_dir, name + ".csv"), header=False, index=False)
    print("wrote {} rows to {}".format(len(frame), split_dir))


def main():
    args = parse_args()
    raw = read_raw(INPUT_DIR)
    snapshot = pd.Timestamp(args.snapshot_date) if args.snapshot_date else raw["last_login_date"].max()
    labels = raw.pop(LABEL).astype(int)

    holdout = args.validation_ratio + args.test_ratio
    x_train, x_rest, y_train, y_rest = train_test_split(
        raw, labels, test_size=holdout, stratify=labels, random_state=args.random_state)
    x_validation, x_test, y_validation, y_test = train_test_split(
        x_rest, y_rest, test_size=args.test_ratio / holdout, stratify=y_rest, random_state=args.random_state)

    transformer = build_transformer(snapshot).fit(x_train)
    print("features: " + ",".join(transformer.get_feature_names_out()))
    # FEATURE STORE HOOK: ingest here, before the split. `transformer.transform(raw)` with raw["customer_id"] as
    # the record identifier and `snapshot` as the event time is the record set for the churn Feature Group.
    write_split("train", y_train, transformer.transform(x_train))
    write_split("validation", y_validation, transformer.transform(x_validation))
    write_split("test", y_test, transformer.transform(x_test))


if __name__ == "__main__":
    main()
