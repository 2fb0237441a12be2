from django.contrib import admin, messages

from modelhub import services
from modelhub.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("task", "name", "version", "status", "synthetic_training", "created_at")
    list_filter = ("task", "status", "synthetic_training")
    readonly_fields = ("sha256", "card", "metrics", "training_data")
    actions = ["make_serving"]

    @admin.action(description="Make the selected versions serve")
    def make_serving(self, request, queryset):
        for mv in queryset:
            services.set_serving(mv)
        messages.success(request, f"{queryset.count()} version(s) now serving.")
