"""Every option a message names exists; config files without a command's section (issue #21, #20)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xenc_toolkit.cli.options import flatten
from xenc_toolkit.commands import COMMANDS
from xenc_toolkit.config import StatsConfig, TrainConfig, TuneEncoderConfig, load_config
from xenc_toolkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
# flags of other programs that the library's text may name
FOREIGN = {"--nproc", "--nproc_per_node", "--dtype"}


def _real_flags() -> set[str]:
    flags = {"--config", "--quiet", "--verbose", "--help"}
    for command in COMMANDS:
        for spec in flatten(command.config):
            flags.add(spec.flag)
            if spec.kind == "bool":
                flags.add("--no-" + spec.flag[2:])
            extra = spec.__dict__.get("aliases") or ()
            flags.update(extra)
    return flags


def test_every_flag_named_in_the_library_exists():
    flags = _real_flags()
    wrong = []
    for path in sorted((ROOT / "xenc_toolkit").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9_-]*)", line):
                if flag not in flags and flag not in FOREIGN:
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {flag}")
    assert not wrong, wrong


def test_stats_reads_the_mine_section_of_a_pipeline_file():
    cfg = load_config(StatsConfig, ROOT / "examples" / "configs" / "medmentions_umls.yaml")
    assert str(cfg.corpus.path).endswith("corpus_pubtator.txt")
    assert str(cfg.index_dir) == "runs/mm-umls/index"


def test_a_pipeline_file_without_the_commands_section_is_an_error(tmp_path):
    path = ROOT / "examples" / "configs" / "medmentions_umls.yaml"
    with pytest.raises(ConfigError) as error:
        load_config(TuneEncoderConfig, path)
    message = str(error.value)
    assert str(path) in message and "'tune-encoder:'" in message and "build-index" in message
    plain = tmp_path / "train.yaml"
    plain.write_text("epochs: 2\n")  # a plain (one-command) file is read as it is
    assert load_config(TrainConfig, plain).epochs == 2
