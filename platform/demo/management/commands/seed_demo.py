from django.core.management.base import BaseCommand, CommandError

from demo import services


class Command(BaseCommand):
    help = (
        "Create the demo users, a phantom library for each task and the teaching content "
        "(each only once; a rerun takes seconds)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--small",
            action="store_true",
            help=f"a few cases per task (tests, CI); also {services.SIZE_ENV}=small",
        )

    def handle(self, *args, small, **options):
        try:
            services.seed(log=self.stdout.write, size="small" if small else None)
        except services.DemoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS("demo library ready"))
