"""Document-level splits: PMID list files and contiguous blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenc_toolkit.corpora import (
    Mention,
    assign_splits,
    block_split,
    read_bio,
    read_jsonl,
    read_pmid_list,
    read_pubtator,
)
from xenc_toolkit.errors import ConfigError, InputFormatError, MissingInputError, SkipReport

DATA = Path(__file__).parent / "data" / "corpora"
MEDMENTIONS = DATA / "medmentions_sample.pubtator"
TRAIN = DATA / "medmentions_pmids_train.txt"
DEV = DATA / "medmentions_pmids_dev.txt"


def test_read_pmid_list_blank_lines_and_line_numbers(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("\n111\n\n222\r\n  333  \n", encoding="utf-8")
    assert read_pmid_list(path) == {"111": 2, "222": 4, "333": 5}


def test_assign_splits_to_documents_and_their_mentions():
    docs = read_pubtator(MEDMENTIONS)
    result = assign_splits(docs, {"train": TRAIN, "dev": DEV})
    assert [d.split for d in docs] == ["train", "dev"]
    assert {m.split for m in docs[0].mentions} == {"train"}
    assert {m.split for m in docs[1].mentions} == {"dev"}
    assert result.documents == {"train": 1, "dev": 1}
    assert result.mentions == {"train": 98, "dev": 71}
    assert result.unassigned == [] and result.unknown == []
    assert result.to_dict()["unassigned_documents"] == 0


def test_assign_splits_to_mentions_by_doc_id():
    mentions = read_jsonl(DATA / "mentions.jsonl")
    result = assign_splits(mentions, {"train": TRAIN, "dev": DEV})
    assert [m.split for m in mentions] == ["train", "train", "dev", "dev"]
    assert result.mentions == {"train": 2, "dev": 2}


def test_document_in_no_split_is_kept_and_reported():
    docs = read_pubtator(MEDMENTIONS)
    result = assign_splits(docs, {"train": TRAIN})
    assert len(docs) == 2 and docs[1].split is None
    assert all(m.split is None for m in docs[1].mentions)
    assert result.unassigned == ["26316050"]


def test_unknown_split_pmid_names_file_and_line(tmp_path):
    extra = tmp_path / "dev.txt"
    extra.write_text("26316050\n99999999\n88888888\n", encoding="utf-8")
    docs = read_pubtator(MEDMENTIONS)
    with pytest.raises(InputFormatError) as info:
        assign_splits(docs, {"train": TRAIN, "dev": extra})
    assert info.value.path == str(extra) and info.value.line == 2
    assert "unknown split PMID 99999999" in str(info.value)
    assert "2 of this file's PMIDs are not in the corpus" in str(info.value)
    report = SkipReport(lenient=True)
    result = assign_splits(docs, {"train": TRAIN, "dev": extra}, report=report)
    assert report.counts == {"unknown split PMID": 2}
    assert result.unknown == [("dev", "99999999"), ("dev", "88888888")]
    assert [d.split for d in docs] == ["train", "dev"]


def test_pmid_in_two_split_files_is_an_error(tmp_path):
    other = tmp_path / "test.txt"
    other.write_text("\n25763772\n", encoding="utf-8")
    docs = read_pubtator(MEDMENTIONS)
    with pytest.raises(InputFormatError) as info:
        assign_splits(docs, {"train": TRAIN, "dev": DEV, "test": other})
    assert info.value.path == str(other) and info.value.line == 2
    assert f"also in split 'train' ({TRAIN}:1)" in str(info.value)
    report = SkipReport(lenient=True)
    assign_splits(docs, {"train": TRAIN, "dev": DEV, "test": other}, report=report)
    assert docs[0].split == "train"  # the first file wins when lenient
    assert report.counts == {"PMID in two split files": 1}


def test_missing_split_file():
    with pytest.raises(MissingInputError, match="nope.txt"):
        assign_splits(read_pubtator(MEDMENTIONS), {"train": DATA / "nope.txt"})


def _sentence_mentions(n_docs: int, per_doc: int = 2) -> list[Mention]:
    return [Mention(f"s{d}:{k}", f"s{d}", "x", ("C1",)) for d in range(1, n_docs + 1) for k in range(per_doc)]


def test_block_split_contiguous_blocks_in_order():
    mentions = _sentence_mentions(10)
    result = block_split(mentions, {"train": 0.8, "dev": 0.2})
    assert [m.split for m in mentions] == ["train"] * 16 + ["dev"] * 4
    assert result.documents == {"train": 8, "dev": 2}
    assert result.mentions == {"train": 16, "dev": 4}
    # order of the mapping is the order of the blocks
    block_split(mentions, {"dev": 0.3, "train": 0.7})
    assert [m.split for m in mentions[::2]] == ["dev"] * 3 + ["train"] * 7


def test_block_split_on_bio_sentences_never_cuts_a_sentence():
    mentions = read_bio(DATA / "medmentions_bio_sample.tsv")
    result = block_split(mentions, {"train": 0.6, "dev": 0.2, "test": 0.2})
    assert result.documents == {"train": 3, "dev": 1, "test": 1}
    by_doc: dict[str, set] = {}
    for m in mentions:
        by_doc.setdefault(m.doc_id, set()).add(m.split)
    assert all(len(splits) == 1 for splits in by_doc.values())
    assert [by_doc[d].pop() for d in ("s1", "s2", "s3", "s4", "s5")] == ["train"] * 3 + ["dev", "test"]


@pytest.mark.parametrize("fractions", [{}, {"train": 0.8}, {"train": 0.8, "dev": 0.3}, {"train": 1.2, "dev": -0.2}])
def test_block_split_rejects_bad_fractions(fractions):
    with pytest.raises(ConfigError, match="bio_split"):
        block_split(_sentence_mentions(3), fractions)
