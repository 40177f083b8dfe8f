"""Writes and request-time logic of the recommender (HackSoft services): jobs, artefacts, feed, exposure."""
