"""The virtual table on its own: updates in place, filter and sort keep the newest row objects."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult

from dsm_tui.widgets.table import Column, VirtualTable


@dataclass
class Row:
    key: int
    name: str
    state: str
    haystack: str = ""


COLUMNS = [Column("name", "NAME", 10, lambda r: r.name), Column("state", "STATE", 8, lambda r: r.state)]


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, id="t")


async def test_an_update_in_place_survives_a_later_filter_and_keeps_the_cursor() -> None:
    app = One()
    async with app.run_test(size=(40, 12)) as pilot:
        table: VirtualTable[Row] = app.query_one(VirtualTable)
        table.sort_by("name")
        table.set_rows([Row(i, f"n{i:02d}", "ok") for i in range(30)])
        table.move_to(7)
        table.update_rows([Row(7, "n07", "FAILED")])  # same sort value: repainted where it is
        await pilot.pause()
        assert table.current is not None and table.current.state == "FAILED"
        table.set_filter(lambda r: r.key % 7 == 0)  # filtering does not re-sort: it must see the new object
        assert [r.state for r in table.shown if r.key == 7] == ["FAILED"]
        assert table.current is not None and table.current.key == 7, "the cursor stays on its row"
        table.update_rows([Row(7, "a07", "FAILED")])  # moves in the sort order: rebuilt
        assert table.shown[0].key == 7
        table.update_rows([Row(99, "zz", "new")], removed=[14])
        assert [r.key for r in table.shown] == [7, 0, 21, 28]
        table.set_filter(None)
        assert len(table.shown) == 30 and table.shown[-1].key == 99
