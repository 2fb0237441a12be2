"""manage.py repseudonymise_files: stored files that carry their case label get the pseudonym."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ingest.repseudonymise import repseudonymise


class Command(BaseCommand):
    help = (
        "Rewrite stored DICOM files whose PatientID / PatientName still carry the case label "
        "(ingested before the opaque pseudonyms) so that no served header shows the label."
    )

    def handle(self, *args, **options):
        outcome = repseudonymise(log=self.stderr.write)
        self.stdout.write(
            f"checked {outcome.checked} files: {outcome.rewritten} rewritten, "
            f"{outcome.unreadable} unreadable (left as they were)"
        )
