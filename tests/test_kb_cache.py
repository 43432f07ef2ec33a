"""load_kb: format detection, the Parquet cache (keys, hits, env override, lenient replay), saved KBs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from xenc_toolkit.config import KBConfig
from xenc_toolkit.errors import ConfigError, InputFormatError, MissingInputError, SkipReport
from xenc_toolkit.kb import KBCache, cache_key, default_cache_dir, detect_format, load_kb
from xenc_toolkit.kb import loader as loader_module

DATA = Path(__file__).parent / "data"
META = DATA / "umls" / "META"
MEDIC = DATA / "dictionaries" / "medic_sample.txt"
TSV = DATA / "dictionaries" / "sample.tsv"


@pytest.fixture
def meta(tmp_path) -> Path:
    target = tmp_path / "release" / "META"
    shutil.copytree(META, target)
    return target


def test_detect_format(meta, tmp_path):
    assert detect_format(meta) == "umls"
    assert detect_format(meta.parent) == "umls"  # release directory holding META/
    assert detect_format(TSV) == "tsv"
    assert detect_format(MEDIC) == "medic"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot tell the KB format"):
        detect_format(tmp_path / "empty")
    with pytest.raises(MissingInputError):
        detect_format(tmp_path / "absent")


def test_umls_cache_hit_returns_the_same_kb(meta, tmp_path, monkeypatch):
    cfg = KBConfig(path=meta, cache_dir=tmp_path / "cache")
    first = load_kb(cfg)
    assert first.metadata["cache"]["hit"] is False
    cached_dir = Path(first.metadata["cache"]["path"])
    assert (cached_dir / "kb.json").is_file() and (cached_dir / "names.parquet").is_file()
    assert cached_dir.parent == tmp_path / "cache" and cached_dir.name.startswith("umls-")

    monkeypatch.setattr(loader_module, "_parse", lambda *a, **k: pytest.fail("parsed instead of using the cache"))
    second = load_kb(cfg)
    assert second.metadata["cache"] == {"hit": True, "path": str(cached_dir)}
    assert second.checksum == first.checksum
    assert second.concept_ids == first.concept_ids and second.name_list == first.name_list
    assert second.resolve("C0000002") == first.resolve("C0027051")  # aliases survive
    assert second.types_of(second.resolve("C0021641")) == ("T116", "T121", "T125")
    assert second.metadata["type_names"] == {"T999": "Hypothetical Test Type"}


def test_settings_and_inputs_change_the_key(meta, tmp_path):
    cache = tmp_path / "cache"
    base = load_kb(KBConfig(path=meta, cache_dir=cache))
    other = load_kb(KBConfig(path=meta, cache_dir=cache, exclude_sources=["NCI"]))
    assert other.metadata["cache"]["hit"] is False and other.checksum != base.checksum
    defs = load_kb(KBConfig(path=meta, cache_dir=cache, load_definitions=True))
    assert defs.metadata["cache"]["hit"] is False
    assert load_kb(KBConfig(path=meta, cache_dir=cache, languages=["ENG"])).metadata["cache"]["hit"] is True
    # editing an input file makes a new entry
    path = meta / "MRCONSO.RRF"
    path.write_text(
        path.read_text(encoding="utf-8").replace("|Heart Attack|", "|Heart attack, acute|"), encoding="utf-8"
    )
    os.utime(path, (1, 1))
    edited = load_kb(KBConfig(path=meta, cache_dir=cache))
    assert edited.metadata["cache"]["hit"] is False
    assert "Heart attack, acute" in edited.name_list
    assert len(list(cache.iterdir())) == 4


def test_cache_key_parts(meta):
    files = [meta / "MRCONSO.RRF", meta / "MRSTY.RRF"]
    key = cache_key("umls", files, {"languages": ["ENG"]})
    assert key == cache_key("umls", files, {"languages": ["ENG"]})
    assert key != cache_key("umls", files, {"languages": ["SPA"]})
    assert key != cache_key("medic", files, {"languages": ["ENG"]})


def test_env_overrides_the_default_cache_dir(meta, tmp_path, monkeypatch):
    monkeypatch.setenv("XENC_CACHE_DIR", str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    kb = load_kb(KBConfig(path=meta))
    assert Path(kb.metadata["cache"]["path"]).parent == tmp_path / "from-env"
    # an explicit kb.cache_dir wins over the environment
    kb = load_kb(KBConfig(path=meta, cache_dir=tmp_path / "explicit"))
    assert Path(kb.metadata["cache"]["path"]).parent == tmp_path / "explicit"
    monkeypatch.delenv("XENC_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "xenc-toolkit" / "kb"


def test_unreadable_cache_entry_is_rebuilt(meta, tmp_path):
    cfg = KBConfig(path=meta, cache_dir=tmp_path / "cache")
    first = load_kb(cfg)
    cached_dir = Path(first.metadata["cache"]["path"])
    (cached_dir / "names.parquet").write_bytes(b"not parquet")
    again = load_kb(cfg)
    assert again.metadata["cache"]["hit"] is False and again.checksum == first.checksum
    assert load_kb(cfg).metadata["cache"]["hit"] is True


def test_no_cache(meta, tmp_path):
    kb = load_kb(KBConfig(path=meta, cache_dir=tmp_path / "cache"), use_cache=False)
    assert kb.metadata["cache"] == {"hit": False, "path": None}
    assert not (tmp_path / "cache").exists()


def test_lenient_skips_are_replayed_from_the_cache(meta, tmp_path, monkeypatch):
    path = meta / "MRCONSO.RRF"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[9] = "C0000970|ENG|broken"
    path.write_text("\n".join(lines), encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(InputFormatError, match="MRCONSO.RRF:10:"):
        load_kb(KBConfig(path=meta, cache_dir=cache))
    first_report = SkipReport(lenient=True)
    load_kb(KBConfig(path=meta, cache_dir=cache, lenient=True), first_report)
    assert first_report.counts == {"MRCONSO.RRF: wrong number of fields": 1}

    monkeypatch.setattr(loader_module, "_parse", lambda *a, **k: pytest.fail("parsed instead of using the cache"))
    second_report = SkipReport(lenient=True)
    kb = load_kb(KBConfig(path=meta, cache_dir=cache, lenient=True), second_report)
    assert kb.metadata["cache"]["hit"] is True
    assert second_report.counts == first_report.counts
    assert second_report.examples == first_report.examples
    # a strict load never reuses the lenient entry
    monkeypatch.undo()
    with pytest.raises(InputFormatError, match="MRCONSO.RRF:10:"):
        load_kb(KBConfig(path=meta, cache_dir=cache))


def test_dictionaries_through_load_kb(tmp_path):
    cache = tmp_path / "cache"
    medic = load_kb(KBConfig(path=MEDIC, cache_dir=cache))
    assert medic.metadata["source"] == "medic" and medic.resolve("OMIM:600807") is not None
    assert load_kb(KBConfig(path=MEDIC, cache_dir=cache)).metadata["cache"]["hit"] is True
    tsv = load_kb(KBConfig(path=TSV, cache_dir=cache))
    assert tsv.metadata["source"] == "tsv" and tsv.n_concepts == 4
    with pytest.raises(InputFormatError, match="no concepts"):  # a TSV read as MEDIC: every line is bad
        load_kb(KBConfig(path=TSV, format="medic", cache_dir=cache, lenient=True))


def test_semantic_filters_on_dictionaries(tmp_path):
    cache = tmp_path / "cache"
    tsv = load_kb(KBConfig(path=TSV, cache_dir=cache, semantic_groups=["CHEM"]))
    assert tsv.concept_ids == ["C0004057"]
    assert tsv.metadata["counts"]["concepts_dropped_by_semantic_filter"] == 3
    with pytest.raises(ConfigError, match="no types"):
        load_kb(KBConfig(path=MEDIC, cache_dir=cache, semantic_types=["T047"]))


def test_saved_kb_is_read_as_is(meta, tmp_path):
    kb = load_kb(KBConfig(path=meta, cache_dir=tmp_path / "cache"))
    kb.save(tmp_path / "saved")
    assert detect_format(tmp_path / "saved") == "saved"
    loaded = load_kb(KBConfig(path=tmp_path / "saved"))
    assert loaded.checksum == kb.checksum and loaded.n_names == kb.n_names


def test_missing_path(tmp_path):
    with pytest.raises(ConfigError, match="kb.path"):
        load_kb(KBConfig())
    with pytest.raises(MissingInputError):
        load_kb(KBConfig(path=tmp_path / "nope", format="umls"))
    with pytest.raises(MissingInputError, match="MRCONSO.RRF"):
        load_kb(KBConfig(path=tmp_path, format="umls", cache_dir=tmp_path / "cache"))


def test_kbcache_get_put(meta, tmp_path):
    cache = KBCache(tmp_path / "c")
    assert cache.get("umls", "abc") is None
    kb = load_kb(KBConfig(path=meta), use_cache=False)
    path = cache.put("umls", "abc", kb)
    assert path == tmp_path / "c" / "umls-abc"
    assert cache.get("umls", "abc").checksum == kb.checksum


def _edit_keeping_size_and_mtime(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) and put the old mtime back: only the content tells."""
    assert len(old) == len(new)
    stat = path.stat()
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize(
    ("rrf", "old", "new", "changed"),
    [
        ("MRCONSO.RRF", b"|Heart Attack|", b"|Heart Attacc|", lambda kb: "Heart Attacc" in kb.name_list),
        (
            "MRSTY.RRF",
            b"C0027051|T047|B2.2.1.2.1|",
            b"C0027051|T191|B2.2.1.2.1|",
            lambda kb: kb.types_of(kb.resolve("C0027051")) == ("T191",),
        ),
        (
            "MRDEF.RRF",
            b"The prototypical analgesic",
            b"The prototypical ANALGESIC",
            lambda kb: "ANALGESIC" in kb.concepts["definition"][kb.resolve("C0004057")].as_py(),
        ),
        (
            "MRCUI.RRF",
            b"C0000001|2010AA|SY|||C0004057|Y|",
            b"C0000001|2010AA|SY|||C0018787|Y|",
            lambda kb: kb.resolve("C0000001") == kb.resolve("C0018787"),
        ),
    ],
)
def test_editing_any_input_file_invalidates_the_cache(meta, tmp_path, rrf, old, new, changed):
    cfg = KBConfig(path=meta, cache_dir=tmp_path / "cache", load_definitions=True, map_retired=True)
    first = load_kb(cfg)
    assert not changed(first)
    _edit_keeping_size_and_mtime(meta / rrf, old, new)
    edited = load_kb(cfg)
    assert edited.metadata["cache"]["hit"] is False
    assert changed(edited)
    assert load_kb(cfg).metadata["cache"]["hit"] is True


