"""Statistics tables of reads: per resident, per cohort of residents, assisted-reading study.

Every statistic comes from inference_worker.evaluation.stats (Wilson, Cohen, Fleiss,
Cochran's Q, McNemar, DeLong), so readers and models are measured the same way. Each
table is a list of flat dicts: the page renders it, the CSV view writes it unchanged.

Unit of analysis: one committed read. Quiz, case-of-the-day and unaided study reads
measure a reader's own skill; aided reads appear only in the assisted study.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable

import numpy as np

from accounts.models import Seniority
from inference_worker import vocabulary as vocab
from inference_worker.evaluation import stats
from teaching import scoring
from teaching.models import Read

OWN_SKILL_KINDS = (Read.Kind.QUIZ, Read.Kind.DAILY, Read.Kind.UNAIDED)


def _r(value, digits=3):
    return None if value is None else round(float(value), digits)


def proportion(successes: int, n: int) -> dict:
    """A proportion with its Wilson 95% interval (None when there are no trials)."""
    if n == 0:
        return {"k": 0, "n": 0, "value": None, "low": None, "high": None}
    ci = stats.wilson_ci(successes, n)
    return {"k": successes, "n": n, "value": _r(successes / n), "low": _r(ci.low), "high": _r(ci.high)}


# Below this many cases a kappa and its interval say nothing useful; show none.
MIN_KAPPA_CASES = 5


def _kappa(a: list, b: list) -> dict:
    if len(a) < MIN_KAPPA_CASES:
        return {"value": None, "low": None, "high": None, "n": len(a)}
    with warnings.catch_warnings():
        # statsmodels also computes a z-value we do not use; it divides by zero on tiny tables.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.cohen_kappa(a, b)
    return {"value": _r(res.kappa), "low": _r(res.ci_low), "high": _r(res.ci_high), "n": len(a)}


def truth_positive(read: Read) -> bool | None:
    return scoring.is_positive(read.case.task, read.truth_class or None, read.truth_malignant)


def reader_positive(read: Read) -> bool | None:
    return scoring.is_positive(read.case.task, read.diagnosis or None, read.malignant)


def model_positive(read: Read) -> bool | None:
    """The model's call on the positive class (score >= 0.5, the worker's threshold)."""
    return None if read.model_score is None else read.model_score >= 0.5


def binary_row(pairs: Iterable[tuple[bool, bool]]) -> dict:
    """Accuracy, sensitivity, specificity, PPV, NPV (Wilson CIs) and F1 of (truth, call) pairs."""
    pairs = [(bool(t), bool(c)) for t, c in pairs]
    tp = sum(t and c for t, c in pairs)
    tn = sum(not t and not c for t, c in pairs)
    fp = sum(not t and c for t, c in pairs)
    fn = sum(t and not c for t, c in pairs)
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else None
    return {
        "n": len(pairs),
        "accuracy": proportion(tp + tn, len(pairs)),
        "sensitivity": proportion(tp, tp + fn),
        "specificity": proportion(tn, tn + fp),
        "ppv": proportion(tp, tp + fp),
        "npv": proportion(tn, tn + fn),
        "f1": _r(f1),
    }


# --- one resident --------------------------------------------------------------------------


def per_class_rows(reads: list[Read], task: str) -> list[dict]:
    """Sensitivity and specificity of each of the task's classes, one-vs-rest."""
    rows = []
    for cls in scoring.task_classes(task):
        scored = [r for r in reads if r.truth_class]
        pos = [r for r in scored if r.truth_class == cls]
        neg = [r for r in scored if r.truth_class != cls]
        rows.append(
            {
                "task": task,
                "class": cls,
                "sensitivity": proportion(sum(r.diagnosis == cls for r in pos), len(pos)),
                "specificity": proportion(sum(r.diagnosis != cls for r in neg), len(neg)),
            }
        )
    return rows


