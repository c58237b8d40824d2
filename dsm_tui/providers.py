"""The command palette (ctrl+p): jump to a server by name, IP or service tag; run an action; go to a view.

Server search works on the servers the Servers view already holds (or reads them once when the
palette opens first), so it covers thousands of servers without a query per keystroke; it takes
plain substring hits first and stops at 40, which keeps each keystroke cheap.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from dsm_tui import data
from dsm_tui.actions import for_view

if TYPE_CHECKING:
    from dsm_tui.app import DsmApp

MAX_SERVER_HITS = 40


class ServerCommands(Provider):
    async def startup(self) -> None:
        app = cast("DsmApp", self.app)
        from dsm_tui.screens.servers import ServersScreen

        servers = app.loaded_view("servers")
        rows = list(servers.table.rows) if isinstance(servers, ServersScreen) else []
        if not rows:
            rows = await asyncio.to_thread(data.load_servers, app.engine)
        self.rows = rows

    async def search(self, query: str) -> Hits:
        app = cast("DsmApp", self.app)
        q = query.strip().lower()
        if not q:
            return
        matcher = self.matcher(query)
        found = 0
        for row in self.rows:
            if q in row.hostname.lower() or q in row.address or q in row.service_tag.lower():
                label = f"{row.name}  {row.address}  {row.service_tag}  {row.model}"
                yield Hit(1.0 if row.name.lower().startswith(q) else 0.8, matcher.highlight(label),
                          partial(app.show_server, row.id), help=f"server · {row.health or 'health ?'} · "
                                                                 f"{row.power or 'power ?'}")
                found += 1
                if found >= MAX_SERVER_HITS:
                    return


class ActionCommands(Provider):
    """Every action the user may run on the current view (the same ``permitted`` rule as the footer)."""

    def _actions(self) -> list[tuple[str, str, str]]:
        app = cast("DsmApp", self.app)
        view = app.view
        if view is None:
            return []
        out = []
        for a in for_view(view.VIEW, app.actor.role, app.readonly, include_global=False):
            if a.palette:
                out.append((a.id, f"{view.VIEW}: {a.title}", a.help))
        return out

    async def discover(self) -> Hits:
        app = cast("DsmApp", self.app)
        for action_id, title, help_text in self._actions():
            yield DiscoveryHit(title, partial(app.action_act, action_id), help=help_text)

    async def search(self, query: str) -> Hits:
        app = cast("DsmApp", self.app)
        matcher = self.matcher(query)
        for action_id, title, help_text in self._actions():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(app.action_act, action_id), help=help_text)


class ViewCommands(Provider):
    async def search(self, query: str) -> Hits:
        app = cast("DsmApp", self.app)
        matcher = self.matcher(query)
        for view in app.views():
            title = f":{view}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(app.goto, view), help="go to the view")
