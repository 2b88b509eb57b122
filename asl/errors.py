"""Errors and diagnostics of the language, with AWS's names as plain strings.

Runtime failures are `StatesError` (what Retry and Catch match on); definition problems are
`Diagnostic` values in the shape of ValidateStateMachineDefinition's diagnostics, gathered into a
`DefinitionError` when a definition cannot be run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Runtime error names (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)
ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEEDED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"

# Diagnostic codes of ValidateStateMachineDefinition
SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
MISSING_END_STATE = "MISSING_END_STATE"
UNREACHABLE_STATE = "UNREACHABLE_STATE"
INVALID_RESOURCE = "INVALID_RESOURCE"


class StatesError(Exception):
    """A runtime failure with an AWS error name; Retry/Catch match on `error`.

    Besides the name and cause it carries what the engine needs to report it as AWS does:
    `location` (the field AWS names in EvaluationFailed), `error_output` (the `{"Error","Cause"}`
    a Catch sees, where it differs from the name and cause), `task_failure` (raised by a task
    itself, so `States.TaskFailed` matches it), `heartbeat` (a missed heartbeat reported as
    States.Timeout), `located` (the "An error occurred while executing the state" prefix is on),
    `after_entry` (EvaluationFailed hangs on the state's entered event, not before it).
    """

    def __init__(self, error: str | None, cause: str | None = "", *, location: str | None = None,
                 error_output: dict | None = None, task_failure: bool = False, heartbeat: bool = False,
                 located: bool = False, after_entry: bool = False):
        super().__init__(f"{error}: {cause}" if cause else str(error))
        self.error = error
        self.cause = cause
        self.location = location
        self.error_output = error_output
        self.task_failure = task_failure
        self.heartbeat = heartbeat
        self.located = located
        self.after_entry = after_entry


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a definition, as ValidateStateMachineDefinition reports it."""

    severity: Literal["ERROR", "WARNING"]
    code: str
    message: str
    location: str  # JSON pointer into the definition, e.g. "/States/Train/Next"

    def to_api(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "location": self.location}


class DefinitionError(Exception):
    """A definition that cannot be run; carries every finding, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        lines = [f"{d.code} at {d.location or '/'}: {d.message}" for d in self.diagnostics]
        super().__init__("Invalid State Machine Definition: " + "; ".join(lines))


class LoadError(ValueError):
    """Text that is not a definition document at all (bad JSON or YAML), with its place."""

    def __init__(self, message: str, *, source: str = "<definition>", line: int | None = None, column: int | None = None):
        where = source if line is None else f"{source}:{line}:{column or 1}"
        super().__init__(f"{where}: {message}")
        self.message = message
        self.source = source
        self.line = line
        self.column = column
