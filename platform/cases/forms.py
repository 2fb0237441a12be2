from django import forms

from cases.models import BEHAVIOUR_CHOICES, DIAGNOSIS_CHOICES, SEX_CHOICES, TASK_CHOICES
from cases.selectors import LibraryFilters
from cohorts.models import SPLIT_CHOICES

MODALITY_CHOICES = [("CT", "CT"), ("CR", "CR"), ("DX", "DX"), ("MR", "MR"), ("OT", "Other")]


def _with_any(choices):
    return [("", "Any")] + list(choices)


class LibraryFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    task = forms.ChoiceField(required=False, choices=_with_any(TASK_CHOICES))
    diagnosis = forms.ChoiceField(required=False, choices=_with_any(DIAGNOSIS_CHOICES))
    behaviour = forms.ChoiceField(required=False, choices=_with_any(BEHAVIOUR_CHOICES))
    site = forms.CharField(required=False)
    modality = forms.ChoiceField(required=False, choices=_with_any(MODALITY_CHOICES))
    sex = forms.ChoiceField(required=False, choices=_with_any(SEX_CHOICES))
    age_min = forms.FloatField(required=False, min_value=0, max_value=120, label="Age from")
    age_max = forms.FloatField(required=False, min_value=0, max_value=120, label="to")
    cohort = forms.CharField(required=False)
    split = forms.ChoiceField(required=False, choices=_with_any(SPLIT_CHOICES))

    def filters(self) -> LibraryFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return LibraryFilters(**{k: v for k, v in data.items() if v not in (None, "")})