def test_editing_a_dictionary_invalidates_the_cache(tmp_path):
    path = tmp_path / "kb.tsv"
    shutil.copy(TSV, path)
    cfg = KBConfig(path=path, cache_dir=tmp_path / "cache")
    load_kb(cfg)
    _edit_keeping_size_and_mtime(path, b"Heart attack", b"Heart Attack")
    edited = load_kb(cfg)
    assert edited.metadata["cache"]["hit"] is False and "Heart Attack" in edited.name_list


def test_a_new_mrcui_file_invalidates_the_cache(meta, tmp_path):
    mrcui = (meta / "MRCUI.RRF").read_bytes()
    (meta / "MRCUI.RRF").unlink()
    cfg = KBConfig(path=meta, cache_dir=tmp_path / "cache")
    assert load_kb(cfg).resolve("C0000001") is None
    (meta / "MRCUI.RRF").write_bytes(mrcui)
    kb = load_kb(cfg)
    assert kb.metadata["cache"]["hit"] is False and kb.resolve("C0000001") is not None


@pytest.mark.parametrize(
    "setting",
    [
        {"languages": ["ENG", "SPA"]},
        {"sources": ["MSH"]},
        {"exclude_sources": ["NCI"]},
        {"suppress": ["O"]},
        {"term_types": ["PT", "MH"]},
        {"semantic_types": ["T047"]},
        {"semantic_groups": ["DISO"]},
        {"load_definitions": True},
        {"map_retired": False},
        {"lenient": True},
    ],
)
def test_every_kb_setting_is_part_of_the_key(meta, tmp_path, setting):
    cache = tmp_path / "cache"
    base = load_kb(KBConfig(path=meta, cache_dir=cache))
    other = load_kb(KBConfig(path=meta, cache_dir=cache, **setting))
    assert other.metadata["cache"]["hit"] is False
    assert other.metadata["cache"]["path"] != base.metadata["cache"]["path"]
    assert load_kb(KBConfig(path=meta, cache_dir=cache, **setting)).metadata["cache"]["hit"] is True


