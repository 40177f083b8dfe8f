from recommender.management.commands._jobcommand import JobCommand


class Command(JobCommand):
    help = "Train the TensorFlow recall model now and switch serving to it."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, quiet=False, **options):
        self.run_jobs(["model_train"], quiet=quiet)
