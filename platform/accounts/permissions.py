"""Object-level permissions, in one place so every view asks the same question.

- admins see everything;
- residents see library cases only (pathology-proven, curated);
- referring doctors see only the cases they uploaded.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from accounts.models import User


def case_visibility(user: User) -> Q:
    """A filter on Case for what `user` may see (never everything by accident)."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_admin_role:
        return Q()
    if user.is_referrer:
        return Q(owner=user)
    return Q(in_library=True)


def visible_cases(user: User, queryset: QuerySet | None = None) -> QuerySet:
    from cases.models import Case

    base = Case.objects.all() if queryset is None else queryset
    return base.filter(case_visibility(user))


def can_view_case(user: User, case) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_admin_role:
        return True
    if user.is_referrer:
        return case.owner_id == user.pk
    return bool(case.in_library)


def admin_required(view):
    """Function-view decorator: logged-in admins only (403 for others)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if not request.user.is_admin_role:
            raise PermissionDenied("Admins only.")
        return view(request, *args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """Function-view decorator: logged-in users with one of `roles` (admins always pass)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not (request.user.is_admin_role or request.user.role in roles):
                raise PermissionDenied("Your role may not use this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
