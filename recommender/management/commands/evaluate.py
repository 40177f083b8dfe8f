"""``python manage.py evaluate``: offline evaluation of the recall channels and the blend.

A thin wrapper: the options and the work live in the pure ``recommender.evaluation`` module
(also runnable as ``python -m recommender.evaluation``).  See docs/recommender.md.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender import evaluation


class Command(BaseCommand):
    help = "Offline Recall/NDCG/HR@K and coverage per recall channel and for the blend."

    def add_arguments(self, parser):
        evaluation.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            evaluation.run(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
