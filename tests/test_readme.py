"""Run the README as a newcomer would: every shell block, in order, offline, on the CPU.

A shell block is a ```` ```bash ```` fence. The line just above a block may mark it:

* ``<!-- readme-test: skip (reason) -->``: not run, for the reason given (the install commands);
* ``<!-- gpu-only -->``: not run, it needs a GPU.

Both markers are documented in README's "Development" section. Shell variables set in a block
(``CFG=...``) carry over to the later blocks, as in one terminal session.

The data the commands name is made here from the bundled quickstart slice (MedMentions dev, CC0):
the example config's PubTator corpus with PMID split files (also in the working directory, as the
KB-from-corpus recipe names them) and a UMLS ``META`` directory (MRCONSO
rows for the corpus's surface forms, MRSTY from the CUI -> TUI map), and for "Your own data" one
PubTator file per split and a TSV dictionary of the training documents' forms. Hub model names
(SapBERT) are served offline from a temporary Hugging Face cache holding a tiny random BERT, with
``HF_HUB_OFFLINE=1``: the commands run exactly as written, without a network. ``xenc`` is served
by ``tests/xenc_fork_server.py`` (on Linux), which imports the libraries once for all commands:
about 2.5 minutes for the whole README on 2 shared cores, against 7 with a fresh process each.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
QUICKSTART = ROOT / "xenc_toolkit" / "data" / "quickstart"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
GPU_ONLY = re.compile(r"<!--\s*gpu-only\s*-->")
HUB_MODELS = ("cambridgeltl/SapBERT-from-PubMedBERT-fulltext",)
SENTENCES = 80  # of the quickstart slice: about 600 mentions in 20 documents (CI time: every command runs)
SENTENCES_PER_DOC = 4


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None  # why it is not run


def shell_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() in ("```bash", "```sh", "```shell"):
            above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            skip = None
            if match := SKIP.fullmatch(above):
                skip = match.group("reason")
            elif GPU_ONLY.fullmatch(above):
                skip = "gpu-only"
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            blocks.append(Block(i + 1, "\n".join(lines[i + 1 : end]), skip))
            i = end
        i += 1
    return blocks


def test_readme_blocks_and_markers():
    text = README.read_text(encoding="utf-8")
    blocks = shell_blocks(text)
    assert len([b for b in blocks if b.skip is None]) >= 3
    installs = [b for b in blocks if "pip install" in b.code]
    assert installs and all(b.skip for b in installs), "install commands must carry a skip marker"
    for marker in re.findall(r"<!--\s*readme-test[^>]*-->", text):
        assert SKIP.fullmatch(marker), f"malformed marker {marker!r}: use <!-- readme-test: skip (reason) -->"
    documented = text[text.index("## Development") :]
    assert "readme-test: skip" in documented and "gpu-only" in documented


# --------------------------------------------------------------------------- data
def _bio_sentences(limit: int) -> list[list[tuple[str, str]]]:
    sentences, current = [], []
    with gzip.open(QUICKSTART / "medmentions_dev_head.bio.gz", "rt", encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\r\n")
            if not line.strip():
                if current:
                    sentences.append(current)
                    current = []
                if len(sentences) >= limit:
                    break
                continue
            token, tag = line.split("\t")
            current.append((token, tag))
    return sentences


def _mentions(tokens: list[tuple[str, str]], offset: int) -> tuple[str, list[tuple[int, int, str, str]]]:
    """The sentence text and its (start, end, text, CUI) mentions, offsets shifted by ``offset``."""
    text, spans, open_span = "", [], None
    for token, tag in tokens:
        start = len(text) + (1 if text else 0)
        text = f"{text} {token}" if text else token
        if tag.startswith("I-") and open_span is not None and open_span[2] == tag[2:]:
            open_span[1] = len(text)
            continue
        if open_span is not None:
            spans.append(tuple(open_span))
            open_span = None
        if tag.startswith("B-"):
            open_span = [start, len(text), tag[2:]]
    if open_span is not None:
        spans.append(tuple(open_span))
    return text, [(offset + s, offset + e, text[s:e], cui) for s, e, cui in spans]


def _documents() -> list[dict]:
    sentences = _bio_sentences(SENTENCES)
    docs = []
    for n, first in enumerate(range(0, len(sentences), SENTENCES_PER_DOC)):
        group = sentences[first : first + SENTENCES_PER_DOC]
        title, mentions = _mentions(group[0], 0)
        abstract_parts, offset = [], len(title) + 1
        for tokens in group[1:]:
            text, found = _mentions(tokens, offset)
            abstract_parts.append(text)
            mentions += found
            offset += len(text) + 1
        docs.append(
            {"pmid": str(90000001 + n), "title": title, "abstract": " ".join(abstract_parts), "mentions": mentions}
        )
    return docs


def _pubtator(docs: list[dict], types: dict) -> str:
    out = []
    for d in docs:
        out += [f"{d['pmid']}|t|{d['title']}", f"{d['pmid']}|a|{d['abstract']}"]
        for start, end, text, cui in d["mentions"]:
            out.append(f"{d['pmid']}\t{start}\t{end}\t{text}\t{','.join(types.get(cui, ['T071']))}\t{cui}")
        out.append("")
    return "\n".join(out) + "\n"


def _forms(docs: list[dict]) -> dict[str, list[str]]:
    forms: dict[str, list[str]] = {}
    for d in docs:
        for _, _, text, cui in d["mentions"]:
            if text not in forms.setdefault(cui, []):
                forms[cui].append(text)
    return forms


def _write_data(work: Path) -> None:
    from xenc_toolkit.kb.semantic_types import load_semantic_network

    types = json.loads((QUICKSTART / "cui_to_tuis.json").read_text(encoding="utf-8"))
    network = load_semantic_network()
    docs = _documents()
    n = len(docs)
    splits = {"train": docs[: n * 3 // 5], "dev": docs[n * 3 // 5 : n * 4 // 5], "test": docs[n * 4 // 5 :]}

    # the example config's MedMentions + UMLS paths
    mm = work / "data" / "MedMentions" / "full" / "data"
    mm.mkdir(parents=True)
    (mm / "corpus_pubtator.txt").write_text(_pubtator(docs, types), encoding="utf-8")
    for split, name in (("train", "trng"), ("dev", "dev"), ("test", "test")):
        (mm / f"corpus_pubtator_pmids_{name}.txt").write_text("\n".join(d["pmid"] for d in splits[split]) + "\n")
    for made in mm.iterdir():  # "No terminology at hand" names them in the working directory
        shutil.copy(made, work / made.name)
    meta = work / "data" / "umls" / "2024AB" / "META"
    meta.mkdir(parents=True)
    conso, sty, aui = [], [], 0
    for cui, names in sorted(_forms(docs).items()):
        for k, name in enumerate(names):
            aui += 1
            preferred = ("P", "PF", "Y") if k == 0 else ("S", "PF", "Y")
            tty = "PT" if k == 0 else "SY"
            row = [cui, "ENG", preferred[0], f"L{aui:07d}", preferred[1], f"S{aui:07d}", preferred[2], f"A{aui:08d}"]
            conso.append("|".join([*row, "", "", "", "MSH", tty, cui, name, "0", "N", ""]) + "|")
        for tui in types.get(cui, []):
            sty.append(f"{cui}|{tui}||{network.type_name(tui)}|AT{aui:08d}||")
    (meta / "MRCONSO.RRF").write_text("\n".join(conso) + "\n", encoding="utf-8")
    (meta / "MRSTY.RRF").write_text("\n".join(sty) + "\n", encoding="utf-8")

    # "Your own data": one file per split and a dictionary of the training documents' forms
    own = work / "my-data"
    own.mkdir()
    for split, part in splits.items():
        (own / f"{split}.pubtator").write_text(_pubtator(part, types), encoding="utf-8")
    rows = [
        f"{cui}\t{name}\t{','.join(types.get(cui, []))}"
        for cui, names in _forms(splits["train"]).items()
        for name in names
    ]
    (own / "dictionary.tsv").write_text("id\tname\ttype\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _fake_hub_cache(cache: Path, source: Path) -> None:
    """Each of ``HUB_MODELS`` in a Hugging Face cache layout, holding ``source``."""
    commit = "0" * 40
    for name in HUB_MODELS:
        repo = cache / f"models--{name.replace('/', '--')}"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        shutil.copytree(source, repo / "snapshots" / commit)


def _xenc_shim(bin_dir: Path) -> None:
    """``xenc`` on PATH runs this checkout's CLI (the installed script may be another checkout's)."""
    bin_dir.mkdir()
    shim = bin_dir / "xenc"
    shim.write_text(f"#!{sys.executable}\nfrom xenc_toolkit.cli.main import main\n\nmain()\n")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@contextlib.contextmanager
def _xenc_on_path(bin_dir: Path, env: dict[str, str]) -> Iterator[None]:
    """``xenc`` on PATH: on Linux a client of ``tests/xenc_fork_server.py`` (the libraries imported once for
    all commands, CI time), elsewhere :func:`_xenc_shim`. Either runs this checkout's CLI."""
    if sys.platform != "linux":
        _xenc_shim(bin_dir)
        yield
        return
    from xenc_fork_server import CLIENT

    bin_dir.mkdir()
    sockets = Path(tempfile.mkdtemp(prefix="xenc-"))  # a short path: a socket's is limited to 107 bytes
    socket_path = str(sockets / "server")
    log = bin_dir / "server.log"
    with open(log, "w") as errors:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "xenc_fork_server.py"), socket_path],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert server.stdout.readline().strip() == "ready", log.read_text()
        client = bin_dir / "xenc"
        client.write_text(CLIENT.format(python=sys.executable, socket_path=socket_path))
        client.chmod(client.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        yield
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(sockets, ignore_errors=True)


# --------------------------------------------------------------------------- the run
@pytest.mark.slow
def test_every_readme_shell_block_runs(tmp_path, tiny_bert):
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    _write_data(work)
    _fake_hub_cache(tmp_path / "hub", tiny_bert)
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "XENC_CACHE_DIR": str(tmp_path / "kb-cache"),
        "CUDA_VISIBLE_DEVICES": "",
        "COLUMNS": "200",
    }
    env.pop("XENC_QUIET", None)  # as a newcomer sees it
    with _xenc_on_path(tmp_path / "bin", env):
        assignments: list[str] = []
        ran = 0
        for block in shell_blocks(README.read_text(encoding="utf-8")):
            if block.skip:
                continue
            script = "\n".join([*assignments, block.code])
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, (
                f"README.md:{block.line}: exit {done.returncode}\n{block.code}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-6000:]}"
            )
            assignments += [line for line in block.code.splitlines() if re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S+", line)]
            ran += 1
    assert ran >= 3
    # what the tour promised is there
    assert (work / "runs" / "mm-umls" / "results" / "report.html").exists()
    assert (work / "runs" / "my-data" / "results" / "evaluation_results.json").exists()
