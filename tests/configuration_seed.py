"""Stored BIOS reads and SCP backups as the worker would leave them (registry, snapshot, profile), for tests
of the services, the CLI's roles and the console that need them without a simulated fleet."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsm_core.models import BiosConfiguration, BiosRegistry, ScpBackup
from dsm_core.redfish.bios import compact_registry
from dsm_core.services.configuration_rules import recompute_drift

ATTRIBUTES: dict[str, Any] = {"BootMode": "Uefi", "ProcVirtualization": "Enabled", "LogicalProc": "Enabled",
                              "AcPwrRcvryUserDelay": 120, "NumLock": "On", "SystemServiceTag": "SVC0001",
                              "AssetTag": ""}
REGISTRY = {"RegistryEntries": {"Attributes": [
    {"AttributeName": "BootMode", "Type": "Enumeration", "ReadOnly": False,
     "Value": [{"ValueName": "Uefi"}, {"ValueName": "Bios"}]},
    {"AttributeName": "ProcVirtualization", "Type": "Enumeration", "ReadOnly": False,
     "Value": [{"ValueName": "Enabled"}, {"ValueName": "Disabled"}]},
    {"AttributeName": "LogicalProc", "Type": "Enumeration", "ReadOnly": False,
     "Value": [{"ValueName": "Enabled"}, {"ValueName": "Disabled"}]},
    {"AttributeName": "AcPwrRcvryUserDelay", "Type": "Integer", "ReadOnly": False, "LowerBound": 60,
     "UpperBound": 600, "ScalarIncrement": 1},
    {"AttributeName": "NumLock", "Type": "Enumeration", "ReadOnly": False,
     "Value": [{"ValueName": "On"}, {"ValueName": "Off"}]},
    {"AttributeName": "SystemServiceTag", "Type": "String", "ReadOnly": True, "MaxLength": 7},
    {"AttributeName": "AssetTag", "Type": "String", "ReadOnly": False, "MaxLength": 10, "MinLength": 0},
]}}
PROFILE = ('<SystemConfiguration Model="PowerEdge R750" ServiceTag="SVC0001" TimeStamp="Tue Dec 01 02:00:00 2026">'
           '<Component FQDD="BIOS.Setup.1-1"><Attribute Name="ProcVirtualization">Enabled</Attribute>'
           '<Attribute Name="NumLock">On</Attribute></Component></SystemConfiguration>')


def seed_bios(engine: Engine, server_id: uuid.UUID | str, **changes: Any) -> str:
    """A registry and a BIOS read of ``server_id`` (``changes`` over the defaults); drift recomputed."""
    sid = uuid.UUID(str(server_id))
    with Session(engine) as s:
        if s.exec(select(BiosRegistry).where(BiosRegistry.server_id == sid)).first() is None:
            s.add(BiosRegistry(server_id=sid, registry_version="1.0.3", entries=compact_registry(REGISTRY)))
        snap = BiosConfiguration(server_id=sid, snapshot_type="current", bios_version="1.13.2",
                                 attributes={**ATTRIBUTES, **changes})
        s.add(snap)
        s.flush()
        recompute_drift(s, [sid])
        s.commit()
        return str(snap.id)


def seed_backup(engine: Engine, server_id: uuid.UUID | str, name: str = "before change") -> str:
    with Session(engine) as s:
        backup = ScpBackup(server_id=uuid.UUID(str(server_id)), backup_name=name, profile_text=PROFILE,
                           scp_file_size_bytes=len(PROFILE.encode()),
                           checksum=hashlib.sha256(PROFILE.encode()).hexdigest(), export_format="XML",
                           scp_content={"format": "XML", "components": {"BIOS.Setup.1-1": 2}})
        s.add(backup)
        s.commit()
        return str(backup.id)
