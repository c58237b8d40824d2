"""The pure parts of configuration jobs: the BIOS registry and value validator, drift, the SCP profile parser
and editor, an import's per-attribute results. Real data first (every capture's registry and values),
then hypothesis: no input crashes them, and every refusal names the attribute and what to give instead."""

from __future__ import annotations

import json
import string
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsm_core.redfish.bios import coerce_value, compact_registry, validate_attributes
from dsm_core.redfish.scp import ProfileError, attribute_results, edit_profile, parse_profile
from dsm_core.services.configuration_rules import drift_between
from tests.conftest import SHARED

MOCKUPS = SHARED / "testbeds" / "mockups"
CAPTURES = sorted(p for p in MOCKUPS.iterdir() if (p / "redfish/v1/Systems/System.Embedded.1/Bios").exists())


def _read(root: Path, path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "redfish/v1" / path / "index.json").read_text())
    return data


# --- real registries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", CAPTURES, ids=[c.name for c in CAPTURES])
def test_a_real_registry_compacts_and_accepts_the_values_the_idrac_holds(root: Path) -> None:
    raw = _read(root, "Systems/System.Embedded.1/Bios/BiosRegistry")
    registry = compact_registry(raw)
    listed = [e for e in raw["RegistryEntries"]["Attributes"] if e.get("Type") in
              ("Enumeration", "String", "Integer", "Boolean", "Password")]
    assert len(registry) == len({e["AttributeName"] for e in listed})
    assert len(json.dumps(registry)) < len(json.dumps(raw)) / 4  # help texts and menus dropped
    current = _read(root, "Systems/System.Embedded.1/Bios")["Attributes"]
    checked = 0
    for name, value in current.items():
        rule = registry.get(name)
        if rule is None or rule["ro"] or rule["t"] == "Password" or value is None:
            continue
        typed, problem = coerce_value(name, rule, value)
        if rule["t"] == "String" and any(w in name.lower() for w in ("secret", "password")):
            # a CHAP secret, a password hash: never set through DSM
            assert problem is not None and "secret" in problem.problem
            continue
        assert problem is None, (name, value, rule, problem)
        assert typed == value
        checked += 1
    assert checked > 50  # the writable attributes of a real server validate as they stand
    enums = [n for n, r in registry.items() if r["t"] == "Enumeration" and not r["ro"] and len(r["v"]) > 1]
    name = enums[0]
    _, problems = validate_attributes(registry, {name: "NotAValue"})
    assert problems[0].attribute == name and registry[name]["v"][0] in problems[0].fix


def test_each_refusal_names_the_attribute_and_the_fix() -> None:
    registry = compact_registry({"RegistryEntries": {"Attributes": [
        {"AttributeName": "ProcVirtualization", "Type": "Enumeration", "ReadOnly": False,
         "Value": [{"ValueName": "Enabled"}, {"ValueName": "Disabled"}]},
        {"AttributeName": "AcPwrRcvryUserDelay", "Type": "Integer", "LowerBound": 60, "UpperBound": 600,
         "ScalarIncrement": 30},
        {"AttributeName": "SystemServiceTag", "Type": "String", "ReadOnly": True},
        {"AttributeName": "AssetTag", "Type": "String", "MaxLength": 10},
        {"AttributeName": "SetupPassword", "Type": "Password"},
        {"AttributeName": "IscsiDev1Con1ChapSecret", "Type": "String", "MinLength": 12, "MaxLength": 16},
        {"AttributeName": "OsWatchdogTimer", "Type": "Boolean"},
    ]}})
    cases = {
        "ProcVirtualization": ("Maybe", "not an allowed value", "Enabled, Disabled"),
        "AcPwrRcvryUserDelay": ("soon", "takes an integer", "60 to 600"),
        "SystemServiceTag": ("X", "read-only", "leave it out"),
        "AssetTag": ("x" * 11, "11 characters", "0 to 10"),
        "SetupPassword": ("secret", "BIOS password", "racadm"),
        "IscsiDev1Con1ChapSecret": ("0123456789abcdef", "secret", "racadm"),
        "OsWatchdogTimer": ("perhaps", "true or false", "true or false"),
        "ProcVirtualizatio": ("Enabled", "not an attribute", "dsm bios show"),
        "procvirtualization": ("Enabled", "not an attribute", "did you mean ProcVirtualization"),
    }
    for name, (value, problem, fix) in cases.items():
        typed, problems = validate_attributes(registry, {name: value})
        assert not typed and len(problems) == 1, name
        assert problems[0].attribute == name and problem in problems[0].problem and fix in problems[0].fix, \
            (name, problems[0])
    assert validate_attributes(registry, {"AcPwrRcvryUserDelay": "75"})[1][0].problem == "75 is not a step of 30 " \
                                                                                          "from 60"
    typed, problems = validate_attributes(registry, {"AcPwrRcvryUserDelay": "90", "OsWatchdogTimer": "TRUE",
                                                     "ProcVirtualization": "Disabled"})
    assert not problems and typed == {"AcPwrRcvryUserDelay": 90, "OsWatchdogTimer": True,
                                      "ProcVirtualization": "Disabled"}


