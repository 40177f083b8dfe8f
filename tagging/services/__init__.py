"""Tagging writes: keyword library (library), tags and video tags (tags), interests and onboarding
(interests), staff corrections with their audit rows (corrections)."""
