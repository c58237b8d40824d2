"""`dsm boot`, `dsm bios`, `dsm media`, `dsm scp`: configuration changes as jobs, and what DSM read back.

Every change is a job the worker runs (checked when created: a BIOS value the server's registry does not
allow is refused here with exit 2, naming the attribute and the allowed values, and nothing is queued).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dsm_cli import main as cli
from dsm_cli.output import print_json, print_table, say
from dsm_core.services import configuration, jobs
from dsm_core.text import visible

Flag = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
BOOT_TARGETS = ("None", "Pxe", "Cd", "Hdd", "BiosSetup", "UefiShell", "Usb", "Utilities", "UefiTarget", "SDCard",
                "Floppy", "Diags", "UefiHttp")
SCP_TARGETS = ("ALL", "IDRAC", "BIOS", "NIC", "RAID", "FC", "InfiniBand", "SupportAssist", "EventFilters", "System",
               "LifecycleController", "AHCI", "PCIeSSD")
BIOS_COLUMNS = (("attribute", "ATTRIBUTE"), ("value", "VALUE"), ("type", "TYPE"), ("pending", "PENDING"),
                ("baseline", "BASELINE"), ("mark", "DRIFT"))
DRIFT_COLUMNS = (("server", "SERVER"), ("baseline", "BASELINE"), ("drift_count", "DRIFT"), ("attributes", "ATTRIBUTES"))
SCP_COLUMNS = (("short", "ID"), ("server", "SERVER"), ("backup_name", "NAME"), ("export_format", "FORMAT"),
               ("scp_file_size_bytes", "BYTES"), ("sha", "SHA-256"), ("exported", "EXPORTED"), ("job", "JOB"))
MEDIA_COLUMNS = (("server", "SERVER"), ("media_type", "TYPE"), ("remote_image_url", "IMAGE"), ("state", "STATE"))


def _choice(options: tuple[str, ...], what: str) -> Callable[[str], str]:
    """Case-insensitive choice that returns the iDRAC's spelling (pxe → Pxe)."""
    by_lower = {o.lower(): o for o in options}

    def parse(text: str) -> str:
        found = by_lower.get(text.lower())
        if found is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}; give one of {', '.join(options)}")
        return found

    return parse


def _create(rt: cli.Runtime, job_type: str, refs: list[str], details: dict[str, Any],
            groups: list[str] | None = None) -> None:
    ctx = rt.ctx()
    view = jobs.create_job(ctx, job_type, servers=refs, groups=groups or [], details=details,
                           disruption_override=getattr(rt.args, "disruption_override", None))
    cli._report_created(rt, ctx, view)


# --- boot ----------------------------------------------------------------------------------------------------


def cmd_boot(rt: cli.Runtime) -> None:
    a = rt.args
    if a.boot_cmd == "show":
        view = configuration.boot_state(rt.ctx(), a.ref)
        if a.json:
            print_json(view)
            return
        say(f"{view['server']}: override {view['override_target'] or '-'} ({view['override_enabled'] or '-'}), "
            f"mode {view['boot_mode'] or '-'}")
        say("order: " + (", ".join(view["boot_order"]) or "-"))
        say("allowed targets: " + (", ".join(view["allowed_targets"]) or "unknown (refresh the server)"))
        for h in view["history"][:10]:
            say(f"  {h['timestamp']}  {h['boot_source_override_target'] or '-'} "
                f"({h['boot_source_override_enabled'] or '-'})  job {cli.short_id(h['job_id'])}")
        return
    details: dict[str, Any] = {"reboot": a.reboot}
    if a.boot_cmd == "once":
        target = a.target
        if target.lower().startswith("uefitarget="):
            details.update({"target": "UefiTarget", "uefi_target": target.split("=", 1)[1]})
        else:
            details["target"] = _choice(BOOT_TARGETS, "boot target")(target)
        details["enabled"] = "Continuous" if a.continuous else "Once"
    elif a.boot_cmd == "order":
        details["boot_order"] = [x.strip() for x in a.set.split(",") if x.strip()]
    elif a.boot_cmd == "mode":
        details["boot_mode"] = a.mode
    _create(rt, "boot_configuration", a.refs, details)


