"""Reproduce the published and derived numbers in shared/reference/pk.md, each named."""

import math

import pytest

from kapclinic.clinical.pk import simulate
from kapclinic.clinical.pk.definitions import load_all
from kapclinic.clinical.pk.structure import System, disposition, typical_parameters

# pk.md section 7: 70 kg, 0.5 mg/kg = 35 mg over 40 min; C (ng/mL) at 40, 80, 110, 230 min
SECTION_7 = {
    "domino": (240.4, 45.8, 38.1, 18.4),
    "clements": (177.3, 84.7, 63.1, 35.9),
    "hijazi": (225.3, 46.0, 17.1, 4.7),
    "herd": (253.4, 96.4, 74.3, 26.4),
    "kamp": (253.1, 73.7, 54.3, 26.7),
}
# pk.md section 7 terminal half-lives (h); Domino 114.6 min
SECTION_7_HALF_LIFE_H = {"domino": 1.91, "clements": 3.05, "hijazi": 4.95, "herd": 1.34,
                         "kamp": 3.06}
# pk.md section 3.4: Perez-Ruixo Table 4 typical Caucasian 18-60 y (via nlmixr2lib) [S]
TABLE_4 = {28: (43.8, 147.3), 56: (72.5, 254.7), 84: (101.0, 362.2)}


def _section_7(model_id):
    return simulate(model_id, "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70,
                    duration_min=40, hours=4)


@pytest.mark.parametrize("model_id", SECTION_7)
@pytest.mark.parametrize("index, minute", list(enumerate((40, 80, 110, 230))))
def test_it_reproduces_pk_md_section_7_concentration_after_half_mg_per_kg_over_40_min(
        model_id, index, minute):
    result = _section_7(model_id)
    assert result.conc_ng_per_ml[minute] == pytest.approx(SECTION_7[model_id][index], rel=0.005)


def _terminal_half_life_h(model_id, weight_kg=70.0):
    defn = load_all()[model_id]
    system = System(disposition(defn, typical_parameters(defn, weight_kg)), 1)
    return math.log(2) / -system.modes().lam.max() / 60


@pytest.mark.parametrize("model_id", SECTION_7_HALF_LIFE_H)
def test_it_reproduces_pk_md_section_7_terminal_half_life(model_id):
    assert _terminal_half_life_h(model_id) == pytest.approx(SECTION_7_HALF_LIFE_H[model_id],
                                                            abs=0.005)


def test_it_reproduces_domino_terminal_half_life_of_114_6_min_from_pk_md_section_7():
    assert _terminal_half_life_h("domino") * 60 == pytest.approx(114.6, abs=0.05)


def test_it_reproduces_hijazi_clearance_of_36_ml_per_min_per_kg_from_the_abstract():
    # pk.md 1.1: Hijazi 2003 abstract CL 36.0 mL/min/kg [P]; encoded constants give 0.0360 L/min/kg
    result = simulate("hijazi", "iv-bolus", dose_mg=70, weight_kg=70)
    cl_l_per_min_per_kg = 70 / (result.auc_inf_ng_h_per_ml * 60 / 1000) / 70
    assert cl_l_per_min_per_kg * 1000 == pytest.approx(36.0, rel=0.005)


def test_it_reproduces_hijazi_half_life_of_4_9_h_from_the_abstract():
    # pk.md 1.1: abstract t1/2 4.9 (1.6) h [P]; encoded constants give 4.95 h [D]
    assert _terminal_half_life_h("hijazi") == pytest.approx(4.9, abs=0.06)


@pytest.mark.parametrize("model_id, cl_l_per_min, vss_l", [
    ("domino", 1.93, 193), ("clements", 1.34, 289), ("hijazi", 2.52, 297),
    ("herd", 1.50, 141), ("kamp", 1.40, 238)])
def test_it_reproduces_pk_md_section_7_clearance_at_70_kg(model_id, cl_l_per_min, vss_l):
    result = simulate(model_id, "iv-bolus", dose_mg=35, weight_kg=70)
    assert 35 / (result.auc_inf_ng_h_per_ml * 60 / 1000) == pytest.approx(cl_l_per_min, rel=0.01)


@pytest.mark.parametrize("dose_mg", TABLE_4)
def test_it_reproduces_perez_ruixo_table_4_esketamine_cmax_within_5_percent(dose_mg):
    result = simulate("perez_ruixo_esketamine", "intranasal", dose_mg=dose_mg, weight_kg=74,
                      step_min=0.25)
    assert result.cmax_ng_per_ml == pytest.approx(TABLE_4[dose_mg][0], rel=0.05)


@pytest.mark.parametrize("dose_mg", TABLE_4)
def test_it_reproduces_perez_ruixo_table_4_esketamine_auc_0_24_within_5_percent(dose_mg):
    result = simulate("perez_ruixo_esketamine", "intranasal", dose_mg=dose_mg, weight_kg=74)
    assert result.auc_ng_h_per_ml == pytest.approx(TABLE_4[dose_mg][1], rel=0.05)


