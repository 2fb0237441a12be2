"""manage.py cleanup_uploads: remove what interrupted uploads left behind."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ingest import cleanup, limits


class Command(BaseCommand):
    help = (
        "Remove stale entries of the upload temp dir and stored objects no database row refers to, "
        "both older than their grace period (settings UPLOAD_TEMP_GRACE_SECONDS, "
        "INGEST_ORPHAN_GRACE_SECONDS)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--temp-grace", type=float, default=None, help="seconds (default: the setting)")
        parser.add_argument("--orphan-grace", type=float, default=None, help="seconds (default: the setting)")
        parser.add_argument("--dry-run", action="store_true", help="count orphan objects, remove none")

    def handle(self, *args, **options):
        temp_grace = options["temp_grace"]
        orphan_grace = options["orphan_grace"]
        if options["dry_run"]:
            self.stdout.write("upload temp: not swept in a dry run")
        else:
            temp = cleanup.sweep_upload_temp(grace=temp_grace)
            grace = limits.upload_temp_grace_seconds() if temp_grace is None else temp_grace
            self.stdout.write(f"upload temp (older than {grace:g} s): {temp}")
        objects = cleanup.sweep_orphan_objects(grace=orphan_grace, dry_run=options["dry_run"])
        grace = limits.orphan_grace_seconds() if orphan_grace is None else orphan_grace
        self.stdout.write(f"orphan objects (older than {grace:g} s): {objects}")
