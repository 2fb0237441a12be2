"""``{% site_nav %}``: the top bar's links for the logged-in user, rendered once per role.

Six URL reversals and the role tests cost a fifth of a cached library page's rendering
on every request, yet the links depend on nothing but the role (and the URL
configuration): each process renders them once per combination and reuses the HTML.
The user's name and the logout form (with its per-request CSRF token) stay in base.html.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import mark_safe

from accounts.models import User

register = template.Library()


@register.simple_tag(takes_context=True)
def site_nav(context) -> str:
    user = context["user"]
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _nav_html(urlconf, get_script_prefix(), user.role, user.is_superuser)


@lru_cache(maxsize=64)
def _nav_html(urlconf: str, script_prefix: str, role: str, is_superuser: bool) -> str:
    # The template reads only the role tests of User, which these two fields decide.
    # urlconf and script_prefix are in the key because they decide what the links are.
    stand_in = User(role=role, is_superuser=is_superuser)
    return mark_safe(render_to_string("_site_nav.html", {"user": stand_in}))  # noqa: S308 - our template's escaped output
