"""Managers/iDRAC.Embedded.1: the iDRAC itself, its logs, its Dell job queue and services."""

from __future__ import annotations

from typing import Any

from dsm_sim.resources.common import CHASSIS, MANAGER, SYSTEM, collection, counted, envelope, ref, status
from dsm_sim.state import LogEntry, SimIdrac

_SHARE = {
    "IgnoreCertificateWarning@Redfish.AllowableValues": ["Disabled", "Enabled"],
    "ProxySupport@Redfish.AllowableValues": ["Disabled", "EnabledProxyDefault", "Enabled"],
    "ProxyType@Redfish.AllowableValues": ["HTTP", "SOCKS4"],
    "ShareType@Redfish.AllowableValues": ["LOCAL", "NFS", "CIFS", "HTTP", "HTTPS"],
    "Target@Redfish.AllowableValues": [
        "ALL",
        "IDRAC",
        "BIOS",
        "NIC",
        "RAID",
        "FC",
        "InfiniBand",
        "SupportAssist",
        "EventFilters",
        "System",
        "LifecycleController",
        "AHCI",
        "PCIeSSD",
    ],
}
SCP_TARGETS = _SHARE["Target@Redfish.AllowableValues"]


def managers(idrac: SimIdrac) -> dict[str, Any]:
    return collection("/redfish/v1/Managers", "ManagerCollection", "Manager", "BMC", [MANAGER])


def scp_actions(idrac: SimIdrac) -> dict[str, Any]:
    """SCP actions: EID_674_Manager targets on iDRAC 8/9, OemManager on iDRAC 10 (REDFISH.md §2.10).

    Real iDRAC 9s key them "#OemManager.v1_4_0.OemManager#OemManager.ExportSystemConfiguration", which DMTF's
    validator rejects; the simulator uses the conformant "#OemManager.ExportSystemConfiguration". Clients must
    find actions by their name's last segment and use the advertised target, which covers both forms.
    """
    prefix = idrac.scp_action_prefix()
    key = "#OemManager"
    return {
        f"{key}.ExportSystemConfiguration": {
            "ExportFormat@Redfish.AllowableValues": ["XML", "JSON"],
            "ExportUse@Redfish.AllowableValues": ["Default", "Clone", "Replace"],
            "IncludeInExport@Redfish.AllowableValues": [
                "Default",
                "IncludeReadOnly",
                "IncludePasswordHashValues",
                "IncludeCustomTelemetry",
            ],
            "ShareParameters": dict(_SHARE),
            "target": f"{MANAGER}/Actions/Oem/{prefix}.ExportSystemConfiguration",
        },
        f"{key}.ImportSystemConfiguration": {
            "ExecutionMode@Redfish.AllowableValues": ["Default", "DeployOnSledInsert", "InstantDeploy"],
            "HostPowerState@Redfish.AllowableValues": ["On", "Off"],
            "ImportSystemConfiguration@Redfish.AllowableValues": ["TimeToWait", "ImportBuffer"],
            "ShareParameters": dict(_SHARE),
            "ShutdownType@Redfish.AllowableValues": ["Graceful", "Forced", "NoReboot"],
            "target": f"{MANAGER}/Actions/Oem/{prefix}.ImportSystemConfiguration",
        },
        f"{key}.ImportSystemConfigurationPreview": {
            "ImportSystemConfigurationPreview@Redfish.AllowableValues": ["ImportBuffer"],
            "ShareParameters": dict(_SHARE),
            "target": f"{MANAGER}/Actions/Oem/{prefix}.ImportSystemConfigurationPreview",
        },
    }


