"""vCenter: a small Protocol (``VcenterApi``) that the worker, the safety rules and the rolling update use, and
its pyvmomi implementation. Nothing above this package imports pyvmomi."""

from dsm_core.vcenter.model import (
    ClusterInfo,
    HostInfo,
    HostState,
    Inventory,
    TaskState,
    VcenterApi,
    VcenterError,
)

__all__ = ["ClusterInfo", "HostInfo", "HostState", "Inventory", "TaskState", "VcenterApi", "VcenterError"]
