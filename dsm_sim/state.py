"""One simulated iDRAC: identity, sessions, power, jobs, logs, BIOS, virtual media, firmware, faults.

Time-dependent behaviour is evaluated lazily by ``tick()`` at each request against the fleet's SimClock.
"""

from __future__ import annotations

import random
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dsm_sim.clock import SimClock
from dsm_sim.hardware import (
    BIOS_COMPONENT_ID,
    CPLD_COMPONENT_ID,
    IDRAC_COMPONENT_ID,
    LC_COMPONENT_ID,
    NIC_COMPONENT_ID,
    PSU_COMPONENT_ID,
    RAID_COMPONENT_ID,
    firmware_at_least,
    redfish_version,
)
from dsm_sim.jobs import SimJob, new_job_id
from dsm_sim.spec import ServerSpec

MAX_SESSIONS = 8
SESSION_TIMEOUT = 1800.0  # seconds, as SessionService reports

# Simulated durations (sim seconds), roughly those of a real R750.
SHUTDOWN_SECONDS = 30.0
POST_SECONDS = 120.0
OS_BOOT_SECONDS = 90.0
IDRAC_REBOOT_SECONDS = 300.0
FIRMWARE_JOB_SECONDS = 1200.0
CONFIG_JOB_SECONDS = 180.0
EXPORT_JOB_SECONDS = 60.0


@dataclass
class Session:
    id: int
    token: str
    username: str
    created: float
    last_used: float
    client: str


