"""The List* conventions SageMaker shares: NameContains, time windows, SortBy/SortOrder, MaxResults/NextToken.

https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html (and its siblings)
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generic, Iterable, TypeVar

from harness.overlay import ServiceError

T = TypeVar("T")
DEFAULT_MAX_RESULTS = 10


@dataclass(frozen=True)
class Fields(Generic[T]):
    """How to read the fields a List* request filters and sorts on."""

    name: Callable[[T], str]
    created: Callable[[T], datetime]
    modified: Callable[[T], datetime] | None = None
    status: Callable[[T], str] | None = None


def select(items: Iterable[T], p: dict[str, Any], fields: Fields[T]) -> tuple[list[T], dict[str, str]]:
    """One page of `items` filtered and sorted as the request asks, and `{"NextToken": ...}` when more follow.

    Raises:
        ServiceError: ValidationException for a NextToken this listing did not hand out.
    """
    chosen = list(items)
    if p.get("NameContains"):
        chosen = [i for i in chosen if p["NameContains"] in fields.name(i)]
    windows = [("CreationTimeAfter", fields.created, 1), ("CreationTimeBefore", fields.created, -1)]
    if fields.modified is not None:
        windows += [("LastModifiedTimeAfter", fields.modified, 1), ("LastModifiedTimeBefore", fields.modified, -1)]
    for key, read, sign in windows:
        if p.get(key) is not None:
            bound = p[key]
            chosen = [i for i in chosen if (read(i) > bound if sign > 0 else read(i) < bound)]
    if p.get("StatusEquals") and fields.status is not None:
        chosen = [i for i in chosen if fields.status(i) == p["StatusEquals"]]
    sorters: dict[str, Callable[[T], Any]] = {"Name": fields.name, "CreationTime": fields.created}
    if fields.status is not None:
        sorters["Status"] = fields.status
    sort_by = p.get("SortBy") or "CreationTime"
    key = sorters.get(sort_by, fields.created)
    chosen.sort(key=lambda i: (key(i), fields.created(i)), reverse=(p.get("SortOrder") or "Descending") == "Descending")
    start = _offset(p.get("NextToken"))
    size = p.get("MaxResults") or DEFAULT_MAX_RESULTS
    page = chosen[start:start + size]
    more = start + size < len(chosen)
    return page, ({"NextToken": base64.urlsafe_b64encode(json.dumps(start + size).encode()).decode()} if more else {})


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise ServiceError("ValidationException", f"Invalid pagination token: {token}")
    return offset
