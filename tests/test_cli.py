"""The xenc command line: help, config validation, error exits and a tiny end-to-end run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.config import COMMAND_CONFIGS

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


def test_top_level_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMAND_CONFIGS:
        assert command in result.output


@pytest.mark.parametrize("command", sorted(COMMAND_CONFIGS))
def test_help_shows_config_and_one_option_per_field(command):
    from xenc_toolkit.cli.options import flatten

    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "--config" in result.output and "--quiet" in result.output
    for spec in flatten(COMMAND_CONFIGS[command]):
        assert spec.flag in result.output, spec.flag


def test_bad_cli_choice_is_one_clear_error():
    result = invoke("train", "--loss", "hinge")
    assert result.exit_code == 2
    assert "--loss" in result.output and "bce" in result.output and "listwise" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("loss: hinge\n", "field 'loss': Input should be 'bce', 'listwise' or 'lambda' (got 'hinge')"),
        ("learning_rate: -1\n", "field 'learning_rate': Input should be greater than 0"),
        ("lr: 0.1\n", "unknown field 'lr'"),
        ("batch_size: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping of fields"),
    ],
)
def test_bad_yaml_config_exits_2_with_one_line(tmp_path, yaml_text, expected):
    path = tmp_path / "train.yaml"
    path.write_text(yaml_text)
    result = invoke("train", "--config", path)
    assert result.exit_code == 2
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] and expected in lines[0]


def test_nested_field_error_names_the_dotted_field(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("negatives:\n  type:\n    level: family\n")
    result = invoke("mine", "-c", path)
    assert result.exit_code == 2
    assert "negatives.type.level" in result.output and "'type' or 'group'" in result.output


def test_missing_input_file_exits_2_naming_it(tmp_path):
    result = invoke("build-index", "--kb-path", tmp_path / "nowhere.tsv", "--output-dir", tmp_path / "idx")
    assert result.exit_code == 2
    assert "nowhere.tsv" in result.output
    assert not (tmp_path / "idx").exists()


def test_pipeline_sections_and_cli_overrides(tmp_path):
    from xenc_toolkit.cli.options import flatten, overrides_from_kwargs
    from xenc_toolkit.config import MineConfig, TrainConfig, load_config

    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent("""
        train:
          loss: listwise
          batch_size: 8
        mine:
          splits: [train]
    """)
    )
    cfg = load_config(TrainConfig, path, {"batch_size": 4})
    assert (cfg.loss, cfg.batch_size) == ("listwise", 4)
    specs = flatten(MineConfig)
    overrides = overrides_from_kwargs(
        specs, {"negatives__hard__count": 3, "corpus__split_files": "train=a.txt,dev=b", "splits": "train,dev"}
    )
    mine = load_config(MineConfig, path, overrides)
    assert mine.negatives.hard.count == 3
    assert mine.splits == ["train", "dev"]
    assert {k: str(v) for k, v in mine.corpus.split_files.items()} == {"train": "a.txt", "dev": "b"}


@pytest.mark.slow
def test_tiny_end_to_end_through_the_cli(tmp_path, tiny_st, tiny_bert, medmentions_bio, quickstart_types, mm_kb):
    kb_tsv = tmp_path / "kb.tsv"
    with open(kb_tsv, "w", encoding="utf-8") as handle:
        for name, concept in zip(mm_kb.name_list, mm_kb.name_concept.tolist(), strict=True):
            types = ",".join(mm_kb.types_of(concept))
            handle.write(f"{mm_kb.concept_ids[concept]}\t{name}\t{types}\n")
    out = tmp_path / "run"
    steps = [
        ("build-index", "--kb-path", kb_tsv, "--encoder-model", tiny_st, "--output-dir", out / "index", "-q"),
        (
            "mine",
            "--index-dir",
            out / "index",
            "--output-dir",
            out / "pairs",
            "--corpus-path",
            medmentions_bio,
            "--corpus-bio-split",
            "train=0.8,dev=0.2",
            "--corpus-types-file",
            quickstart_types,
            "--candidates-n-candidates",
            5,
            "--max-mentions",
            40,
            "--negatives-hard-count",
            2,
            "-q",
        ),
        (
            "train",
            "--pairs-dir",
            out / "pairs",
            "--output-dir",
            out / "model",
            "--base-model",
            tiny_bert,
            "--max-length",
            48,
            "--batch-size",
            16,
            "--report-to",
            "none",
            "-q",
        ),
        ("calibrate", "--model-dir", out / "model" / "best", "--pairs-dir", out / "pairs", "--folds", 2, "-q"),
        (
            "evaluate",
            "--model-dir",
            out / "model" / "best",
            "--pairs-dir",
            out / "pairs",
            "--output-dir",
            out / "results",
            "-q",
        ),
    ]
    for step in steps:
        result = invoke(*step)
        assert result.exit_code == 0, (step[0], result.output)
    results = json.loads((out / "results" / "evaluation_results.json").read_text())
    assert results["linking_metrics"]["n_mentions"] == 40
    mentions = tmp_path / "mentions.txt"
    mentions.write_text(f"{mm_kb.name_list[3]}\n{mm_kb.name_list[10]}\n")
    result = invoke(
        "link", "--model-dir", out / "model" / "best", "--index-dir", out / "index", "--input", mentions, "-q"
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [r["mention"] for r in rows] == [mm_kb.name_list[3], mm_kb.name_list[10]]
    # the model directory works in plain sentence-transformers, with nothing from xenc_toolkit imported
    script = textwrap.dedent(f"""
        import sys
        from sentence_transformers import CrossEncoder
        model = CrossEncoder({str(out / "model" / "best")!r}, device="cpu")
        scores = model.predict([("aspirin", "aspirin"), ("aspirin", "heart attack")])
        assert len(scores) == 2 and all(0 < s < 1 for s in scores)
        assert not any(name.startswith("xenc_toolkit") for name in sys.modules)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]
