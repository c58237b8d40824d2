"""Service root, sessions, tasks and the DMTF JobService."""

from __future__ import annotations

from typing import Any

from dsm_sim.resources.common import MANAGER, collection, envelope, ref, status
from dsm_sim.state import SESSION_TIMEOUT, Session, SimIdrac


def service_root(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope("/redfish/v1", "ServiceRoot.v1_10_0.ServiceRoot")
    body.update(
        {
            "AccountService": ref("/redfish/v1/AccountService"),
            "Chassis": ref("/redfish/v1/Chassis"),
            "Description": "Root Service",
            "Id": "RootService",
            "Links": {"Sessions": ref(idrac.sessions_path())},
            "Managers": ref("/redfish/v1/Managers"),
            "Name": "Root Service",
            "Oem": {
                "Dell": {
                    "@odata.context": "/redfish/v1/$metadata#DellServiceRoot.DellServiceRoot",
                    "@odata.type": "#DellServiceRoot.v1_0_0.DellServiceRoot",
                    "IsBranded": 0,
                    "ManagerMACAddress": idrac.spec.mac,
                    "ServiceTag": idrac.spec.service_tag,
                }
            },
            "Product": "Integrated Dell Remote Access Controller",
            "ProtocolFeaturesSupported": {
                "DeepOperations": {"DeepPATCH": False, "DeepPOST": False},
                "ExcerptQuery": False,
                **({"ExpandQuery": {"ExpandAll": True, "Levels": True, "Links": True, "MaxLevels": 1, "NoLinks": True}}
                   if idrac.supports_expand() else {}),
                "FilterQuery": True,
                "OnlyMemberQuery": True,
                "SelectQuery": True,
            },
            "RedfishVersion": idrac.redfish_version,
            "SessionService": ref("/redfish/v1/SessionService"),
            "Systems": ref("/redfish/v1/Systems"),
            "Tasks": ref("/redfish/v1/TaskService"),
            "UpdateService": ref("/redfish/v1/UpdateService"),
            "Vendor": "Dell",
        }
    )
    if idrac.generation >= 9:
        body["JobService"] = ref("/redfish/v1/JobService")
    # AccountService is linked by every iDRAC; the simulator serves a minimal one (see account_service).
    return body


def account_service(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope("/redfish/v1/AccountService", "AccountService.v1_11_0.AccountService")
    body.update(
        {
            "Description": "BMC User Accounts",
            "Id": "AccountService",
            "Name": "Account Service",
            "ServiceEnabled": True,
            "MinPasswordLength": 0,
            "MaxPasswordLength": 40,
            "AccountLockoutThreshold": 0,
            "AccountLockoutDuration": 0,
            "AuthFailureLoggingThreshold": 2,
            "Status": status(),
        }
    )
    return body


def session_service(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope("/redfish/v1/SessionService", "SessionService.v1_1_8.SessionService")
    body.update(
        {
            "Description": "Session Service",
            "Id": "SessionService",
            "Name": "Session Service",
            "ServiceEnabled": True,
            "SessionTimeout": int(SESSION_TIMEOUT),
            "Sessions": ref(idrac.sessions_path()),
        }
    )
    return body


def sessions(idrac: SimIdrac) -> dict[str, Any]:
    base = idrac.sessions_path()
    members = [f"{base}/{s.id}" for s in sorted(idrac.sessions.values(), key=lambda s: -s.id)]
    return collection(base, "SessionCollection", "Session Collection", "Session Collection", members)


def session(idrac: SimIdrac, s: Session) -> dict[str, Any]:
    body = envelope(f"{idrac.sessions_path()}/{s.id}", "Session.v1_3_0.Session")
    body.update(
        {
            "ClientOriginIPAddress": s.client,
            "Description": "User Session",
            "Id": str(s.id),
            "Name": "User Session",
            "Password": None,
            "SessionType": "ManagerConsole",
            "UserName": s.username,
        }
    )
    return body


def task_service(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope("/redfish/v1/TaskService", "TaskService.v1_2_0.TaskService")
    body.update(
        {
            "DateTime": idrac.clock.wall().astimezone().isoformat(timespec="seconds"),
            "Description": "Represents the properties for the service itself and has links to the actual list of Tasks",
            "Id": "TaskService",
            "Name": "Task Service",
            "ServiceEnabled": True,
            "Status": status(),
            "Tasks": ref("/redfish/v1/TaskService/Tasks"),
        }
    )
    return body


def tasks(idrac: SimIdrac) -> dict[str, Any]:
    running = [
        f"/redfish/v1/TaskService/Tasks/{j.id}" for j in idrac.jobs.values() if not j.finished(idrac.clock.now())
    ]
    return collection(
        "/redfish/v1/TaskService/Tasks", "TaskCollection", "Task Collection", "Collection of Tasks", running
    )


# Dell JobState → DMTF TaskState / JobState.
_DMTF_STATE = {
    "Scheduled": "Pending",
    "Running": "Running",
    "Completed": "Completed",
    "Failed": "Exception",
    "CompletedWithErrors": "Completed",
}


def task(idrac: SimIdrac, job_id: str) -> dict[str, Any] | None:
    job = idrac.jobs.get(job_id)
    if job is None:
        return None
    state, pct, mid, message = job.state(idrac.clock.now())
    body = envelope(f"/redfish/v1/TaskService/Tasks/{job.id}", "Task.v1_5_1.Task")
    task_state = _DMTF_STATE[state]
    messages: list[dict[str, Any]] = [
        {"Message": message, "MessageArgs": [], "MessageArgs@odata.count": 0, "MessageId": f"IDRAC.2.8.{mid}"}
    ]
    if state in ("Completed", "CompletedWithErrors", "Failed"):
        # An SCP import's task lists each attribute it tried (Oem.Dell: Name, OldValue, NewValue, Status).
        for r in job.extra.get("results", []):
            messages.append({"Message": r["Message"], "MessageArgs": [], "MessageArgs@odata.count": 0,
                             "MessageId": "IDRAC.2.8." + ("SYS428" if r["Status"] == "Failure" else "SYS427"),
                             "Oem": {"Dell": {k: r[k] for k in ("FQDD", "Name", "OldValue", "NewValue", "Status",
                                                                 "ErrCode")}}})
    body.update(
        {
            "Description": "Server Configuration and other Tasks running on iDRAC are listed here",
            "EndTime": "TIME_NA",
            "Id": job.id,
            "Name": job.name,
            "PercentComplete": pct,
            "Messages": messages,
            "Messages@odata.count": len(messages),
            "Oem": {
                "Dell": {
                    "@odata.type": "#DellJob.v1_2_0.DellJob",
                    "JobState": state,
                    "JobType": job.job_type,
                    "Message": message,
                    "MessageId": mid,
                    "PercentComplete": pct,
                    "Name": job.name,
                    "TargetSettingsURI": job.target_uri,
                }
            },
            "StartTime": idrac.clock.wall(job.created).isoformat(timespec="seconds"),
            "TaskState": task_state,
            "TaskStatus": "OK" if state != "Failed" else "Critical",
        }
    )
    return body


def job_service(idrac: SimIdrac) -> dict[str, Any]:
    body = envelope("/redfish/v1/JobService", "JobService.v1_0_4.JobService")
    body.update(
        {
            "DateTime": idrac.clock.wall().isoformat(timespec="seconds"),
            "Description": "Represent a job service for a Redfish",
            "Id": "JobService",
            "Jobs": ref("/redfish/v1/JobService/Jobs"),
            "Log": ref(f"{MANAGER}/LogServices/Lclog"),
            "Name": "Job Service",
            "ServiceCapabilities": {"MaxSteps": 1, "Scheduling": True, "MaxJobs": 256},
            "ServiceEnabled": True,
            "Status": status(),
        }
    )
    return body


def dmtf_jobs(idrac: SimIdrac) -> dict[str, Any]:
    return collection(
        "/redfish/v1/JobService/Jobs",
        "JobCollection",
        "JobCollection",
        "A Collection of Job resource instances",
        [f"/redfish/v1/JobService/Jobs/{j}" for j in idrac.jobs],
    )


def dmtf_job(idrac: SimIdrac, job_id: str) -> dict[str, Any] | None:
    job = idrac.jobs.get(job_id)
    if job is None:
        return None
    state, pct, mid, message = job.state(idrac.clock.now())
    body = envelope(f"/redfish/v1/JobService/Jobs/{job.id}", "Job.v1_0_5.Job")
    body.update(
        {
            "Description": "Job Instance",
            "Id": job.id,
            "JobState": _DMTF_STATE[state],
            "JobStatus": "Critical" if state == "Failed" else ("Warning" if state == "CompletedWithErrors" else "OK"),
            "Messages": [
                {"Message": message, "MessageId": f"IDRAC.2.8.{mid}", "MessageArgs": [], "MessageArgs@odata.count": 0}
            ],
            "Messages@odata.count": 1,
            "Name": job.name,
            "PercentComplete": pct,
            "StartTime": idrac.clock.wall(job.created).isoformat(timespec="seconds"),
        }
    )
    return body
