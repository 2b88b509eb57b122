"""SageMaker Pipelines on this machine: the definition JSON the SDK v2 writes, run step by step.

`definition` parses and checks it, `expressions` and `conditions` evaluate its values, `steps` holds a runner per
step type, `executor` schedules a run (parallelism, cache, retries, stop), `lineage` records what each run read
and wrote, `platform` is the one way out to jobs, models, Lambda and SQS, and `api` answers the SageMaker API's
pipeline actions (registered with `harness.overlay` when imported).
"""
from harness.sagemaker.pipelines.definition import (DefinitionError, PipelineDefinition, SUPPORTED_TYPES,
                                                    parse_definition)

__all__ = ["DefinitionError", "PipelineDefinition", "SUPPORTED_TYPES", "parse_definition"]