def weakest_diagnoses(reads: list[Read], limit: int = 5) -> list[dict]:
    """Diagnoses by accuracy, worst first (ties: more reads first, then name)."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in reads:
        if r.truth_diagnosis and r.correct is not None:
            groups[r.truth_diagnosis].append(bool(r.correct))
    rows = []
    for code, outcomes in groups.items():
        p = proportion(sum(outcomes), len(outcomes))
        label = vocab.DIAGNOSIS_BY_CODE[code].label if code in vocab.DIAGNOSIS_BY_CODE else code
        rows.append({"diagnosis": code, "label": label, **p})
    rows.sort(key=lambda row: (row["value"], -row["n"], row["diagnosis"]))
    return rows[:limit]


def resident_summary(reads: list[Read]) -> dict:
    """The resident dashboard's numbers, per task (classes differ between tasks)."""
    tasks: dict[str, list[Read]] = OrderedDict()
    for r in reads:
        tasks.setdefault(r.case.task, []).append(r)
    blocks = []
    for task, task_reads in tasks.items():
        scored = [r for r in task_reads if r.correct is not None]
        with_model = [r for r in scored if r.model_class]
        blocks.append(
            {
                "task": task,
                "task_label": vocab.TASKS[task]["label"],
                "positive": scoring.positive_label(task),
                "n": len(task_reads),
                "accuracy": proportion(sum(r.correct for r in scored), len(scored)),
                "model_accuracy": proportion(
                    sum(r.model_class == r.truth_class for r in with_model), len(with_model)
                ),
                "kappa_histology": _kappa([r.diagnosis for r in scored], [r.truth_class for r in scored]),
                "kappa_model": _kappa([r.diagnosis for r in with_model], [r.model_class for r in with_model]),
                "classes": per_class_rows(scored, task),
                "binary": binary_row(
                    (truth_positive(r), reader_positive(r))
                    for r in scored
                    if truth_positive(r) is not None and reader_positive(r) is not None
                ),
                "mean_seconds": _r(np.mean([r.duration_s for r in task_reads if r.duration_s is not None]), 1)
                if any(r.duration_s is not None for r in task_reads)
                else None,
            }
        )
    scored = [r for r in reads if r.correct is not None]
    return {
        "n": len(reads),
        "accuracy": proportion(sum(r.correct for r in scored), len(scored)),
        "tasks": blocks,
        "weakest": weakest_diagnoses(scored),
    }


def learning_curve(reads: list[Read], window: int = 10) -> list[dict]:
    """Cumulative and rolling accuracy in commit order (the learning-curve plot and CSV)."""
    rows, outcomes = [], []
    for i, r in enumerate([r for r in reads if r.correct is not None], start=1):
        outcomes.append(bool(r.correct))
        recent = outcomes[-window:]
        rows.append(
            {
                "n": i,
                "committed_at": r.committed_at.isoformat(),
                "correct": int(r.correct),
                "cumulative_accuracy": _r(sum(outcomes) / i),
                "rolling_accuracy": _r(sum(recent) / len(recent)),
            }
        )
    return rows


def roc_points(reads: list[Read]) -> dict | None:
    """The model's ROC over the cases the resident read, and the resident's operating point."""
    usable = [r for r in reads if r.model_score is not None and truth_positive(r) is not None]
    y = [truth_positive(r) for r in usable]
    if not usable or all(y) or not any(y):
        return None
    from sklearn.metrics import roc_curve

    scores = [r.model_score for r in usable]
    fpr, tpr, _ = roc_curve(y, scores)
    auc = stats.auc_delong(y, scores)
    reader = binary_row((truth_positive(r), reader_positive(r)) for r in usable)
    model = binary_row((truth_positive(r), model_positive(r)) for r in usable)
    return {
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "auc": _r(auc.auc),
        "auc_low": _r(auc.ci_low),
        "auc_high": _r(auc.ci_high),
        "reader_fpr": None
        if reader["specificity"]["value"] is None
        else _r(1 - reader["specificity"]["value"]),
        "reader_tpr": reader["sensitivity"]["value"],
        "model_fpr": None if model["specificity"]["value"] is None else _r(1 - model["specificity"]["value"]),
        "model_tpr": model["sensitivity"]["value"],
        "n": len(usable),
    }


