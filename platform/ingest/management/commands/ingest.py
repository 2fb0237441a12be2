"""manage.py ingest PATH... : de-identify and store images as one case."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role, User
from inference_worker import vocabulary as vocab
from ingest.errors import IngestError
from ingest.services import ingest_paths


class Command(BaseCommand):
    help = (
        "Ingest DICOM files/folders, NIfTI volumes, PNG/JPEG radiographs or zips of them as one "
        "de-identified case. Exits non-zero with the reason on bad input."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="files, folders or zip archives (one patient)")
        parser.add_argument("--task", choices=sorted(vocab.TASKS), help="default: chosen from the modalities")
        parser.add_argument("--label", help="short non-identifying case label (default: generated)")
        parser.add_argument("--cohort", help="add the case to this cohort (created if new)")
        parser.add_argument("--split", choices=vocab.SPLITS, help="split within the cohort (default train)")
        parser.add_argument("--centre", default="", help="centre within the cohort")
        parser.add_argument("--library", action="store_true", help="show the case in the residents' library")
        parser.add_argument("--synthetic", action="store_true", help="the images are phantoms")
        parser.add_argument("--user", help="username recorded as the uploader (default: first admin)")

    def handle(self, *args, **options):
        user = self._user(options["user"])
        try:
            result = ingest_paths(
                options["paths"],
                user=user,
                task=options["task"],
                label=options["label"],
                in_library=options["library"],
                cohort=options["cohort"],
                split=options["split"],
                centre=options["centre"],
                synthetic=options["synthetic"],
            )
        except IngestError as exc:
            raise CommandError(exc.message) from exc
        case = result.case
        self.stdout.write(f"Case {case.label} ({case.public_id}), task {case.task}")
        self.stdout.write(
            f"Created {result.studies} studies, {result.series} series, {result.instances} instances "
            f"({result.stored_bytes / 1024**2:.1f} MB) in {result.seconds:.1f} s"
        )
        for series in case.studies.all().prefetch_related("series"):
            for s in series.series.all():
                self.stdout.write(
                    f"  series {s.number or '-'} {s.modality} {s.photometric} {s.rows}x{s.columns}: "
                    f"{s.instances.count()} images  {s.description}"
                )
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))

    def _user(self, username):
        if username:
            try:
                return User.objects.get(username=username)
            except User.DoesNotExist:
                raise CommandError(f"no user {username!r}") from None
        return User.objects.filter(role=Role.ADMIN).order_by("pk").first()
