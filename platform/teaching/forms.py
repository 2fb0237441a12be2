"""Forms: building a set (admins) and committing a read (residents)."""

from __future__ import annotations

import json

from django import forms

from cases.models import BEHAVIOUR_CHOICES, DIAGNOSIS_CHOICES, SEX_CHOICES, TASK_CHOICES
from cases.selectors import LibraryFilters
from inference_worker import vocabulary as vocab
from teaching import scoring
from teaching.models import CERTAINTY_CHOICES, DEFAULT_SPLITS, TeachingSet

SPLIT_CHOICES = [(s, s.capitalize()) for s in vocab.SPLITS]


def class_label(name: str) -> str:
    from opinions.presentation import class_label as label

    return label(name)


class SetBuildForm(forms.Form):
    title = forms.CharField(max_length=120)
    task = forms.ChoiceField(choices=TASK_CHOICES)
    mode = forms.ChoiceField(choices=TeachingSet.Mode.choices, initial=TeachingSet.Mode.QUIZ)
    order = forms.ChoiceField(choices=TeachingSet.Order.choices, initial=TeachingSet.Order.SHUFFLED)
    time_limit_s = forms.IntegerField(
        required=False, min_value=10, max_value=3600, label="Time limit per case (seconds, blank: untimed)"
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    splits = forms.MultipleChoiceField(
        choices=SPLIT_CHOICES,
        initial=DEFAULT_SPLITS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Cohort splits to draw from. Test and external keep the model off its training cases.",
    )
    # Library filters (cases.selectors.LibraryFilters).
    q = forms.CharField(required=False, label="Text")
    diagnosis = forms.ChoiceField(required=False, choices=[("", "any")] + DIAGNOSIS_CHOICES)
    behaviour = forms.ChoiceField(required=False, choices=[("", "any")] + BEHAVIOUR_CHOICES)
    site = forms.CharField(required=False)
    modality = forms.CharField(required=False, max_length=16)
    sex = forms.ChoiceField(required=False, choices=[("", "any")] + SEX_CHOICES)
    age_min = forms.FloatField(required=False, min_value=0)
    age_max = forms.FloatField(required=False, min_value=0)
    cohort = forms.CharField(required=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=500, label="At most this many cases")
    case_refs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Or by hand: case labels or ids, one per line, in reading order",
    )

    def filters(self) -> LibraryFilters:
        d = self.cleaned_data
        return LibraryFilters(
            q=d["q"],
            diagnosis=d["diagnosis"],
            behaviour=d["behaviour"],
            site=d["site"],
            modality=d["modality"].upper(),
            sex=d["sex"],
            age_min=d["age_min"],
            age_max=d["age_max"],
            cohort=d["cohort"],
        )

    def case_refs_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["case_refs"].splitlines() if line.strip()]


class ReadForm(forms.Form):
    diagnosis = forms.ChoiceField(widget=forms.RadioSelect, label="Diagnosis")
    malignant = forms.TypedChoiceField(
        choices=[("0", "Benign"), ("1", "Malignant")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        label="Behaviour",
    )
    certainty = forms.ChoiceField(choices=CERTAINTY_CHOICES, widget=forms.RadioSelect, label="Certainty")
    region = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, task: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["diagnosis"].choices = [(c, class_label(c)) for c in scoring.task_classes(task)]

    def clean_region(self):
        raw = self.cleaned_data.get("region") or ""
        if not raw.strip():
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError("the marked region could not be read") from exc
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("the marked region could not be read")
        return value or None