# --- a cohort of residents (seed 003, Tables 2-4) ---------------------------------------------


def first_reads(reads: Iterable[Read]) -> dict[tuple[int, int], Read]:
    """One read per (reader, case): the first committed, so re-reads do not count twice."""
    out: dict[tuple[int, int], Read] = {}
    for r in sorted(reads, key=lambda r: (r.committed_at, r.pk)):
        out.setdefault((r.reader_id, r.case_id), r)
    return out


def common_cases(by_pair: dict[tuple[int, int], Read], readers: list[int], need_model: bool) -> list[int]:
    """Cases read by every one of `readers` (with a model opinion when the model is compared)."""
    cases = None
    for reader in readers:
        mine = {c for (u, c), r in by_pair.items() if u == reader and r.correct is not None}
        if need_model:
            mine = {c for c in mine if by_pair[(reader, c)].model_class}
        cases = mine if cases is None else cases & mine
    return sorted(cases or [])


def agreement_matrix(by_pair, readers: list[int], cases: list[int]) -> np.ndarray:
    return np.array([[by_pair[(u, c)].diagnosis for u in readers] for c in cases], dtype=object)


def correctness_matrix(by_pair, readers: list[int], cases: list[int], with_model: bool) -> np.ndarray:
    """Subjects x raters of 0/1 correctness; the model last when `with_model`."""
    rows = []
    for c in cases:
        row = [int(bool(by_pair[(u, c)].correct)) for u in readers]
        if with_model:
            first = by_pair[(readers[0], c)]
            row.append(int(first.model_class == first.truth_class))
        rows.append(row)
    return np.array(rows, dtype=int)


def _fleiss(by_pair, readers: list[int]) -> dict:
    cases = common_cases(by_pair, readers, need_model=False)
    if len(readers) < 2 or len(cases) < 2:
        return {"value": None, "readers": len(readers), "cases": len(cases)}
    return {
        "value": _r(stats.fleiss_kappa(agreement_matrix(by_pair, readers, cases))),
        "readers": len(readers),
        "cases": len(cases),
    }


def _cochran(by_pair, readers: list[int]) -> dict:
    cases = common_cases(by_pair, readers, need_model=True)
    if not readers or len(cases) < 2:
        return {"q": None, "df": None, "p": None, "cases": len(cases)}
    res = stats.cochrans_q(correctness_matrix(by_pair, readers, cases, with_model=True))
    return {"q": _r(res.q), "df": res.df, "p": _r(res.p, 4), "cases": len(cases)}


