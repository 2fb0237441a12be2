from django.core.management.base import BaseCommand, CommandError

from demo import services, training


class Command(BaseCommand):
    help = (
        "Train the demo models where none exist (our own training command on phantoms), "
        "register them and queue an example second opinion per task. --background hands "
        "the training to the inference worker instead (what run_demo does)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--quick",
            action="store_true",
            help=f"the tiny recipe on a few phantoms (tests, smoke runs); also {services.QUICK_ENV}=1",
        )
        parser.add_argument(
            "--background",
            action="store_true",
            help="queue one training task per pipeline on the inference worker and return",
        )

    def handle(self, *args, quick, background, **options):
        try:
            quick = quick or services.quick_from_env()
        except services.DemoError as exc:
            raise CommandError(str(exc)) from exc
        if background:
            queued = training.queue_training(quick=quick, log=self.stdout.write)
            self.stdout.write(
                self.style.SUCCESS(f"training queued: {', '.join(queued) or 'nothing missing'}")
            )
            return
        try:
            trained = training.train_here(quick=quick, log=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        queued = []
        for task in services.TASKS:
            queued += training.models_ready(task, log=self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(
                f"trained: {', '.join(trained) or 'nothing new'}; "
                f"{len(queued)} example second opinion(s) queued"
            )
        )
