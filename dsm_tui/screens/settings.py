"""Settings: throttling, network, activity retention, the emergency pause, and users with roles.

Every key is the service layer's (``dsm settings``), validated there; secrets (SMTP, share
passwords) are entered masked, sealed, and shown only as set / not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.widgets import Label

from dsm_core.credentials.secret import Secret
from dsm_core.filtering import compile_filter
from dsm_core.services import settings as settings_service
from dsm_core.services import users as user_service
from dsm_tui.actions import BY_ID, ActionContext
from dsm_tui.modals.form import FormField, FormModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.table import Column, VirtualTable


@dataclass(slots=True)
class SettingRow:
    dotted: str
    value: str
    accepted: str
    secret: bool
    haystack: str = ""

    @property
    def key(self) -> str:
        return self.dotted


@dataclass(slots=True)
class UserRow:
    username: str
    role: str
    full_name: str
    haystack: str = ""

    @property
    def key(self) -> str:
        return self.username


def setting_rows(shown: dict[str, dict[str, Any]]) -> list[SettingRow]:
    rows = []
    for section, (_model, keys) in settings_service.SECTIONS.items():
        values = shown.get(section, {})
        for name, spec in keys.items():
            if spec.secret:
                value = "(set, sealed)" if values.get(f"{spec.column}_set") else "(not set)"
            else:
                raw = values.get(spec.column)
                value = ("" if raw is None else "yes" if raw is True else "no" if raw is False
                         else ", ".join(map(str, raw)) if isinstance(raw, list) else str(raw))
            dotted = f"{section}.{name}"
            accepted = f"({spec.pending}) {spec.accepted}" if spec.pending else spec.accepted
            rows.append(SettingRow(dotted, value, accepted, spec.secret, f"{dotted} {value}".lower()))
    return rows


SETTING_COLUMNS: list[Column[SettingRow]] = [
    Column("key", "SETTING", 38, lambda r: r.dotted, priority=0),
    Column("value", "VALUE", 20, lambda r: r.value,
           lambda r: "bold reverse yellow" if r.dotted.endswith("pause_idrac_operations") and r.value == "yes"
           else "", priority=0),
    Column("accepted", "ACCEPTED", 24, lambda r: r.accepted, lambda r: "dim", priority=2, flex=True),
]
USER_COLUMNS: list[Column[UserRow]] = [
    Column("user", "USER", 16, lambda r: r.username, priority=0),
    Column("role", "ROLE", 9, lambda r: r.role, priority=0),
    Column("name", "NAME", 20, lambda r: r.full_name, priority=1, flex=True),
]


class SettingsScreen(DsmScreen):
    VIEW: ClassVar[str] = "settings"
    AUTO_FOCUS = "#settings"

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[SettingRow] = VirtualTable(SETTING_COLUMNS, id="settings")
        self.users: VirtualTable[UserRow] = VirtualTable(USER_COLUMNS, id="users")

    def body(self) -> ComposeResult:
        yield self.table
        yield Label(" Users and roles (Tab to move here)", classes="section-title")
        yield self.users

    def focus_main(self) -> None:
        self.table.focus()

    def load(self) -> tuple[list[SettingRow], list[UserRow]]:
        ctx = self.ctx
        users = [UserRow(u["username"], u["role"], u.get("full_name") or "") for u in user_service.list_users(ctx)]
        return setting_rows(settings_service.show_settings(ctx)), users

    def apply(self, result: tuple[list[SettingRow], list[UserRow]]) -> None:
        settings, users = result
        if not self.table.rows:
            self.table.set_rows(settings)
        else:
            old = {r.dotted: r.value for r in self.table.rows}
            self.table.update_rows([r for r in settings if old.get(r.dotted) != r.value])
        if [(u.username, u.role) for u in users] != [(u.username, u.role) for u in self.users.rows]:
            self.users.set_rows(users)
        self.selection_changed()

    def apply_filter(self, text: str) -> None:
        self.table.set_filter(compile_filter(text, {"section": lambda r: r.dotted.split(".")[0],
                                                    "key": lambda r: r.dotted}))

    def action_context(self) -> ActionContext:
        return ActionContext(selected=1 if self.table.current else 0)

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.selection_changed()

    def do_edit(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx

        def submit(v: dict[str, str]) -> Any:
            value: str | Secret = Secret(v["value"]) if row.secret else v["value"]
            return settings_service.set_setting(ctx, row.dotted, value)

        field = FormField("value", row.dotted, "" if row.secret else row.accepted,
                          "" if row.secret else row.value, password=row.secret, required=not row.secret)
        self.app.push_screen(FormModal(f"Set {row.dotted}", [field], submit, note=f"accepted: {row.accepted}"),
                             self.after_dialog(f"{row.dotted} saved"))

    def do_pause(self) -> None:
        paused = self.dsm.paused
        ctx = self.ctx
        question = ("Resume iDRAC work? Workers start new iDRAC calls again." if paused else
                    "Pause all iDRAC work? Workers finish the call in flight and start no new one.")
        self.confirm(BY_ID["settings.pause"], question, [], lambda: self.call_service(
            "pause", lambda: settings_service.set_setting(ctx, "activity.pause_idrac_operations",
                                                          "false" if paused else "true"),
            lambda _: self.notify("iDRAC work resumed" if paused else "iDRAC work PAUSED", severity="warning")))

    def do_test_notification(self) -> None:
        from dsm_core.services import notifications

        ctx = self.ctx
        self.call_service("test notification", lambda: notifications.send_test(ctx), lambda view: self.notify(
            f"test notification queued to {', '.join(view['channels'])}; the worker running the scheduler sends it "
            "(`dsm notifications list` shows each attempt)", timeout=6))

    def do_user_add(self) -> None:
        ctx = self.ctx

        def submit(v: dict[str, str]) -> Any:
            return user_service.add_user(ctx, v["username"].strip(), v["role"].strip(),
                                         v["full_name"].strip() or None)

        fields = [FormField("username", "OS user name", "jdoe"), FormField("role", "role", "viewer, operator or admin"),
                  FormField("full_name", "full name", required=False)]
        self.app.push_screen(FormModal("Add a user", fields, submit), self.after_dialog("user added"))

    def do_user_role(self) -> None:
        user = self.users.current
        if user is None:
            return
        ctx = self.ctx
        self.app.push_screen(
            FormModal(f"Role of {user.username}", [FormField("role", "role", "viewer, operator or admin", user.role)],
                      lambda v: user_service.set_role(ctx, user.username, v["role"].strip())),
            self.after_dialog(f"role of {user.username} changed"))

    def do_user_remove(self) -> None:
        user = self.users.current
        if user is None:
            return
        ctx = self.ctx
        self.confirm(BY_ID["settings.user_remove"], f"Remove DSM user {user.username}?", [user.username],
                     lambda: self.call_service("remove user", lambda: user_service.remove_user(ctx, user.username),
                                               lambda _: self.notify(f"user {user.username} removed")))
