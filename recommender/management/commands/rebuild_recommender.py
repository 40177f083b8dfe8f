from recommender.management.commands._jobcommand import JobCommand
from recommender.services.jobs import JOBS


class Command(JobCommand):
    help = ("Run recommender jobs now (default: hot_refresh, interactions_rebuild, model_train); "
            "--job offline_evaluate records offline metrics per channel.")

    def add_arguments(self, parser):
        parser.add_argument("--job", action="append", choices=sorted(JOBS), help="repeatable; default: every job")
        parser.add_argument("--skip-model", action="store_true", help="do not train the TensorFlow model")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, job=None, skip_model=False, quiet=False, **options):
        names = job or ["hot_refresh", "interactions_rebuild", "model_train"]
        if skip_model:
            names = [n for n in names if n != "model_train"]
        self.run_jobs(names, quiet=quiet)
