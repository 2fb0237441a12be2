from django.contrib import admin

from cases.models import Case, ClinicalData, Histopathology, Instance, Series, Study


class ClinicalInline(admin.StackedInline):
    model = ClinicalData
    extra = 0


class HistopathologyInline(admin.StackedInline):
    model = Histopathology
    extra = 0
    autocomplete_fields = ()


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("label", "task", "in_library", "source", "synthetic", "owner", "created_at")
    list_filter = ("task", "in_library", "source", "synthetic")
    search_fields = ("label",)
    inlines = [ClinicalInline, HistopathologyInline]
    readonly_fields = ("public_id",)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("study_uid", "case", "description")
    raw_id_fields = ("case",)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("series_uid", "modality", "body_part", "view_position", "study")
    list_filter = ("modality",)
    raw_id_fields = ("study",)


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("sop_uid", "series", "instance_number", "sha256")
    raw_id_fields = ("series",)
