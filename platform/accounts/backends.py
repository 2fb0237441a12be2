"""Authentication backend: Django's ModelBackend with a cheaper session user lookup.

Every logged-in request loads its user again (AuthenticationMiddleware -> get_user).
ModelBackend does it with ``User.objects.get(pk=...)``, whose query building cost more
CPU than the database spent answering it (a fifth of a library list request, measured
with tests/bench/bench_library.py). This backend runs the same SELECT as text built once
per database and turns the row into a User with the same converters the ORM applies, so
the answer is the same fresh row on every request: a role change, a deactivation or a
password change (session hash) counts from the next request on, exactly as before.
Logging in with a password is ModelBackend's, unchanged.
"""

from __future__ import annotations

import threading

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, router


class _UserRowReader:
    """The SELECT of one user by primary key on one database, and its row converters."""

    def __init__(self, model, alias: str):
        connection = connections[alias]
        quote = connection.ops.quote_name
        table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        columns = ", ".join(f"{quote(table)}.{quote(f.column)}" for f in self.fields)
        pk_column = quote(model._meta.pk.column)
        self.sql = f"SELECT {columns} FROM {quote(table)} WHERE {quote(table)}.{pk_column} = %s"  # noqa: S608
        self.converters = []
        for index, field in enumerate(self.fields):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self.converters.append((index, column, found))

    def read(self, model, alias: str, pk):
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        if self.converters:
            row = list(row)
            for index, column, converters in self.converters:
                value = row[index]
                for convert in converters:
                    value = convert(value, column, connection)
                row[index] = value
        return model.from_db(alias, self.attnames, row)


# Per thread, like Django's connections: the converters are bound to one connection's ops.
_local = threading.local()


class SessionUserBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        """ModelBackend's check behind the brute-force limiter (accounts.ratelimit).

        Here, not in a form, so that every password path (login page, admin, HTTP Basic)
        counts and obeys the lock. PermissionDenied makes django.contrib.auth stop and
        answer None, as for a wrong password.
        """
        from accounts import ratelimit

        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if password is None:  # not a password check: nothing to count
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = ratelimit.client_address(request)
        if ratelimit.wait_seconds(username, address):
            raise PermissionDenied("sign-in locked after repeated failures")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            ratelimit.record_failure(username, address)
        else:
            ratelimit.record_success(username)
        return user

    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        alias = router.db_for_read(model)
        readers = getattr(_local, "readers", None)
        if readers is None:
            readers = _local.readers = {}
        key = (alias, model._meta.label)
        reader = readers.get(key)
        if reader is None:
            reader = readers[key] = _UserRowReader(model, alias)
        user = reader.read(model, alias, pk)
        return user if user is not None and self.user_can_authenticate(user) else None
