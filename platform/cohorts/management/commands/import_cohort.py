"""manage.py import_cohort MANIFEST.csv [--dry-run] [--name NAME]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Role, User
from cohorts.services import import_cohort
from inference_worker.manifest import ManifestError


class Command(BaseCommand):
    help = "Import a cohort manifest as library cases (each row all-or-nothing); --dry-run only checks it."

    def add_arguments(self, parser):
        parser.add_argument("manifest", help="the manifest CSV; image paths are relative to its folder")
        parser.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
        parser.add_argument("--name", help="cohort name (default: the manifest's folder name)")
        parser.add_argument("--user", help="username recorded as confirming the histopathology")

    def handle(self, *args, **options):
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        else:
            user = User.objects.filter(role=Role.ADMIN).order_by("pk").first()

        def progress(rows):
            return tqdm(rows, desc="import", unit="case", file=self.stderr._out, disable=None)

        try:
            summary = import_cohort(
                options["manifest"],
                user=user,
                name=options["name"],
                dry_run=options["dry_run"],
                progress=progress,
            )
        except ManifestError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"line {line}: {message}")
            raise CommandError(f"the manifest has {len(exc.errors)} bad rows; nothing was imported") from exc
        self.stdout.write(summary.text())
        if not summary.ok:
            raise CommandError(
                f"{len(summary.errors)} rows failed"
                + ("" if summary.dry_run else "; the others were imported")
            )
