"""What the docs tell a user is real: every ``--flag`` README, CONTRIBUTING and the example configs
name exists, and every environment variable the code reads is in README's list. (The flags the
library's own messages name: tests/test_cli_flags_and_sections.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from xenc_toolkit.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9](?![\w{-])")
# flags of other programs that messages and docs name on purpose
OTHER_PROGRAMS = {
    "--nproc_per_node",  # torchrun
    "--force-reinstall",  # pip
    "--check",  # ruff format
    "--head",  # ray start
    "--address",  # ray start
    "--help",
}
SOURCES = [*sorted((ROOT / "xenc_toolkit").rglob("*.py")), *sorted((ROOT / "cli").rglob("*.py"))]


def xenc_flags() -> set[str]:
    command = typer.main.get_command(app)
    flags: set[str] = set()
    for sub in command.commands.values():  # type: ignore[attr-defined]
        for param in sub.params:
            if getattr(param, "param_type_name", "") == "option":
                flags.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return flags


def test_every_flag_named_in_readme_contributing_and_example_configs_exists():
    known = xenc_flags() | OTHER_PROGRAMS
    unknown = []
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "examples").rglob("*.yaml"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "benchmarks/" in line:  # a benchmark script's own argparse flags
                continue
            unknown += [f"{path.name}:{number}: {flag}" for flag in FLAG.findall(line) if flag not in known]
    assert not unknown, "docs name flags that no xenc command has:\n" + "\n".join(unknown)


ENV_READ = re.compile(r"""(?:environ(?:\.get|\.setdefault|\.pop)?\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
ENV_CONSTANT = re.compile(r"""\b[A-Z_]*ENV\s*=\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_every_environment_variable_read_is_documented_in_readme():
    files = [*SOURCES, *sorted((ROOT / "tests").glob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py"))]
    read = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for name in ENV_READ.findall(text) + ENV_CONSTANT.findall(text):
            read.setdefault(name, path.relative_to(ROOT))
    assert {"XENC_SHARED_DATA", "XENC_CACHE_DIR", "HF_HUB_OFFLINE"} <= set(read)
    read.pop("PATH", None)  # the shell's own
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Environment variables") :]
    section = section[: section.index("\n## ", 1)]
    missing = sorted(f"{name} ({where})" for name, where in read.items() if f"`{name}`" not in section)
    assert not missing, "README's 'Environment variables' lacks: " + ", ".join(missing)
