"""A hand-edited data file with a JSON slip is refused with its name, model or observations."""

from pathlib import Path

import pytest

from kapclinic.clinical.pk.definitions import load_definition
from kapclinic.clinical.pk.errors import ModelDefinitionError
from kapclinic.clinical.pk.observations import load_observations


@pytest.mark.parametrize("load", [load_definition, load_observations])
def test_a_data_file_with_a_json_slip_is_refused_naming_the_file(tmp_path: Path, load) -> None:
    broken = tmp_path / "edited.json"
    broken.write_text('{"schema_version": 1,', encoding="utf-8")
    with pytest.raises(ModelDefinitionError, match="edited.json") as caught:
        load(broken)
    assert "is not valid JSON" in str(caught.value)
