from django.core.management.base import BaseCommand

from modelhub import services


class Command(BaseCommand):
    help = "Register the model cards under MODELS_DIR; new versions start serving."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="register as candidates only")

    def handle(self, *args, **options):
        report = services.sync_cards(serve_new=not options["no_serve"])
        for mv in report.started:
            self.stdout.write(f"serving {mv}")
        for line in report.warnings:
            self.stdout.write(self.style.WARNING(line))
        for line in report.problems:
            self.stderr.write(self.style.ERROR(f"skipped {line}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.registered)} new version(s) registered, {len(report.started)} serving"
            )
        )
