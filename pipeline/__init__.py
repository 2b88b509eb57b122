"""The churn-prediction pipeline, written exactly as a team would write it for AWS."""
