"""Catalog parsing and Dell version ordering: DRM-shaped catalogs in UTF-16 and UTF-8, plain and gzipped, and
fuzzing (no crash, clear errors, no entity expansion, a total order)."""

from __future__ import annotations

import gzip
import io
import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsm_core.firmware.catalog import CatalogError, PciIds, parse_catalog
from dsm_core.firmware.versions import compare_versions, version_key
from dsm_sim.repository import Pkg, catalog_bytes

PACKAGES = [
    Pkg("0T7N6", "BIOS", "1.13.2", "FOLDER01/1/BIOS_0T7N6_WN64_1.13.2.EXE", ("159",), component_type="BIOS",
        criticality="2", reboot=True),
    Pkg("9GFV7", "Broadcom NetXtreme Gigabit Ethernet", "22.00.6", "FOLDER02/1/Network_Firmware_9GFV7_WN64_22.00.6.EXE",
        ("108255",), pci=(("14e4", "165F", "1028", "08FF"),), systems=(("090E", "R750"), ("0A6B", "R660"))),
    Pkg("KT9DN", "Dell Express Flash NVMe", "2.1.8", "FOLDER03/1/Express-Flash-PCIe-SSD_Firmware_KT9DN_WN64_2.1.8.EXE",
        pci=(("1E0F", "0007", "1028", "207E"),), criticality="3"),
]


@pytest.mark.parametrize(("utf16", "gz"), [(True, False), (False, False), (True, True), (False, True)],
                         ids=["utf16-bom", "utf8", "utf16-gz", "utf8-gz"])
def test_a_drm_catalog_parses_in_every_encoding_plain_or_gzipped(utf16: bool, gz: bool) -> None:
    catalog = parse_catalog(catalog_bytes(PACKAGES, utf16=utf16, gz=gz))
    assert catalog.version == "24.05.00" and catalog.release_id == "TESTCAT"
    bios, nic, nvme = catalog.packages
    assert (bios.package_id, bios.name, bios.component_type, bios.criticality) == ("0T7N6", "BIOS", "BIOS", "Urgent")
    assert (bios.vendor_version, bios.dell_version, bios.reboot_required) == ("1.13.2", "A00", True)
    assert bios.path == "FOLDER01/1/BIOS_0T7N6_WN64_1.13.2.EXE" and bios.file_name == "BIOS_0T7N6_WN64_1.13.2.EXE"
    assert (bios.size, bios.hash_md5, bios.release_date) == (1234567, "0123456789abcdef0123456789abcdef",
                                                             date(2024, 5, 27))
    assert bios.systems == ("090E",) and bios.models == ("R750",)
    assert [d.component_id for d in bios.devices] == ["159"]
    assert nic.systems == ("090E", "0A6B")
    # PCI ids come as the catalog spells them (lower or upper case) and are compared upper-case, 4 digits
    assert nic.devices[1].pci == (PciIds("14E4", "165F", "1028", "08FF"),)
    assert nvme.devices[0].component_id == "0" and nvme.criticality == "Optional"


def test_a_utf8_catalog_with_a_bom_and_one_read_from_a_stream_parse_too() -> None:
    data = catalog_bytes(PACKAGES, utf16=False)
    assert len(parse_catalog(b"\xef\xbb\xbf" + data).packages) == 3
    assert len(parse_catalog(io.BytesIO(catalog_bytes(PACKAGES))).packages) == 3


@pytest.mark.parametrize(("data", "says"), [
    (b"", "not well-formed"),
    (b"<Manifest><SoftwareComponent>", "not well-formed XML: no element found at line 1"),
    (b"<html><body>404</body></html>", "not <Manifest>"),
    (b"\x1f\x8b\x08\x00garbage", "could not be read|truncated"),
    (gzip.compress(b"<Manifest>", mtime=0)[:-9], "gzip catalog is truncated"),  # mtime 0: the same id on every xdist worker
    (b"\x00\x01\x02\xff\xfe binary", "not well-formed"),
    (b'<?xml version="1.0" encoding="u-f-8"?><Manifest/>', "encoding Python does not know"),
])
def test_a_bad_catalog_is_refused_with_a_reason(data: bytes, says: str) -> None:
    with pytest.raises(CatalogError, match=says):
        parse_catalog(data)


@pytest.mark.parametrize("doc", [
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b"<Manifest>&b;</Manifest>",
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><Manifest>&x;</Manifest>',
    b'<?xml version="1.0"?><!DOCTYPE m SYSTEM "http://127.0.0.1:1/evil.dtd"><Manifest/>',
], ids=["billion-laughs", "external-entity", "external-dtd"])
def test_entity_expansion_and_dtds_are_refused(doc: bytes) -> None:
    with pytest.raises(CatalogError, match="DOCTYPE"):
        parse_catalog(doc)


