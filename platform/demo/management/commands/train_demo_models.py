from django.core.management.base import BaseCommand

from demo import services
from modelhub.services import sync_from_cards


class Command(BaseCommand):
    help = "Train the demo models on the phantom cohorts where none exist, then register them."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="tiny training, for smoke tests")

    def handle(self, *args, **options):
        trained = services.train_missing_models(log=self.stdout.write, quick=options["quick"])
        started = sync_from_cards()
        self.stdout.write(
            self.style.SUCCESS(
                f"trained: {', '.join(trained) or 'nothing new'}; {len(started)} version(s) serving"
            )
        )
