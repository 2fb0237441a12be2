"""Keep the library's model opinions current (browse mode).

A case entering the library, or a model version starting to serve, queues analyses
after the transaction commits (so the case's images exist and the worker can read
them). Off with settings.TEACHING_AUTO_ANALYSE = False; tasks with no serving model
queue nothing, so a bare install or a test without model versions sends no task.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import Case
from modelhub.models import ModelVersion

log = logging.getLogger(__name__)


def _enabled() -> bool:
    return getattr(settings, "TEACHING_AUTO_ANALYSE", True)


def _analyse_later(cases=None) -> None:
    def run() -> None:
        from teaching.services import analyse_library

        try:
            analyse_library(cases)
        except Exception:  # a broker hiccup must not fail the save that triggered it
            log.exception("queueing library analyses failed")

    transaction.on_commit(run)


@receiver(post_save, sender=Case, dispatch_uid="teaching.case_added")
def case_added(sender, instance: Case, created: bool, update_fields=None, raw=False, **kwargs):
    if raw or not _enabled() or not instance.in_library:
        return
    if created or (update_fields and "in_library" in update_fields):
        _analyse_later([instance])


@receiver(post_save, sender=ModelVersion, dispatch_uid="teaching.version_serving")
def version_serving(sender, instance: ModelVersion, update_fields=None, raw=False, **kwargs):
    if raw or not _enabled() or instance.status != ModelVersion.Status.SERVING:
        return
    if update_fields is None or "status" in update_fields:
        from cases.models import Case as CaseModel

        _analyse_later(CaseModel.objects.filter(in_library=True, task=instance.task))
