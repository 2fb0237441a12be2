"""The upload form's options (the files themselves come from request.FILES)."""

from __future__ import annotations

from django import forms

from cohorts.models import Cohort
from inference_worker import vocabulary as vocab


class UploadForm(forms.Form):
    task = forms.ChoiceField(
        choices=[("", "Choose from the images")] + [(k, v["label"]) for k, v in vocab.TASKS.items()],
        required=False,
    )
    # More images for a case this user already uploaded (batched uploads of one study).
    case = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # Admin-only options; ignored for other roles.
    label = forms.CharField(max_length=64, required=False, help_text="Short, never a patient name.")
    cohort = forms.ModelChoiceField(queryset=Cohort.objects.all(), required=False, to_field_name="name")
    split = forms.ChoiceField(
        choices=[("", "-")] + [(s, s.capitalize()) for s in vocab.SPLITS], required=False
    )
    centre = forms.CharField(max_length=64, required=False)
    library = forms.BooleanField(required=False, label="Show in the residents' library")

    def __init__(self, *args, admin: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not admin:
            for name in ("label", "cohort", "split", "centre", "library"):
                del self.fields[name]
