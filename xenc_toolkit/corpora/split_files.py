"""``corpus.files``: one corpus file per split (NCBI-disease's train, dev and test files).

Each file is read with the other corpus settings (its format detected on its own) and its
mentions get the file's split. Document ids must not repeat across the files (the same document
in two splits would leak evaluation text into training): a repeat is an
:class:`~xenc_toolkit.errors.InputFormatError`, or under ``lenient`` the later file's copy is
skipped and counted. BIO files have no document ids (their sentence ids restart in every file),
so their ids get the split as a prefix (``"test/s12"``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError, InputFormatError, SkipReport
from ..settings import CorpusConfig
from .mention import Mention


def load_split_files(
    cfg: CorpusConfig,
    report: SkipReport,
    load_corpus: Callable[[CorpusConfig, SkipReport], list[Mention]],
    detect_format: Callable[[Path], str],
) -> list[Mention]:
    """The mentions of every file of ``cfg.files``, each with its split (see the module docstring).

    ``load_corpus`` reads one file (:func:`~xenc_toolkit.corpora.loader.load_corpus`) and
    ``detect_format`` names its format.
    """
    if cfg.path is not None or cfg.split_files or cfg.bio_split:
        raise ConfigError(
            "corpus: files (--corpus-files) gives one corpus file per split; do not combine it with path "
            "(--corpus-path), split_files (--corpus-split-files) or bio_split (--corpus-bio-split)"
        )
    single = cfg.model_copy(update={"files": {}})
    owner: dict[str, tuple[str, Path]] = {}
    mentions: list[Mention] = []
    for split, path in cfg.files.items():
        path = Path(path)
        fmt = detect_format(path) if cfg.format == "auto" else cfg.format
        loaded = load_corpus(single.model_copy(update={"path": path, "format": fmt}), report)
        repeated: set[str] = set()
        for doc_id in dict.fromkeys(m.doc_id for m in loaded):
            if fmt == "bio":
                continue
            if doc_id in owner and owner[doc_id][0] != split:
                first_split, first_path = owner[doc_id]
                report.handle(
                    InputFormatError(
                        path,
                        None,
                        f"document {doc_id} of split '{split}' is also in split '{first_split}' ({first_path})",
                        "each document in one split file only",
                    ),
                    "document in two split files",
                )
                repeated.add(doc_id)
            else:
                owner.setdefault(doc_id, (split, path))
        for mention in loaded:
            if mention.doc_id in repeated:
                continue
            if fmt == "bio":
                mention.mention_id = f"{split}/{mention.mention_id}"
                mention.doc_id = f"{split}/{mention.doc_id}"
            mention.split = split
            mentions.append(mention)
    return mentions
