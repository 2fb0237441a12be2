from django import forms


class ImportForm(forms.Form):
    archive = forms.FileField(help_text="A zip holding manifest.csv and the files it names.")
    name = forms.SlugField(max_length=64, required=False, help_text="Cohort name (default: the zip's name).")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run: check only, import nothing")
