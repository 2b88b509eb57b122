"""drydock's SageMaker: the platform side of training, processing and transform jobs, run on this machine.

`run_training_job` / `run_processing_job` take a boto3 Create*Job request, an S3 client and a backend
(`ProcessBackend` runs the entry point as a host subprocess) and return a `JobResult`; `run_transform_job`
(`harness.sagemaker.transform`) also takes the model's container definition.
"""
from harness.sagemaker.backends.process import ProcessBackend
from harness.sagemaker.runtime import JobResult, Phase, run_processing_job, run_training_job
from harness.sagemaker.transform import run_transform_job

__all__ = ["JobResult", "Phase", "ProcessBackend", "run_processing_job", "run_training_job", "run_transform_job"]
