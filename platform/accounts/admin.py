from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + (("Role", {"fields": ("role", "seniority")}),)
    list_display = ("username", "email", "role", "seniority", "is_active")
    list_filter = ("role", "seniority", "is_active")
