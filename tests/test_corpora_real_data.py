"""Counts on the real corpora in ``../shared/data`` (skipped when it is absent).

What the real files hold, and how the readers treat it:

* MedMentions PubTator sample: 10 documents, 760 annotation lines, all offsets verify; one type
  column says ``UnknownType`` (line 408), read as no type. PMID
  26316050 repeats one annotation line (783-790 "filling", lines 226-227): read once by default
  (759 mentions, one ``duplicate annotation`` counted), 760 with ``duplicate_annotations="keep"``.
* NCBI-disease train: 593 title lines for 592 PMIDs, 5,145 annotation lines. PMID 8528200 is
  repeated verbatim (lines 3811 and 4557, 11 annotations): read once, counted as a ``duplicate
  document``, giving 592 documents / 5,134 mentions. Line 3249's mention column has two trailing
  spaces; three id columns have stray spaces (``" D008661"``, ``"OMIM:106210 "``). Dev: 100 / 787.
* MedMentions full dev BIO: 8,284 sentences, 66,725 mentions, 12,233 CUIs; 305 stray I- tags
  (223 right after a sentence break that cut a name such as ``aer . | hydrophila``, 82 after O).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xenc_toolkit.corpora import (
    assign_splits,
    load_types_file,
    read_bio,
    read_bio_sentences,
    read_pmid_list,
    read_pubtator,
)
from xenc_toolkit.errors import SkipReport
from xenc_toolkit.evaluation import corpus_stats

SHARED = Path(os.environ.get("XENC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MEDMENTIONS = SHARED / "medmentions"
NCBI = SHARED / "ncbi-disease"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data not found at {SHARED} (set XENC_SHARED_DATA)")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


def test_medmentions_pubtator_sample():
    path = _need(MEDMENTIONS / "sample_corpus_pubtator.txt")
    report = SkipReport()
    docs = read_pubtator(path, report=report)  # strict: every offset verified against the text
    assert len(docs) == 10
    assert sum(len(d.mentions) for d in docs) == 759
    assert report.notes == {"duplicate annotation (identical line dropped)": 1}
    assert f"{path}:227: repeats {path}:226" in report.note_examples["duplicate annotation (identical line dropped)"][0]
    for doc in docs:
        for m in doc.mentions:
            assert doc.text[m.start : m.end] == m.text
            assert len(m.gold_ids) == 1 and m.gold_ids[0].startswith("C")
            assert all(t.startswith("T") for t in m.types)
    # line 408 has the type "UnknownType": read as no type
    assert [m.mention_id for d in docs for m in d.mentions if not m.types] == ["26424709:1061-1069"]
    kept = read_pubtator(path, duplicate_annotations="keep")
    assert sum(len(d.mentions) for d in kept) == 760


def test_medmentions_official_splits():
    files = {name: _need(MEDMENTIONS / f"corpus_pubtator_pmids_{name}.txt") for name in ("trng", "dev", "test")}
    ids = {name: read_pmid_list(path) for name, path in files.items()}
    assert {name: len(v) for name, v in ids.items()} == {"trng": 2635, "dev": 878, "test": 879}
    assert not set(ids["trng"]) & set(ids["dev"]) and not set(ids["dev"]) & set(ids["test"])
    docs = read_pubtator(_need(MEDMENTIONS / "sample_corpus_pubtator.txt"))
    report = SkipReport(lenient=True)  # the sample lacks 4,382 of the listed PMIDs
    result = assign_splits(docs, {"train": files["trng"], "dev": files["dev"], "test": files["test"]}, report=report)
    assert result.documents == {"train": 8, "dev": 1, "test": 1}
    assert report.counts == {"unknown split PMID": 4382}


def test_ncbi_disease_train():
    path = _need(NCBI / "NCBItrainset_corpus.txt")
    report = SkipReport()
    docs = read_pubtator(path, report=report)
    mentions = [m for d in docs for m in d.mentions]
    assert len(docs) == 592
    assert len(mentions) == 5134  # 5,145 annotation lines less the 11 of the repeated PMID 8528200
    assert report.notes == {"duplicate document (identical copy read once)": 1}
    assert "PMID 8528200 repeats the document at line 3811 verbatim (11 annotations)" in str(report.note_examples)
    stats = corpus_stats(mentions)
    assert stats["composite_mentions"] == 115
    assert stats["id_prefixes"] == {"OMIM": 392}
    assert len({m.mention_id for m in mentions}) == len(mentions)


def test_ncbi_disease_dev():
    docs = read_pubtator(_need(NCBI / "NCBIdevelopset_corpus.txt"), id_prefix="OMIM:")
    mentions = [m for d in docs for m in d.mentions]
    assert (len(docs), len(mentions)) == (100, 787)
    assert not any(g.startswith("OMIM:") for m in mentions for g in m.gold_ids)


@pytest.fixture(scope="module")
def bio_path() -> Path:
    return _need(MEDMENTIONS / "full_dev_bio_cui.tsv")


def test_medmentions_bio_counts(bio_path):
    assert len(read_bio_sentences(bio_path)) == 8284
    report = SkipReport()
    types = load_types_file(_need(SHARED / "cui-semantic-types" / "cui_to_tuis.json"))
    mentions = read_bio(bio_path, types_map=types, report=report)
    assert len(mentions) == 66725
    assert len({m.gold_ids[0] for m in mentions}) == 12233
    assert report.notes == {"stray I- tag (fragment read as O)": 305}
    assert sum(1 for m in mentions if not m.types) == 515  # 187 CUIs absent from cui_to_tuis.json


def test_medmentions_bio_stray_tags_as_new_mentions(bio_path):
    mentions = read_bio(bio_path, stray_inside="begin")
    assert len(mentions) == 67030
    assert len({m.gold_ids[0] for m in mentions}) == 12239
