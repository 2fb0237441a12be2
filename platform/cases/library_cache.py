"""Caching of the library list's rendered fragments.

The list is the same HTML for everyone who may see the same cases with the same
filters, so its rendering (most of a request's CPU) is cached under a key made of:

- the visibility filter itself (accounts.permissions.case_visibility, with users by
  primary key), so a key can never be shared by users who see different cases;
- the cases hidden from this user because they are reading them in a quiz;
- the query (filters) and the page asked for;
- the library's data version: a random number in the database, replaced in the same
  transaction as every change to the models the list shows or filters on, so every web
  process sees it change exactly when the data does, whatever its cache backend. It is
  random rather than counted so that a rolled-back transaction's number never comes
  back to name other data.

The cache's own timeout is a backstop for writes that bypass model signals
(QuerySet.update, bulk_create); the ingest service bumps the version itself.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.core.cache import caches
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.module_loading import import_string

from accounts.permissions import case_visibility

FRAGMENT_TIMEOUT = 300
_VERSION_PK = 1


@lru_cache(maxsize=4)
def _pending_reads_hook(path: str):
    return import_string(path) if path else None


def version_and_hidden(user) -> tuple[int, set[int]]:
    """The data version, and the cases ``user`` is reading in a quiz right now (the
    list must not show them, or its diagnosis column would give the answer away;
    settings.PENDING_READS gives their SELECT), in one database round trip: each round
    trip cost the web process about 0.1 ms of CPU and the database as much again."""
    from cases.models import LibraryVersion

    # Plain SQL: building these queries through the ORM cost more CPU than running them.
    sql = f"SELECT 0, value FROM {LibraryVersion._meta.db_table} WHERE id = %s"  # noqa: S608
    params: list = [_VERSION_PK]
    hook = _pending_reads_hook(getattr(settings, "PENDING_READS", ""))
    pending_query = hook(user, connection) if hook else None
    if pending_query is not None:
        sql = f"{sql} UNION ALL SELECT 1, pending.* FROM ({pending_query[0]}) pending"
        params += pending_query[1]
    version, hidden = 0, set()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, value in cursor.fetchall():
            if kind == 0:
                version = value
            else:
                hidden.add(value)
    return version, hidden


def bump() -> None:
    """Give the library a new data version (inside the caller's transaction, if any)."""
    from cases.models import LibraryVersion

    value = secrets.randbits(62) + 1
    if not LibraryVersion.objects.filter(pk=_VERSION_PK).update(value=value):
        LibraryVersion.objects.update_or_create(pk=_VERSION_PK, defaults={"value": value})


def _on_change(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # fixture loading
    bump()


def connect_signals() -> None:
    from cases.models import Case, ClinicalData, Histopathology, Series
    from cohorts.models import Cohort, CohortMembership

    for model in (Case, ClinicalData, Histopathology, Series, Cohort, CohortMembership):
        post_save.connect(_on_change, sender=model, dispatch_uid=f"library-version-save-{model.__name__}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"library-version-delete-{model.__name__}")


def visibility_key(user) -> str:
    """The user's visibility filter as text, model instances by primary key."""
    q = case_visibility(user)

    def flat(node) -> str:
        children = [
            flat(c) if hasattr(c, "children") else f"{c[0]}={getattr(c[1], 'pk', c[1])!r}"
            for c in node.children
        ]
        return f"{'NOT ' if node.negated else ''}{node.connector}({','.join(children)})"

    return flat(q)


def fragment_key(kind: str, *, user, query: list, pending: set[int], page: str, version: int) -> str:
    """``query``: the request's parameters other than the page, as sorted (name, values)."""
    parts = repr((visibility_key(user), sorted(pending), query, page, version))
    return f"library:{kind}:{hashlib.sha256(parts.encode()).hexdigest()}"


def query_key(kind: str, items) -> str:
    """A key for a fragment that depends on the request's parameters alone."""
    return f"library:{kind}:{hashlib.sha256(repr(items).encode()).hexdigest()}"


def _cache():
    # A cache of its own where the site has one (settings.CACHES), so fragments never
    # crowd sessions out of the default cache.
    return caches["library" if "library" in settings.CACHES else "default"]


def cached_fragment(key: str, render) -> str:
    cache = _cache()
    html = cache.get(key)
    if html is None:
        html = render()
        cache.set(key, html, FRAGMENT_TIMEOUT)
    return html


def page_key(user, fragment_keys) -> str:
    """The whole page's key: its fragments' keys and what the top bar shows of the user."""
    header = (user.pk, user.get_username(), user.role, user.seniority, user.is_superuser)
    return f"library:page:{hashlib.sha256(repr((fragment_keys, header)).encode()).hexdigest()}"


def cached_page(request, fragment_keys, render) -> HttpResponse:
    """The page from ``render(csrf_token)``, cached per user and fragments.

    Rendering the page around its cached fragments (top bar, logout form) was 0.3 ms of
    a 1.5 ms request in process, measured with tests/bench/bench_library.py. The only
    per-request part is the logout form's CSRF token, which Django masks afresh for
    every response: the page is rendered once with a random placeholder in the token's
    place, kept with the HTML, and replaced by a real token on every response. A page
    with messages to show is rendered afresh (showing them consumes them).
    """
    if len(messages.get_messages(request)):
        return HttpResponse(render(""))
    cache = _cache()
    key = page_key(request.user, fragment_keys)
    entry = cache.get(key)
    if entry is None:
        placeholder = f"csrf-placeholder-{secrets.token_hex(16)}"
        entry = (placeholder, render(placeholder))
        cache.set(key, entry, FRAGMENT_TIMEOUT)
    placeholder, html = entry
    return HttpResponse(html.replace(placeholder, get_token(request)))
