"""`dsm vcenter`, `dsm clusters`, `dsm safety`: vCenters DSM syncs from, their clusters, and safety verdicts.

The CLI never reaches a vCenter itself (DESIGN.md §1): `add` stores it, `sync` and `safety check` are jobs the
worker runs. `safety check --wait` exits 0 when every target is safe, 4 when one is unsafe (the reasons are printed
and stored), 1 when the check itself could not run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from dsm_cli import main as cli
from dsm_cli.output import print_json, print_table, say
from dsm_core.services import jobs, rolling, vcenter
from dsm_core.services.context import ServiceContext

Flag = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
UNSAFE_EXIT = 4

VCENTER_COLUMNS = (("name", "name"), ("url", "url"), ("username", "user"), ("tls", "tls"), ("clusters", "clusters"),
                   ("hosts", "hosts"), ("last_sync_status", "sync"), ("last_sync", "last sync"))
CLUSTER_COLUMNS = (("name", "cluster"), ("vcenter", "vcenter"), ("datacenter", "datacenter"), ("drs", "drs"),
                   ("ha_enabled", "ha"), ("hosts", "hosts"), ("hosts_connected", "connected"),
                   ("hosts_in_maintenance", "maint"), ("hosts_linked", "linked"), ("safety", "safety"))
HOST_COLUMNS = (("priority", "prio"), ("name", "host"), ("connection_state", "connection"),
                ("maintenance_mode", "maint"), ("overall_status", "status"), ("esxi_version", "esxi"),
                ("service_tag", "tag"), ("server", "server"), ("link_source", "link"), ("vm_count", "vms"))


def _tls(view: dict[str, Any]) -> str:
    if view["tls_verify_mode"] == "off":
        return "OFF (insecure)"
    return "pinned" if view.get("tls_fingerprint_sha256") else "pin on first use"


def cmd_vcenter(rt: cli.Runtime) -> None:
    a = rt.args
    if a.vc_cmd == "list":
        rows = vcenter.list_vcenters(rt.ctx())
        if a.json:
            print_json(rows)
            return
        for r in rows:
            r["tls"] = _tls(r)
        print_table(rows, VCENTER_COLUMNS, empty="(no vCenter: `dsm vcenter add NAME --url https://HOST ...`)")
    elif a.vc_cmd == "add":
        if not a.password_stdin:
            raise cli.CliError("--password-stdin is required: the password is read from standard input, "
                               "never from the command line")
        if a.insecure:
            say("WARNING: --insecure: the vCenter's certificate will NOT be checked; anyone on the path can read "
                "its password. Pin it with --fingerprint instead.", sys.stderr)
        view = vcenter.add_vcenter(rt.ctx(), a.name, a.url, a.username, cli.read_password(),
                                   fingerprint=a.fingerprint, insecure=a.insecure)
        if a.json:
            print_json(view)
        else:
            print(f"added vCenter {view['name']} ({view['url']}, TLS {_tls(view)}); "
                  "`dsm vcenter sync --wait` reads its clusters")
    elif a.vc_cmd == "remove":
        cli._confirm(rt, "vcenter.remove", f"remove vCenter {a.name} with its clusters and hosts")
        vcenter.remove_vcenter(rt.ctx(), a.name)
        print(f"removed vCenter {a.name}")
    elif a.vc_cmd == "sync":
        ctx = rt.ctx()
        view = jobs.create_job(ctx, "vcenter_sync", details={"vcenters": [a.name] if a.name else []})
        cli._report_created(rt, ctx, view)
    elif a.vc_cmd == "test":
        ctx = rt.ctx()
        view = jobs.create_job(ctx, "vcenter_connectivity_test", details={"vcenter": a.name})
        cli._report_created(rt, ctx, view)
    elif a.vc_cmd == "link":
        result = vcenter.link_host(rt.ctx(), a.host, a.ref, despite_service_tag=a.despite_service_tag)
        print_json(result) if a.json else say(f"linked host {result['host']} to server {result['server']}")


def _safety_cell(view: dict[str, Any]) -> str:
    last = view.get("last_safety")
    return "-" if not last else last["verdict"]


def cmd_clusters(rt: cli.Runtime) -> None:
    a = rt.args
    if a.cl_cmd == "list":
        rows = vcenter.list_clusters(rt.ctx())
        if a.json:
            print_json(rows)
            return
        for r in rows:
            r["drs"] = (r["drs_automation"] or "on") if r["drs_enabled"] else "off"
            r["safety"] = _safety_cell(r)
        print_table(rows, CLUSTER_COLUMNS, empty="(no clusters: `dsm vcenter sync --wait` first)")
        return
    view = vcenter.show_cluster(rt.ctx(), a.name)
    if a.json:
        print_json(view)
        return
    drs = (view["drs_automation"] or "on") if view["drs_enabled"] else "off"
    say(f"cluster {view['name']} (vCenter {view['vcenter']}, datacenter {view['datacenter'] or '-'})")
    say(f"DRS {drs}, HA {'on' if view['ha_enabled'] else 'off'}, admission control "
        f"{'-' if view['admission_control'] is None else ('on' if view['admission_control'] else 'off')}, "
        f"group {view['group'] or '-'}")
    print_table(view["host_list"], HOST_COLUMNS)
    last = view["last_safety"]
    if last:
        say(f"last safety check {last['at']}: {last['verdict']}")
        for reason in last["reasons"]:
            say(f"  - {reason}")
    history = "".join("+" if c and c["verdict"] == "safe" else "x" for c in view["safety_history"])
    if history:
        say(f"last {len(view['safety_history'])} checks (oldest first, + safe, x unsafe): {history}")


def _follow(ctx: ServiceContext, job_id: str, timeout: float | None) -> dict[str, Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = jobs.show_job(ctx, job_id)
        if job["status"] in cli.TERMINAL or (deadline is not None and time.monotonic() >= deadline):
            return job
        time.sleep(0.3)


def cmd_safety(rt: cli.Runtime) -> None:
    a = rt.args
    ctx = rt.ctx()
    if a.safety_cmd == "schedule":
        from dsm_core.services import safety

        if a.enable is None and a.cron is None and not a.cluster and not a.all_clusters and a.groups is None \
                and a.min_hosts is None:
            view = safety.show_schedule(ctx)
        else:
            view = safety.set_schedule(ctx, enabled=a.enable, cron=a.cron, clusters=a.cluster,
                                       all_clusters=a.all_clusters, groups=a.groups, min_required_hosts=a.min_hosts)
        print_json(view) if a.json else say(
            "scheduled safety check: " + ("not configured" if not view["configured"] else
                                          f"{'on' if view['enabled'] else 'off'}, cron {view['cron']!r} (UTC), "
                                          f"clusters {view['clusters']}, groups {'all' if view['groups'] else 'none'}"
                                          f", minimum {view['min_required_hosts']}, last run {view['last_run_at']}"))
        return
    if a.cluster:
        details = {} if a.min_hosts is None else {"min_required_hosts": a.min_hosts}
        view = jobs.create_job(ctx, "cluster_safety_check", clusters=a.cluster, details=details)
    else:
        details = {} if a.min_hosts is None else {"min_healthy_servers": a.min_hosts}
        view = jobs.create_job(ctx, "server_group_safety_check", groups=a.group, details=details)
    if not a.wait:
        cli._report_created(rt, ctx, view)
        return
    job = _follow(ctx, view["id"], a.timeout)
    result = (job.get("details") or {}).get("result") or {}
    checks = result.get("checks", [])
    verdict = result.get("verdict") if job["status"] == "completed" else None
    reasons = [r for c in checks for r in c.get("reasons", [])]
    out = {"job_id": job["id"], "status": job["status"], "verdict": verdict, "reasons": reasons, "checks": checks,
           "error": job.get("error")}
    if a.json:
        print_json(out)
    else:
        for c in checks:
            say(f"{c['name']}: {c['verdict']} ({c['healthy']} of {c['total']} healthy, minimum {c['minimum']}, "
                f"margin {c['margin']})")
            for reason in c["reasons"]:
                say(f"  - {reason}")
            for warning in c["warnings"]:
                say(f"  ! {warning}")
        if job["status"] != "completed":
            say(f"job {cli.short_id(job['id'])} {job['status']}: {job.get('error') or 'not finished'}", sys.stderr)
    if job["status"] != "completed":
        raise cli.CliError("", 1)
    if verdict != "safe":
        raise cli.CliError("", UNSAFE_EXIT)


PLAN_COLUMNS = (("order", "#"), ("host", "host"), ("server", "server"), ("changes", "changes"),
                ("estimate", "estimate"), ("margin", "margin"))


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def print_plan(plan: dict[str, Any]) -> None:
    source = plan["source"].get("repository") or plan["source"].get("image_uri")
    say(f"rolling update of cluster {plan['cluster']} (vCenter {plan['vcenter']}), as of the sync at "
        f"{plan['as_of'] or 'never'}: firmware from {source}")
    say(f"{plan['healthy_hosts']} of {plan['total_hosts']} host(s) healthy, minimum {plan['min_required_hosts']}, "
        f"{plan['max_concurrent']} host(s) at a time; margin = healthy - down - minimum")
    rows = []
    for h in plan["hosts"]:
        names = [f"{c['component']} {c['from']}→{c['to']}" for c in h["components"]]
        rows.append({**h, "changes": "; ".join(names) if names else h["components_basis"],
                     "estimate": f"{_minutes(h['estimated_seconds'])} ({h['estimate_basis']})"})
    print_table(rows, PLAN_COLUMNS, empty="(no hosts)")
    say(f"estimated total: {_minutes(plan['estimated_total_seconds'])}; plan {plan['digest']}")
    for problem in plan.get("problems", []):
        say(f"  UNSAFE: {problem}")


def cmd_rolling_update(rt: cli.Runtime) -> None:
    a = rt.args
    ctx = rt.ctx()
    options = {"repository": a.repository, "image_uri": a.image_uri, "max_concurrent": a.max_concurrent,
               "min_required_hosts": a.min_hosts}
    plan = rolling.plan_rolling_update(ctx, a.cluster, **options)
    if a.plan:
        print_json(plan) if a.json else print_plan(plan)
        if not plan["safe"]:
            raise cli.CliError("", UNSAFE_EXIT)
        return
    if not a.json:
        print_plan(plan)
    if not plan["safe"]:
        raise cli.CliError(f"not started: the plan of {plan['cluster']} is not safe", UNSAFE_EXIT)
    if not a.yes:
        if not (sys.stdin is not None and sys.stdin.isatty()):
            raise cli.CliError("not started: there is no terminal to confirm on; read the plan with --plan, then "
                               "add --yes")
        sys.stderr.write(f"type the cluster's name ({plan['cluster']}) to start: ")
        sys.stderr.flush()
        if sys.stdin.readline().strip() != plan["cluster"]:
            raise cli.CliError("nothing was started", 1)
    view = rolling.start_rolling_update(ctx, a.cluster, **options, accepted_digest=plan["digest"],
                                        maintenance_timeout_seconds=a.maintenance_timeout,
                                        online_timeout_seconds=a.online_timeout)
    view.pop("plan", None)
    cli._report_created(rt, ctx, view)


def add_parsers(sub: Any, json_flag: Flag, wait_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    sp = sub.add_parser("vcenter", help="vCenters DSM syncs clusters and hosts from")
    vsub = sp.add_subparsers(dest="vc_cmd", required=True)
    json_flag(vsub.add_parser("list", help="the vCenters, their TLS trust and last sync"))
    x = json_flag(vsub.add_parser("add", help="admin: a vCenter (password from standard input, sealed for the worker)"))
    x.add_argument("name", metavar="NAME")
    x.add_argument("--url", required=True, metavar="https://HOST[:PORT]")
    x.add_argument("--username", required=True, metavar="USER")
    x.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    trust = x.add_mutually_exclusive_group()
    trust.add_argument("--fingerprint", metavar="SHA256", help="the certificate's SHA-256 fingerprint to pin "
                       "(default: pinned on the first connection)")
    trust.add_argument("--insecure", action="store_true", help="do not check the certificate at all (said loudly)")
    x = vsub.add_parser("remove", help="admin: forget a vCenter, its clusters and hosts (servers stay)")
    x.add_argument("name", metavar="NAME")
    x.add_argument("--yes", action="store_true", help="do not ask")
    x = json_flag(vsub.add_parser("sync", help="read clusters and hosts (a vcenter_sync job); all vCenters by default"))
    x.add_argument("name", nargs="?", metavar="NAME")
    wait_flags(x)
    x = json_flag(vsub.add_parser("test", help="log in and out (a vcenter_connectivity_test job)"))
    x.add_argument("name", metavar="NAME")
    wait_flags(x)
    x = json_flag(vsub.add_parser("link", help="link an ESXi host to a server by hand (a sync keeps the link)"))
    x.add_argument("host", metavar="HOST", help="host name or moref (VCENTER/HOST when ambiguous)")
    x.add_argument("ref", metavar="REF", help="the server: id, IP, IP:PORT, hostname or service tag")
    x.add_argument("--despite-service-tag", metavar="REASON", help="admin: link although the server's service tag "
                   "is not the host's serial number (audited with the reason)")
    sp.set_defaults(handler=cmd_vcenter)

    sp = sub.add_parser("clusters", help="vSphere clusters as the last sync saw them")
    csub = sp.add_subparsers(dest="cl_cmd", required=True)
    json_flag(csub.add_parser("list", help="clusters with DRS, HA, host counts and the last safety verdict"))
    x = json_flag(csub.add_parser("show", help="one cluster: hosts, links, safety history"))
    x.add_argument("name", metavar="NAME", help="cluster name (VCENTER/CLUSTER when ambiguous)")
    sp.set_defaults(handler=cmd_clusters)

    sp = sub.add_parser("safety", help="safety checks of clusters and server groups")
    ssub = sp.add_subparsers(dest="safety_cmd", required=True)
    x = json_flag(ssub.add_parser("check", help="is it safe to take one host/server down now? --wait exits 0 safe, "
                                                f"{UNSAFE_EXIT} unsafe, 1 when the check could not run"))
    target = x.add_mutually_exclusive_group(required=True)
    target.add_argument("--cluster", action="append", metavar="NAME")
    target.add_argument("--group", action="append", metavar="NAME")
    x.add_argument("--min-hosts", type=int, metavar="N", help="minimum healthy hosts (servers for a group) that "
                   "must remain; default 2 for clusters, the group's own minimum for groups")
    wait_flags(x)
    x = json_flag(ssub.add_parser("schedule", help="the scheduled safety check the worker's scheduler runs by cron "
                                                   "(no option: show it; admin to change it)"))
    on = x.add_mutually_exclusive_group()
    on.add_argument("--enable", dest="enable", action="store_const", const=True, default=None)
    on.add_argument("--disable", dest="enable", action="store_const", const=False)
    x.add_argument("--cron", metavar="PATTERN", help="minute hour day month weekday, in UTC (default 0 */6 * * *)")
    which = x.add_mutually_exclusive_group()
    which.add_argument("--cluster", action="append", metavar="NAME", help="check these clusters only")
    which.add_argument("--all-clusters", action="store_true", help="check every cluster (the default)")
    grp = x.add_mutually_exclusive_group()
    grp.add_argument("--groups", dest="groups", action="store_const", const=True, default=None,
                     help="check every server group too")
    grp.add_argument("--no-groups", dest="groups", action="store_const", const=False)
    x.add_argument("--min-hosts", type=int, metavar="N", help="minimum healthy hosts (default 2)")
    sp.set_defaults(handler=cmd_safety)

    x = json_flag(sub.add_parser("rolling-update", help="update the firmware of every host of a cluster, one at a "
                                                       "time, through vCenter maintenance mode (shows the plan first)"))
    x.add_argument("cluster", metavar="CLUSTER", help="cluster name (VCENTER/CLUSTER when ambiguous)")
    source = x.add_mutually_exclusive_group(required=True)
    source.add_argument("--repository", metavar="NAME", help="a local firmware repository (its catalog)")
    source.add_argument("--image-uri", metavar="URI", help="one package the iDRACs pull (http/https/nfs/cifs)")
    x.add_argument("--max-concurrent", type=int, default=1, metavar="N", help="hosts down at once (default 1)")
    x.add_argument("--min-hosts", type=int, default=2, metavar="N",
                   help="healthy hosts that must remain in service (default 2)")
    x.add_argument("--maintenance-timeout", type=int, default=1800, metavar="S",
                   help="seconds to wait for a host's evacuation (default 1800)")
    x.add_argument("--online-timeout", type=int, default=3600, metavar="S",
                   help="seconds to wait for a host to come back after its restart (default 3600)")
    x.add_argument("--plan", action="store_true", help="show the plan and stop (exit 4 when it is unsafe)")
    x.add_argument("--yes", action="store_true", help="start without typing the cluster's name")
    wait_flags(x)
    x.set_defaults(handler=cmd_rolling_update)