def test_the_semantic_network_is_part_of_the_key(meta, tmp_path, monkeypatch):
    from xenc_toolkit.kb import cache as cache_module
    from xenc_toolkit.kb.semantic_types import _resource_path

    files = [meta / "MRCONSO.RRF", meta / "MRSTY.RRF"]
    key = cache_key("umls", files, {})
    copy = tmp_path / "resources"
    copy.mkdir()
    for name in cache_module.SEMANTIC_NETWORK_FILES:
        shutil.copy(_resource_path(name), copy / name)
    monkeypatch.setattr(cache_module, "_resource_path", lambda name: copy / name)
    with open(copy / "SemGroups.txt", "a", encoding="utf-8") as handle:
        handle.write("NEWG|New group|T998|A new type\n")
    assert cache_key("umls", files, {}) != key


def test_fingerprint_sees_edits_anywhere_in_a_file_up_to_2_mib(tmp_path):
    from xenc_toolkit.utils.io import file_fingerprint

    path = tmp_path / "MRSTY.RRF"
    path.write_bytes(b"C0000001|T047|\n" * 100_000)  # 1.5 MB: past the first MiB
    before = file_fingerprint(path)
    tail = len(b"C0000001|T047|\n") * 99_999
    _edit_keeping_size_and_mtime_at(path, tail, b"C0000001|T191|\n")
    assert file_fingerprint(path) != before


def _edit_keeping_size_and_mtime_at(path: Path, offset: int, new: bytes) -> None:
    stat = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(new)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
