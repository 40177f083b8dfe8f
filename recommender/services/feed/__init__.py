"""The feed: merge precomputed recall lists, filter, blend, re-rank for diversity, explain, record.

Request path only: reads artefacts loaded once per process (``services.serving``), a handful of
small queries (dislikes, interests, the cards of the videos served) and cheap arithmetic.  When
artefacts are missing, stale or unreadable, or Redis is down, it degrades - stale lists, then hot
lists, then the latest uploads - and says so in ``source`` / ``why`` (and the log).

Modules: ``plan`` (candidates, rank fusion, the per-viewer plan, reasons, diversity), ``page`` (a
feed page, the served queue it writes, the API answer), ``impressions`` (impression records and
exposure writes), ``lists`` (related, hot, suggested uploaders), ``result`` (the answer's shape).
The names other code uses are re-exported here; patch a name in the module that looks it up.
"""

from recommender.services.feed.impressions import impressions_flush, impressions_record
from recommender.services.feed.lists import hot_list, related_list, suggested_users
from recommender.services.feed.page import feed_answer, feed_answer_from_queue, feed_build
from recommender.services.feed.plan import (
    CHANNEL_WEIGHTS,
    PER_OWNER_CAP,
    PLAN_EXPLAINED,
    PLAN_KEY,
    PLAN_LENGTH,
    RRF_K,
    Candidate,
    FeedPlan,
)
from recommender.services.feed.result import FeedResult, feed_result_dict

__all__ = [
    "CHANNEL_WEIGHTS",
    "PER_OWNER_CAP",
    "PLAN_EXPLAINED",
    "PLAN_KEY",
    "PLAN_LENGTH",
    "RRF_K",
    "Candidate",
    "FeedPlan",
    "FeedResult",
    "feed_answer",
    "feed_answer_from_queue",
    "feed_build",
    "feed_result_dict",
    "hot_list",
    "impressions_flush",
    "impressions_record",
    "related_list",
    "suggested_users",
]
