"""What each job type targets and which details it takes, checked when the job is created.

A bad job is refused, never queued (DESIGN.md §3): the worker must never be the first to find out that a
power action has no ResetType or that a discovery range is not a range. Each type declares its target
rule and a pydantic model of its details (unknown keys refused).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from dsm_core.netaddr import AddressError, parse_cidr, parse_ip
from dsm_core.urls import refuse_credentials

TargetRule = Literal["none", "servers", "one_server", "clusters", "groups", "one_cluster_or_group",
                     "servers_or_address"]
MAX_DISCOVERY_ADDRESSES = 65_536


class _Details(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoDetails(_Details):
    pass


def parse_address_spec(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A discovery target: CIDR, single address, or first-last range of IPv4 addresses."""
    text = text.strip()
    if "-" in text and "/" not in text:
        first_text, last_text = (p.strip() for p in text.split("-", 1))
        first = parse_ip(first_text)
        last = parse_ip(last_text) if "." in last_text or ":" in last_text else None
        if last is None:  # "10.0.0.1-20": last octet only
            last = parse_ip(first_text.rsplit(".", 1)[0] + "." + last_text)
        if first.version != last.version or int(last) < int(first):
            raise AddressError(f'"{text}" is not a range from a lower to a higher address of one family')
        return list(ipaddress.summarize_address_range(first, last))
    return [parse_cidr(text)]


def _idrac_ip(value: str | None) -> str | None:
    """``details.address``: one iDRAC's IP address (not a range)."""
    if value is not None:
        try:
            parse_ip(value)
        except AddressError as exc:
            raise ValueError(f"{exc}; give the iDRAC's IP address") from None
    return value


IdracAddress = Annotated[str | None, AfterValidator(_idrac_ip)]


def count_addresses(specs: list[str]) -> int:
    return sum(net.num_addresses for spec in specs for net in parse_address_spec(spec))


class DiscoveryDetails(_Details):
    ranges: Annotated[list[str], Field(min_length=1)]
    exclude: list[str] = []
    port: Annotated[int, Field(ge=1, le=65535)] = 443
    credential_sets: list[str] = []
    probe_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0

    @field_validator("ranges", "exclude")
    @classmethod
    def _specs(cls, value: list[str]) -> list[str]:
        for spec in value:
            try:
                parse_address_spec(spec)
            except AddressError as exc:
                raise ValueError(f"{exc}; write a CIDR (10.0.0.0/24), an address or a range "
                                 "(10.0.0.1-10.0.0.50)") from None
        return value

    @model_validator(mode="after")
    def _size(self) -> DiscoveryDetails:
        total = count_addresses(self.ranges)
        if total > MAX_DISCOVERY_ADDRESSES:
            raise ValueError(f"ranges cover {total} addresses; split the scan into jobs of at most "
                             f"{MAX_DISCOVERY_ADDRESSES}")
        return self


class TestCredentialsDetails(_Details):
    """``credential_set`` tests that set, not the one resolution would pick; ``address`` tests an iDRAC by
    address (known to the inventory or not) instead of server targets."""

    address: IdracAddress = None
    port: Annotated[int, Field(ge=1, le=65535)] = 443
    credential_set: str | None = None



