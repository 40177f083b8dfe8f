"""``python manage.py import_kuairec``: the demo catalogue from KuaiRec (see videoapp/services/demo/)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from videoapp.services.demo import DEFAULT_PATH, VIDEOS_FILE, WATCH_LOG_FILE, kuairec_import


class Command(BaseCommand):
    help = (
        "Import the KuaiRec demo catalogue: 10,728 videos with their hashtags and categories, the 1,411 viewers "
        "of the watch log and its 117,113 view events. Idempotent: a second run adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--path", type=Path, default=DEFAULT_PATH,
            help=f"folder holding {VIDEOS_FILE} and {WATCH_LOG_FILE} (default: demo/kuairec)",
        )
        parser.add_argument("--limit-users", type=int, default=None, help="import only the first N viewers")
        parser.add_argument("--no-events", action="store_true", help="create the viewers but no view events")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, path: Path, limit_users: int | None, no_events: bool, no_progress: bool, **options):
        for name in (VIDEOS_FILE, WATCH_LOG_FILE):
            if not (path / name).is_file():
                raise CommandError(f"{path / name} not found (--path names the KuaiRec folder)")
        if limit_users is not None and limit_users < 0:
            raise CommandError("--limit-users must be 0 or more")
        result = kuairec_import(
            path=path,
            limit_users=limit_users,
            with_events=not no_events,
            progress=not no_progress and options["verbosity"] > 0,
        )
        if options["verbosity"] > 0:
            self.stdout.write(f"KuaiRec demo import: {result.summary()}")
