"""The synthetic churn data: reproducible, learnable, and visibly shifted when drifted."""
import numpy as np
import pandas as pd
import pandas.testing as pdt
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from fixtures import churn


def model_inputs(frame):
    """Raw columns only, no feature engineering: the signal must be there before preprocess.py adds to it."""
    days_since_login = (frame["last_login_date"].max() - frame["last_login_date"]).dt.days
    numeric = frame.drop(columns=["customer_id", "signup_date", "last_login_date", "plan", "churned"])
    return numeric.assign(days_since_login=days_since_login, basic=(frame["plan"] == "basic").astype(int))


def test_same_seed_gives_the_same_frame_and_another_seed_does_not():
    pdt.assert_frame_equal(churn.generate(500, seed=3), churn.generate(500, seed=3))
    assert not churn.generate(500, seed=3).equals(churn.generate(500, seed=4))


def test_columns_types_and_ranges():
    frame = churn.generate(2000)
    assert list(frame.columns) == churn.COLUMNS
    assert frame["customer_id"].is_unique
    assert set(frame["plan"]) == {"basic", "standard", "premium"}
    assert set(frame["churned"]) == {0, 1}
    assert 0.1 < frame["churned"].mean() < 0.4
    assert (frame["last_login_date"] >= frame["signup_date"]).all()
    assert frame["tenure_months"].between(1, 72).all()
    assert frame.loc[frame["sessions_last_30d"] == 0, "avg_session_minutes"].isna().all()
    assert frame.loc[frame["sessions_last_30d"] > 0, "avg_session_minutes"].notna().all()


def test_xgboost_separates_churners_on_held_out_rows():
    frame = churn.generate(5000, seed=11)
    x_train, x_test, y_train, y_test = train_test_split(
        model_inputs(frame), frame["churned"], test_size=0.3, stratify=frame["churned"], random_state=0)
    model = xgb.XGBClassifier(max_depth=4, n_estimators=100, learning_rate=0.1).fit(x_train, y_train)
    assert roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]) > 0.8


def test_drift_lowers_logins_and_raises_charges_and_churn():
    base = churn.generate(5000, seed=5)
    drifted = churn.generate(5000, seed=5, drifted=True)
    assert drifted["login_frequency"].mean() < 0.75 * base["login_frequency"].mean()
    assert drifted["monthly_charges"].mean() > 1.15 * base["monthly_charges"].mean()
    assert drifted["payment_failures"].mean() > base["payment_failures"].mean()
    assert drifted["churned"].mean() > base["churned"].mean()
    assert drifted["tenure_months"].mean() == base["tenure_months"].mean()  # not everything moves


def test_cli_writes_the_generated_frame_as_csv(tmp_path):
    out = tmp_path / "churn.csv"
    assert churn.main(["--rows", "300", "--seed", "2", "--drifted", "-o", str(out)]) == 0
    written = pd.read_csv(out, parse_dates=["signup_date", "last_login_date"])
    expected = churn.generate(300, seed=2, drifted=True)
    assert list(written.columns) == churn.COLUMNS
    assert np.allclose(written["monthly_charges"], expected["monthly_charges"])
    assert (written["last_login_date"].values == expected["last_login_date"].values).all()