# --- bios ----------------------------------------------------------------------------------------------------


def _split_refs_and_values(items: list[str]) -> tuple[list[str], dict[str, str]]:
    refs, values = [], {}
    for item in items:
        if "=" in item:
            name, value = item.split("=", 1)
            if not name:
                raise cli.CliError(f"{item!r}: give ATTRIBUTE=VALUE")
            values[name] = value
        else:
            refs.append(item)
    if not refs:
        raise cli.CliError("name at least one server (REF) before the ATTRIBUTE=VALUE pairs")
    if not values:
        raise cli.CliError("give at least one ATTRIBUTE=VALUE (e.g. ProcVirtualization=Disabled)")
    return refs, values


def cmd_bios(rt: cli.Runtime) -> None:
    a = rt.args
    if a.bios_cmd == "show":
        if a.refresh:
            ctx = rt.ctx()
            view = jobs.create_job(ctx, "bios_config_read", servers=[a.ref])
            code = _wait_silently(ctx, view["id"], a.timeout)
            if code:
                raise cli.CliError("the BIOS read failed; `dsm jobs show " + cli.short_id(view["id"]) + "` says why",
                                   code)
        view = configuration.bios_show(rt.ctx(), a.ref, a.attribute or None)
        if a.json:
            print_json(view)
            return
        say(f"{view['server']}: BIOS {view['bios_version'] or '?'}, read {view['captured_at'] or 'never'}, "
            f"baseline {view['baseline'] or 'none'}, drift {view['drift_count']}")
        for row in view["attributes"]:
            row["mark"] = "*" if row["drift"] else ""
        print_table(view["attributes"], BIOS_COLUMNS)
    elif a.bios_cmd == "read":
        _create(rt, "bios_config_read", a.refs, {}, a.group)
    elif a.bios_cmd == "set":
        refs, values = _split_refs_and_values(a.items)
        details: dict[str, Any] = {"attributes": values, "apply_time": a.apply_time, "reboot": a.reboot}
        if a.maintenance_start:
            details["maintenance_start"] = a.maintenance_start
            if a.maintenance_seconds:
                details["maintenance_seconds"] = a.maintenance_seconds
        _create(rt, "bios_config_write", refs, details)
    elif a.bios_cmd == "baseline":
        if a.baseline_cmd == "set":
            view = configuration.set_bios_baseline(rt.ctx(), a.ref, group=a.group, snapshot_id=a.snapshot)
            if a.json:
                print_json(view)
            else:
                held = f"group {view['group']}" if view["group"] else view["source"]
                say(f"baseline of {held}: {view['attributes']} attributes from {view['source']}; "
                    f"{view['drifting']} of {view['servers']} server(s) drift from it")
        else:
            if not a.group and not a.refs:
                raise cli.CliError("give --group NAME or servers (REF...)")
            view = configuration.apply_bios_baseline(rt.ctx(), a.group, servers=a.refs or None,
                                                     apply_time=a.apply_time, reboot=a.reboot)
            if a.json:
                print_json(view)
            else:
                for j in view["jobs"]:
                    say(f"created job {cli.short_id(j['job_id'])} for {j['server']}: " + ", ".join(j["attributes"]))
                if not view["jobs"]:
                    say("no server drifts from its baseline: nothing to do")
    elif a.bios_cmd == "drift":
        view = configuration.bios_drift(rt.ctx(), a.group, servers=a.refs or None)
        if a.json:
            print_json(view)
            return
        rows = [{**r, "attributes": ", ".join(f"{d['attribute']} {d['baseline']}→{d['current']}"
                                              for d in r["drift"][:4]) + (" …" if len(r["drift"]) > 4 else "")}
                for r in view["servers"]]
        print_table(rows, DRIFT_COLUMNS)
        say(f"{view['drifting']} of {len(view['servers'])} server(s) drift ({view['attributes']} attributes)")


