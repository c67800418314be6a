"""What `l1forge data jets` simulates: presets, single-setting options, their errors, cache keys."""
import subprocess
import sys
from dataclasses import replace

import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.models.data.jets import PRESETS, JetSettings, cache_key, jet_settings


def test_presets():
    assert jet_settings() == PRESETS["public"] == JetSettings()
    assert PRESETS["public"].to_dict() == {"pt_hat": [990.0, 1010.0], "jet_pt": [800.0, 1600.0], "cone": 0.0,
                                           "min_particle_pt": 0.0, "bw_cutoff": 15.0, "boson_decays": "isotropic",
                                           "detector": "cms", "radius": 0.4, "isr": False, "mpi": False}
    assert PRESETS["v3"].to_dict() == {"pt_hat": [990.0, 1010.0], "jet_pt": [800.0, 1600.0], "cone": 0.4,
                                       "min_particle_pt": 0.4, "bw_cutoff": 15.0, "boson_decays": "isotropic",
                                       "detector": "none", "radius": 0.8, "isr": True, "mpi": True}
    assert PRESETS["v1"].to_dict() == {"pt_hat": [900.0, 1300.0], "jet_pt": [800.0, 1200.0], "cone": 0.0,
                                       "min_particle_pt": 1.0, "bw_cutoff": 0.0, "boson_decays": "correlated",
                                       "detector": "none", "radius": 0.8, "isr": True, "mpi": True}


def test_options_change_one_setting_of_a_preset():
    s = jet_settings("v1", cone=0.4, pt_hat="950, 1050")
    assert s == replace(PRESETS["v1"], pt_hat=(950.0, 1050.0), cone=0.4)
    assert jet_settings(boson_decays="correlated", bw_cutoff=10) == JetSettings(bw_cutoff=10.0, boson_decays="correlated")
    assert jet_settings(detector="none", radius=0.6) == JetSettings(detector="none", radius=0.6)
    assert jet_settings("v3", isr=False, mpi=False) == replace(PRESETS["v3"], isr=False, mpi=False)


@pytest.mark.parametrize("kwargs,message", [
    ({"preset": "delphes"}, "unknown --preset 'delphes'; choose one of public, v3, v1"),
    ({"pt_hat": "1000"}, "--pt-hat must be two numbers LOW,HIGH in GeV, got '1000'"),
    ({"jet_pt": "1600,800"}, "--jet-pt must be LOW,HIGH with 0 <= LOW < HIGH, got 1600,800"),
    ({"cone": 0.9}, "--cone must be between 0 (the whole jet) and 0.8, got 0.9"),
    ({"min_particle_pt": -1.0}, "--min-particle-pt must be >= 0, got -1"),
    ({"bw_cutoff": -2.0}, "--bw-cutoff must be >= 0 (0: Pythia's own mass range), got -2"),
    ({"boson_decays": "polarised"}, "--boson-decays must be one of isotropic, correlated, got 'polarised'"),
    ({"detector": "delphes"}, "--detector must be one of none, cms, got 'delphes'"),
    ({"radius": 0.05}, "--radius must be between 0.1 and 1.5, got 0.05"),
])
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(L1ForgeError) as err:
        jet_settings(**kwargs)
    assert str(err.value) == message


def test_cache_key_depends_on_every_setting():
    keys = {cache_key(100, 0, s) for s in (JetSettings(), PRESETS["v1"], JetSettings(cone=0.3),
                                           JetSettings(min_particle_pt=0.5), JetSettings(pt_hat=(900.0, 1100.0)),
                                           JetSettings(jet_pt=(700.0, 1600.0)), JetSettings(bw_cutoff=0.0),
                                           JetSettings(boson_decays="correlated"), JetSettings(detector="none"),
                                           JetSettings(radius=0.8), PRESETS["v3"], JetSettings(isr=True),
                                           JetSettings(mpi=True))}
    assert len(keys) == 13


def test_cli_refuses_a_bad_option_in_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "l1forge", "data", "jets", "--out", str(tmp_path / "j.h5"),
                          "--cone", "1.5"], capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: --cone must be between 0 (the whole jet) and 0.8, got 1.5"
    assert list(tmp_path.iterdir()) == []