def cohort_tables(reads: list[Read]) -> dict:
    """By seniority (Table 2), per diagnosis (Table 3) and agreement (Table 4) tables."""
    by_pair = first_reads(r for r in reads if r.kind in OWN_SKILL_KINDS)
    readers = {r.reader_id: r.reader for r in by_pair.values()}
    groups: dict[str, list[int]] = OrderedDict((s.value, []) for s in Seniority)
    for uid, user in sorted(readers.items()):
        groups.setdefault(user.seniority or "unspecified", []).append(uid)

    performance = []
    for group, members in groups.items():
        mine = [r for (u, _), r in by_pair.items() if u in members and r.correct is not None]
        if not members:
            continue
        binary = binary_row(
            (truth_positive(r), reader_positive(r))
            for r in mine
            if truth_positive(r) is not None and reader_positive(r) is not None
        )
        performance.append(
            {
                "who": f"{group} residents",
                "group": group,
                "readers": len(members),
                "reads": len(mine),
                "class_accuracy": proportion(sum(bool(r.correct) for r in mine), len(mine)),
                **{k: binary[k] for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1")},
                "cochran_vs_model": _cochran(by_pair, members),
                "fleiss_within": _fleiss(by_pair, members),
            }
        )
    # The model on the same cases (one row per case, not per read).
    model_by_case = {}
    for r in by_pair.values():
        if r.model_class and r.correct is not None:
            model_by_case.setdefault(r.case_id, r)
    model_reads = list(model_by_case.values())
    model_binary = binary_row(
        (truth_positive(r), model_positive(r))
        for r in model_reads
        if truth_positive(r) is not None and model_positive(r) is not None
    )
    performance.append(
        {
            "who": "model",
            "group": "model",
            "readers": None,
            "reads": len(model_reads),
            "class_accuracy": proportion(
                sum(r.model_class == r.truth_class for r in model_reads), len(model_reads)
            ),
            **{k: model_binary[k] for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1")},
            "cochran_vs_model": None,
            "fleiss_within": None,
        }
    )

    per_reader = []
    for uid, user in sorted(readers.items(), key=lambda kv: (kv[1].seniority, kv[1].username)):
        mine = [r for (u, _), r in by_pair.items() if u == uid and r.correct is not None]
        paired = [r for r in mine if r.model_class]
        mc = (
            stats.mcnemar([bool(r.correct) for r in paired], [r.model_class == r.truth_class for r in paired])
            if paired
            else None
        )
        per_reader.append(
            {
                "reader": user.username,
                "seniority": user.seniority or "unspecified",
                "reads": len(mine),
                "accuracy": proportion(sum(bool(r.correct) for r in mine), len(mine)),
                "model_accuracy": proportion(
                    sum(r.model_class == r.truth_class for r in paired), len(paired)
                ),
                "kappa_model": _kappa([r.diagnosis for r in paired], [r.model_class for r in paired]),
                "kappa_histology": _kappa([r.diagnosis for r in mine], [r.truth_class for r in mine]),
                "mcnemar_p": None if mc is None else _r(mc.p, 4),
                "mcnemar_statistic": None if mc is None else _r(mc.statistic),
            }
        )

    diagnoses: dict[str, dict] = OrderedDict()
    for r in by_pair.values():
        if not r.truth_diagnosis or r.correct is None:
            continue
        row = diagnoses.setdefault(
            r.truth_diagnosis, {"diagnosis": r.truth_diagnosis, "groups": defaultdict(list)}
        )
        row["groups"][readers[r.reader_id].seniority or "unspecified"].append(bool(r.correct))
    model_diag: dict[str, list[bool]] = defaultdict(list)
    for r in model_reads:
        model_diag[r.truth_diagnosis].append(r.model_class == r.truth_class)
    per_diagnosis = []
    for code, row in sorted(diagnoses.items()):
        entry = {
            "diagnosis": code,
            "label": vocab.DIAGNOSIS_BY_CODE.get(code).label if code in vocab.DIAGNOSIS_BY_CODE else code,
        }
        for group in groups:
            outcomes = row["groups"].get(group, [])
            entry[group] = proportion(sum(outcomes), len(outcomes))
        entry["model"] = proportion(sum(model_diag[code]), len(model_diag[code]))
        per_diagnosis.append(entry)

    all_readers = sorted(readers)
    return {
        "performance": performance,
        "per_reader": per_reader,
        "per_diagnosis": per_diagnosis,
        "groups": [g for g, m in groups.items() if m],
        "fleiss_all": _fleiss(by_pair, all_readers),
        "cochran_all": _cochran(by_pair, all_readers),
    }


# --- assisted-reading study (seed 000) -------------------------------------------------------


def study_pairs(reads: Iterable[Read]) -> list[tuple[Read, Read]]:
    """(unaided, aided) reads of the same reader and set item, both committed."""
    unaided, aided = {}, {}
    for r in reads:
        if r.committed_at is None or r.item_id is None:
            continue
        if r.kind == Read.Kind.UNAIDED:
            unaided[(r.reader_id, r.item_id)] = r
        elif r.kind == Read.Kind.AIDED:
            aided[(r.reader_id, r.item_id)] = r
    return [(unaided[k], aided[k]) for k in sorted(unaided) if k in aided]


def _auc(y: list[bool], score: list[float]) -> dict:
    if not y or all(y) or not any(y):
        return {"value": None, "low": None, "high": None}
    res = stats.auc_delong(y, score)
    return {"value": _r(res.auc), "low": _r(res.ci_low), "high": _r(res.ci_high)}


def study_row(who: str, pairs: list[tuple[Read, Read]], readers: int) -> dict:
    """Unaided vs aided: AUC (reader rating score; DeLong), accuracy (McNemar), sens, spec."""
    usable = [(u, a) for u, a in pairs if truth_positive(u) is not None and u.certainty and a.certainty]
    y = [bool(truth_positive(u)) for u, _ in usable]
    s_u = [scoring.reader_score(bool(reader_positive(u)), u.certainty) for u, _ in usable]
    s_a = [scoring.reader_score(bool(reader_positive(a)), a.certainty) for _, a in usable]
    auc_u, auc_a = _auc(y, s_u), _auc(y, s_a)
    delong_p = None
    if auc_u["value"] is not None:
        delong_p = _r(stats.delong_test(y, s_a, s_u).p, 4)
    correct_u = [bool(truth_positive(u)) == bool(reader_positive(u)) for u, _ in usable]
    correct_a = [bool(truth_positive(a)) == bool(reader_positive(a)) for _, a in usable]
    mc = stats.mcnemar(correct_u, correct_a) if usable else None
    bin_u = binary_row(zip(y, [bool(reader_positive(u)) for u, _ in usable], strict=True))
    bin_a = binary_row(zip(y, [bool(reader_positive(a)) for _, a in usable], strict=True))
    delta = None
    if auc_u["value"] is not None and auc_a["value"] is not None:
        delta = _r(auc_a["value"] - auc_u["value"])
    return {
        "who": who,
        "readers": readers,
        "cases": len(usable),
        "auc_unaided": auc_u,
        "auc_aided": auc_a,
        "auc_change": delta,
        "delong_p": delong_p,
        "accuracy_unaided": bin_u["accuracy"],
        "accuracy_aided": bin_a["accuracy"],
        "mcnemar_p": None if mc is None else _r(mc.p, 4),
        "sensitivity_unaided": bin_u["sensitivity"],
        "sensitivity_aided": bin_a["sensitivity"],
        "specificity_unaided": bin_u["specificity"],
        "specificity_aided": bin_a["specificity"],
        "changed_calls": sum(u.diagnosis != a.diagnosis or u.malignant != a.malignant for u, a in usable),
    }


def study_tables(reads: list[Read]) -> dict:
    """Per reader and per seniority group (pooled reader-case pairs, not an MRMC analysis)."""
    pairs = study_pairs(reads)
    by_reader: dict[int, list] = defaultdict(list)
    users = {}
    for u, a in pairs:
        by_reader[u.reader_id].append((u, a))
        users[u.reader_id] = u.reader
    rows = [
        {
            "seniority": users[uid].seniority or "unspecified",
            **study_row(users[uid].username, by_reader[uid], 1),
        }
        for uid in sorted(by_reader, key=lambda uid: (users[uid].seniority, users[uid].username))
    ]
    groups = []
    for s in [s.value for s in Seniority] + ["unspecified"]:
        members = [uid for uid in by_reader if (users[uid].seniority or "unspecified") == s]
        if members:
            pooled = [p for uid in members for p in by_reader[uid]]
            groups.append({"seniority": s, **study_row(f"{s} residents", pooled, len(members))})
    return {"readers": rows, "groups": groups, "pairs": len(pairs)}


def flatten(row: dict, prefix: str = "") -> dict:
    """Nested table cells ({"value", "low", "high"}) as flat CSV columns."""
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}_"))
        elif not isinstance(value, list):
            out[name] = value
    return out
