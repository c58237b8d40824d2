"""Parse a Dell Repository Manager ``Catalog.xml`` (REDFISH.md §3.1) into packages.

The catalog comes from a share an operator points at; it is outside data. It is parsed incrementally with
the standard library's expat (a 30 MB UTF-16 catalog never sits in memory as one string, nor as a tree),
any DOCTYPE is refused (no entity can expand, no external resource is fetched), gzip is inflated with a
cap, and only the elements DSM uses are kept: a malformed catalog is an error that says where, never a
partial list.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO, NamedTuple
from xml.parsers import expat

MAX_CATALOG_BYTES = 512 * 1024 * 1024
"""Inflated size at which a catalog is refused (Dell's full catalog is about 30 MB in UTF-16)."""
CHUNK = 1 << 20
CRITICALITY = {"0": "Optional", "1": "Recommended", "2": "Urgent", "3": "Optional"}
CRITICALITY_RANK = {"Urgent": 3, "Recommended": 2, "Optional": 1}
_HEX = re.compile(r"^(?:0[xX])?([0-9A-Fa-f]{1,8})$")


class CatalogError(ValueError):
    """The catalog cannot be used; the message names the problem and where it is."""


class PciIds(NamedTuple):
    """Upper-case hex, 4 digits (a tuple: it keys the compliance index, hashed 250,000 times per fleet)."""

    vendor: str
    device: str
    subvendor: str = ""
    subdevice: str = ""


@dataclass(frozen=True, slots=True)
class SupportedDevice:
    component_id: str
    pci: tuple[PciIds, ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogPackage:
    package_id: str
    name: str
    component_type: str  # FRMW, BIOS, APAC, DRVR
    criticality: str  # Urgent, Recommended, Optional
    vendor_version: str
    dell_version: str
    release_date: date | None
    path: str
    size: int | None
    hash_md5: str | None
    hash_sha256: str | None
    reboot_required: bool
    package_type: str
    systems: tuple[str, ...]  # Model systemID, 4 upper-case hex digits ("090E")
    models: tuple[str, ...]  # Model Display ("R750"), for servers whose SystemID is not known
    devices: tuple[SupportedDevice, ...]

    @property
    def file_name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass
class Catalog:
    version: str | None = None
    release_id: str | None = None
    date_time: str | None = None
    base_location: str | None = None
    packages: list[CatalogPackage] = field(default_factory=list)


def normalize_hex(value: str | int | None, width: int = 4) -> str:
    """PCI and system ids as iDRACs and catalogs spell them differently: ``0x14e4``, ``14E4``, ``5348`` (decimal
    from an int) all become upper-case hex padded to ``width``; anything else is ``""``."""
    if value is None:
        return ""
    if isinstance(value, int):
        return format(value, f"0{width}X") if value >= 0 else ""
    m = _HEX.match(value.strip())
    return m.group(1).upper().zfill(width) if m else ""


def _release_date(text: str | None, stamp: str | None) -> date | None:
    for candidate, fmt in ((text, "%B %d, %Y"), (text, "%b %d, %Y")):
        if candidate:
            try:
                return datetime.strptime(candidate.strip(), fmt).date()
            except ValueError:
                pass
    if stamp:
        try:
            return datetime.fromisoformat(stamp.strip()[:19]).date()
        except ValueError:
            return None
    return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


class _Builder:
    """Expat callbacks: a small state machine over the elements DSM keeps."""

    def __init__(self) -> None:
        self.catalog = Catalog()
        self.stack: list[str] = []
        self.pkg: dict[str, str] | None = None
        self.name: str | None = None
        self.ctype = ""
        self.crit_value = ""
        self.crit_display: str | None = None
        self.systems: list[str] = []
        self.models: list[str] = []
        self.devices: list[SupportedDevice] = []
        self.device: tuple[str, list[PciIds]] | None = None
        self.text: list[str] | None = None
        self.text_for = ""
        self.root_seen = False
        self.intern: dict[str, str] = {}

    def _i(self, s: str) -> str:
        return self.intern.setdefault(s, s)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        stack = self.stack
        parent = stack[-1] if stack else None
        stack.append(tag)
        if not self.root_seen:
            self.root_seen = True
            if tag != "Manifest":
                raise CatalogError(f"the root element is <{tag[:40]}>, not <Manifest>: this is not a Dell catalog")
            c = self.catalog
            c.version, c.release_id = attrs.get("version"), attrs.get("releaseID")
            c.date_time, c.base_location = attrs.get("dateTime"), attrs.get("baseLocation")
            return
        if tag == "SoftwareComponent" and parent == "Manifest":
            self.pkg = dict(attrs)
            self.name, self.ctype, self.crit_value, self.crit_display = None, "", "", None
            self.systems, self.models, self.devices, self.device = [], [], [], None
            return
        if self.pkg is None:
            return
        if tag == "Display" and self.text is None:
            if parent == "Name" and len(stack) == 4 and self.name is None and attrs.get("lang", "en") == "en":
                self.text, self.text_for = [], "name"
            elif parent == "Model" and "SupportedSystems" in stack:
                self.text, self.text_for = [], "model"
            elif parent == "Criticality":
                self.text, self.text_for = [], "crit"
        elif tag == "ComponentType" and parent == "SoftwareComponent":
            self.ctype = attrs.get("value", "")
        elif tag == "Criticality" and parent == "SoftwareComponent":
            self.crit_value = attrs.get("value", "")
        elif tag == "Device" and parent == "SupportedDevices":
            self.device = (attrs.get("componentID", "").strip(), [])
        elif tag == "PCIInfo" and parent == "Device" and self.device is not None:
            self.device[1].append(
                PciIds(
                    self._i(normalize_hex(attrs.get("vendorID"))),
                    self._i(normalize_hex(attrs.get("deviceID"))),
                    self._i(normalize_hex(attrs.get("subVendorID"))),
                    self._i(normalize_hex(attrs.get("subDeviceID"))),
                )
            )
        elif tag == "Model" and "SupportedSystems" in stack:
            sid = normalize_hex(attrs.get("systemID"))
            if sid:
                self.systems.append(self._i(sid))

    def end(self, tag: str) -> None:
        self.stack.pop()
        if self.pkg is None:
            return
        if tag == "Display" and self.text is not None:
            text = "".join(self.text).strip()
            if self.text_for == "name":
                self.name = text
            elif self.text_for == "model" and text:
                self.models.append(self._i(text))
            elif self.text_for == "crit":
                self.crit_display = text
            self.text = None
        elif tag == "Device" and self.device is not None:
            cid, pci = self.device
            self.devices.append(SupportedDevice(self._i(cid), tuple(pci)))
            self.device = None
        elif tag == "SoftwareComponent" and len(self.stack) == 1:
            self._finish()

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def _finish(self) -> None:
        a = self.pkg
        assert a is not None
        self.pkg = None
        version = (a.get("vendorVersion") or "").strip()
        path = (a.get("path") or "").strip()
        if not version or not path:
            return  # a component without a version or a file cannot be compared or installed
        display = (self.crit_display or "").strip().capitalize()
        criticality = display if display in CRITICALITY_RANK else CRITICALITY.get(self.crit_value.strip(), "Optional")
        self.catalog.packages.append(
            CatalogPackage(
                package_id=(a.get("packageID") or a.get("releaseID") or "").strip(),
                name=self.name or path.rsplit("/", 1)[-1],
                component_type=self._i(self.ctype.strip().upper() or "FRMW"),
                criticality=criticality,
                vendor_version=version,
                dell_version=(a.get("dellVersion") or "").strip(),
                release_date=_release_date(a.get("releaseDate"), a.get("dateTime")),
                path=path,
                size=_int(a.get("size")),
                hash_md5=(a.get("hashMD5") or "").strip().lower() or None,
                hash_sha256=(a.get("hashSHA256") or "").strip().lower() or None,
                reboot_required=(a.get("rebootRequired") or "").strip().lower() == "true",
                package_type=self._i((a.get("packageType") or "").strip()),
                systems=tuple(dict.fromkeys(self.systems)),
                models=tuple(dict.fromkeys(self.models)),
                devices=tuple(self.devices),
            )
        )


def _refuse_doctype(*_: object) -> None:
    raise CatalogError("the catalog declares a DOCTYPE; DSM refuses DTDs and entity expansion in catalogs")


def _inflated(stream: BinaryIO, max_bytes: int) -> Iterator[bytes]:
    """The catalog's bytes, inflated if gzip, refused past ``max_bytes``."""
    first = stream.read(CHUNK)
    gz = first[:2] == b"\x1f\x8b"
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
    total = 0
    data = first
    while data:
        if inflate is not None:
            pending = data
            while pending:
                out = inflate.decompress(pending, CHUNK)
                total += len(out)
                if total > max_bytes:
                    raise _too_big(max_bytes)
                yield out
                pending = inflate.unconsumed_tail
                if inflate.eof and inflate.unused_data:  # another gzip member follows
                    pending = inflate.unused_data
                    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            total += len(data)
            if total > max_bytes:
                raise _too_big(max_bytes)
            yield data
        data = stream.read(CHUNK)
    if inflate is not None and not inflate.eof:
        raise CatalogError("the gzip catalog is truncated")


def _too_big(max_bytes: int) -> CatalogError:
    return CatalogError(f"the catalog is larger than {max_bytes // (1024 * 1024)} MiB inflated; "
                        "point the repository at a Dell Repository Manager catalog")


def parse_catalog(source: bytes | BinaryIO, *, max_bytes: int = MAX_CATALOG_BYTES) -> Catalog:
    """The packages of a catalog given as bytes or a binary stream (plain or gzip; UTF-16 with BOM or UTF-8)."""
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    builder = _Builder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.chars
    try:
        for chunk in _inflated(stream, max_bytes):
            if chunk:
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise CatalogError(
            f"the catalog is not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, "
            f"column {exc.offset}"
        ) from None
    except (OSError, zlib.error) as exc:
        raise CatalogError(f"the catalog could not be read: {exc}") from None
    except LookupError as exc:  # expat asks codecs for the encoding the XML declaration names
        raise CatalogError(f"the catalog declares an encoding Python does not know ({exc}); Dell catalogs are "
                           "UTF-16 or UTF-8") from None
    except (UnicodeError, ValueError) as exc:
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(f"the catalog could not be decoded: {exc}") from None
    if not builder.root_seen:
        raise CatalogError("the catalog is empty")
    return builder.catalog
