"""Process configurations: the LHCO 2020 cards (Kasieczka et al., Rep. Prog. Phys. 84 (2021)
124201), validation, YAML."""

import pytest

from adsearch.errors import ConfigError
from adsearch.generate.processes import (
    QCDConfig,
    WprimeConfig,
    get_process,
    load_process,
    process_to_dict,
)
from adsearch.generate.truth import make_pythia

COMMON = {"Beams:eCM = 13000.0", "Print:quiet = on", "Random:setSeed = on"}

# The verified LHCO signal card (Kasieczka et al. 2021), as Pythia reads it.
WPRIME_CARD = {
    "NewGaugeBoson:ffbar2Wprime = on",
    "34:m0 = 3500.0",
    "Wprime:vq = 1.",
    "Wprime:aq = 0.",
    "Wprime:vl = 0.",
    "Wprime:al = 0.",
    "Wprime:coup2WZ = 1.",
    "34:onMode = off",
    "34:onIfAny = 23 24",
    "24:m0 = 500.0",
    "24:mMin = 50.0",
    "24:mMax = 1000.0",
    "23:m0 = 100.0",
    "23:mMin = 20.0",
    "23:mMax = 200.0",
    "PartonLevel:MPI = off",
}


def test_qcd_card():
    s = QCDConfig().pythia_settings()
    assert COMMON <= set(s)
    # MPI off by default: the LHCO samples have no MPI (objects per event match only then)
    assert {"HardQCD:all = on", "PhaseSpace:pTHatMin = 1000.0", "PartonLevel:MPI = off"} <= set(s)
    assert "PartonLevel:MPI = on" in get_process("qcd", mpi=True).pythia_settings()
    assert "PhaseSpace:pTHatMin = 500.0" in get_process("qcd", pthatmin=500.0).pythia_settings()


def test_wprime_2prong_card_is_the_lhco_card():
    s = set(get_process("wprime-2prong").pythia_settings())
    assert COMMON | WPRIME_CARD <= s
    assert {"24:onMode = off", "24:onIfAny = 1 2 3 4 5"} <= s
    assert {"23:onMode = off", "23:onIfAny = 1 2 3 4 5"} <= s
    assert not any(x.startswith("34:mMin") for x in s)  # LHCO keeps Pythia's default
    cut = get_process("wprime-2prong", wprime_mass_min=2500.0)
    assert "34:mMin = 2500.0" in cut.pythia_settings()


def test_wprime_3prong_card_and_charge_conservation():
    cfg = get_process("wprime-3prong")
    s = cfg.pythia_settings()
    assert COMMON | WPRIME_CARD <= set(s)
    channels = {x.split(":")[0]: x.split("=")[1].split() for x in s if "oneChannel" in x}
    assert set(channels) == {"23", "24"}
    pd = make_pythia(["Print:quiet = on"], 1, init=False).particleData
    for res, ch in channels.items():
        onmode, br, memode, *products = ch
        assert (onmode, float(br), memode) == ("1", 1.0, "101")
        assert len(products) == 3 and all(1 <= abs(int(q)) <= 5 for q in products)
        total = sum(pd.charge(int(q)) for q in products)
        assert total == pytest.approx(pd.charge(int(res)))  # W+ -> +1, Z -> 0
    assert cfg.prongs == 3 and get_process("wprime-2prong").prongs == 2


def test_masses_configurable_and_windows_scale():
    cfg = get_process("wprime-3prong", m_wprime=3000.0, m_x=300.0, m_y=80.0)
    s = cfg.pythia_settings()
    assert {"34:m0 = 3000.0", "24:m0 = 300.0", "23:m0 = 80.0"} <= set(s)
    assert cfg.x_mass_window == (30.0, 600.0)
    assert cfg.y_mass_window == (16.0, 160.0)
    all_lines = get_process("qcd").pythia_settings() + s
    pythia = make_pythia(all_lines, 1, init=False)  # Pythia accepts every line
    assert pythia.particleData.m0(24) == 300.0


@pytest.mark.parametrize(
    ("name", "kw", "match"),
    [
        ("wprime-2prong", {"m_x": 3000.0, "m_y": 600.0}, "below m_wprime"),
        ("wprime-2prong", {"m_y": -5.0}, "m_y must be a positive"),
        ("wprime-2prong", {"x_mass_min": 600.0}, "x_mass_min < mass"),
        ("qcd", {"pthatmin": 0.0}, "pthatmin must be a positive"),
        ("qcd", {"m_x": 300.0}, "unknown key 'm_x'"),
        ("zprime", {}, "unknown process 'zprime'"),
    ],
)
def test_bad_configs_are_refused(name, kw, match):
    with pytest.raises(ConfigError, match=match):
        get_process(name, **kw)


def test_unknown_pythia_setting_is_refused():
    with pytest.raises(ConfigError, match="does not accept"):
        make_pythia([*QCDConfig(extra=["HardQCD:alll = on"]).pythia_settings()], 1, init=False)


def test_yaml_round_trip(tmp_path):
    import yaml

    cfg = WprimeConfig(process="wprime-3prong", m_x=400.0, extra=["24:mWidth = 5."])
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(process_to_dict(cfg)))
    assert load_process(f) == cfg
    assert load_process(f, m_y=90.0).m_y == 90.0
    f.write_text("process: qcd\npthatmin: 800\nbogus: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        load_process(f)
    f.write_text("pthatmin: 800\n")
    with pytest.raises(ConfigError, match="unknown process None"):
        load_process(f)
