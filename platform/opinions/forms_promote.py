from django import forms

from cases.models import BEHAVIOUR_CHOICES, CERTAINTY_CHOICES, CONFIRMATION_CHOICES, DIAGNOSIS_CHOICES


class PromoteForm(forms.Form):
    diagnosis = forms.ChoiceField(choices=DIAGNOSIS_CHOICES)
    behaviour = forms.ChoiceField(choices=BEHAVIOUR_CHOICES)
    confirmation = forms.ChoiceField(choices=[c for c in CONFIRMATION_CHOICES if c[0] != "synthetic"])
    certainty = forms.ChoiceField(choices=CERTAINTY_CHOICES)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