class PowerDetails(_Details):
    action: Literal["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "PowerCycle"]
    force_after_timeout: bool = False
    timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = 300


class EventLogDetails(_Details):
    logs: list[Literal["sel", "lclog"]] = ["sel", "lclog"]
    max_entries: Annotated[int, Field(ge=1, le=100_000)] = 5000


class BootDetails(_Details):
    """A one-time (or continuous) override to ``target``; a persistent ``boot_order`` (BootOptions ids); the
    persistent ``boot_mode`` through the BIOS (BootMode Uefi/Bios). Order and mode each make a Dell
    configuration job, and an iDRAC takes one pending BIOS job at a time: one of them per job."""

    target: Literal["None", "Pxe", "Cd", "Hdd", "BiosSetup", "UefiShell", "Usb", "Utilities", "UefiTarget",
                    "SDCard", "Floppy", "Diags", "UefiHttp"] | None = None
    enabled: Literal["Disabled", "Once", "Continuous"] = "Once"
    mode: Literal["UEFI", "Legacy"] | None = None
    uefi_target: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    boot_order: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1,
                                                                                          max_length=256)] | None = None
    boot_mode: Literal["Uefi", "Bios"] | None = None
    reboot: bool = False

    @model_validator(mode="after")
    def _something(self) -> BootDetails:
        if self.target is None and self.boot_order is None and self.mode is None and self.boot_mode is None:
            raise ValueError("give target, boot_order, boot_mode or mode")
        if self.target == "UefiTarget" and not self.uefi_target:
            raise ValueError("target UefiTarget needs uefi_target (the UEFI device path)")
        if self.boot_order is not None and self.boot_mode is not None:
            raise ValueError("boot_order and boot_mode each make a BIOS job and an iDRAC takes one at a time; "
                             "create two jobs")
        if self.boot_order is not None and len(set(self.boot_order)) != len(self.boot_order):
            raise ValueError("boot_order names an option twice")
        return self

    @property
    def persistent(self) -> bool:
        """Changes that outlive the next boot (and so get an SCP backup first)."""
        return self.boot_order is not None or self.boot_mode is not None or self.enabled == "Continuous"


_MEDIA_SCHEMES = ("http://", "https://", "nfs://", "cifs://", "smb://")


class MediaMountDetails(_Details):
    image_url: str
    media_type: Literal["CD", "DVD", "USBStick", "Floppy"] = "CD"
    write_protected: bool = True
    boot_once: bool = False
    reboot: bool = False
    test_only: bool = False
    """Only the share check (reachable, image there), run by the worker; nothing is mounted."""

    @field_validator("image_url")
    @classmethod
    def _url(cls, value: str) -> str:
        refuse_credentials(value)
        nfs_style = ":/" in value and "://" not in value
        cifs_style = value.startswith("//")
        if not (value.startswith(_MEDIA_SCHEMES) or nfs_style or cifs_style):
            raise ValueError("must be http(s)://host/path.iso, host:/export/path.iso (NFS) "
                             "or //host/share/path.iso (CIFS)")
        if not value.lower().endswith((".iso", ".img")):
            raise ValueError("must name an .iso or .img file")
        return value


class MediaUnmountDetails(_Details):
    media_type: Literal["CD", "DVD", "USBStick", "Floppy"] | None = None


