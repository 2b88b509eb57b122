"""What a command says when its call to the local cloud fails: one wording for every command.

AWS's error code and message; "nothing answers" when no `drydock serve` listens at the endpoint; the
guard's refusal of a non-local endpoint; and, for the error a missing resource gives, where it was looked for.
"""
from __future__ import annotations

import sys

from botocore.exceptions import ClientError, EndpointConnectionError

from harness.cloud import RealAwsRequestBlocked

CLOUD_ERRORS = (ClientError, EndpointConnectionError, RealAwsRequestBlocked, OSError)


def report(command: str, err: BaseException, endpoint: str | None,
           not_found: tuple[str, str] | None = None) -> None:
    """Print why the call failed, on stderr, as `drydock COMMAND: ...`.

    Args:
        not_found: (AWS error code, what was asked for): that error reads "no <what> in <where>", where is the
            endpoint, or this process with a hint to pass --endpoint.
    """
    if isinstance(err, ClientError):
        error = err.response["Error"]
        code, message = error.get("Code"), error.get("Message")
        if not_found is not None and code == not_found[0]:
            where = endpoint or "this process (pass --endpoint to read from drydock serve)"
            text = f"no {not_found[1]} in {where}"
        else:
            text = f"{code}: {message}"
    elif isinstance(err, EndpointConnectionError):
        text = f"nothing answers at {endpoint}; is `drydock serve` running?"
    else:
        text = str(err)
    print(f"drydock {command}: {text}", file=sys.stderr)
