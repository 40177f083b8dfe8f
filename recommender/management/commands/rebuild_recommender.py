from recommender.management.commands._jobcommand import JobCommand
from recommender.records import ArtefactVersion
from recommender.services.jobs import JOBS

# The artefact kind each job switches; --if-missing skips a job whose kind is already served.
JOB_ARTEFACTS = {"hot_refresh": "hot", "interactions_rebuild": "interactions", "model_train": "model"}


class Command(JobCommand):
    help = ("Run recommender jobs now (default: hot_refresh, interactions_rebuild, model_train); "
            "--job offline_evaluate records offline metrics per channel.")

    def add_arguments(self, parser):
        parser.add_argument("--job", action="append", choices=sorted(JOBS), help="repeatable; default: every job")
        parser.add_argument("--skip-model", action="store_true", help="do not train the TensorFlow model")
        parser.add_argument("--if-missing", action="store_true",
                            help="only jobs whose artefact has never been built (first start of a site)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, job=None, skip_model=False, if_missing=False, quiet=False, **options):
        names = job or ["hot_refresh", "interactions_rebuild", "model_train"]
        if skip_model:
            names = [n for n in names if n != "model_train"]
        if if_missing:
            built = set(ArtefactVersion.objects.values_list("kind", flat=True))
            names = [n for n in names if JOB_ARTEFACTS.get(n) not in built]
            if not names:
                self.stdout.write("Recommender artefacts already built; nothing to do.")
                return
        self.run_jobs(names, quiet=quiet)