@pytest.mark.parametrize("dose_mg, expected_f", [(28, 0.622), (56, 0.538), (84, 0.509)])
def test_it_reproduces_perez_ruixo_absolute_nasal_bioavailability_as_auc_ratio_vs_iv(
        dose_mg, expected_f):
    # pk.md 3.4 [D] 0.622/0.538/0.509; abstract [P] 54% (56 mg) and 51% (84 mg)
    nasal = simulate("perez_ruixo_esketamine", "intranasal", dose_mg=dose_mg, weight_kg=74)
    iv = simulate("perez_ruixo_esketamine", "iv-bolus", dose_mg=dose_mg, weight_kg=74)
    assert nasal.auc_inf_ng_h_per_ml / iv.auc_inf_ng_h_per_ml == pytest.approx(expected_f,
                                                                               abs=0.001)


def test_it_reproduces_perez_ruixo_oral_bioavailability_fgut_times_one_minus_e():
    # pk.md section 2: Fgut (1 - E) = 0.178 [D]
    oral = simulate("perez_ruixo_esketamine", "oral", dose_mg=84, weight_kg=74)
    iv = simulate("perez_ruixo_esketamine", "iv-bolus", dose_mg=84, weight_kg=74)
    assert oral.auc_inf_ng_h_per_ml / iv.auc_inf_ng_h_per_ml == pytest.approx(0.178, abs=0.001)


def test_it_reproduces_perez_ruixo_clearance_of_109_l_per_h():
    # pk.md 3.4: CL = Qh E = 109 L/h [D] (abstract 114 L/h, 4% apart)
    iv = simulate("perez_ruixo_esketamine", "iv-bolus", dose_mg=28, weight_kg=74)
    assert 28 / (iv.auc_inf_ng_h_per_ml / 1000) == pytest.approx(109, rel=0.005)


def test_it_reproduces_perez_ruixo_terminal_half_life_of_11_h():
    # pk.md 3.4 [D]: terminal t1/2 11.0 h (label: 7-12 h [P])
    result = simulate("perez_ruixo_esketamine", "iv-bolus", dose_mg=28, weight_kg=74, hours=72)
    c = result.conc_ng_per_ml
    slope = math.log(c[60 * 60] / c[72 * 60]) / 12
    assert math.log(2) / slope == pytest.approx(11.0, abs=0.15)


@pytest.mark.parametrize("dose_mg, expected", [(28, 59.1), (56, 119.7), (84, 180.0)])
def test_it_reproduces_perez_ruixo_table_4_noresketamine_cmax_within_5_percent(dose_mg,
                                                                                expected):
    result = simulate("perez_ruixo_esketamine", "intranasal", dose_mg=dose_mg, weight_kg=74)
    assert result.metabolite == "noresketamine"
    assert result.metabolite_cmax_ng_per_ml == pytest.approx(expected, rel=0.05)


EXTRAVASCULAR = ("im", "intranasal", "sublingual", "oral")


@pytest.mark.parametrize("model_id", SECTION_7)
@pytest.mark.parametrize("route", EXTRAVASCULAR)
def test_the_exposure_by_each_route_is_the_bioavailability_in_the_file_times_the_iv_exposure(
        model_id, route):
    spec = load_all()[model_id].routes[route]
    extravascular = simulate(model_id, route, dose_mg=50, weight_kg=70, hours=96)
    iv = simulate(model_id, "iv-bolus", dose_mg=50, weight_kg=70, hours=96)
    assert extravascular.auc_inf_ng_h_per_ml / iv.auc_inf_ng_h_per_ml == pytest.approx(
        spec.bioavailability.value, rel=1e-9)


@pytest.mark.parametrize("model_id", SECTION_7)
@pytest.mark.parametrize("route", EXTRAVASCULAR)
def test_each_bioavailability_stays_within_the_range_the_pk_md_sources_give(model_id, route):
    spec = load_all()[model_id].routes[route]
    low, high = spec.calibration.bioavailability_range
    assert low <= spec.bioavailability.value <= high


@pytest.mark.parametrize("model_id", SECTION_7)
@pytest.mark.parametrize("route", EXTRAVASCULAR)
def test_before_calibration_the_absorption_rate_gave_the_published_tmax(model_id, route):
    from kapclinic.clinical.pk.calibration import impulse_response, predict, published

    defn = load_all()[model_id]
    spec = defn.routes[route]
    tmax = spec.calibration.published_tmax
    tmax_min = tmax.value * (60 if tmax.unit == "h" else 1)
    peak = predict(impulse_response(defn), published(defn, spec), 50)
    assert peak.tmax_min == pytest.approx(tmax_min, rel=0.002, abs=0.05)
