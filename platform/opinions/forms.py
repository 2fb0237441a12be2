from __future__ import annotations

from django import forms

from cases.models import SEX_CHOICES, SITE_GROUP_CHOICES, TASK_CHOICES

YES_NO = [("", "unknown"), ("yes", "yes"), ("no", "no")]
SUSPICION = [("", "not given")] + [(str(i), str(i)) for i in range(1, 6)]
READER_SIGNS = (
    ("cortical_destruction", "Cortical destruction"),
    ("soft_tissue_mass", "Soft-tissue mass"),
    ("matrix_mineralisation", "Matrix mineralisation"),
    ("sclerotic_rim", "Sclerotic rim"),
)


def _flag(value: str):
    return {"yes": True, "no": False}.get(value)


class AnalysisRequestForm(forms.Form):
    """The question, the clinical data the pipeline uses, and the optional reader read."""

    pipeline = forms.ChoiceField(choices=TASK_CHOICES, label="Question")
    age = forms.FloatField(required=False, min_value=0, max_value=120)
    sex = forms.ChoiceField(required=False, choices=[("", "unknown")] + SEX_CHOICES)
    site = forms.CharField(required=False, max_length=64, help_text="e.g. sacrum, distal femur, L2")
    site_group = forms.ChoiceField(required=False, choices=[("", "unknown")] + SITE_GROUP_CHOICES)
    pain = forms.ChoiceField(required=False, choices=YES_NO)
    swelling = forms.ChoiceField(required=False, choices=YES_NO)
    trauma = forms.ChoiceField(required=False, choices=YES_NO)
    crp = forms.FloatField(required=False, min_value=0, max_value=1000, label="CRP (mg/L)")
    esr = forms.FloatField(required=False, min_value=0, max_value=200, label="ESR (mm/h)")
    alp = forms.FloatField(required=False, min_value=0, max_value=5000, label="ALP (U/L)")
    suspicion = forms.ChoiceField(
        required=False, choices=SUSPICION, label="Your malignancy suspicion (1 benign - 5 malignant)"
    )
    cortical_destruction = forms.BooleanField(required=False, label="Cortical destruction")
    soft_tissue_mass = forms.BooleanField(required=False, label="Soft-tissue mass")
    matrix_mineralisation = forms.BooleanField(required=False, label="Matrix mineralisation")
    sclerotic_rim = forms.BooleanField(required=False, label="Sclerotic rim")

    def clinical(self) -> dict:
        d = self.cleaned_data
        return {
            "age": d.get("age"),
            "sex": d.get("sex") or None,
            "site": d.get("site") or None,
            "site_group": d.get("site_group") or None,
            "pain": _flag(d.get("pain", "")),
            "swelling": _flag(d.get("swelling", "")),
            "trauma": _flag(d.get("trauma", "")),
            "crp": d.get("crp"),
            "esr": d.get("esr"),
            "alp": d.get("alp"),
        }

    def reader(self) -> dict | None:
        """The reader's structured interpretation (seed 000), only when a suspicion is given."""
        d = self.cleaned_data
        if not d.get("suspicion"):
            return None
        return {
            "suspicion": int(d["suspicion"]),
            "signs": {name: bool(d.get(name)) for name, _ in READER_SIGNS},
        }
