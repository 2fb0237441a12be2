from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingest"

    def ready(self):
        # Every process that loads Django (web workers first) clears what killed uploads
        # left in the upload temp dir; only entries older than the grace period go, so
        # another worker's live upload is safe. Orphan objects need the database: the
        # periodic task and the cleanup_uploads command sweep those.
        from ingest import cleanup

        cleanup.sweep_at_startup()
