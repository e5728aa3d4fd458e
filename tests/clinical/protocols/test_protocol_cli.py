"""``kapclinic protocols`` and ``kapclinic dose`` through the command's entry point: the
listing, a dose within and above the protocol, and impossible input refused in one line
naming the field, with exit status 2."""

import json
from datetime import date

import pytest

from kapclinic.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_protocols_lists_each_with_drug_route_unit_range_and_cap(capsys):
    code, out, _ = run(capsys, "protocols", "--json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert set(rows) == {"iv_racemic_ketamine", "im_racemic_ketamine", "sublingual_racemic_ketamine",
                         "intranasal_esketamine"}
    iv = rows["iv_racemic_ketamine"]
    assert (iv["drug"], iv["route"], iv["dose_unit"], iv["range"], iv["cap"]) == \
        ("ketamine", "iv-infusion", "mg_per_kg", [0.5, 1.0], 1.0)
    assert rows["intranasal_esketamine"]["range"] == [28, 84]


def test_protocols_prints_a_readable_table(capsys):
    code, out, _ = run(capsys, "protocols")
    assert code == 0
    assert "intranasal_esketamine" in out and "28-84 mg" in out and "cap 84 mg" in out


def test_dose_prints_mg_mg_per_kg_route_and_whether_it_is_within_the_protocol(capsys):
    code, out, _ = run(capsys, "dose", "--protocol", "iv_racemic_ketamine", "--weight-kg", "80",
                       "--dose-mg-per-kg", "0.5", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["dose_mg"], result["dose_mg_per_kg"], result["route"], result["within_protocol"]) == \
        (40.0, 0.5, "iv-infusion", True)
    assert result["messages"]


def test_a_dose_above_the_cap_is_reported_not_refused(capsys):
    code, out, _ = run(capsys, "dose", "--protocol", "intranasal_esketamine", "--weight-kg", "70",
                       "--dose-mg", "112")
    assert code == 0
    assert "within protocol: NO" in out and "above the hard cap of 84 mg" in out


def test_an_old_weight_cannot_dose_a_weight_based_protocol(capsys):
    code, _, err = run(capsys, "dose", "--protocol", "iv_racemic_ketamine", "--weight-kg", "70",
                       "--weight-date", "2020-01-01", "--dose-mg-per-kg", "0.5")
    assert code == 2 and err.startswith("error: weight_date: ") and "weigh the patient" in err


@pytest.mark.parametrize("args, field", [
    (["--weight-kg", "-70", "--dose-mg-per-kg", "0.5"], "weight_kg"),
    (["--weight-kg", "0", "--dose-mg-per-kg", "0.5"], "weight_kg"),
    (["--weight-kg", "7000", "--dose-mg-per-kg", "0.5"], "weight_kg"),
    (["--weight-kg", "nan", "--dose-mg-per-kg", "0.5"], "weight_kg"),
    (["--weight-kg", "seventy", "--dose-mg-per-kg", "0.5"], "weight_kg"),
    (["--weight-kg", "70", "--dose-mg-per-kg", "NaN"], "dose_mg_per_kg"),
    (["--weight-kg", "70", "--dose-mg-per-kg", "-0.5"], "dose_mg_per_kg"),
    (["--weight-kg", "70", "--dose-mg", "inf"], "dose_mg"),
    (["--weight-kg", "70", "--dose-mg", "35", "--dose-mg-per-kg", "0.5"], "dose"),
    (["--weight-kg", "70"], "dose"),
    (["--weight-kg", "70", "--dose-mg", "35", "--weight-date", "04/05/2026"], "weight_date"),
])
def test_impossible_input_exits_2_with_one_line_naming_the_field(capsys, args, field):
    code, out, err = run(capsys, "dose", "--protocol", "iv_racemic_ketamine", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {field}: ")


def test_an_unknown_protocol_exits_2_naming_the_field(capsys):
    code, _, err = run(capsys, "dose", "--protocol", "iv_ketamine", "--weight-kg", "70", "--dose-mg", "35")
    assert code == 2 and err.startswith("error: protocol: unknown protocol 'iv_ketamine'")
    assert err.count("\n") == 1


def test_the_dose_command_uses_todays_date_for_the_weight_by_default(capsys):
    code, out, _ = run(capsys, "dose", "--protocol", "iv_racemic_ketamine", "--weight-kg", "70",
                       "--dose-mg", "35", "--json")
    assert code == 0 and json.loads(out)["weight_date"] == date.today().isoformat()
