"""The age field's hint names the age the esketamine model's liver-flow effect starts at."""

from dataclasses import replace

from kapclinic.clinical.pk import definitions
from kapclinic.explorer.forms import ExplorerForm


def test_the_age_hint_follows_the_model_file_when_its_threshold_changes(monkeypatch):
    shipped = definitions.load_all()
    model = shipped["perez_ruixo_esketamine"]
    moved = tuple(replace(e, threshold=65.0) if e.effect == "per_year_above" else e
                  for e in model.covariates)
    edited = {**shipped, model.id: replace(model, covariates=moved)}
    monkeypatch.setattr(definitions, "load_all", lambda: edited)
    hint = ExplorerForm().fields["age_years"].help_text
    assert "above 65" in hint
    assert "above 60" not in hint


def test_the_age_hint_shows_the_published_threshold():
    assert "Liver blood flow falls above 60" in ExplorerForm().fields["age_years"].help_text