def _wait_silently(ctx: Any, job_id: str, timeout: float | None) -> int:
    """Until the job ends (0 when it completed); what is shown after is the stored result, not progress."""
    import time

    deadline = time.monotonic() + (timeout or 600)
    while time.monotonic() < deadline:
        status = jobs.show_job(ctx, job_id)["status"]
        if status in cli.TERMINAL:
            return 0 if status == "completed" else 1
        time.sleep(0.5)
    raise cli.CliError(f"job {cli.short_id(job_id)} did not end within {timeout or 600:.0f} s", 1)


# --- media ---------------------------------------------------------------------------------------------------


def cmd_media(rt: cli.Runtime) -> None:
    a = rt.args
    if a.media_cmd == "mount":
        image = configuration.media_image_url(rt.ctx(), a.image)
        _create(rt, "virtual_media_mount", a.refs, {"image_url": image, "media_type": a.media_type,
                                                     "boot_once": a.boot_once, "reboot": a.reboot,
                                                     "test_only": a.test_share})
    elif a.media_cmd == "eject":
        details = {"media_type": a.media_type} if a.media_type else {}
        _create(rt, "virtual_media_unmount", a.refs, details)
    elif a.media_cmd == "list":
        rows = configuration.media_state(rt.ctx(), a.ref)
        for r in rows:
            r["state"] = "mounted" if r["is_mounted"] else "ejected"
        cli._emit(a, rows, MEDIA_COLUMNS)


# --- scp -----------------------------------------------------------------------------------------------------


def cmd_scp(rt: cli.Runtime) -> None:
    a = rt.args
    if a.scp_cmd == "export":
        name = a.name or f"export {datetime.now().strftime('%Y-%m-%d %H:%M')}"
        _create(rt, "scp_export", a.refs, {"backup_name": name, "targets": a.target or ["ALL"],
                                           "export_format": a.format})
    elif a.scp_cmd == "import":
        backup = a.backup
        if a.set:
            edited = configuration.edit_scp_backup(rt.ctx(), backup, a.set)
            backup = edited["id"]
            if not a.json:
                say(f"backup {cli.short_id(backup)} made from {a.backup} with " + ", ".join(a.set))
        else:
            backup = configuration.show_scp_backup(rt.ctx(), backup)["id"]
        _create(rt, "scp_import", [a.ref], {"backup_id": backup, "targets": a.target or ["ALL"],
                                            "shutdown_type": a.shutdown, "host_power_state": a.power_state,
                                            "preview": a.preview, "from_other_server": a.from_other_server})
    elif a.scp_cmd == "list":
        rows = configuration.list_scp_backups(rt.ctx(), a.ref)
        if not a.json:
            for r in rows:
                r["short"] = cli.short_id(r["id"])
                r["sha"] = (r["checksum"] or "")[:16]
                r["exported"] = cli._ago(r["exported_at"])
                r["job"] = cli.short_id(r["export_job_id"])
        cli._emit(a, rows, SCP_COLUMNS)
    elif a.scp_cmd == "show":
        view = configuration.show_scp_backup(rt.ctx(), a.id)
        if a.json:
            print_json(view)
        elif a.profile:
            text = view["profile_text"] or ""
            # To a terminal the profile is shown as text (control characters made visible: it came from an
            # iDRAC); redirected, it is written as stored, byte for byte, to import elsewhere.
            print(visible(text, multiline=True) if sys.stdout.isatty() else text)
        else:
            view.pop("profile_text", None)
            cli._emit(a, view)


# --- parsers -------------------------------------------------------------------------------------------------