@dataclass
class Faults:
    """Per-iDRAC fault injection; all off by default."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_503_rate: float = 0.0
    reset_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    unauthorized_rate: float = 0.0  # a valid session is dropped mid-use → 401
    malformed_json_rate: float = 0.0
    session_exhaustion: bool = False  # logins answer 503 RAC0218 as if 8 sessions were open
    job_failure: bool = False  # new change jobs (not exports) fail with a Dell MessageId
    job_completed_with_errors: bool = False  # new change jobs end CompletedWithErrors (and change nothing)
    drop_after_action: bool = False  # an action POST is carried out, then the connection drops unanswered
    action_503_count: float = 0.0  # the next N action POSTs are refused with 503 (not carried out)
    media_attached_elsewhere: bool = False  # virtual media held by another session: VRM0021 until an eject

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key not in self.__dict__:
                raise KeyError(key)
            current = self.__dict__[key]
            self.__dict__[key] = bool(value) if isinstance(current, bool) else float(value)


@dataclass
class Counters:
    requests: int = 0
    concurrent: int = 0
    peak_concurrent: int = 0
    logins: int = 0
    logouts: int = 0
    auth_failures: int = 0
    errors_5xx: int = 0
    resets_received: int = 0  # ComputerSystem.Reset requests carried out (a change sent twice shows here)
    updates_received: int = 0  # firmware update requests that created a job (push, SimpleUpdate)
    repository_updates: int = 0  # InstallFromRepository requests carried out

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class LogEntry:
    id: int
    created: datetime
    severity: str
    message: str
    message_id: str
    sensor_type: str | None = None
    sensor_number: int | None = None
    category: str = "System Health"
    args: list[str] = field(default_factory=list)


@dataclass
class Component:
    """One firmware component as the FirmwareInventory lists it."""

    component_id: str
    fqdd: str
    name: str
    version: str
    component_type: str = "FRMW"
    updateable: bool = True
    previous: str | None = None

    def inventory_id(self, prefix: str = "Installed", version: str | None = None) -> str:
        return f"{prefix}-{self.component_id}-{version or self.version}__{self.fqdd}"


BIOS_DEFAULTS: dict[str, Any] = {
    "BootMode": "Uefi",
    "SysProfile": "PerfPerWattOptimizedDapc",
    "LogicalProc": "Enabled",
    "ProcVirtualization": "Enabled",
    "SriovGlobalEnable": "Disabled",
    "AcPwrRcvry": "Last",
    "AcPwrRcvryDelay": "Immediate",
    "AcPwrRcvryUserDelay": 120,
    "SecureBoot": "Disabled",
    "TpmSecurity": "On",
    "EmbSata": "AhciMode",
    "MemTest": "Disabled",
    "ProcTurboMode": "Enabled",
    "ProcCStates": "Enabled",
    "WorkloadProfile": "NotAvailable",
    "NumLock": "On",
    "ErrPrompt": "Enabled",
    "PowerCycleRequest": "None",
    "AssetTag": "",
    "SerialComm": "Off",
    "SystemModelName": "",
    "SystemBiosVersion": "",
    "SystemServiceTag": "",
    "SystemManufacturer": "Dell Inc.",
}
BIOS_ENUMS: dict[str, tuple[str, ...]] = {
    "BootMode": ("Uefi", "Bios"),
    "SysProfile": ("PerfPerWattOptimizedDapc", "PerfPerWattOptimizedOs", "PerfOptimized", "Custom"),
    "LogicalProc": ("Enabled", "Disabled"),
    "ProcVirtualization": ("Enabled", "Disabled"),
    "SriovGlobalEnable": ("Enabled", "Disabled"),
    "AcPwrRcvry": ("On", "Off", "Last"),
    "AcPwrRcvryDelay": ("Immediate", "User", "Random"),
    "SecureBoot": ("Enabled", "Disabled"),
    "TpmSecurity": ("On", "Off"),
    "EmbSata": ("AhciMode", "RaidMode", "Off"),
    "MemTest": ("Enabled", "Disabled"),
    "ProcTurboMode": ("Enabled", "Disabled"),
    "ProcCStates": ("Enabled", "Disabled"),
    "WorkloadProfile": ("NotAvailable", "VtOptimizedProfile", "DbOptimizedProfile"),
    "NumLock": ("On", "Off"),
    "ErrPrompt": ("Enabled", "Disabled"),
    "PowerCycleRequest": ("None", "VirtualAC"),
    "SerialComm": ("Off", "OnConRedirCom1", "OnConRedirCom2", "OnNoConRedir"),
}
BIOS_READ_ONLY = frozenset({"SystemModelName", "SystemBiosVersion", "SystemServiceTag", "SystemManufacturer"})
BIOS_INTEGERS = {"AcPwrRcvryUserDelay": (60, 600)}

BOOT_OPTIONS = (
    ("Boot0000", "HTTP Device 1: NIC in Slot 5 Port 1", "VenHw(986D1755-B9D0-4F8D-A0DA-D1DB18672045)"),
    ("Boot0001", "PXE Device 1: Integrated NIC 1 Port 1 Partition 1", "VenHw(3A191845-5F86-4E78-8FCE-C4CFF59F9DAA)"),
    ("Boot0002", "Embedded SATA Port Disk A", "PciRoot(0x0)/Pci(0x17,0x0)/Sata(0x0,0xFFFF,0x0)"),
    ("Boot0003", "RAID Controller in SL 3: VMware ESXi", "HD(1,GPT,8A3B5A1C-2C3E-4E6F-9B1A-1B2C3D4E5F60)"),
    ("Boot0004", "Virtual Optical Drive", "PciRoot(0x0)/Pci(0x14,0x0)/USB(0xD,0x0)/CDROM(0x1,0x0,0x0)"),
)


def empty_media() -> dict[str, Any]:
    """A virtual media slot with nothing inserted."""
    return {
        "Inserted": False,
        "Image": None,
        "ImageName": None,
        "WriteProtected": True,
        "ConnectedVia": "NotConnected",
        "UserName": None,
        "TransferProtocolType": None,
    }


class SimIdrac:
    def __init__(self, spec: ServerSpec, clock: SimClock) -> None:
        self.spec = spec
        self.hw = spec.hardware
        self.clock = clock
        self.rng = random.Random(spec.index * 7919 + 17)
        self.firmware = spec.idrac_firmware
        self.bios_version = spec.bios_version
        self.health_faults: set[str] = set(spec.health_faults)
        self.faults = Faults()
        self.counters = Counters()
        self.sessions: dict[str, Session] = {}
        self._session_ids = 0
        self.power_state = "On"
        self.host_state = "up"  # up | down | posting | booting | shutting_down
        self._power_events: deque[tuple[float, str]] = deque()
        self.last_reset = clock.wall()
        self.boot_override_target = "None"
        self.boot_override_enabled = "Disabled"
        self.boot_override_mode = "UEFI"
        self.uefi_target: str | None = None
        self.boot_order = [b[0] for b in BOOT_OPTIONS]
        self.bios: dict[str, Any] = dict(BIOS_DEFAULTS)
        self.bios.update(
            {
                "SystemModelName": f"PowerEdge {self.hw.model}",
                "SystemBiosVersion": self.bios_version,
                "SystemServiceTag": spec.service_tag,
            }
        )
        self.bios_pending: dict[str, Any] = {}
        self.bios_pending_job: str | None = None
        self.jobs: dict[str, SimJob] = {}
        self.virtual_media: dict[str, dict[str, Any]] = {slot: empty_media() for slot in self.media_slots()}
        self.idrac_down_until = -1.0
        self.pending_idrac_firmware: str | None = None
        self.components = self._initial_components()
        self.sel: list[LogEntry] = []
        self.lclog: list[LogEntry] = []
        self._log_ids = {"sel": 0, "lclog": 83000 + spec.index}
        self.repo_update_list: list[dict[str, Any]] | None = None
        self._seed_logs()
        for fault in sorted(self.health_faults):
            self._log_fault(fault)

    # --- capabilities -----------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self.hw.idrac_generation

    @property
    def redfish_version(self) -> str:
        return redfish_version(self.generation, self.firmware)

    def media_on_system(self) -> bool:
        """iDRAC 9 ≥ 6.00.02 and iDRAC 10 keep virtual media under Systems (REDFISH.md §2.9)."""
        return self.generation >= 10 or (self.generation == 9 and firmware_at_least(self.firmware, "6.00.02"))

    def media_slots(self) -> tuple[str, ...]:
        return ("1", "2") if self.media_on_system() else ("CD", "RemovableDisk")

    def has_subsystems(self) -> bool:
        """ThermalSubsystem/PowerSubsystem: iDRAC 9 from 5.x (as the 6.00 capture has) and iDRAC 10."""
        return self.generation >= 10 or (self.generation == 9 and firmware_at_least(self.firmware, "5.00"))

    def supports_expand(self) -> bool:
        """$expand (ProtocolFeaturesSupported.ExpandQuery, one level): iDRAC 9 from 4.x and iDRAC 10.
        Older firmware answers a query with $expand as if it were not there (links only)."""
        return self.generation >= 10 or (self.generation == 9 and firmware_at_least(self.firmware, "4.00"))

    def has_legacy_thermal(self) -> bool:
        return self.generation <= 9

    def scp_action_prefix(self) -> str:
        return "OemManager" if self.generation >= 10 else "EID_674_Manager"

    def sessions_path(self) -> str:
        """Where sessions live. iDRAC 8 (Redfish < 1.6) also takes logins at the older /redfish/v1/Sessions."""
        return "/redfish/v1/SessionService/Sessions"

    def legacy_sessions_path(self) -> str | None:
        return "/redfish/v1/Sessions" if self.generation == 8 else None

    # --- time ----------------------------------------------------------------------------------------

    def idrac_rebooting(self) -> bool:
        return self.clock.now() < self.idrac_down_until

    def tick(self) -> None:
        now = self.clock.now()
        while self._power_events and self._power_events[0][0] <= now:
            _, what = self._power_events.popleft()
            self._apply_power_event(what)
        for job in list(self.jobs.values()):
            job.tick(now)
        if self.pending_idrac_firmware and now >= self.idrac_down_until:
            self.firmware, self.pending_idrac_firmware = self.pending_idrac_firmware, None
        expired = [t for t, s in self.sessions.items() if now - s.last_used > SESSION_TIMEOUT]
        for token in expired:
            del self.sessions[token]

    # --- sessions --------------------------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> bool:
        return secrets.compare_digest(username, self.spec.username) and secrets.compare_digest(
            password, self.spec.password
        )

    def open_session(self, username: str, client: str) -> Session | None:
        if len(self.sessions) >= MAX_SESSIONS or self.faults.session_exhaustion:
            return None
        self._session_ids += 1
        now = self.clock.now()
        session = Session(self._session_ids, secrets.token_hex(16), username, now, now, client)
        self.sessions[session.token] = session
        self.counters.logins += 1
        self.log_lc(
            "USR0030",
            f"Successfully logged in using {username}, from {client} and REDFISH.",
            "Audit",
            [username, client, "REDFISH"],
        )
        return session

    def session_by_id(self, sid: str) -> Session | None:
        return next((s for s in self.sessions.values() if str(s.id) == sid), None)

    def close_session(self, session: Session) -> None:
        self.sessions.pop(session.token, None)
        self.counters.logouts += 1

    # --- power ----------------------------------------------------------------------------------------

    def reset(self, reset_type: str) -> str | None:
        """Apply a ComputerSystem.Reset; returns an error text when the request makes no sense now."""
        now = self.clock.now()
        on = self.power_state == "On"
        if reset_type == "PushPowerButton":
            reset_type = "GracefulShutdown" if on else "On"
        if reset_type == "Nmi":
            return None
        if reset_type == "On":
            if on:
                return "Server is already powered ON."
            self._power_on(now)
        elif reset_type == "ForceOff":
            if not on:
                return "Server is already powered OFF."
            self._power_events.clear()
            self._set_off()
        elif reset_type == "GracefulShutdown":
            if not on:
                return "Server is already powered OFF."
            self.host_state = "shutting_down"
            self._power_events.clear()
            self._power_events.append((now + SHUTDOWN_SECONDS, "off"))
        elif reset_type in ("ForceRestart", "PowerCycle"):
            if not on and reset_type == "ForceRestart":
                return "Server is already powered OFF."
            self._power_events.clear()
            self._power_on(now)
        elif reset_type == "GracefulRestart":
            if not on:
                return "Server is already powered OFF."
            self.host_state = "shutting_down"
            self._power_events.clear()
            self._power_events.append((now + SHUTDOWN_SECONDS, "restart"))
        else:
            return f"ResetType {reset_type} is not supported."
        return None

    def _set_off(self) -> None:
        self.power_state = "Off"
        self.host_state = "down"

    def _power_on(self, now: float) -> None:
        self.power_state = "On"
        self.host_state = "posting"
        self.last_reset = self.clock.wall()
        self._start_reboot_jobs(now)
        self._power_events.append((now + POST_SECONDS, "booting"))
        self._power_events.append((now + POST_SECONDS + OS_BOOT_SECONDS, "up"))

    def _apply_power_event(self, what: str) -> None:
        now = self.clock.now()
        if what == "off":
            self._set_off()
        elif what == "restart":
            self._power_on(now)
        elif what == "booting":
            self.host_state = "booting"
        elif what == "up":
            self.host_state = "up"

    def _start_reboot_jobs(self, now: float) -> None:
        for job in self.jobs.values():
            if job.start_at is None and not job.cancelled:
                job.start_at = now

    # --- jobs ----------------------------------------------------------------------------------------

    def add_job(
        self,
        job_type: str,
        name: str,
        duration: float,
        *,
        on_reboot: bool = False,
        on_complete: Any = None,
        success: tuple[str, str] | None = None,
        target_uri: str | None = None,
        result: Any = None,
        prefix: str = "JID",
    ) -> SimJob:
        now = self.clock.now()
        job = SimJob(
            new_job_id(prefix),
            job_type,
            name,
            now,
            duration,
            None if on_reboot else now,
            on_complete=on_complete,
            target_uri=target_uri,
            result=result,
        )
        if success:
            job.success = success
        if job_type == "ExportConfiguration":
            pass  # the job faults stand for a change that goes wrong; an export (a backup) is not one
        elif self.faults.job_failure:
            job.fail_with = ("RED007", "Unable to complete the operation because of an internal error.")
        elif self.faults.job_completed_with_errors:
            job.with_errors = ("RED063", "The job completed with errors: one or more components were not updated.")
        self.jobs[job.id] = job
        return job

    def delete_jobs(self, job_id: str) -> str | None:
        if job_id in ("JID_CLEARALL", "JID_CLEARALL_FORCE"):
            self.jobs.clear()
            self.bios_pending, self.bios_pending_job = {}, None
            return None
        job = self.jobs.get(job_id)
        if job is None:
            return f"Job {job_id} does not exist."
        if job.state(self.clock.now())[0] == "Running":
            return "Unable to delete the job because it is running."
        del self.jobs[job_id]
        if self.bios_pending_job == job_id:
            self.bios_pending, self.bios_pending_job = {}, None
        return None

    # --- BIOS ----------------------------------------------------------------------------------------

    def validate_bios(self, attributes: dict[str, Any]) -> str | None:
        for name, value in attributes.items():
            if name not in self.bios:
                return f"{name} is not a BIOS attribute of this system."
            if name in BIOS_READ_ONLY:
                return f"{name} is read-only."
            if name in BIOS_ENUMS and value not in BIOS_ENUMS[name]:
                return f"{value} is not a possible value of {name}."
            if name in BIOS_INTEGERS:
                lo, hi = BIOS_INTEGERS[name]
                if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                    return f"{name} takes an integer from {lo} to {hi}."
        return None

    def stage_bios(self, attributes: dict[str, Any]) -> None:
        self.bios_pending.update(attributes)

    def schedule_bios_job(self) -> SimJob:
        def apply() -> None:
            self.bios.update(self.bios_pending)
            self.bios_pending = {}
            self.bios_pending_job = None
            self.log_lc("SYS053", "Successfully applied the BIOS configuration.", "Configuration")

        job = self.add_job(
            "BIOSConfiguration",
            "Configure: BIOS.Setup.1-1",
            CONFIG_JOB_SECONDS,
            on_reboot=True,
            on_complete=apply,
            target_uri="/redfish/v1/Systems/System.Embedded.1/Bios/Settings",
        )
        self.bios_pending_job = job.id
        return job

    # --- firmware ----------------------------------------------------------------------------------------

    def _initial_components(self) -> list[Component]:
        hw = self.hw
        comps = [
            Component(BIOS_COMPONENT_ID, "BIOS.Setup.1-1", "BIOS", self.bios_version, "BIOS", previous="1.2.4"),
            Component(
                IDRAC_COMPONENT_ID,
                "iDRAC.Embedded.1-1",
                "Integrated Dell Remote Access Controller",
                self.firmware,
                previous="5.10.50.00",
            ),
            Component(
                LC_COMPONENT_ID, "USC.Embedded.1:LC.Embedded.1", "Lifecycle Controller", self.firmware, updateable=False
            ),
            Component(CPLD_COMPONENT_ID, "CPLD.Embedded.1", "System CPLD", "1.0.5"),
            Component(NIC_COMPONENT_ID, "NIC.Embedded.1-1-1", "Broadcom Gigabit Ethernet BCM5720", "21.80.9"),
            Component(RAID_COMPONENT_ID, "RAID.Integrated.1-1", "PERC H755 Front", "52.16.1-4405"),
        ]
        comps += [
            Component(PSU_COMPONENT_ID, f"PSU.Slot.{i}", "Power Supply.Slot." + str(i), "00.2A.2B")
            for i in range(1, hw.psu_count + 1)
        ]
        return comps

    def component(self, component_id: str) -> Component | None:
        return next((c for c in self.components if c.component_id == component_id), None)

    def install(self, component: Component, version: str) -> None:
        """Make ``version`` the installed firmware of ``component`` (the job's effect)."""
        if component.component_id == IDRAC_COMPONENT_ID:
            # The iDRAC reboots itself: unreachable for a while, sessions gone, back with the new version.
            component.previous, component.version = component.version, version
            self.sessions.clear()
            self.idrac_down_until = self.clock.now() + IDRAC_REBOOT_SECONDS
            self.pending_idrac_firmware = version
            for c in self.components:
                if c.component_id == LC_COMPONENT_ID:
                    c.version = version
        else:
            component.previous, component.version = component.version, version
            if component.component_id == BIOS_COMPONENT_ID:
                self.bios_version = version
                self.bios["SystemBiosVersion"] = version
        self.log_lc(
            "SUP0516",
            f"Updating firmware for {component.name} to version {version}.",
            "Updates",
            [component.name, version],
        )

    # --- health and logs --------------------------------------------------------------------------------

    def _seed_logs(self) -> None:
        start = self.clock.wall(-86400.0)
        from datetime import timedelta

        for i in range(12):
            t = start + timedelta(minutes=37 * i)
            self.log_sel("OK", "An OEM diagnostic event occurred.", f"7e0{i:05x}", None, 26, when=t)
        self.log_sel(
            "OK",
            "The chassis is closed while the power is off.",
            "PST0003",
            "Physical Chassis Security",
            115,
            when=start + timedelta(hours=9),
        )
        for i in range(8):
            self.log_lc(
                "USR0030",
                f"Successfully logged in using root, from 127.0.0.{i + 2} and REDFISH.",
                "Audit",
                when=start + timedelta(minutes=53 * i),
            )

    def restart_log_ids(self, log: str) -> None:
        self._log_ids[log] = 0

    def log_sel(
        self,
        severity: str,
        message: str,
        message_id: str,
        sensor_type: str | None,
        sensor_number: int,
        when: datetime | None = None,
    ) -> None:
        self._log_ids["sel"] += 1
        self.sel.append(
            LogEntry(
                self._log_ids["sel"],
                when or self.clock.wall(),
                severity,
                message,
                message_id,
                sensor_type,
                sensor_number,
            )
        )

    def log_lc(
        self,
        message_id: str,
        message: str,
        category: str,
        args: list[str] | None = None,
        severity: str = "OK",
        when: datetime | None = None,
    ) -> None:
        self._log_ids["lclog"] += 1
        self.lclog.append(
            LogEntry(
                self._log_ids["lclog"],
                when or self.clock.wall(),
                severity,
                message,
                f"IDRAC.2.8.{message_id}",
                None,
                None,
                category,
                args or [],
            )
        )

    _FAULT_EVENTS = {
        "psu": ("Critical", "Power supply 2 is lost.", "PSU0003", "Power Supply", 101),
        "fan": ("Critical", "Fan 3 RPM is less than the lower critical threshold.", "FAN0001", "Fan", 58),
        "dimm": (
            "Critical",
            "Multi-bit memory errors detected on a memory device at location DIMM A3.",
            "MEM0001",
            "Memory",
            7,
        ),
        "disk": ("Critical", "Fault detected on drive 1 in disk drive bay 1.", "PDR1016", "Drive Slot", 20),
        "temp": (
            "Critical",
            "The system inlet temperature is greater than the upper critical threshold.",
            "TMP0120",
            "Temperature",
            4,
        ),
    }

    def _log_fault(self, fault: str) -> None:
        severity, message, mid, sensor, number = self._FAULT_EVENTS[fault]
        self.log_sel(severity, message, mid, sensor, number)

    def set_health_faults(self, faults: set[str]) -> None:
        for fault in sorted(faults - self.health_faults):
            self._log_fault(fault)
        self.health_faults = set(faults)

    def subsystem_health(self, subsystem: str) -> str:
        return "Critical" if subsystem in self.health_faults else "OK"

    def rollup(self) -> str:
        return "Critical" if self.health_faults else "OK"
