"""Session store: Django's database sessions with a cheaper read.

Sessions must be read from a store every web process shares on every request: the
site runs several web processes, and a session ended in one of them (logout) has to be
refused by all the others at once, which a per-process cache cannot promise. This is
the engine when there is no shared cache: every read goes to the database. Django's
own database store reads the row through the ORM, whose query building costs more CPU
than the database spends answering (measured with tests/bench/bench_library.py). This
store runs the same SELECT as fixed text; writing, rotating and deleting sessions are
Django's, unchanged. accounts.shared_cache_sessions is the engine for a shared cache.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class FixedSelectRead:
    """``_get_session_from_db`` of Django's database stores, as one fixed SELECT."""

    def _get_session_from_db(self):
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        sql = (
            f"SELECT {quote('session_data')}, {quote('expire_date')} FROM {table} "  # noqa: S608
            f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        session_data, expire_date = row
        if not hasattr(expire_date, "tzinfo"):  # SQLite gives text; the ORM's converters apply
            column = model._meta.get_field("expire_date").get_col(model._meta.db_table)
            for convert in connection.ops.get_db_converters(column):
                expire_date = convert(expire_date, column, connection)
        return model(session_key=self.session_key, session_data=session_data, expire_date=expire_date)


class SessionStore(FixedSelectRead, DatabaseSessionStore):
    pass