class BiosWriteDetails(_Details):
    """``apply_time``: ``OnReset`` stages the change for the next reboot (``reboot`` restarts now),
    ``Immediate`` restarts at once; the maintenance-window times hand the iDRAC ``maintenance_start`` and
    ``maintenance_seconds`` (it applies the change itself inside that window)."""

    attributes: Annotated[dict[Annotated[str, Field(min_length=1, max_length=128)], str | int | bool],
                          Field(min_length=1, max_length=500)]
    apply_time: Literal["OnReset", "Immediate", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"] = "OnReset"
    maintenance_start: AwareDatetime | None = None
    maintenance_seconds: Annotated[int, Field(ge=600, le=7 * 86_400)] = 3600
    reboot: bool = False

    @model_validator(mode="after")
    def _window(self) -> BiosWriteDetails:
        window = self.apply_time in ("AtMaintenanceWindowStart", "InMaintenanceWindowOnReset")
        if window != (self.maintenance_start is not None):
            raise ValueError("a maintenance-window apply time needs maintenance_start (ISO time with an offset), "
                             "and only it does")
        return self


ScpTarget = Literal["ALL", "IDRAC", "BIOS", "NIC", "RAID", "FC", "InfiniBand", "SupportAssist", "EventFilters",
                    "System", "LifecycleController", "AHCI", "PCIeSSD"]


class ScpExportDetails(_Details):
    backup_name: Annotated[str, Field(min_length=1, max_length=200)]
    targets: Annotated[list[ScpTarget], Field(min_length=1)] = ["ALL"]
    export_format: Literal["XML", "JSON"] = "XML"
    export_use: Literal["Default", "Clone", "Replace"] = "Default"


class ScpImportDetails(_Details):
    backup_id: str
    targets: Annotated[list[ScpTarget], Field(min_length=1)] = ["ALL"]
    shutdown_type: Literal["Graceful", "Forced", "NoReboot"] = "Graceful"
    host_power_state: Literal["On", "Off"] = "On"
    preview: bool = False
    from_other_server: bool = False
    """The backup was exported from another server: asked for explicitly (it clones that server's settings),
    and recorded in the job's audit row."""


_REPO_URL_SCHEMES = ("http://", "https://", "nfs://", "cifs://")
DUP_SUFFIXES = (".exe", ".bin", ".d9", ".d10", ".pm", ".sc")
RebootPolicy = Literal["none", "now", "at"]


class FirmwareDetails(_Details):
    """One of three sources (REDFISH.md §2.11): a local repository (InstallFromRepository with its catalog; with
    ``components``, DSM's own compliance picks the packages and the iDRAC pulls each from the repository),
    an image URI the iDRAC pulls (SimpleUpdate), or a DUP file on the worker's host that DSM pushes.

    ``reboot``: ``none`` stages the update for the next reboot (the job says so and verifies nothing it could
    not see); ``now`` reboots the host when an update waits for it; ``at`` at ``reboot_at``."""

    repository: str | None = None
    components: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    image_uri: str | None = None
    file: str | None = None
    reboot: RebootPolicy = "now"
    reboot_at: AwareDatetime | None = None
    compare_only: bool = False
    job_timeout_seconds: Annotated[int, Field(ge=300, le=6 * 3600)] = 7200

    @field_validator("image_uri")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_REPO_URL_SCHEMES):
            raise ValueError("must be an http(s)://, nfs:// or cifs:// URL on the local network")
        return None if value is None else refuse_credentials(value)

    @field_validator("file")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.startswith("/"):
                raise ValueError("must be an absolute path on the worker's host")
            if not value.lower().endswith(DUP_SUFFIXES):
                raise ValueError("must name a Dell Update Package (.EXE; .d9/.d10 for the iDRAC itself)")
        return value

    @model_validator(mode="after")
    def _source(self) -> FirmwareDetails:
        given = [n for n in ("repository", "image_uri", "file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of repository (a local firmware repository name), image_uri or file")
        if (self.components or self.compare_only) and not self.repository:
            raise ValueError("components and compare_only go with a repository")
        if self.components and self.compare_only:
            raise ValueError("compare_only asks the iDRAC about the whole catalog; leave out components")
        if (self.reboot == "at") != (self.reboot_at is not None):
            raise ValueError("reboot at needs reboot_at (an ISO time with an offset), and only then")
        return self

    @property
    def method(self) -> str:
        if self.file:
            return "push"
        if self.image_uri:
            return "simple_update"
        return "catalog_compare" if self.compare_only else (
            "repository_packages" if self.components else "install_from_repository")


class CatalogSyncDetails(_Details):
    repository: Annotated[str, Field(min_length=1, max_length=100)]


class DiagnosticsDetails(_Details):
    address: IdracAddress = None
    port: Annotated[int, Field(ge=1, le=65535)] = 443
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0



class VcenterDetails(_Details):
    vcenters: list[str] = []


class VcenterTestDetails(_Details):
    vcenter: str


class ClusterSafetyDetails(_Details):
    min_required_hosts: Annotated[int, Field(ge=1, le=1000)] = 2
    scheduled_check_id: uuid.UUID | None = None
    """Set by the scheduler: the check rows record which scheduled_safety_checks row produced them."""


class GroupSafetyDetails(_Details):
    min_healthy_servers: Annotated[int, Field(ge=0, le=10_000)] | None = None
    scheduled_check_id: uuid.UUID | None = None


class RollingUpdateDetails(FirmwareDetails):
    max_concurrent: Annotated[int, Field(ge=1, le=64)] = 1
    min_required_hosts: Annotated[int, Field(ge=1, le=1000)] = 2
    continue_on_failure: bool = False
    maintenance_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 1800
    online_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 3600
    plan: dict[str, Any] | None = None
    """The plan the operator accepted (``dsm rolling-update``): the hosts, in order. Without one (a job made with
    ``dsm jobs create``), the worker builds it when the job starts and records it in the result."""


class HostStepDetails(_Details):
    evacuate_powered_off_vms: bool = False
    maintenance_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 1800
    online_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 3600
    min_required_hosts: Annotated[int, Field(ge=1, le=1000)] = 2


class FullUpdateDetails(FirmwareDetails):
    """A server's firmware, through vCenter when it is an ESXi host DSM knows (maintenance mode around it, the
    cluster's safety checked first); the limits apply to that path."""

    min_required_hosts: Annotated[int, Field(ge=1, le=1000)] = 2
    maintenance_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 1800
    online_timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 3600


Role = Literal["viewer", "operator", "admin"]


@dataclass(frozen=True)
class JobTypeSpec:
    """Everything about a job type, in one place: who may create it, what it targets, which details it takes
    (typed, defaults filled), what operators read, and which worker coroutine runs it. A type with no
    ``handler`` is declared (jobs can be created and scheduled) but no worker claims it yet."""

    targets: TargetRule
    details: type[_Details]
    label: str
    handler: str | None = None
    """``module:function`` in dsm_worker; imported by the worker, never by the console."""
    role: Role = "operator"
    touches_idrac: bool = True
    workflow: bool = False
    """Runs as steps (workflow_executions): retry resumes the same job from its failed step."""
    cancel_after_failure: bool = False
    """A failed job of this type may still be cancelled: its worker then runs the workflow's clean-up (a rolling
    update returns the host it stopped at to service when that host is healthy)."""
    disrupts: Callable[[Any], str | None] | None = None
    """Whether (and why) a job of this type, with these details, takes its servers down: a power-off or restart, a
    reboot to apply firmware, BIOS, boot settings or an SCP import, a mount with a reboot. None (or a None answer):
    it does not (power-on, reads, exports, changes staged for a later reboot)."""
    safe_path: bool = False
    """Its own workflow takes each ESXi host through vCenter maintenance mode with the cluster's safety checked live
    (the rolling update, the full server update, prepare_host_for_update): the creation-time host rule leaves it to
    that workflow."""


_H = "dsm_worker.handlers."


def _power(d: PowerDetails) -> str | None:
    return None if d.action == "On" else f"power action {d.action}"


def _boot(d: BootDetails) -> str | None:
    return "a restart to apply the boot settings" if d.reboot else None


def _mount(d: MediaMountDetails) -> str | None:
    return "a restart to boot from the mounted image" if d.reboot and not d.test_only else None


def _bios(d: BiosWriteDetails) -> str | None:
    if d.reboot or d.apply_time in ("Immediate", "AtMaintenanceWindowStart"):
        return "a restart to apply BIOS attributes"
    return None


def _scp(d: ScpImportDetails) -> str | None:
    return None if d.preview or d.shutdown_type == "NoReboot" else "a restart to import the profile"


def _firmware(d: FirmwareDetails) -> str | None:
    return None if d.compare_only or d.reboot == "none" else "a restart to apply firmware"


def _always(why: str) -> Callable[[Any], str]:
    return lambda _details: why


JOB_TYPE_SPECS: dict[str, JobTypeSpec] = {
    "discovery_scan": JobTypeSpec("none", DiscoveryDetails, "Discovery scan", _H + "discovery:discovery_scan"),
    "test_credentials": JobTypeSpec("servers_or_address", TestCredentialsDetails, "Test credentials",
                                    _H + "inventory:test_credentials"),
    "refresh_server_info": JobTypeSpec("servers", NoDetails, "Refresh", _H + "inventory:refresh_server_info"),
    "network_diagnostics": JobTypeSpec("servers_or_address", DiagnosticsDetails, "Network diagnostics",
                                       _H + "diagnostics:network_diagnostics"),
    "health_check": JobTypeSpec("servers", NoDetails, "Health check", _H + "inventory:health_check"),
    "power_action": JobTypeSpec("servers", PowerDetails, "Power", _H + "power:power_action", disrupts=_power),
    "fetch_event_logs": JobTypeSpec("servers", EventLogDetails, "Fetch event logs", _H + "inventory:fetch_event_logs"),
    "boot_configuration": JobTypeSpec("servers", BootDetails, "Boot configuration", _H + "bios:boot_configuration",
                                     workflow=True, disrupts=_boot),
    "virtual_media_mount": JobTypeSpec("servers", MediaMountDetails, "Mount virtual media",
                                       _H + "media:virtual_media_mount", workflow=True, disrupts=_mount),
    "virtual_media_unmount": JobTypeSpec("servers", MediaUnmountDetails, "Unmount virtual media",
                                         _H + "media:virtual_media_unmount", workflow=True),
    "bios_config_read": JobTypeSpec("servers", NoDetails, "Read BIOS", _H + "bios:bios_config_read",
                                   workflow=True),
    "bios_config_write": JobTypeSpec("servers", BiosWriteDetails, "Write BIOS", _H + "bios:bios_config_write",
                                    workflow=True, disrupts=_bios),
    "scp_export": JobTypeSpec("servers", ScpExportDetails, "SCP export", _H + "scp:scp_export",
                             workflow=True),
    "scp_import": JobTypeSpec("one_server", ScpImportDetails, "SCP import", _H + "scp:scp_import",
                             workflow=True, disrupts=_scp),
    "firmware_catalog_sync": JobTypeSpec("none", CatalogSyncDetails, "Catalog sync", _H + "firmware:catalog_sync",
                                         touches_idrac=False),
    "firmware_update": JobTypeSpec("servers", FirmwareDetails, "Firmware update", _H + "firmware:firmware_update",
                                   workflow=True, disrupts=_firmware),
    "full_server_update": JobTypeSpec("servers", FullUpdateDetails, "Full server update",
                                      _H + "rolling:full_server_update", workflow=True, cancel_after_failure=True,
                                      disrupts=_firmware, safe_path=True),
    "vcenter_sync": JobTypeSpec("none", VcenterDetails, "vCenter sync", _H + "vcenter:vcenter_sync",
                                touches_idrac=False),
    "vcenter_connectivity_test": JobTypeSpec("none", VcenterTestDetails, "vCenter test",
                                             _H + "vcenter:vcenter_connectivity_test", touches_idrac=False),
    "openmanage_sync": JobTypeSpec("none", NoDetails, "OpenManage sync", _H + "openmanage:openmanage_sync",
                                   touches_idrac=False),
    "cluster_safety_check": JobTypeSpec("clusters", ClusterSafetyDetails, "Cluster safety check",
                                        _H + "safety:cluster_safety_check", touches_idrac=False),
    "server_group_safety_check": JobTypeSpec("groups", GroupSafetyDetails, "Group safety check",
                                             _H + "safety:server_group_safety_check"),
    "rolling_cluster_update": JobTypeSpec("one_cluster_or_group", RollingUpdateDetails, "Rolling cluster update",
                                          _H + "rolling:rolling_cluster_update", workflow=True,
                                          cancel_after_failure=True,
                                          disrupts=_always("hosts restarted one at a time, each in maintenance mode"),
                                          safe_path=True),
    "prepare_host_for_update": JobTypeSpec("one_server", HostStepDetails, "Prepare host",
                                           _H + "rolling:prepare_host_for_update", workflow=True,
                                           cancel_after_failure=True,
                                           disrupts=_always("the host leaves service for maintenance mode"),
                                           safe_path=True),
    "verify_host_after_update": JobTypeSpec("one_server", HostStepDetails, "Verify host",
                                            _H + "rolling:verify_host_after_update", workflow=True),
}


OWN_KEYS = ("result", "disruption_override")
"""Keys of a job's details that are DSM's, not its type's: the worker's output, and an admin's override of the
disruption rule (its reason)."""


def disruption(job_type: str, details: dict[str, Any] | None) -> str | None:
    """Why a job of ``job_type`` with these (validated) details takes its servers down, or None."""
    spec = JOB_TYPE_SPECS[job_type]
    if spec.disrupts is None:
        return None
    return spec.disrupts(parse_details(job_type, details))


def parse_details(job_type: str, stored: dict[str, Any] | None) -> Any:
    """A claimed job's details as its typed model (the worker's view); ``result`` is the worker's own output."""
    values = {k: v for k, v in (stored or {}).items() if k not in OWN_KEYS}
    return JOB_TYPE_SPECS[job_type].details.model_validate(values)


def validate_details(job_type: str, details: dict[str, Any] | None) -> dict[str, Any]:
    """Validated details with defaults filled in, or pydantic's ValidationError."""
    model = JOB_TYPE_SPECS[job_type].details
    return model.model_validate(details or {}).model_dump(mode="json")