def test_drift_ignores_read_only_and_missing_attributes() -> None:
    registry = {"SystemServiceTag": {"t": "String", "ro": True}, "NumLock": {"t": "Enumeration", "ro": False}}
    baseline = {"SystemServiceTag": "AAA", "NumLock": "On", "MemTest": "Disabled", "Gone": "x",
                "AcPwrRcvryUserDelay": 120}
    current = {"SystemServiceTag": "BBB", "NumLock": "Off", "MemTest": "Disabled", "AcPwrRcvryUserDelay": "120"}
    assert drift_between(baseline, current, registry) == [{"attribute": "NumLock", "baseline": "On",
                                                           "current": "Off"}]


# --- hypothesis: the validator ---------------------------------------------------------------------------------

names = st.text(string.ascii_letters + string.digits + "._#", min_size=1, max_size=20)
values = st.one_of(st.text(max_size=40), st.integers(-10**12, 10**12), st.booleans(), st.none(), st.floats(),
                   st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
raw_entries = st.lists(st.fixed_dictionaries({"AttributeName": st.one_of(names, st.integers(), st.none()),
                                              "Type": st.sampled_from(["Enumeration", "String", "Integer", "Boolean",
                                                                       "Password", "Bogus", None])},
                                             optional={"ReadOnly": st.one_of(st.booleans(), st.text(max_size=3)),
                                                       "Value": st.one_of(st.lists(st.fixed_dictionaries(
                                                           {"ValueName": st.one_of(st.text(max_size=10),
                                                                                   st.integers())})), st.text()),
                                                       "LowerBound": st.one_of(st.integers(-100, 100), st.text()),
                                                       "UpperBound": st.one_of(st.integers(-100, 1000), st.none()),
                                                       "ScalarIncrement": st.integers(0, 10),
                                                       "MaxLength": st.integers(0, 50),
                                                       "MinLength": st.integers(0, 5)}),
                       max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_entries, st.dictionaries(names, values, max_size=8))
def test_fuzz_the_validator_never_crashes_and_names_every_refusal(entries: list[Any], attrs: dict[str, Any]) -> None:
    registry = compact_registry({"RegistryEntries": {"Attributes": entries}})
    typed, problems = validate_attributes(registry, attrs)
    assert set(typed) | {p.attribute for p in problems} == set(attrs)
    assert not set(typed) & {p.attribute for p in problems}
    for p in problems:
        assert p.problem and p.fix and p.attribute in str(p)
    for name, value in typed.items():
        rule = registry[name]
        assert not rule["ro"] and rule["t"] != "Password"
        if rule["t"] == "Integer":
            assert isinstance(value, int) and not isinstance(value, bool)
        if rule["t"] == "Enumeration":
            assert value in rule["v"]


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=30))
def test_fuzz_a_registry_of_any_shape_compacts_or_is_empty(data: Any) -> None:
    registry = compact_registry(data if isinstance(data, dict) else {"RegistryEntries": {"Attributes": data}})
    assert isinstance(registry, dict)
    for rule in registry.values():
        assert rule["t"] in ("Enumeration", "String", "Integer", "Boolean", "Password")


# --- SCP profiles ------------------------------------------------------------------------------------------------

attr_names = st.text(string.ascii_letters + string.digits + "#._", min_size=1, max_size=24)
attr_values = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
fqdds = st.text(string.ascii_letters + string.digits + ".-", min_size=1, max_size=24)
profiles = st.dictionaries(fqdds, st.dictionaries(attr_names, attr_values, max_size=6), min_size=1, max_size=5)


def _xml(components: dict[str, dict[str, str]]) -> str:
    root = ET.Element("SystemConfiguration", Model="PowerEdge R750", ServiceTag="SVC0001")
    for fqdd, attrs in components.items():
        comp = ET.SubElement(root, "Component", FQDD=fqdd)
        ET.SubElement(comp, "Attribute", Name="__first").text = "x"
        comp.append(ET.Comment(' <Attribute Name="ReadOnlyThing">y</Attribute> '))
        for name, value in attrs.items():
            ET.SubElement(comp, "Attribute", Name=name).text = value
    return ET.tostring(root, encoding="unicode")


def _json(components: dict[str, dict[str, str]]) -> str:
    return json.dumps({"SystemConfiguration": {"Model": "PowerEdge R750", "ServiceTag": "SVC0001", "Components": [
        {"FQDD": f, "Attributes": [{"Name": "__first", "Value": "x"}, *({"Name": n, "Value": v} for n, v in a.items())]}
        for f, a in components.items()]}})