def test_an_undefined_entity_is_an_error_not_an_expansion() -> None:
    with pytest.raises(CatalogError, match="undefined entity"):
        parse_catalog(b"<Manifest><SoftwareComponent path='&x;'/></Manifest>")


def test_a_catalog_over_the_inflated_cap_is_refused() -> None:
    with pytest.raises(CatalogError, match="larger than"):
        parse_catalog(gzip.compress(catalog_bytes(PACKAGES * 50)), max_bytes=64 * 1024)


def test_a_component_without_a_version_or_path_is_left_out() -> None:
    data = catalog_bytes([Pkg("X", "No version", "", "a/b.EXE", ("1",)), Pkg("Y", "No path", "1.0", "", ("2",)),
                          PACKAGES[0]])
    assert [p.package_id for p in parse_catalog(data).packages] == ["0T7N6"]


# --- fuzzing --------------------------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
pkgs = st.lists(
    st.builds(
        Pkg,
        package_id=st.text("ABCDEFGHJKLMNPRTVWXY0123456789", min_size=5, max_size=5),
        name=text.filter(lambda t: "]]>" not in t and t.strip() == t and t),
        version=st.from_regex(r"[0-9]{1,3}(\.[0-9A-F]{1,4}){0,3}", fullmatch=True),
        path=st.from_regex(r"FOLDER[0-9]{3}/[0-9]/[A-Za-z_]{1,12}_[0-9.]{1,8}\.EXE", fullmatch=True),
        component_ids=st.lists(st.integers(1, 999_999).map(str), max_size=3).map(tuple),
        pci=st.lists(st.tuples(*[st.from_regex(r"[0-9A-F]{4}", fullmatch=True)] * 4), max_size=2).map(tuple),
        criticality=st.sampled_from(["1", "2", "3"]),
        reboot=st.booleans(),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(pkgs, st.booleans(), st.booleans())
def test_fuzz_every_generated_catalog_round_trips(packages: list[Pkg], utf16: bool, gz: bool) -> None:
    parsed = parse_catalog(catalog_bytes(packages, utf16=utf16, gz=gz)).packages
    assert [(p.package_id, p.name, p.vendor_version, p.path, p.reboot_required) for p in parsed] == [
        (p.package_id, p.name, p.version, p.path, p.reboot) for p in packages]
    for got, want in zip(parsed, packages, strict=True):
        assert [d.component_id for d in got.devices if d.component_id != "0"] == list(want.component_ids)
        assert [d.pci[0] for d in got.devices if d.pci] == [PciIds(*q) for q in want.pci]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        parse_catalog(data)
    except CatalogError as exc:
        assert str(exc)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 3000), st.binary(min_size=1, max_size=8))
def test_fuzz_a_corrupted_catalog_is_an_error_or_a_catalog_never_a_crash(at: int, junk: bytes) -> None:
    data = bytearray(catalog_bytes(PACKAGES, utf16=False))
    at = at % len(data)
    data[at:at + len(junk)] = junk
    try:
        parse_catalog(bytes(data))
    except CatalogError as exc:
        assert str(exc)


# --- versions ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("newer", "older"), [
    ("22.00.6", "21.85.21"), ("1.15.2", "1.13.2"), ("4301A70", "4301A56"), ("00.1D.9C", "00.1D.9B"),
    ("2.10.0", "2.9.9"), ("6.10.30.00", "6.00.30.00"), ("52.26.0-5179", "52.16.1-4405"), ("1.0.10", "1.0.9"),
    ("MA8F", "MA8E"), ("25.5.9.0001", "25.5.9"),
])
def test_dell_versions_order_as_dell_means(newer: str, older: str) -> None:
    assert compare_versions(newer, older) == 1 and compare_versions(older, newer) == -1


def test_the_same_firmware_spelled_twice_is_equal() -> None:
    assert compare_versions("1.0", "1.00") == 0 and compare_versions("00.2a.2b", "00.2A.2B") == 0


versions = st.from_regex(r"[0-9A-Za-z]{1,4}([.\-_][0-9A-Za-z]{1,4}){0,4}", fullmatch=True) | text


@settings(max_examples=300, deadline=None)
@given(versions, versions, versions)
def test_fuzz_version_comparison_is_a_total_order(a: str, b: str, c: str) -> None:
    ab, ba = compare_versions(a, b), compare_versions(b, a)
    assert ab == -ba  # antisymmetric
    assert compare_versions(a, a) == 0  # reflexive
    assert (ab == 0) == (version_key(a) == version_key(b))
    if ab <= 0 and compare_versions(b, c) <= 0:
        assert compare_versions(a, c) <= 0  # transitive
    ordered = sorted([a, b, c], key=version_key)
    assert all(compare_versions(x, y) <= 0 for x, y in itertools.pairwise(ordered))
