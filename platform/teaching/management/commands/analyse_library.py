from django.core.management.base import BaseCommand

from teaching.services import analyse_library


class Command(BaseCommand):
    help = (
        "Queue analyses for library cases with no current opinion from the serving model "
        "versions, on the backfill queue (the inference worker serves requests first)."
    )

    def handle(self, *args, **options):
        queued = analyse_library()
        self.stdout.write(self.style.SUCCESS(f"queued {len(queued)} analysis request(s) on gpu-backfill"))
