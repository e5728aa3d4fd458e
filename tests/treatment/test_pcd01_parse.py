"""kapclinic reads monitor messages with python-hl7's parser, its parse plan made once per set of
separators (pcd01.parse_hl7): the tree must be exactly the one ``hl7.parse`` makes, container
class, separators and escape character included, for whatever a monitor sends."""

from __future__ import annotations

from pathlib import Path

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.treatment.monitors import pcd01

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hl7"


def same_tree(ours, theirs) -> None:
    assert type(ours) is type(theirs)
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert vars(ours) == vars(theirs)  # separator, separators, esc, factory
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs, strict=True):
        same_tree(mine, expected)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.hl7v2")))
def test_each_published_monitor_message_parses_exactly_as_python_hl7_parses_it(fixture):
    text = (FIXTURES / fixture).read_text().replace("\n", "\r").strip("\r")
    same_tree(pcd01.parse_hl7(text), hl7.parse(text))


field_text = st.text(alphabet="AB1 .-\\^~&#$", max_size=12)


@st.composite
def messages(draw):
    """An HL7 message with separators the sender chose and fields full of them."""
    field_sep, component, repetition, escape, sub = draw(st.permutations("|^~\\&"))
    if draw(st.booleans()):
        field_sep, component, repetition, escape, sub = draw(st.permutations("#$*!@"))
    header = f"MSH{field_sep}{component}{repetition}{escape}{sub}"
    def segment(name: str) -> str:
        fields = draw(st.lists(field_text, max_size=8))
        return field_sep.join([name, *(f.replace("|", field_sep) for f in fields)])
    body = [segment(name) for name in draw(st.lists(st.sampled_from(["PID", "OBR", "OBX"]), max_size=6))]
    return "\r".join([header + field_sep + draw(field_text), *body])


@settings(max_examples=300, deadline=None)
@given(messages())
def test_any_message_parses_exactly_as_python_hl7_parses_it(text):
    try:
        theirs = hl7.parse(text)
    except Exception as exc:  # noqa: BLE001 - then ours must refuse it the same way
        with pytest.raises(type(exc)):
            pcd01.parse_hl7(text)
        return
    same_tree(pcd01.parse_hl7(text), theirs)


def extracted(segment, number: int, repeat: int, component: int) -> str:
    """python-hl7's own reading of a component ("" where it says the path is not there)."""
    try:
        return segment.extract_field(field_num=number, repeat_num=repeat, component_num=component)
    except IndexError:
        return ""


@settings(max_examples=300, deadline=None)
@given(messages())
def test_a_component_is_read_exactly_as_python_hl7s_extract_field_reads_it(text):
    try:
        parsed = hl7.parse(text)
    except Exception:  # noqa: BLE001 - not a message: nothing to read
        return
    for segment in parsed:
        for number in range(1, len(segment) + 2):
            for repeat in (1, 2, 3):
                for component in (1, 2, 3, 5):
                    path = (str(segment), number, repeat, component)
                    assert pcd01._repeat(segment, number, repeat, component) == \
                        extracted(segment, number, repeat, component), path


@pytest.mark.parametrize("fixture", sorted(p.relative_to(FIXTURES).as_posix()
                                            for p in FIXTURES.glob("**/*.hl7*")))
def test_each_published_messages_components_read_as_python_hl7_reads_them(fixture):
    text = (FIXTURES / fixture).read_text().replace("\n", "\r").strip("\r")
    for segment in hl7.parse(text):
        for number in range(1, len(segment) + 1):
            for repeat in (1, 2):
                for component in (1, 2, 3, 4, 5):
                    assert pcd01._repeat(segment, number, repeat, component) == \
                        extracted(segment, number, repeat, component)
