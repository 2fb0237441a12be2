from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo set-up"

    def ready(self):
        # Registers demo.models_ready with the bookkeeping worker's Celery app.
        from demo import tasks  # noqa: F401