def manager(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope(MANAGER, "Manager.v1_12_0.Manager")
    now = idrac.clock.wall()
    links: dict[str, Any] = {
        "ActiveSoftwareImage": ref(
            f"/redfish/v1/UpdateService/FirmwareInventory/Installed-25227-{idrac.firmware}__iDRAC.Embedded.1-1"
        ),
        **counted("ManagerForChassis", [ref(CHASSIS)]),
        **counted("ManagerForServers", [ref(SYSTEM)]),
        "Oem": {
            "Dell": {
                "@odata.type": "#DellOem.v1_3_0.DellOemLinks",
                "DellJobService": ref(f"{MANAGER}/Oem/Dell/DellJobService"),
                "DellLCService": ref(f"{MANAGER}/Oem/Dell/DellLCService"),
                "Jobs": ref(f"{MANAGER}/Oem/Dell/Jobs"),
            }
        },
    }
    body.update(
        {
            "Actions": {
                "#Manager.Reset": {
                    "ResetType@Redfish.AllowableValues": ["GracefulRestart"],
                    "target": f"{MANAGER}/Actions/Manager.Reset",
                },
                "Oem": scp_actions(idrac),
            },
            "CommandShell": {
                **counted("ConnectTypesSupported", ["SSH", "IPMI"]),
                "MaxConcurrentSessions": 5,
                "ServiceEnabled": True,
            },
            "DateTime": now.astimezone().isoformat(timespec="seconds"),
            "DateTimeLocalOffset": now.astimezone().strftime("%z")[:3] + ":" + now.astimezone().strftime("%z")[3:],
            "Description": "BMC",
            "FirmwareVersion": idrac.firmware,
            "GraphicalConsole": {
                **counted("ConnectTypesSupported", ["KVMIP"]),
                "MaxConcurrentSessions": 6,
                "ServiceEnabled": True,
            },
            "Id": "iDRAC.Embedded.1",
            "LastResetTime": idrac.last_reset.isoformat(timespec="seconds"),
            "Links": links,
            "LogServices": ref(f"{MANAGER}/LogServices"),
            "ManagerType": "BMC",
            "Model": idrac.hw.manager_model,
            "Name": "Manager",
            "Oem": {
                "Dell": {
                    "@odata.type": "#DellManager.v1_2_0.DellManager",
                    "DelliDRACCard": {
                        "@odata.context": "/redfish/v1/$metadata#DelliDRACCard.DelliDRACCard",
                        "@odata.id": f"{MANAGER}/Oem/Dell/DelliDRACCard/iDRAC.Embedded.1-1_0x23_IDRACinfo",
                        "@odata.type": "#DelliDRACCard.v1_1_0.DelliDRACCard",
                        "Description": "An instance of DelliDRACCard will have data specific to "
                        "the Integrated Dell Remote Access Controller (iDRAC) in "
                        "the managed system.",
                        "IPMIVersion": "2.0",
                        "Id": "iDRAC.Embedded.1-1_0x23_IDRACinfo",
                        "LastSystemInventoryTime": idrac.last_reset.isoformat(timespec="seconds"),
                        "LastUpdateTime": now.isoformat(timespec="seconds"),
                        "Name": "DelliDRACCard",
                        "URLString": f"https://{idrac.spec.address}:443",
                    },
                    # Remote syslog settings (their certificate stores are not simulated).
                    "RemoteSystemLogs": {
                        "CA": {},
                        "HTTPS": {
                            "SecureClientAuth": "Anonymous",
                            "SecurePort": 6514,
                            **counted("SecureServers", [""]),
                            "SecureSysLogEnable": "Disabled",
                        },
                    },
                }
            },
            "PowerState": "On",
            **counted("Redundancy", []),
            "SerialConsole": {
                **counted("ConnectTypesSupported", []),
                "MaxConcurrentSessions": 0,
                "ServiceEnabled": False,
            },
            "Status": status(),
            "TimeZoneName": "CST6CDT",
            "UUID": idrac.spec.system_uuid[::-1][:8] + idrac.spec.system_uuid[8:],
        }
    )
    if not idrac.media_on_system() or idrac.generation == 9:
        # iDRAC 9 ≥ 6.00 still answers the old path, marked deprecated (as captured); iDRAC 10 does not.
        body["VirtualMedia"] = ref(f"{MANAGER}/VirtualMedia")
        if idrac.media_on_system():
            body["VirtualMedia@Redfish.Deprecated"] = (
                "Please migrate to use /redfish/v1/Systems/System.Embedded.1/VirtualMedia"
            )
    return body


def manager_virtual_media_collection(idrac: SimIdrac) -> dict[str, Any]:
    """The Manager path on iDRAC 9 ≥ 6.00: listed, but inserting there fails with RAC0904 (REDFISH.md §2.9)."""
    base = f"{MANAGER}/VirtualMedia"
    return collection(
        base,
        "VirtualMediaCollection",
        "Virtual Media Services",
        "iDRAC Virtual Media Services Settings",
        [f"{base}/RemovableDisk", f"{base}/CD"],
    )


def log_services(idrac: SimIdrac) -> dict[str, Any]:
    return collection(
        f"{MANAGER}/LogServices",
        "LogServiceCollection",
        "Log Service Collection",
        "Collection of Log Services for this Manager",
        [f"{MANAGER}/LogServices/Sel", f"{MANAGER}/LogServices/Lclog"],
    )


def log_service(idrac: SimIdrac, which: str) -> dict[str, Any]:
    path = f"{MANAGER}/LogServices/{which}"
    body = envelope(path, "LogService.v1_2_0.LogService")
    now = idrac.clock.wall().astimezone()
    sel = which == "Sel"
    body.update(
        {
            "DateTime": now.isoformat(timespec="seconds"),
            "DateTimeLocalOffset": now.strftime("%z")[:3] + ":" + now.strftime("%z")[3:],
            "Description": "SEL Log Service" if sel else "LifeCycle Controller Log Service",
            "Entries": ref(f"{path}/Entries"),
            "Id": which,
            "LogEntryType": "SEL" if sel else "OEM",
            "MaxNumberOfRecords": 1024 if sel else 500000,
            "Name": "SEL Log Service" if sel else "LifeCycle Controller Log Service",
            "OverWritePolicy": "WrapsWhenFull",
            "ServiceEnabled": True,
        }
    )
    if sel:
        body["Actions"] = {"#LogService.ClearLog": {"target": f"{path}/Actions/LogService.ClearLog"}}
    return body


def log_entry(idrac: SimIdrac, which: str, entry: LogEntry) -> dict[str, Any]:
    path = f"{MANAGER}/LogServices/{which}/Entries/{entry.id}"
    body = envelope(path, "LogEntry.v1_9_0.LogEntry")
    body.update(
        {
            "Created": entry.created.astimezone().isoformat(timespec="seconds"),
            "Description": f"Log Entry {entry.id}",
            "Id": str(entry.id),
            "Links": {},
            "Message": entry.message,
            **counted("MessageArgs", list(entry.args)),
            "MessageId": entry.message_id,
            "Name": f"Log Entry {entry.id}",
            "Severity": entry.severity,
        }
    )
    if which == "Sel":
        body.update(
            {
                "EntryCode": "Assert",
                "EntryType": "SEL",
                "GeneratorId": "0x0020",
                "SensorNumber": entry.sensor_number,
                "SensorType": entry.sensor_type,
            }
        )
    else:
        body.update(
            {
                "EntryType": "Oem",
                "OemRecordFormat": "Dell",
                "Oem": {
                    "Dell": {
                        "@odata.type": "#DellLCLogEntry.v1_1_0.DellLCLogEntry",
                        "Category": entry.category,
                        "Comment": None,
                        "LastUpdatedByUser": None,
                    }
                },
            }
        )
    return body


def dell_jobs(idrac: SimIdrac, path: str) -> dict[str, Any]:
    body = collection(
        path, "DellJobCollection", "JobQueue", "Collection of Job Instances", [f"{path}/{j}" for j in idrac.jobs]
    )
    return body


def dell_job(idrac: SimIdrac, path: str, job_id: str) -> dict[str, Any] | None:
    job = idrac.jobs.get(job_id)
    if job is None:
        return None
    now = idrac.clock.now()
    state, pct, mid, message = job.state(now)
    body = envelope(f"{path}/{job.id}", "DellJob.v1_2_0.DellJob")
    started = job.start_at is not None and now >= job.start_at
    finished = state in ("Completed", "Failed", "CompletedWithErrors")
    end = idrac.clock.wall((job.start_at or now) + job.duration).strftime("%Y-%m-%dT%H:%M:%S") if finished else None
    body.update(
        {
            "ActualRunningStartTime": idrac.clock.wall(job.start_at).strftime("%Y-%m-%dT%H:%M:%S") if started else None,
            "ActualRunningStopTime": end,
            "CompletionTime": end,
            "Description": "Job Instance",
            "EndTime": "TIME_NA",
            "Id": job.id,
            "JobState": state,
            "JobType": job.job_type,
            "Message": message,
            **counted("MessageArgs", []),
            "MessageId": mid,
            "Name": job.name,
            "PercentComplete": pct,
            "StartTime": "TIME_NOW" if job.start_at is not None else "TIME_NA",
            "TargetSettingsURI": job.target_uri,
        }
    )
    return body


def dell_job_service(idrac: SimIdrac) -> dict[str, Any]:
    path = f"{MANAGER}/Oem/Dell/DellJobService"
    body = envelope(path, "DellJobService.v1_2_0.DellJobService")
    body.update(
        {
            "Actions": {
                "#DellJobService.CreateRebootJob": {
                    "RebootJobType@Redfish.AllowableValues": [
                        "GracefulRebootWithForcedShutdown",
                        "GracefulRebootWithoutForcedShutdown",
                        "PowerCycle",
                    ],
                    "target": f"{path}/Actions/DellJobService.CreateRebootJob",
                },
                "#DellJobService.DeleteJobQueue": {"target": f"{path}/Actions/DellJobService.DeleteJobQueue"},
                "#DellJobService.SetupJobQueue": {"target": f"{path}/Actions/DellJobService.SetupJobQueue"},
            },
            "CurrentNumberOfJobs": len(idrac.jobs),
            "DeleteOnCompletionTimeoutMinutes": 2880,
            "Description": "The DellJobService resource provides some actions to support Job management functionality.",
            "Id": "Job Service",
            "MaximumNumberOfJobs": 256,
            "Name": "DellJobService",
            "StartAutoDeleteAtThreshold": 128,
        }
    )
    return body


def dell_lc_service(idrac: SimIdrac) -> dict[str, Any]:
    path = f"{MANAGER}/Oem/Dell/DellLCService"
    body = envelope(path, "DellLCService.v1_3_0.DellLCService")
    body.update(
        {
            "Actions": {
                "#DellLCService.GetRemoteServicesAPIStatus": {
                    "target": f"{path}/Actions/DellLCService.GetRemoteServicesAPIStatus"
                }
            },
            "Description": "The DellLCService resource provides some actions to support Lifecycle Controller "
            "functionality.",
            "Id": "DellLCService",
            "Name": "DellLCService",
        }
    )
    return body