@settings(max_examples=150, deadline=None)
@given(profiles, st.sampled_from(["XML", "JSON"]))
def test_fuzz_a_generated_profile_round_trips_and_edits(components: dict[str, dict[str, str]], fmt: str) -> None:
    text = _xml(components) if fmt == "XML" else _json(components)
    profile = parse_profile(text)
    assert profile.format == fmt and profile.service_tag == "SVC0001"
    expected = {f: {"__first": "x", **a} for f, a in components.items()}
    if fmt == "XML":  # XML normalises line ends in text
        expected = {f: {n: v.replace("\r\n", "\n").replace("\r", "\n") for n, v in a.items()}
                    for f, a in expected.items()}
    assert profile.components == expected
    fqdd = next(iter(components))
    edited = parse_profile(edit_profile(text, {(fqdd, "__first"): "changed", (fqdd, "Added"): "new"}))
    assert edited.components[fqdd]["__first"] == "changed" and edited.components[fqdd]["Added"] == "new"
    assert {f: a for f, a in edited.components.items() if f != fqdd} == {f: a for f, a in expected.items()
                                                                         if f != fqdd}
    if fmt == "XML":
        assert "ReadOnlyThing" in edit_profile(text, {(fqdd, "__first"): "y"})  # Dell's comments are kept


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_fuzz_random_input_is_a_profile_or_a_profile_error(data: bytes | str) -> None:
    try:
        parse_profile(data)
    except ProfileError as exc:
        assert str(exc)


@settings(max_examples=200, deadline=None)
@given(profiles, st.integers(0, 400), st.binary(min_size=1, max_size=4))
def test_fuzz_a_corrupted_profile_is_an_error_never_a_crash(components: dict[str, dict[str, str]], at: int,
                                                            junk: bytes) -> None:
    data = _xml(components).encode()
    at = at % len(data)
    try:
        parse_profile(data[:at] + junk + data[at + 1:])
    except ProfileError as exc:
        assert str(exc)


@pytest.mark.parametrize(("text", "words"), [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
     '<SystemConfiguration><Component FQDD="B"><Attribute Name="x">&b;</Attribute></Component>'
     '</SystemConfiguration>', "DOCTYPE"),
    ('<!DOCTYPE SystemConfiguration SYSTEM "http://127.0.50.2/x.dtd"><SystemConfiguration/>', "DOCTYPE"),
    ("<html><body>login</body></html>", "<html>"),
    ('<SystemConfiguration><Component><Attribute Name="x">1</Attribute></Component></SystemConfiguration>', "FQDD"),
    ('<SystemConfiguration><Attribute Name="x">1</Attribute></SystemConfiguration>', "outside any"),
    ("<SystemConfiguration><Component FQDD='B'>", "not well-formed"),
    ('{"SystemConfiguration": {"Components": "no"}}', "Components list"),
    ('{"SystemConfiguration": {"Components": [{"Attributes": []}]}}', "no FQDD"),
    ("{" * 5000 + "}" * 5000, "JSON"),
    ("Server Configuration Profile", "neither XML"),
    ("", "empty"),
])
def test_a_bad_profile_is_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(ProfileError, match=words.replace("(", r"\(")):
        parse_profile(text)


def test_editing_a_component_the_profile_lacks_says_which_it_has() -> None:
    with pytest.raises(ProfileError, match=r"has no component NIC\.Slot\.9"):
        edit_profile(_xml({"BIOS.Setup.1-1": {"NumLock": "On"}}), {("NIC.Slot.9", "x"): "1"})


def test_per_attribute_results_of_an_import() -> None:
    task = {"Messages": [
        {"Message": "Successfully imported", "MessageId": "IDRAC.2.8.SYS053"},
        {"Message": "Applied", "MessageId": "IDRAC.2.8.SYS427",
         "Oem": {"Dell": {"FQDD": "BIOS.Setup.1-1", "Name": "NumLock", "OldValue": "On", "NewValue": "Off",
                          "Status": "Success", "ErrCode": 0}}},
        {"Message": "Not a BIOS attribute", "MessageId": "IDRAC.2.8.SYS428",
         "Oem": {"Dell": {"Name": "BogusKnob", "NewValue": "On", "ErrCode": 9999}}},
        {"Oem": {"Dell": {"Name": ["not", "text"]}}}, "junk", {"Oem": "junk"},
    ]}
    results = attribute_results(task)
    assert [(r.attribute, r.status, r.failed) for r in results] == [("NumLock", "Success", False),
                                                                   ("BogusKnob", "Failure", True)]
    assert results[0].component == "BIOS.Setup.1-1" and results[0].old == "On"
    assert attribute_results({"Messages": "nope"}) == [] and attribute_results({}) == []
