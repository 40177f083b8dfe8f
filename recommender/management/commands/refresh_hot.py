from recommender.management.commands._jobcommand import JobCommand


class Command(JobCommand):
    help = "Refresh the hot lists (global, per category, per demographic group, hot uploaders) now."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, quiet=False, **options):
        self.run_jobs(["hot_refresh"], quiet=quiet)
