from django.apps import AppConfig


class TeachingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "teaching"
    verbose_name = "Teaching"

    def ready(self) -> None:
        # Library cases and newly serving model versions trigger re-analysis (browse mode).
        from teaching import signals  # noqa: F401
