"""The CLI's consoles: in a pipe they are as wide as what they print, and they print what a
terminal would, markup or not."""

from __future__ import annotations

import io

from rich.table import Table

from compete.render import FitConsole


def _piped(**kwargs) -> tuple[FitConsole, io.StringIO]:
    stream = io.StringIO()  # not a terminal, like a pipe or a CI log
    return FitConsole(file=stream, width=80, **kwargs), stream


def test_a_wide_table_is_printed_whole_into_a_pipe():
    console, stream = _piped()
    table = Table("submission message", "public score", "private score", "submitted at (UTC)")
    message = "a message that is long enough to matter"
    table.add_row(message, "0.86055", "0.84549", "2026-01-02 10:00")
    console.print(table)
    text = stream.getvalue()
    assert "…" not in text and message in text
    assert "submitted at (UTC)" in text and max(map(len, text.splitlines())) > 80
    assert console.width == 80  # widened for that one call only


def test_long_lines_are_not_wrapped_and_markup_can_be_off():
    console, stream = _piped()
    line = "x [/y] " * 20  # not valid markup: printed as it is
    console.print(line, markup=False)
    console.print("[bold]" + "word " * 30 + "[/bold]")
    first, second = stream.getvalue().splitlines()
    assert first.rstrip() == line.rstrip()
    assert second.split() == ["word"] * 30


def test_a_terminal_keeps_its_width():
    stream = io.StringIO()
    console = FitConsole(file=stream, width=40, force_terminal=True, color_system=None)
    table = Table("a column header that is long", "another long column header")
    table.add_row("value", "value")
    console.print(table)
    assert max(map(len, stream.getvalue().splitlines())) <= 40


def test_a_temperature_scaled_run_says_so_and_a_plain_one_does_not(capsys):
    from types import SimpleNamespace

    from compete.render import render_cv

    cv = SimpleNamespace(model="blend", metric="logloss", mean=0.41, std=0.01,
                         fold_scores=[0.41] * 5, device="cpu", fit_seconds=1.0,
                         temperature=0.85)  # fmt: skip
    render_cv(cv, title="scaled")
    assert "T = 0.850" in capsys.readouterr().out
    render_cv(SimpleNamespace(**{**vars(cv), "temperature": 1.0}), title="plain")
    assert "temperature" not in capsys.readouterr().out
