"""The frictions of a first day with the CLI: --help at the terminal's width with each default once,
--quiet/--verbose, the option syntax of map and list flags."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.config import COMMAND_CONFIGS

runner = CliRunner()


def invoke(*args, columns: str = "200"):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": columns})


# --------------------------------------------------------------------------- --help
def _help(command: str, columns: str) -> str:
    result = invoke(command, "--help", columns=columns)
    assert result.exit_code == 0
    return result.output


@pytest.mark.parametrize("command", sorted(COMMAND_CONFIGS))
def test_help_shows_every_flag_whole_and_each_default_once(command):
    from xenc_toolkit.cli.options import flatten

    text = _help(command, "200")
    assert "…" not in text
    for spec in flatten(COMMAND_CONFIGS[command]):
        assert re.search(rf"(?<![\w-]){re.escape(spec.flag)}(?![\w-])", text), spec.flag
        assert spec.help.lower().count("default") <= 1, (spec.flag, spec.help)
        assert "(default: None)" not in spec.help
    assert "--verbose" in text and "--quiet" in text


def test_help_in_a_narrow_terminal_folds_flags_instead_of_cutting_them():
    text = _help("mine", "80")
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_help_width_follows_the_terminal(monkeypatch):
    from xenc_toolkit.cli import main as cli_main

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(cli_main.os, "get_terminal_size", lambda fd: (_ for _ in ()).throw(OSError()))
    assert cli_main._help_width() == 200  # no terminal (a pipe): wide, not 80
    monkeypatch.setattr(cli_main.os, "get_terminal_size", lambda fd: __import__("os").terminal_size((132, 40)))
    assert cli_main._help_width() == 132


def test_quiet_and_verbose_together_is_an_error():
    result = invoke("stats", "--quiet", "--verbose")
    assert result.exit_code == 2 and "--quiet and --verbose" in result.output


def test_library_chatter_is_silenced_until_verbose():
    import logging

    from xenc_toolkit.utils.library_logs import configure

    configure(verbose=False)
    assert logging.getLogger("transformers").getEffectiveLevel() >= logging.ERROR
    assert logging.getLogger("sentence_transformers").getEffectiveLevel() >= logging.ERROR
    configure(verbose=True)
    assert logging.getLogger("transformers").getEffectiveLevel() == logging.WARNING
    configure(verbose=False)


# --------------------------------------------------------------------------- option syntax and messages
def test_map_and_list_options_take_key_value_pairs_or_the_configs_yaml_syntax():
    from xenc_toolkit.cli.options import flatten, overrides_from_kwargs
    from xenc_toolkit.config import MineConfig
    from xenc_toolkit.errors import ConfigError

    specs = flatten(MineConfig)
    for given in ("train=a.txt,dev=b.txt", "{train: a.txt, dev: b.txt}"):
        overrides = overrides_from_kwargs(specs, {"corpus__split_files": given})
        assert overrides["corpus.split_files"] == {"train": "a.txt", "dev": "b.txt"}
    for given in ("train,dev", "[train, dev]"):
        assert overrides_from_kwargs(specs, {"splits": given})["splits"] == ["train", "dev"]
    with pytest.raises(ConfigError, match="--corpus-split-files"):
        overrides_from_kwargs(specs, {"corpus__split_files": "{train: [unclosed"})
    # the examples that help texts show parse
    for spec in specs:
        for example in re.findall(r"e\.g\. (\S+=\S+)", spec.help):
            overrides_from_kwargs(specs, {spec.param: example.rstrip(")")})


def test_a_verbose_detail_shows_only_under_verbose(capsys):
    from xenc_toolkit.utils import progress

    try:
        progress.set_quiet(False)
        progress.set_verbose(False)
        progress.log("a detail [not markup]", verbose=True)
        progress.log("a status line")
        progress.set_verbose(True)
        progress.log("a detail [shown]", verbose=True)
    finally:
        progress.set_verbose(False)
    err = capsys.readouterr().err
    assert "a detail [not markup]" not in err
    assert "a status line" in err and "a detail [shown]" in err
