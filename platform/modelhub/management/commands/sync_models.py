from django.core.management.base import BaseCommand

from modelhub import services


class Command(BaseCommand):
    help = "Register the model cards under MODELS_DIR; new versions start serving."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="register as candidates only")

    def handle(self, *args, **options):
        started = services.sync_from_cards(serve_new=not options["no_serve"])
        for mv in started:
            self.stdout.write(f"serving {mv}")
        self.stdout.write(self.style.SUCCESS(f"{len(started)} new version(s) serving"))
