"""A virtual table: renders only the lines on screen, whatever the number of rows.

Textual's DataTable builds every row up front (3.4 s and a frozen UI for 10,000 servers); like
Toolong's log view, this table keeps the rows as plain dataclasses and paints a line only when it is
visible (``render_line``). Filtering and sorting rebuild a list of row references, not widgets, and
an update repaints only the visible lines whose rows changed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dsm_core.text import visible


class HasKey(Protocol):
    @property
    def key(self) -> Hashable: ...


R = TypeVar("R", bound=HasKey)


@dataclass(frozen=True)
class Column(Generic[R]):
    key: str
    label: str
    width: int
    text: Callable[[R], str]
    style: Callable[[R], str] | None = None
    """A Rich style name for the cell, e.g. "red" for Critical."""
    sort_key: Callable[[R], Any] | None = None
    priority: int = 1
    """Columns with a higher number are dropped first when the terminal is narrow."""
    flex: bool = False
    """Takes the width left over (columns that carry text: names, errors, endpoints)."""
    cut_left: bool = False
    """Too long: keep the end (an endpoint's last segments say what it is), cut the start."""


def _fit(text: str, width: int, cut_left: bool = False) -> str:
    """A cell: outside text made visible (a hostname may hold ESC), then cut or padded to ``width``."""
    text = visible(text)
    if len(text) > width:
        if width <= 1:
            return text[:width]
        return "…" + text[len(text) - width + 1:] if cut_left else text[: width - 1] + "…"
    return text.ljust(width)


class VirtualTable(ScrollView, Generic[R], can_focus=True):
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; scrollbar-size-horizontal: 0; }
    VirtualTable > .vt--header { text-style: bold; background: $panel; }
    VirtualTable > .vt--cursor { background: $accent 60%; text-style: bold; }
    VirtualTable:blur > .vt--cursor { background: $accent 25%; text-style: none; }
    VirtualTable > .vt--marked { color: $warning; text-style: bold; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"vt--header", "vt--cursor", "vt--marked"}
    # The navigation keys of k9s and less; listed on the help page (dsm_tui.actions.NAVIGATION).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", show=False),
        Binding("down,j", "cursor(1)", show=False),
        Binding("pageup,ctrl+b", "page(-1)", show=False),
        Binding("pagedown,ctrl+f", "page(1)", show=False),
        Binding("ctrl+u", "half_page(-1)", show=False),
        Binding("ctrl+d", "half_page(1)", show=False),
        Binding("home,g", "jump(0)", show=False),
        Binding("end,G", "jump(-1)", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=False, repaint=False)

    class CursorMoved(Message):
        def __init__(self, table: VirtualTable[Any], row: Any | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

    class NearEnd(Message):
        """The cursor is close to the last row: time to load an older page."""

        def __init__(self, table: VirtualTable[Any]) -> None:
            super().__init__()
            self.table = table

    def __init__(self, columns: Sequence[Column[R]], *, empty: str = "nothing here", id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.empty_text = empty
        self._rows: list[R] = []
        self._by_key: dict[Hashable, R] = {}
        self._view: list[R] = []
        self._ordered: list[R] | None = None
        """All rows in sort order, kept between filter keystrokes (filtering then never sorts)."""
        self._positions_cache: dict[Hashable, int] | None = {}
        self._ordered_stale = False
        """Rows were replaced in place since _ordered was built: it still holds the old objects."""
        self._predicate: Callable[[R], bool] | None = None
        self._sort: Column[R] | None = None
        self._reverse = False
        self.marked: set[Hashable] = set()
        self._layout: list[tuple[Column[R], int]] = []
        self._layout_width = -1

    # --- data ---------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[R]:
        return self._rows

    @property
    def shown(self) -> list[R]:
        return self._view

    @property
    def current(self) -> R | None:
        return self._view[self.cursor] if 0 <= self.cursor < len(self._view) else None

    def selection(self) -> list[R]:
        """The marked rows (still present), else the row under the cursor."""
        if self.marked:
            return [r for r in self._rows if r.key in self.marked]
        return [self.current] if self.current is not None else []

    def get(self, key: Hashable) -> R | None:
        return self._by_key.get(key)

    def keys(self) -> set[Hashable]:
        return set(self._by_key)

    @property
    def _positions(self) -> dict[Hashable, int]:
        if self._positions_cache is None:
            self._positions_cache = {r.key: i for i, r in enumerate(self._view)}
        return self._positions_cache

    def selection_count(self) -> int:
        """len(selection()) without walking the rows (marks are kept to rows that exist)."""
        return len(self.marked) if self.marked else int(self.current is not None)

    def set_rows(self, rows: Iterable[R], *, sorted_by: str | None = None) -> None:
        """Replace every row. ``sorted_by``: the rows already come in that column's ascending order
        (sorted in the loading thread), so the table does not sort them again on the event loop."""
        self._rows = list(rows)
        self._by_key = {r.key: r for r in self._rows}
        self.marked &= set(self._by_key)
        presorted = sorted_by is not None and self._sort is not None and self._sort.key == sorted_by \
            and not self._reverse
        if presorted:
            self._ordered = list(self._rows)
        self._rebuild(reorder=not presorted)

    def update_rows(self, changed: Iterable[R], *, removed: Iterable[Hashable] = (), prepend: bool = False) -> None:
        """Replace rows by key and add new ones; repaint only the visible lines that changed.

        The view is rebuilt (filter and sort re-applied) only when a row was added or removed or a
        change moves it in the sort order; a plain cell change keeps every row where it is.
        """
        new: list[R] = []
        repaint: list[int] = []
        structural = False
        for row in changed:
            old = self._by_key.get(row.key)
            self._by_key[row.key] = row
            if old is None:
                new.append(row)
                continue
            index = self._index_of(old)
            self._rows[index] = row
            pos = self._positions.get(row.key)
            self._ordered_stale = True
            moved = self._sort is not None and self._sort_value(old) != self._sort_value(row)
            if (self._predicate is not None and self._predicate(old) != self._predicate(row)) or moved:
                structural = True
            elif pos is not None:
                self._view[pos] = row
                repaint.append(pos)
        gone = set(removed) & set(self._by_key)
        if gone:
            for key in gone:
                del self._by_key[key]
            self._rows = [r for r in self._rows if r.key not in gone]
            self.marked -= gone
            structural = True
        if new:
            self._rows = new + self._rows if prepend else self._rows + new
            structural = True
        if structural:
            self._row_index = None
            self._rebuild()
            return
        top = int(self.scroll_y)
        for pos in repaint:
            if top <= pos < top + self.size.height:
                self.refresh(Region(0, pos - top + 1, self.size.width, 1))

    _row_index: dict[Hashable, int] | None = None

    def _index_of(self, row: R) -> int:
        if self._row_index is None or len(self._row_index) != len(self._rows):
            self._row_index = {r.key: i for i, r in enumerate(self._rows)}
        return self._row_index[row.key]

    def set_filter(self, predicate: Callable[[R], bool] | None) -> None:
        self._predicate = predicate
        self._rebuild(reorder=False)

    def sort_by(self, column_key: str | None, reverse: bool = False) -> None:
        self._sort = next((c for c in self.columns if c.key == column_key), None)
        self._reverse = reverse
        self._layout_width = -1  # the sorted column is never the one dropped for width
        self._rebuild()

    @property
    def sort_column(self) -> Column[R] | None:
        return self._sort

    def next_sort(self) -> Column[R]:
        keys = [c.key for c in self.columns]
        index = (keys.index(self._sort.key) + 1) % len(keys) if self._sort else 0
        self.sort_by(keys[index], self._reverse)
        assert self._sort is not None
        return self._sort

    def reverse_sort(self) -> None:
        self._reverse = not self._reverse
        self._rebuild()

    @property
    def sort_state(self) -> tuple[str | None, bool]:
        return (self._sort.key if self._sort else None, self._reverse)

    def _sort_value(self, row: R) -> Any:
        assert self._sort is not None
        key = self._sort.sort_key or self._sort.text
        value = key(row)
        return (value is None, value if value is not None else "")

    def _rebuild(self, *, reorder: bool = True) -> None:
        current = self.current.key if self.current is not None else None
        self._row_index = None
        if reorder or self._ordered is None:
            if self._sort is not None:
                self._ordered = sorted(self._rows, key=self._sort_value, reverse=self._reverse)
            else:
                self._ordered = list(self._rows)
        elif self._ordered_stale:
            by_key = self._by_key
            self._ordered = [by_key[r.key] for r in self._ordered]
        self._ordered_stale = False
        ordered = self._ordered
        view = list(ordered) if self._predicate is None else [r for r in ordered if self._predicate(r)]
        self._view = view
        self._positions_cache = None  # built when first asked for: most keystrokes never need it
        self.virtual_size = Size(self.size.width, len(view) + 1)
        if current is not None and (pos := self._positions.get(current)) is not None:
            self.cursor = pos
        else:
            self.cursor = min(self.cursor, max(0, len(view) - 1))
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.CursorMoved(self, self.current))

    def toggle_mark(self) -> None:
        row = self.current
        if row is None:
            return
        self.marked.symmetric_difference_update({row.key})
        self.refresh()

    def mark_shown(self) -> None:
        keys = {r.key for r in self._view}
        self.marked = set() if keys <= self.marked else self.marked | keys
        self.refresh()

    def move_to(self, key: Hashable) -> bool:
        pos = self._positions.get(key)
        if pos is None:
            return False
        self.cursor = pos
        return True

    # --- keys ---------------------------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, min(len(self._view) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_half_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, (self.size.height - 1) // 2))

    def action_jump(self, where: int) -> None:
        self.cursor = 0 if where == 0 else max(0, len(self._view) - 1)

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        top = int(self.scroll_y)
        for pos in (old, new):
            if top <= pos < top + self.size.height:
                self.refresh(Region(0, pos - top + 1, self.size.width, 1))
        self.post_message(self.CursorMoved(self, self.current))
        if self._view and new >= len(self._view) - max(5, self.size.height):
            self.post_message(self.NearEnd(self))

    def _scroll_to_cursor(self) -> None:
        body = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def on_click(self, event: Any) -> None:
        y = event.y
        if y >= 1:
            pos = int(self.scroll_y) + y - 1
            if 0 <= pos < len(self._view):
                self.cursor = pos

    # --- painting -----------------------------------------------------------------------------------

    def _columns_for(self, width: int) -> list[tuple[Column[R], int]]:
        if width == self._layout_width:
            return self._layout
        chosen = list(self.columns)
        sorted_key = self._sort.key if self._sort is not None else None

        def rank(c: Column[R]) -> int:
            return 0 if c.key == sorted_key else c.priority  # the sorted column (and its arrow) stays

        # Drop the least important columns until the fixed widths fit (k9s does the same).
        while len(chosen) > 1 and sum(c.width + 1 for c in chosen) + 2 > width:
            worst = max(chosen, key=lambda c: (rank(c), self.columns.index(c)))
            if rank(worst) <= 0:
                break
            chosen.remove(worst)
        spare = width - 2 - sum(c.width + 1 for c in chosen)
        flex = [c for c in chosen if c.flex] or chosen[-1:]
        layout = []
        for c in chosen:
            extra = spare // len(flex) if c in flex and spare > 0 else 0
            layout.append((c, c.width + extra))
        self._layout, self._layout_width = layout, width
        return layout

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        layout = self._columns_for(width)
        if y == 0:
            sort_key, reverse = self.sort_state
            cells = []
            for c, w in layout:
                label = c.label + ((" ↓" if reverse else " ↑") if c.key == sort_key else "")
                cells.append(_fit(label, w) if c.key != sort_key or len(label) <= w
                             else _fit(label[: max(1, w - 2)], w - 2) + label[-2:])  # the arrow is never cut
            text = "  " + " ".join(cells)
            return Strip([Segment(_fit(text, width), self.get_component_rich_style("vt--header"))])
        pos = int(self.scroll_y) + y - 1
        base = self.rich_style
        if pos >= len(self._view):
            if pos == 0 and not self._view:
                text = "nothing matches the filter (esc clears it)" if self._rows else self.empty_text
                return Strip([Segment(_fit("  " + text, width), base + Style(dim=True))])
            return Strip.blank(width, base)
        row = self._view[pos]
        line_style = base
        if pos == self.cursor:
            line_style = base + self.get_component_rich_style("vt--cursor")
        marked = row.key in self.marked
        segments = [Segment("● " if marked else "  ", line_style + self.get_component_rich_style("vt--marked")
                            if marked else line_style)]
        monochrome = self.app.no_color
        for i, (c, w) in enumerate(layout):
            style = line_style
            if c.style is not None:
                name = c.style(row)
                if name:
                    cell = Style.parse(name)
                    if monochrome and cell.color is not None and cell.color.name == "red":
                        # an alarm without colours: reverse, so it is the loudest cell, not a dark grey one
                        cell += Style(reverse=True, bold=True)
                    style = line_style + cell
            segments.append(Segment(_fit(c.text(row), w, c.cut_left), style))
            if i < len(layout) - 1:
                segments.append(Segment(" ", line_style))
        strip = Strip(segments)
        used = strip.cell_length
        if used < width:
            strip = Strip([*segments, Segment(" " * (width - used), line_style)])
        return strip.crop(0, width)

    def on_resize(self) -> None:
        self._layout_width = -1
        self.virtual_size = Size(self.size.width, len(self._view) + 1)
