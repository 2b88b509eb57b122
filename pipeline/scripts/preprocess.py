"""SageMaker Processing entry point: raw customer CSVs -> churn features split for XGBoost.

Runs unchanged in the SageMaker scikit-learn container (`python3 /opt/ml/processing/input/code/preprocess.py`).
Reads every CSV under /opt/ml/processing/input, derives behavioural features, splits train/validation/test
(stratified on `churned`) and writes /opt/ml/processing/output/{train,validation,test}/<split>.csv in the
built-in XGBoost CSV convention: label in the first column, no header.

When FEATURE_GROUP_NAME is set, every customer's engineered features are also written to that SageMaker Feature
Store feature group (online and offline stores) with PutRecord: `customer_id` is the record identifier and the
snapshot date the event time (the group's own RecordIdentifierFeatureName / EventTimeFeatureName are used).
boto3 finds the endpoint, region and credentials as usual: the job role's on SageMaker, AWS_ENDPOINT_URL locally.
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
RECORD_IDENTIFIER = "customer_id"
EVENT_TIME = "event_time"
# The engineered features' names in the feature group: the transformer's output names without their prefix.
FEATURE_NAMES = BEHAVIOUR_FEATURES + NUMERIC + ["plan_" + plan for plan in PLANS]


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


def feature_group_definitions():
    """FeatureDefinitions of the churn feature group (CreateFeatureGroup) that `ingest_features` writes to."""
    return ([{"FeatureName": RECORD_IDENTIFIER, "FeatureType": "String"},
             {"FeatureName": EVENT_TIME, "FeatureType": "String"}]
            + [{"FeatureName": name, "FeatureType": "Fractional"} for name in FEATURE_NAMES])


def engineered_features(transformer, raw):
    """The transformer's output for `raw` as a frame named by FEATURE_NAMES."""
    names = [name.split("__", 1)[-1] for name in transformer.get_feature_names_out()]
    if names != FEATURE_NAMES:
        raise ValueError("unexpected feature names: " + ",".join(names))
    return pd.DataFrame(transformer.transform(raw), columns=names, index=raw.index)


def _feature_value(value, feature_type):
    if feature_type == "Integral":
        return str(int(round(float(value))))
    if feature_type == "Fractional":
        return repr(float(value))
    return str(value)


def ingest_features(group_name, record_ids, features, snapshot, session=None):
    """PutRecord one record per customer into the feature group; returns how many were written.

    The group's definition (DescribeFeatureGroup) says which features are the record identifier and the event time
    and how each value is written; a feature the group does not define fails the PutRecord (ValidationError).
    """
    import boto3

    session = session or boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    if session.get_credentials() is None:
        print("Feature Store: FEATURE_GROUP_NAME is {} but this job has no AWS credentials, so no features were "
              "ingested. Feature Store ingestion needs an endpoint: on SageMaker the job's role provides it; with "
              "drydock, run the job through `drydock serve`, which gives jobs AWS_ENDPOINT_URL".format(group_name))
        return 0
    group = session.client("sagemaker").describe_feature_group(FeatureGroupName=group_name)
    runtime = session.client("sagemaker-featurestore-runtime")
    types = {d["FeatureName"]: d["FeatureType"] for d in group["FeatureDefinitions"]}
    identifier, event_name = group["RecordIdentifierFeatureName"], group["EventTimeFeatureName"]
    if types.get(event_name) == "Fractional":
        event_time = repr(float(snapshot.timestamp()))
    else:
        event_time = snapshot.strftime("%Y-%m-%dT%H:%M:%SZ")
    names = list(features.columns)
    for record_id, values in zip(record_ids, features.itertuples(index=False, name=None)):
        record = [{"FeatureName": identifier, "ValueAsString": _feature_value(record_id, types.get(identifier))},
                  {"FeatureName": event_name, "ValueAsString": event_time}]
        record += [{"FeatureName": name, "ValueAsString": _feature_value(value, types.get(name, "Fractional"))}
                   for name, value in zip(names, values) if not pd.isna(value)]
        runtime.put_record(FeatureGroupName=group_name, Record=record)
    print("Feature Store: put {} records into {} (event time {})".format(len(features), group_name, event_time))
    return len(features)


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
    if os.environ.get("FEATURE_GROUP_NAME"):
        ingest_features(os.environ["FEATURE_GROUP_NAME"], raw[RECORD_IDENTIFIER],
                        engineered_features(transformer, raw), snapshot)
    write_split("train", y_train, transformer.transform(x_train))
    write_split("validation", y_validation, transformer.transform(x_validation))
    write_split("test", y_test, transformer.transform(x_test))


if __name__ == "__main__":
    main()