def add_parsers(sub: Any, json_flag: Flag, wait_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    sp = sub.add_parser("boot", help="one-time boot, boot order and boot mode (boot_configuration jobs)")
    bsub = sp.add_subparsers(dest="boot_cmd", required=True)
    x = json_flag(bsub.add_parser("show", help="the boot state DSM last read, and its change history"))
    x.add_argument("ref", metavar="REF")
    x = json_flag(bsub.add_parser("once", help="boot once from a target (Pxe, Cd, Hdd, BiosSetup, "
                                               "UefiTarget=PATH, …)"))
    x.add_argument("refs", nargs="+", metavar="REF")
    x.add_argument("--target", required=True, metavar="TARGET", help="Pxe|Cd|Hdd|BiosSetup|…|UefiTarget=PATH")
    x.add_argument("--continuous", action="store_true", help="every boot, not once (a persistent change)")
    x.add_argument("--reboot", action="store_true", help="restart the host now to boot from it")
    cli.disruption_flag(x)
    wait_flags(x)
    x = json_flag(bsub.add_parser("order", help="the persistent boot order (applied at the next reboot)"))
    x.add_argument("refs", nargs=1, metavar="REF")
    x.add_argument("--set", required=True, metavar="A,B,C", help="every BootOptions id once, in the new order")
    x.add_argument("--reboot", action="store_true", help="restart the host now to apply it")
    cli.disruption_flag(x)
    wait_flags(x)
    x = json_flag(bsub.add_parser("mode", help="the persistent boot mode, through the BIOS (BootMode)"))
    x.add_argument("refs", nargs="+", metavar="REF")
    x.add_argument("mode", type=_choice(("Uefi", "Bios"), "boot mode"), metavar="Uefi|Bios")
    x.add_argument("--reboot", action="store_true", help="restart the host now to apply it")
    cli.disruption_flag(x)
    wait_flags(x)
    sp.set_defaults(handler=cmd_boot)

    sp = sub.add_parser("bios", help="BIOS attributes, baselines and drift")
    bsub = sp.add_subparsers(dest="bios_cmd", required=True)
    x = json_flag(bsub.add_parser("show", help="the attributes DSM last read (drift marked *)"))
    x.add_argument("ref", metavar="REF")
    x.add_argument("--attribute", action="append", default=[], metavar="NAME")
    x.add_argument("--refresh", action="store_true", help="read them now (a bios_config_read job) first")
    x.add_argument("--timeout", type=float, default=600, metavar="S")
    x = json_flag(bsub.add_parser("read", help="read attributes and registry (a bios_config_read job)"))
    x.add_argument("refs", nargs="*", metavar="REF")
    x.add_argument("--group", action="append", default=[], metavar="NAME")
    wait_flags(x)
    x = json_flag(bsub.add_parser("set", help="set attributes (a bios_config_write job; checked against each "
                                              "server's registry now)"))
    cli.disruption_flag(x)
    x.add_argument("items", nargs="+", metavar="REF... ATTR=VALUE...")
    x.add_argument("--apply-time", default="OnReset",
                   choices=("OnReset", "Immediate", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"),
                   help="OnReset (next reboot; default), Immediate (restart now), or in the iDRAC's maintenance "
                        "window (with --maintenance-start)")
    x.add_argument("--maintenance-start", metavar="ISO", help="window start, an ISO time with an offset")
    x.add_argument("--maintenance-seconds", type=int, metavar="S", help="window length (default 3600)")
    x.add_argument("--reboot", action="store_true", help="OnReset: restart the host now to apply")
    wait_flags(x)
    bl = bsub.add_parser("baseline", help="the baseline a server or group is held to")
    blsub = bl.add_subparsers(dest="baseline_cmd", required=True)
    x = json_flag(blsub.add_parser("set", help="a server's last read becomes the baseline of it, or of --group"))
    x.add_argument("ref", nargs="?", metavar="REF", help="the server whose BIOS is the baseline")
    x.add_argument("--group", metavar="NAME", help="hold every member of this group to it")
    x.add_argument("--snapshot", metavar="ID", help="a particular stored read instead of the last")
    x = json_flag(blsub.add_parser("apply", help="one bios_config_write per drifting server, with exactly its "
                                                 "differing attributes"))
    x.add_argument("refs", nargs="*", metavar="REF")
    x.add_argument("--group", metavar="NAME")
    x.add_argument("--apply-time", default="OnReset", choices=("OnReset", "Immediate"))
    x.add_argument("--reboot", action="store_true")
    x = json_flag(bsub.add_parser("drift", help="attributes that differ from the baseline, per server"))
    x.add_argument("refs", nargs="*", metavar="REF")
    x.add_argument("--group", metavar="NAME")
    sp.set_defaults(handler=cmd_bios)

    sp = sub.add_parser("media", help="virtual media: mount an ISO, eject (virtual_media_* jobs)")
    msub = sp.add_subparsers(dest="media_cmd", required=True)
    x = json_flag(msub.add_parser("mount", help="mount an image (tested from the worker first)"))
    cli.disruption_flag(x)
    x.add_argument("refs", nargs="+", metavar="REF")
    x.add_argument("--image", required=True, metavar="URI",
                   help="http(s)://host/x.iso, host:/export/x.iso (NFS), //host/share/x.iso (CIFS), or a file "
                        "name on the share of virtual_media settings")
    x.add_argument("--media-type", default="CD", choices=("CD", "DVD", "USBStick", "Floppy"))
    x.add_argument("--boot-once", action="store_true", help="boot once from the virtual CD")
    x.add_argument("--reboot", action="store_true", help="restart the host now (to boot from it)")
    x.add_argument("--test-share", action="store_true", help="only test the share from the worker")
    wait_flags(x)
    x = json_flag(msub.add_parser("eject", help="eject what is mounted"))
    x.add_argument("refs", nargs="+", metavar="REF")
    x.add_argument("--media-type", choices=("CD", "DVD", "USBStick", "Floppy"))
    wait_flags(x)
    x = json_flag(msub.add_parser("list", help="virtual media sessions DSM knows of"))
    x.add_argument("ref", nargs="?", metavar="REF")
    sp.set_defaults(handler=cmd_media)

    sp = sub.add_parser("scp", help="Server Configuration Profiles: backups (export) and restores (import)")
    ssub = sp.add_subparsers(dest="scp_cmd", required=True)
    x = json_flag(ssub.add_parser("export", help="export to DSM (an scp_export job; stored with size and SHA-256)"))
    x.add_argument("refs", nargs="+", metavar="REF")
    x.add_argument("--target", action="append", type=_choice(SCP_TARGETS, "profile target"), metavar="TARGET",
                   help="ALL (default), BIOS, IDRAC, NIC, RAID, … (repeatable)")
    x.add_argument("--format", default="XML", type=_choice(("XML", "JSON"), "format"), metavar="XML|JSON")
    x.add_argument("--name", metavar="TEXT", help="the backup's name (default: export DATE)")
    wait_flags(x)
    x = json_flag(ssub.add_parser("import", help="restore a stored backup (an scp_import job)"))
    cli.disruption_flag(x)
    x.add_argument("ref", metavar="REF")
    x.add_argument("--backup", required=True, metavar="ID", help="a backup id (or its last 8 digits)")
    x.add_argument("--preview", action="store_true", help="only let the iDRAC check the profile")
    x.add_argument("--target", action="append", type=_choice(SCP_TARGETS, "profile target"), metavar="TARGET")
    x.add_argument("--shutdown", default="Graceful", type=_choice(("Graceful", "Forced", "NoReboot"), "shutdown"),
                   metavar="Graceful|Forced|NoReboot")
    x.add_argument("--power-state", default="On", type=_choice(("On", "Off"), "end power state"), metavar="On|Off",
                   help="the host's power state when the import is done")
    x.add_argument("--set", action="append", default=[], metavar="[FQDD:]ATTR=VALUE",
                   help="import a copy of the backup with this value changed (kept as a new backup)")
    x.add_argument("--from-other-server", action="store_true",
                   help="the backup was exported from another server: clone its settings onto REF (audited)")
    wait_flags(x)
    x = json_flag(ssub.add_parser("list", help="stored backups, newest first"))
    x.add_argument("ref", nargs="?", metavar="REF")
    x = json_flag(ssub.add_parser("show", help="one backup (--profile: the profile text itself)"))
    x.add_argument("id", metavar="ID")
    x.add_argument("--profile", action="store_true")
    sp.set_defaults(handler=cmd_scp)
