"""All DSM tables. Importing this package registers every table on SQLModel.metadata."""

from dsm_core.models.activity import ActivityDailyStat, IdracCommand
from dsm_core.models.base import SQLModel
from dsm_core.models.credentials import CredentialIpRange, CredentialSet
from dsm_core.models.firmware import FirmwareCompliance, FirmwareInventory, FirmwarePackage, FirmwareRepository
from dsm_core.models.inventory import Server, ServerGroup, ServerGroupMember, Vcenter, VcenterCluster, VcenterHost
from dsm_core.models.jobs import Job, JobTask, WorkerHeartbeat
from dsm_core.models.maintenance import MaintenanceSettings, MaintenanceWindow, NotificationOutbox, SchedulerState
from dsm_core.models.safety import ClusterSafetyCheck, ScheduledSafetyCheck, ServerGroupSafetyCheck
from dsm_core.models.server_state import (
    BiosConfiguration,
    BiosRegistry,
    ScpBackup,
    ServerBootConfigHistory,
    ServerEventLog,
    ServerHealth,
    VirtualMediaSession,
)
from dsm_core.models.settings import (
    SINGLETON_ID,
    ActivitySettings,
    NetworkSettings,
    NotificationLog,
    NotificationSettings,
    OpenmanageSettings,
    VirtualMediaSettings,
)
from dsm_core.models.users import AuditLog, User
from dsm_core.models.workflows import WorkflowExecution

metadata = SQLModel.metadata

__all__ = [
    "SINGLETON_ID",
    "ActivityDailyStat",
    "ActivitySettings",
    "AuditLog",
    "BiosConfiguration",
    "BiosRegistry",
    "ClusterSafetyCheck",
    "CredentialIpRange",
    "CredentialSet",
    "FirmwareCompliance",
    "FirmwareInventory",
    "FirmwarePackage",
    "FirmwareRepository",
    "IdracCommand",
    "Job",
    "JobTask",
    "MaintenanceSettings",
    "MaintenanceWindow",
    "NetworkSettings",
    "NotificationLog",
    "NotificationOutbox",
    "NotificationSettings",
    "OpenmanageSettings",
    "ScheduledSafetyCheck",
    "SchedulerState",
    "ScpBackup",
    "Server",
    "ServerBootConfigHistory",
    "ServerEventLog",
    "ServerGroup",
    "ServerGroupMember",
    "ServerGroupSafetyCheck",
    "ServerHealth",
    "User",
    "Vcenter",
    "VcenterCluster",
    "VcenterHost",
    "VirtualMediaSession",
    "VirtualMediaSettings",
    "WorkerHeartbeat",
    "WorkflowExecution",
    "metadata",
]
