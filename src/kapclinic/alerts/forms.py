"""The acknowledgement form: what the clinician did about the alert."""

from __future__ import annotations

from django import forms

from kapclinic.platform import text


class AcknowledgeForm(forms.Form):
    note = forms.CharField(label="What you did", widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=2000, error_messages={
                               "required": "Write what you did about the alert before "
                                           "acknowledging it."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("note",))

    def refusal(self) -> str:
        """Why the note was refused, as one sentence for a page that shows it as a message
        (an empty note: what to write; otherwise the field's own error: too long, a character
        that is not allowed)."""
        problem = " ".join(self.errors.get("note", []))
        if not self.data.get("note", "").strip():
            return problem
        return f"The note was not saved: {problem}"
