from django.core.management.base import BaseCommand

from demo import services


class Command(BaseCommand):
    help = "Create the demo users and import a synthetic phantom cohort for each task (once)."

    def handle(self, *args, **options):
        services.seed(log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("demo library ready"))
