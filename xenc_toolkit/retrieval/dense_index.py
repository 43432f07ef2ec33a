"""The on-disk dense index: every KB name embedded, a search structure, the KB and a manifest.

Layout of an index directory (written atomically)::

    manifest.json      encoder (name, revision, path, pooling, dim, normalisation), KB checksum,
                       counts, index type and parameters, creation time, xenc version
    xenc_provenance.json  the provenance record (:mod:`xenc_toolkit.utils.provenance`): KB, encoder
                       (with a checksum of a local encoder's files), source files, config
    embeddings.npy     float16 [n_names, dim], L2-normalised, row i = kb.names row i
    index.faiss        only for IVF / HNSW (Flat is rebuilt from the embeddings)
    kb/                the KnowledgeBase (Parquet), so later stages need not re-read UMLS
    tfidf/<key>/       the TF-IDF matrix of the KB's names, written by the first candidate search
                       that needs it (:mod:`.tfidf_cache`); rebuilding the index drops it
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..errors import IncompatibleArtifactError, MissingInputError, XencError
from ..kb.model import KnowledgeBase
from ..settings import EncoderConfig, IndexConfig
from ..utils.devices import resolve_device
from ..utils.io import atomic_directory, atomic_write_json, read_json
from ..utils.progress import log
from ..utils.provenance import Artefact, Check, kb_summary, model_identity, new_record, read_record, require_match
from ..utils.provenance import write_record as write_provenance
from .encoder import NameEncoder
from .search import FaissSearcher, Searcher, TorchExactSearcher, faiss_has_gpu

INDEX_FORMAT_VERSION = 1


@dataclass
class DenseIndex:
    """Name embeddings + searcher + KB, with the manifest that identifies them."""

    directory: Path | None
    manifest: dict[str, Any]
    embeddings: np.ndarray
    kb: KnowledgeBase
    searcher: Searcher
    loaded_encoder: NameEncoder | None = field(default=None, repr=False)  # the encoder() once loaded (or given)
    provenance: dict[str, Any] | None = field(default=None, repr=False)
    allow_mismatch: bool = field(default=False, repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        encoder_cfg: EncoderConfig,
        index_cfg: IndexConfig,
        output_dir: str | Path | None = None,
        encoder: NameEncoder | None = None,
        seed: int = 42,
        provenance: dict[str, Any] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> DenseIndex:
        """Embed every name of ``kb`` and build the searcher; save to ``output_dir`` when given.

        ``provenance``: fields added to the index's provenance record (``corpus``, ``config``).
        ``embeddings``: the names already embedded with ``encoder`` (row i = ``kb.names`` row i, e.g.
        gathered from the processes of a sharded run); they are not embedded again.
        """
        if not kb.n_names:
            raise XencError(
                f"{kb.metadata.get('path') or 'the KB'}: the KB has no names to index (empty after filters?)"
            )
        encoder = encoder or name_encoder(encoder_cfg)
        if embeddings is None:
            on = f" on {len(encoder.devices)} devices" if encoder.devices and len(encoder.devices) > 1 else ""
            log(f"embedding {kb.n_names:,} names of {kb.n_concepts:,} concepts with {encoder_cfg.model}{on}")
            embeddings = encoder.encode(
                kb.name_list, batch_size=encoder_cfg.batch_size, description="embedding KB names"
            )
        elif embeddings.shape != (kb.n_names, encoder.dimension):
            raise XencError(
                f"{embeddings.shape} embeddings given for {kb.n_names} names of dimension {encoder.dimension}"
            )
        embeddings16 = embeddings.astype(np.float16)
        manifest = {
            "format_version": INDEX_FORMAT_VERSION,
            "xenc_version": __version__,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "encoder": encoder.info.to_dict(),
            "kb": {
                "checksum": kb.checksum,
                "n_concepts": kb.n_concepts,
                "n_names": kb.n_names,
                "source": kb.metadata.get("source"),
            },
            "index": {
                "type": index_cfg.index_type,
                "nlist": index_cfg.nlist,
                "nprobe": index_cfg.nprobe,
                "hnsw_m": index_cfg.hnsw_m,
                "ef_search": index_cfg.ef_search,
                "ef_construction": index_cfg.ef_construction,
            },
            "embeddings": {"file": "embeddings.npy", "dtype": "float16", "shape": list(embeddings16.shape)},
        }
        faiss_index = None
        if index_cfg.index_type != "flat":
            faiss_index = FaissSearcher.build(
                embeddings,
                index_cfg.index_type,
                nlist=index_cfg.nlist,
                nprobe=index_cfg.nprobe,
                hnsw_m=index_cfg.hnsw_m,
                ef_construction=index_cfg.ef_construction,
                ef_search=index_cfg.ef_search,
                seed=seed,
            )
            if index_cfg.index_type == "ivf":
                manifest["index"]["nlist"] = int(faiss_index.cpu_index.nlist)
        record = None
        if output_dir is not None:
            info = encoder.info.to_dict()
            info["identity"] = model_identity(info["name"], info["revision"], info["resolved_path"])
            record = new_record(
                "index",
                kb=kb_summary(kb),
                encoder=info,
                index=manifest["index"],
                sources=kb.metadata.get("files"),
                **(provenance or {}),
            )
        directory = None
        if output_dir is not None:
            directory = Path(output_dir)
            with atomic_directory(directory) as tmp:
                np.save(tmp / "embeddings.npy", embeddings16)
                if faiss_index is not None:
                    faiss_index.save(tmp / "index.faiss")
                kb.save(tmp / "kb")
                atomic_write_json(tmp / "manifest.json", manifest)
                write_provenance(tmp, record)
            log(f"index written to {directory}")
        searcher = _make_searcher(embeddings16, manifest, index_cfg.backend, encoder.device, faiss_index)
        return cls(
            directory=directory,
            manifest=manifest,
            embeddings=embeddings16,
            kb=kb,
            searcher=searcher,
            loaded_encoder=encoder,
            provenance=record,
        )

    # ------------------------------------------------------------------ load
    @classmethod
    def load(
        cls,
        directory: str | Path,
        expect_encoder: str | None = None,
        expect_kb_checksum: str | None = None,
        backend: str = "auto",
        device: str | None = None,
        nprobe: int | None = None,
        ef_search: int | None = None,
        allow_mismatch: bool = False,
    ) -> DenseIndex:
        """Load an index directory; refuse it if it was built with another encoder or KB.

        ``allow_mismatch``: when the index's encoder is loaded (:meth:`encoder`) and its files are no
        longer those the index was built with, warn instead of refusing.
        """
        directory = Path(directory)
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            raise MissingInputError(manifest_path, "index manifest (run `xenc build-index` first)")
        manifest = read_json(manifest_path)
        if manifest.get("format_version") != INDEX_FORMAT_VERSION:
            raise IncompatibleArtifactError(
                f"{directory}: index format {manifest.get('format_version')} is not supported "
                f"(expected {INDEX_FORMAT_VERSION}); rebuild it with `xenc build-index`"
            )
        built_with = manifest["encoder"]["name"]
        if expect_encoder is not None and not _same_model(expect_encoder, manifest["encoder"]):
            raise IncompatibleArtifactError(
                f"{directory}: index was built with encoder {built_with!r}, not {expect_encoder!r}; "
                "embeddings from different encoders are not comparable — rebuild the index or use its encoder"
            )
        kb = KnowledgeBase.load(directory / "kb")
        if kb.checksum != manifest["kb"]["checksum"]:
            raise IncompatibleArtifactError(
                f"{directory}: the saved KB (checksum {kb.checksum}) does not match the manifest "
                f"({manifest['kb']['checksum']}); the index directory is corrupt — rebuild it"
            )
        if expect_kb_checksum is not None and expect_kb_checksum != kb.checksum:
            raise IncompatibleArtifactError(
                f"{directory}: index was built for KB {kb.checksum}, but the KB in use is {expect_kb_checksum}; "
                "rebuild the index for this KB"
            )
        embeddings = np.load(directory / "embeddings.npy", mmap_mode="r")
        if embeddings.shape[0] != kb.n_names:
            raise IncompatibleArtifactError(
                f"{directory}: {embeddings.shape[0]} embeddings for {kb.n_names} KB names; rebuild the index"
            )
        index_meta = manifest["index"]
        if nprobe is not None:
            index_meta["nprobe"] = nprobe
        if ef_search is not None:
            index_meta["ef_search"] = ef_search
        faiss_index = None
        if index_meta["type"] != "flat" and (directory / "index.faiss").exists():
            faiss_index = FaissSearcher.load(
                directory / "index.faiss",
                index_meta["type"],
                nprobe=index_meta["nprobe"],
                ef_search=index_meta["ef_search"],
            )
        searcher = _make_searcher(embeddings, manifest, backend, resolve_device(device), faiss_index)
        return cls(
            directory=directory,
            manifest=manifest,
            embeddings=embeddings,
            kb=kb,
            searcher=searcher,
            provenance=read_record(directory),
            allow_mismatch=allow_mismatch,
        )

    # ------------------------------------------------------------------ use
    def encoder(self, device: str | None = None, dtype: str = "auto") -> NameEncoder:
        """The index's encoder (loaded on first use) — mentions must be embedded with it."""
        if self.loaded_encoder is None:
            info = self.manifest["encoder"]
            source = (
                info.get("resolved_path")
                if info.get("resolved_path") and Path(info["resolved_path"]).exists()
                else info["name"]
            )
            self._check_encoder(source)
            self.loaded_encoder = NameEncoder(
                source,
                pooling=info["pooling"],
                max_length=info["max_length"],
                device=device,
                dtype=dtype,
                revision=info.get("revision"),
            )
        return self.loaded_encoder

    def _check_encoder(self, source: str) -> None:
        """Refuse an encoder whose files changed since the index was built (say, tuned again into its directory)."""
        built = (self.provenance or {}).get("encoder") or {}
        if not built.get("identity"):
            return
        local = source if Path(source).is_dir() else None
        now = {"encoder": {"name": source, "identity": model_identity(source, built.get("revision"), local)}}
        require_match(
            Artefact("index", self.directory, self.provenance),
            Artefact("encoder", source, now, source=f"the files of {source} now"),
            [Check("encoder", "encoder.identity", shown="encoder.name")],
            allow=self.allow_mismatch,
            remedy="the mentions would be embedded with another model than the KB names; rebuild the index "
            "with this encoder (xenc build-index) or restore the encoder it was built with",
        )

    @property
    def encoder_name(self) -> str:
        return self.manifest["encoder"]["name"]

    def search(self, query_embeddings, k: int, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` names: (scores [q, k], name ids [q, k])."""
        return self.searcher.search(query_embeddings, k, progress=progress)


def name_encoder(encoder_cfg: EncoderConfig, device: str | None = None) -> NameEncoder:
    """The :class:`NameEncoder` that ``encoder_cfg`` describes (on ``device`` when given)."""
    return NameEncoder(
        encoder_cfg.model,
        pooling=encoder_cfg.pooling,
        max_length=encoder_cfg.max_length,
        device=device or encoder_cfg.device,
        dtype=encoder_cfg.dtype,
        revision=encoder_cfg.revision,
        devices=encoder_cfg.devices,  # several GPUs encode the names together when listed
    )


def _same_model(requested: str, encoder_info: dict[str, Any]) -> bool:
    if requested == encoder_info["name"]:
        return True
    resolved = encoder_info.get("resolved_path")
    return bool(resolved) and Path(requested).exists() and str(Path(requested).resolve()) == resolved


def _make_searcher(embeddings, manifest, backend: str, device: torch.device, faiss_index) -> Searcher:
    index_meta = manifest["index"]
    on_gpu = device.type == "cuda"
    if backend == "torch" or (backend == "auto" and on_gpu and not faiss_has_gpu()):
        return TorchExactSearcher(np.asarray(embeddings), device=device if on_gpu else "cpu")
    use_gpu = on_gpu and faiss_has_gpu()
    if faiss_index is not None:
        if use_gpu:
            return FaissSearcher(
                faiss_index.cpu_index, index_meta["type"], index_meta["nprobe"], index_meta["ef_search"], use_gpu=True
            )
        return faiss_index
    return FaissSearcher.build(np.asarray(embeddings, dtype=np.float32), "flat", use_gpu=use_gpu)
