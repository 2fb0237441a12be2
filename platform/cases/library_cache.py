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

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models.signals import post_delete, post_save

from accounts.permissions import case_visibility

FRAGMENT_TIMEOUT = 300
_VERSION_PK = 1


def data_version() -> int:
    from cases.models import LibraryVersion

    # Plain SQL: building this one-row query through the ORM cost more CPU than running it.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {LibraryVersion._meta.db_table} WHERE id = %s", [_VERSION_PK])  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else 0


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
