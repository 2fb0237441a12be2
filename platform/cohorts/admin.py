from django.contrib import admin

from cohorts.models import Cohort, CohortMembership


class MembershipInline(admin.TabularInline):
    model = CohortMembership
    extra = 0
    raw_id_fields = ("case",)


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ("name", "task", "synthetic", "created_at")
    inlines = [MembershipInline]
