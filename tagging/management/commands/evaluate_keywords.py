"""``manage.py evaluate_keywords``: keyword F1@k against a CSL-format TSV (see tagging.evaluation)."""

from django.core.management.base import BaseCommand, CommandError

from tagging import evaluation


class Command(BaseCommand):
    help = "Precision/recall/F1 at k of the keyword extractor and of bare jieba on a CSL-format TSV (JSON)."

    def add_arguments(self, parser):
        evaluation.add_arguments(parser)

    def handle(self, *args, **options):
        argv = ["--tsv", str(options["tsv"]), "--k", str(options["k"])]
        if options["limit"] is not None:
            argv += ["--limit", str(options["limit"])]
        if options["builtin_idf"]:
            argv.append("--builtin-idf")
        if options["ablation"]:
            argv.append("--ablation")
        try:
            evaluation.main(argv, out=self.stdout)
        except SystemExit as exc:  # argparse's error(): report it the Django way
            raise CommandError(f"invalid arguments (exit {exc.code})") from exc
