"""The answer of a feed, related or hot request (``FeedResult``) and its JSON response body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder


@dataclass
class FeedResult:
    items: list[dict]
    source: str
    why: str
    degraded: list[str]
    versions: dict[str, str]
    request_id: str
    page: int
    size: int
    exposure: str = ""
    cold_start: bool = False
    suggested_users: list[dict] = field(default_factory=list)


def feed_result_dict(result: FeedResult) -> dict:
    """The response body of a feed, related or hot answer (the shape ``RecommendationListSerializer``
    documents), built directly from the JSON-ready dicts the services return."""
    return {
        "source": result.source,
        "why": str(result.why),
        "degraded": [str(d) for d in result.degraded],
        "artefact_versions": result.versions,
        "request_id": result.request_id,
        "page": result.page,
        "size": result.size,
        "exposure_filter": result.exposure,
        "cold_start": result.cold_start,
        "results": result.items,
        "suggested_users": result.suggested_users,
    }


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder).encode()
