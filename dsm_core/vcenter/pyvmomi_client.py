"""The pyvmomi implementation of ``VcenterApi``.

Three things pyvmomi does not do for us, done here:

* **Trust.** pyvmomi checks a pinned thumbprint only when CA verification has already failed, so a certificate a
  CA vouches for would skip the pin. Our connection class checks the peer certificate against the server's
  ``TlsPolicy`` (pin with trust on first use, CA, or off) right after the handshake, before the first byte of a
  request — the login's password included — on every connection the stub opens.
* **Size.** Every response body is capped (a hostile vCenter cannot fill memory); compressed answers are not asked for.
* **Activity.** Every SOAP call is one activity-log row (command ``SOAP``, endpoint ``Method Type:moref``), with its
  latency and fault — never the arguments (the login carries the password).

Inventory is read through the PropertyCollector (``RetrievePropertiesEx`` + ``ContinueRetrievePropertiesEx``), one
pass per object type over a container view: a thousand hosts cost a handful of round trips, where touching
``host.runtime.connectionState`` on each object costs one round trip per property per host.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

from pyVmomi import VmomiSupport, vim, vmodl
from pyVmomi.SoapAdapter import SoapStubAdapter

from dsm_core.credentials.secret import Secret
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish.client import CallRecord
from dsm_core.redfish.tls import TlsPolicy
from dsm_core.vcenter.model import (
    ClusterInfo,
    HostInfo,
    HostState,
    Inventory,
    TaskState,
    VcenterError,
    clean_name,
    service_tag,
)

MAX_BODY_BYTES = 64 * 1024 * 1024
"""A 1,000-host inventory page is a few megabytes; anything near this is not a vCenter answering honestly."""
PAGE_SIZE = 500
FALLBACK_VERSION = "vim.version.version11"  # vSphere 6.5: every property DSM reads exists there

Recorder = Callable[[CallRecord], None]
# pyvmomi's dynamic types are untyped to mypy: reached through Any on purpose.
VIM: Any = vim
PC: Any = vmodl.query.PropertyCollector

HOST_PATHS = [
    "name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode", "runtime.powerState", "overallStatus",
    "config.product.version", "config.product.build", "hardware.systemInfo.serialNumber",
    "summary.hardware.otherIdentifyingInfo", "vm",
]
CLUSTER_PATHS = ["name", "parent", "configurationEx", "host"]


class ResponseTooLarge(VcenterError):
    pass


def _fault_text(exc: BaseException) -> str:
    msg = getattr(exc, "msg", None) or getattr(exc, "faultMessage", None) or str(exc)
    if isinstance(msg, list):
        msg = "; ".join(str(getattr(m, "message", m)) for m in msg)
    return clean_name(f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__, 500)


class _CappedResponse(http.client.HTTPResponse):
    """A response that refuses to be read past ``MAX_BODY_BYTES``."""

    _seen = 0

    def read(self, amt: int | None = None) -> bytes:
        data = super().read(amt)
        self._seen += len(data)
        if self._seen > MAX_BODY_BYTES:
            self.close()
            raise ResponseTooLarge(f"the vCenter's answer exceeded {MAX_BODY_BYTES // (1024 * 1024)} MiB; refused")
        return data


class _CheckedConnection(http.client.HTTPSConnection):
    """An HTTPS connection that checks the peer certificate against the policy before anything is sent."""

    response_class = _CappedResponse
    policy: TlsPolicy
    endpoint: str

    def connect(self) -> None:
        super().connect()
        der = self.sock.getpeercert(binary_form=True) if isinstance(self.sock, ssl.SSLSocket) else None
        if not der:
            self.sock.close()
            raise VcenterError(f"{self.endpoint} presented no TLS certificate")
        try:
            self.policy.check(self.endpoint, der)
        except Exception:
            self.sock.close()
            raise


def _connection_class(policy: TlsPolicy, endpoint: str) -> type[_CheckedConnection]:
    return type("CheckedConnection", (_CheckedConnection,), {"policy": policy, "endpoint": endpoint})


def ssl_context(policy: TlsPolicy) -> ssl.SSLContext:
    if policy.mode == "ca":
        return ssl.create_default_context(cafile=policy.ca_bundle)  # a vCenter is named: the hostname is checked
    return policy.ssl_context()


class _RecordingStub(SoapStubAdapter):
    def __init__(self, recorder: Recorder | None, url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recorder = recorder
        self._url = url
        self.calls = 0

    def InvokeMethod(self, mo: Any, info: Any, args: Any, outerStub: Any = None) -> Any:
        started = time.monotonic()
        self.calls += 1
        try:
            result = super().InvokeMethod(mo, info, args, outerStub)
        except BaseException as exc:
            self._record(mo, info, started, _fault_text(exc))
            raise
        self._record(mo, info, started, None)
        return result

    def _record(self, mo: Any, info: Any, started: float, fault: str | None) -> None:
        if self._recorder is None:
            return
        obj = f"{type(mo).__name__.rsplit('.', 1)[-1]}:{getattr(mo, '_moId', '?')}"
        self._recorder(CallRecord(
            method="SOAP", endpoint=f"{info.wsdlName} {obj}", full_url=self._url, status=500 if fault else 200,
            latency_ms=int((time.monotonic() - started) * 1000), success=fault is None, error=fault,
            request_headers=None, request_body=None, response_body=None, operation_type="vcenter_api",
        ))


def negotiate_version(host: str, port: int, context: ssl.SSLContext, policy: TlsPolicy, timeout: float) -> str:
    """The newest API version both pyvmomi and the vCenter speak, from ``/sdk/vimServiceVersions.xml``.

    Read over the same checked connection (pin first, nothing secret in it), capped, and parsed by expat, which
    refuses entity expansion bombs."""
    conn = _connection_class(policy, format_endpoint(host, port))(host, port, timeout=timeout, context=context)
    try:
        conn.request("GET", "/sdk/vimServiceVersions.xml")
        response = conn.getresponse()
        body = response.read(1024 * 1024 + 1) if response.status == 200 else b""
    except (OSError, http.client.HTTPException) as exc:
        raise VcenterError(f"cannot reach {format_endpoint(host, port)}: {exc}") from None
    finally:
        conn.close()
    offered: set[str] = set()
    if body and len(body) <= 1024 * 1024:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            root = None
        for ns in root.findall("namespace") if root is not None else []:
            if ns.findtext("name") == "urn:vim25":
                offered.update(v.text or "" for v in [ns.find("version"), *ns.findall("priorVersions/version")]
                               if v is not None)
    known = [(ident, name) for name, ident in VmomiSupport.versionIdMap.items()
             if name.startswith("vim.version.") and ident.startswith("vim25/")]
    usable = [name for ident, name in known if ident.removeprefix("vim25/") in offered]
    if not usable:
        return FALLBACK_VERSION
    return str(max(usable, key=lambda name: _version_key(VmomiSupport.versionIdMap[name].removeprefix("vim25/"))))


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def connect(
    host: str,
    port: int,
    username: str,
    password: Secret,
    policy: TlsPolicy,
    recorder: Recorder | None = None,
    timeout: float = 30.0,
) -> PyvmomiVcenter:
    """A logged-in client. Raises ``CertificateChanged`` (nothing sent) or ``VcenterError`` with the reason."""
    endpoint = format_endpoint(host, port)
    context = ssl_context(policy)
    version = negotiate_version(host, port, context, policy, timeout)
    stub = _RecordingStub(recorder, f"https://{endpoint}/sdk", host=host, port=port, version=version, path="/sdk",
                          sslContext=context, httpConnectionTimeout=timeout, acceptCompressedResponses=False)
    stub_any: Any = stub  # pyvmomi types scheme narrowly; any HTTPSConnection subclass is what it calls
    stub_any.scheme = _connection_class(policy, endpoint)
    stub.schemeArgs["context"] = context
    client = PyvmomiVcenter(stub, endpoint)
    try:
        client.login(username, password)
    except BaseException:
        stub_any.DropConnections()
        raise
    return client


class PyvmomiVcenter:
    def __init__(self, stub: _RecordingStub, endpoint: str) -> None:
        self._stub = stub
        self.endpoint = endpoint
        self._si = VIM.ServiceInstance("ServiceInstance", stub)
        self._content: Any = None

    @property
    def calls(self) -> int:
        return self._stub.calls

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (vmodl.MethodFault, vmodl.RuntimeFault) as exc:
            raise VcenterError(_fault_text(exc)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise VcenterError(f"{self.endpoint}: {type(exc).__name__}: {exc}") from None

    def login(self, username: str, password: Secret) -> None:
        self._content = self._call(self._si.RetrieveContent)
        try:
            self._content.sessionManager.Login(userName=username, password=password.reveal())
        except vim.fault.InvalidLogin:
            raise VcenterError(f"{self.endpoint} refused the login of {username!r}: check the user and password")\
                from None
        except (vmodl.MethodFault, OSError, http.client.HTTPException) as exc:
            raise VcenterError(_fault_text(exc)) from None

    @property
    def about(self) -> dict[str, str]:
        about = self._content.about
        return {
            "name": clean_name(about.fullName or about.name or "", 200),
            "version": clean_name(about.version or "", 64),
            "build": clean_name(about.build or "", 64),
            "instance_uuid": clean_name(about.instanceUuid or "", 64),
            "api_version": clean_name(about.apiVersion or "", 64),
        }

    def close(self) -> None:
        try:
            if self._content is not None:
                self._content.sessionManager.Logout()
        except Exception:  # a logout that fails leaves a session vCenter expires itself
            pass
        finally:
            stub_any: Any = self._stub
            stub_any.DropConnections()

    # --- the PropertyCollector ---------------------------------------------------------------------------------

    def _retrieve(self, kind: Any, paths: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(moref, {path: value}) of every object of ``kind`` under the root folder, page by page."""
        content = self._content
        view = self._call(lambda: content.viewManager.CreateContainerView(content.rootFolder, [kind], True))
        try:
            spec = PC.FilterSpec(
                objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
                    PC.TraversalSpec(name="view", path="view", skip=False, type=VIM.view.ContainerView)])],
                propSet=[PC.PropertySpec(type=kind, pathSet=paths)],
            )
            pc = content.propertyCollector
            page = self._call(lambda: pc.RetrievePropertiesEx([spec], PC.RetrieveOptions(maxObjects=PAGE_SIZE)))
            while page is not None:
                for oc in page.objects or []:
                    yield oc.obj._moId, {prop.name: prop.val for prop in oc.propSet or []}
                token = page.token
                page = self._call(pc.ContinueRetrievePropertiesEx, token) if token else None
        finally:
            with contextlib.suppress(Exception):  # a view left behind dies with the session
                view.DestroyView()

    def inventory(self) -> Inventory:
        before = self._stub.calls
        datacenters = dict(self._retrieve(VIM.Datacenter, ["name"]))
        folders = dict(self._retrieve(VIM.Folder, ["parent"]))
        computes = dict(self._retrieve(VIM.ComputeResource, ["parent"]))

        def datacenter_of(parent: Any) -> str | None:
            for _ in range(64):  # folders nest; a loop in a hostile answer ends here
                if parent is None:
                    return None
                moid = str(getattr(parent, "_moId", ""))
                if moid in datacenters:
                    return clean_name(datacenters[moid].get("name"))
                parent = (folders.get(moid) or computes.get(moid) or {}).get("parent")
            return None

        clusters = []
        for moid, props in self._retrieve(VIM.ClusterComputeResource, CLUSTER_PATHS):
            config = props.get("configurationEx")
            drs = getattr(config, "drsConfig", None)
            das = getattr(config, "dasConfig", None)
            clusters.append(ClusterInfo(
                moref=moid, name=clean_name(props.get("name")), datacenter=datacenter_of(props.get("parent")),
                drs_enabled=bool(getattr(drs, "enabled", False)),
                drs_automation=clean_name(getattr(drs, "defaultVmBehavior", None) or "fullyAutomated", 32),
                ha_enabled=bool(getattr(das, "enabled", False)),
                admission_control=getattr(das, "admissionControlEnabled", None),
                hosts=tuple(h._moId for h in props.get("host") or []),
            ))
        cluster_ids = {c.moref for c in clusters}
        hosts = []
        for moid, props in self._retrieve(VIM.HostSystem, HOST_PATHS):
            parent = props.get("parent")
            parent_id = getattr(parent, "_moId", None)
            identifiers = [(getattr(getattr(i, "identifierType", None), "key", "") or "", i.identifierValue or "")
                           for i in props.get("summary.hardware.otherIdentifyingInfo") or []]
            hosts.append(HostInfo(
                moref=moid, name=clean_name(props.get("name")),
                datacenter=datacenter_of(parent),
                cluster=parent_id if parent_id in cluster_ids else None,
                connection_state=clean_name(props.get("runtime.connectionState") or "unknown", 32),
                maintenance_mode=bool(props.get("runtime.inMaintenanceMode")),
                power_state=clean_name(props.get("runtime.powerState"), 32) or None,
                overall_status=clean_name(props.get("overallStatus") or "gray", 32),
                esxi_version=clean_name(props.get("config.product.version"), 64) or None,
                esxi_build=clean_name(props.get("config.product.build"), 64) or None,
                service_tag=service_tag(identifiers, props.get("hardware.systemInfo.serialNumber")),
                vm_count=len(props.get("vm") or []),
            ))
        return Inventory(
            about=self.about,
            datacenters=tuple(sorted(clean_name(d.get("name")) for d in datacenters.values())),
            clusters=tuple(sorted(clusters, key=lambda c: (c.datacenter or "", c.name))),
            hosts=tuple(sorted(hosts, key=lambda h: h.name)),
            calls=self._stub.calls - before,
        )

    # --- one host ----------------------------------------------------------------------------------------------

    def host_state(self, moref: str) -> HostState:
        """The host and its VMs in one round trip (a traversal from the host to its ``vm`` list)."""
        host = VIM.HostSystem(moref, self._stub)
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=host, skip=False, selectSet=[
                PC.TraversalSpec(name="vms", path="vm", skip=False, type=VIM.HostSystem)])],
            propSet=[
                PC.PropertySpec(type=VIM.HostSystem, pathSet=HOST_PATHS[:6]),
                PC.PropertySpec(type=VIM.VirtualMachine, pathSet=["name", "runtime.powerState"]),
            ],
        )
        pc = self._content.propertyCollector
        objects: list[Any] = []
        page = self._call(lambda: pc.RetrievePropertiesEx([spec], PC.RetrieveOptions(maxObjects=PAGE_SIZE)))
        while page is not None:
            objects.extend(page.objects or [])
            token = page.token
            page = self._call(pc.ContinueRetrievePropertiesEx, token) if token else None
        props: dict[str, Any] = {}
        running: list[str] = []
        for oc in objects:
            values = {p.name: p.val for p in oc.propSet or []}
            if isinstance(oc.obj, VIM.HostSystem):
                props = values
            elif values.get("runtime.powerState") == "poweredOn":
                running.append(clean_name(values.get("name")))
        if not props:
            raise VcenterError(f"host {moref} is not in this vCenter (removed or renamed since the last sync?)")
        return HostState(
            moref=moref, name=clean_name(props.get("name")),
            connection_state=clean_name(props.get("runtime.connectionState") or "unknown", 32),
            maintenance_mode=bool(props.get("runtime.inMaintenanceMode")),
            power_state=clean_name(props.get("runtime.powerState"), 32) or None,
            overall_status=clean_name(props.get("overallStatus") or "gray", 32),
            running_vms=tuple(sorted(running)),
        )

    def enter_maintenance(self, moref: str, timeout_seconds: int, evacuate_powered_off: bool) -> str:
        host = VIM.HostSystem(moref, self._stub)
        task = self._call(lambda: host.EnterMaintenanceMode_Task(
            timeout=timeout_seconds, evacuatePoweredOffVms=evacuate_powered_off))
        return str(task._moId)

    def exit_maintenance(self, moref: str, timeout_seconds: int) -> str:
        host = VIM.HostSystem(moref, self._stub)
        task = self._call(lambda: host.ExitMaintenanceMode_Task(timeout=timeout_seconds))
        return str(task._moId)

    def task_state(self, moref: str) -> TaskState:
        task = VIM.Task(moref, self._stub)
        info = self._call(lambda: task.info)
        error = _fault_text(info.error) if info.error is not None else None
        return TaskState(moref, clean_name(info.state, 16), info.progress, error)

    def cancel_task(self, moref: str) -> None:
        task = VIM.Task(moref, self._stub)
        self._call(task.CancelTask)

