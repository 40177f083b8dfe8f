"""Weights of the behaviour-event kinds (pure: settings and ``recommender.data`` both read them).

Why these weights: explicit, costly signals (favourite, share) say more than a view; a dislike is a
strong negative; an impression alone says nothing (it is only used by the exposure filter).
``settings.EVENT_WEIGHTS`` starts from these (documented in docs/events.md).
"""

EVENT_WEIGHTS: dict[str, float] = {
    "impression": 0.0,
    "view": 1.0,
    "like": 3.0,
    "favourite": 4.0,
    "comment": 3.0,
    "share": 4.0,
    "follow": 2.0,
    "dislike": -5.0,
}
