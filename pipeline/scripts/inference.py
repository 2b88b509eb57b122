"""SageMaker XGBoost serving hooks: CSV feature rows in, churn probabilities out.

The serving container calls model_fn once with the unpacked model.tar.gz directory, then
input_fn -> predict_fn -> output_fn per request. Rows carry the features preprocess.py writes, without the label.
"""
import io
import json
import os

import numpy as np
import xgboost as xgb

MODEL_FILE = "xgboost-model"


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, MODEL_FILE))
    return booster


def input_fn(request_body, request_content_type):
    if request_content_type != "text/csv":
        raise ValueError("unsupported content type {}; send text/csv".format(request_content_type))
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    rows = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    return xgb.DMatrix(rows)


def predict_fn(input_data, model):
    return model.predict(input_data)


def output_fn(prediction, accept):
    if accept == "application/json":
        return json.dumps({"predictions": [float(p) for p in prediction]}), accept
    if accept in ("text/csv", "*/*"):
        return "\n".join("{:.6f}".format(p) for p in prediction), "text/csv"
    raise ValueError("unsupported accept type {}; ask for text/csv or application/json".format(accept))
