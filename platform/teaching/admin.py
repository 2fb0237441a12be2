from django.contrib import admin

from teaching.models import Read, SetItem, TeachingNote, TeachingSet


class SetItemInline(admin.TabularInline):
    model = SetItem
    raw_id_fields = ["case"]
    extra = 0


@admin.register(TeachingSet)
class TeachingSetAdmin(admin.ModelAdmin):
    list_display = ["title", "task", "mode", "order", "time_limit_s", "is_active", "created_at"]
    list_filter = ["task", "mode", "is_active"]
    inlines = [SetItemInline]


@admin.register(TeachingNote)
class TeachingNoteAdmin(admin.ModelAdmin):
    list_display = ["diagnosis", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Read)
class ReadAdmin(admin.ModelAdmin):
    list_display = [
        "reader",
        "case",
        "kind",
        "diagnosis",
        "certainty",
        "correct",
        "committed_at",
        "duration_s",
    ]
    list_filter = ["kind", "correct"]
    raw_id_fields = ["case", "item", "opinion"]
