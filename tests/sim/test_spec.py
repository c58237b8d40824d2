"""Fleet specs: deterministic, loopback only, and bad input refused with the field and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dsm_sim.spec import FleetSpec, SpecError, load_fleet_toml


def test_seeded_tags_are_deterministic_and_unique() -> None:
    a = [s.service_tag for s in FleetSpec(count=200, seed=7).servers()]
    assert a == [s.service_tag for s in FleetSpec(count=200, seed=7).servers()]
    assert a != [s.service_tag for s in FleetSpec(count=200, seed=8).servers()]
    assert len(set(a)) == 200 and all(len(t) == 7 and t.isalnum() and t.isupper() for t in a)


def test_vcsim_tag_scheme_and_consecutive_addresses() -> None:
    servers = FleetSpec(count=300, start="127.0.10.250", tag_scheme="vcsim").servers()
    assert [s.service_tag for s in servers[:3]] == ["VCS0000", "VCS0001", "VCS0002"]
    assert [s.address for s in servers[5:8]] == ["127.0.10.255", "127.0.11.0", "127.0.11.1"]


def test_models_cycle_and_faults_apply() -> None:
    spec = FleetSpec(count=4, models=("R630", "R760"), health_faults={"127.0.10.2:8443": ("psu",), "3": ("disk",)})
    servers = spec.servers()
    assert [s.hardware.idrac_generation for s in servers] == [8, 9, 8, 9]
    assert [sorted(s.health_faults) for s in servers] == [[], ["psu"], [], ["disk"]]


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"start": "10.0.0.1"}, "only loopback"),
    ({"start": "127.255.255.250", "count": 10}, "leaves 127.0.0.0/8"),
    ({"models": ("R9999",)}, "not simulated"),
    ({"health_faults": {"1": ("smoke",)}}, "choose from"),
    ({"count": 0}, "1 to 20000"),
])
def test_bad_specs_are_refused(kwargs: dict, text: str) -> None:
    with pytest.raises(SpecError, match=text):
        FleetSpec(**kwargs).validate()


def test_toml_spec(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('count = 4\nmodels = ["R750", "R660"]\ntime_scale = 60.0\n[health_faults]\n"2" = ["fan"]\n'
                    '[firmware]\nR750 = "5.10.50.00"\n')
    spec = load_fleet_toml(path)
    servers = spec.servers()
    assert spec.time_scale == 60.0 and sorted(servers[2].health_faults) == ["fan"]
    assert servers[0].idrac_firmware == "5.10.50.00"
    path.write_text("cuont = 4\n")
    with pytest.raises(SpecError, match="unknown key"):
        load_fleet_toml(path)


def test_cli_refuses_bad_flags_with_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "dsm_sim", "--start", "192.168.1.10"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "loopback" in proc.stderr


def test_faults_at_start_from_flags() -> None:
    from dsm_sim.cli import build_parser, spec_from_args
    from dsm_sim.fleet import Fleet

    args = build_parser().parse_args(["--count", "3", "--inject", "all:latency_ms=50,jitter_ms=10",
                                      "--inject", "127.0.10.2:8443:error_503_rate=0.5,job_failure=true"])
    fleet = Fleet(spec_from_args(args))
    faults = [i.faults.as_dict() for i in fleet.idracs]
    assert [f["latency_ms"] for f in faults] == [50.0, 50.0, 50.0]
    assert [f["error_503_rate"] for f in faults] == [0.0, 0.5, 0.0] and faults[1]["job_failure"] is True
    with pytest.raises(SpecError, match="choose from"):
        FleetSpec(faults={"all": {"explode": 1}}).validate()


def test_cli_refuses_a_bad_fault_value() -> None:
    proc = subprocess.run([sys.executable, "-m", "dsm_sim", "--count", "1", "--inject", "all:latency_ms=fast"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "latency_ms" in proc.stderr and "Traceback" not in proc.stderr
