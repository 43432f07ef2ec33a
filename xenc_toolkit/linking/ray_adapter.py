"""Link a Ray Data dataset of mentions across a cluster: one :class:`Linker` per actor.

::

    import ray
    from xenc_toolkit.linking.ray_adapter import link_dataset

    ray.init()  # or ray.init(address="auto") on a running Ray cluster (README: On a cluster)
    mentions = ray.data.read_parquet("s3://bucket/mentions/")  # id, mention[, left_context, right_context][, types]
    links = link_dataset(mentions, "runs/model/best", "runs/index", num_gpus_per_actor=1, concurrency=8)
    links.write_parquet("s3://bucket/links/")

Input columns (the keys of ``xenc link``'s JSONL input): ``id`` and ``mention`` (required);
``context`` (a sentence containing the mention) or ``left_context`` / ``right_context``;
``types`` (a list of TUIs or semantic groups, or a comma-separated string). Each output row is
the record ``xenc link`` writes as JSONL (``id`` plus every :class:`~xenc_toolkit.linking.LinkResult`
field, alternatives included), as Arrow with the fixed schema :func:`link_record_schema`.
Ray does not keep row order unless asked (``DataContext.execution_options.preserve_order``):
join on ``id``.

Ray is an optional dependency: ``pip install "xenc-toolkit[ray]"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import XencError
from .linker import Linker, LinkResult

RAY_EXTRA_HINT = 'Ray Data is not installed: pip install "xenc-toolkit[ray]" (it brings ray[data])'


def require_ray():
    """The ``ray`` module, or an ImportError naming the ``[ray]`` extra."""
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is a separate part of ray)
    except ImportError as exc:
        raise ImportError(RAY_EXTRA_HINT) from exc
    return ray


def link_record_schema():
    """The Arrow schema of the link records (fixed, so every batch and the Parquet files agree)."""
    import pyarrow as pa

    types = pa.list_(pa.string())
    candidate = pa.struct(
        [
            ("concept_id", pa.string()),
            ("name", pa.string()),
            ("probability", pa.float64()),
            ("logit", pa.float64()),
            ("types", types),
            ("retrieval_score", pa.float64()),
            ("pair_probability", pa.float64()),
        ]
    )
    return pa.schema(
        [
            ("id", pa.string()),
            ("mention", pa.string()),
            ("concept_id", pa.string()),
            ("name", pa.string()),
            ("probability", pa.float64()),
            ("margin", pa.float64()),
            ("tier", pa.string()),
            ("types", types),
            ("alternatives", pa.list_(candidate)),
            ("type_filter_relaxed", pa.bool_()),
            ("nil_reason", pa.string()),
        ]
    )


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _types(value: Any) -> tuple[str, ...] | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        parts = [t.strip() for t in value.split(",")]
    else:  # a list column arrives as a numpy array (or a list) of strings
        parts = [str(t).strip() for t in value]
    return tuple(t for t in parts if t) or None


def batch_inputs(batch: dict[str, np.ndarray]) -> tuple[list[str], list[str], list, list]:
    """``(ids, mentions, contexts, types)`` of a Ray batch (see the module docs for the columns).

    Raises:
        XencError: a required column is missing, or a mention is empty.
    """
    missing = [c for c in ("id", "mention") if c not in batch]
    if missing:
        raise XencError(
            f"link_dataset: the mentions have no {' or '.join(repr(c) for c in missing)} column "
            f"(columns: {sorted(batch)}); expected id, mention[, left_context, right_context | context][, types] "
            "(rename with ds.rename_columns, or add ids with ds.add_column)"
        )
    ids = [_text(i) for i in batch["id"]]
    mentions = [_text(m).strip() for m in batch["mention"]]
    for row_id, mention in zip(ids, mentions, strict=True):
        if not mention:
            raise XencError(f"link_dataset: mention {row_id!r} is empty (expected a non-empty 'mention' string)")
    n = len(mentions)
    if "left_context" in batch or "right_context" in batch:
        left = batch.get("left_context", [None] * n)
        right = batch.get("right_context", [None] * n)
        contexts: list = [(_text(a), _text(b)) for a, b in zip(left, right, strict=True)]
    elif "context" in batch:
        contexts = [_text(c) or None for c in batch["context"]]
    else:
        contexts = [None] * n
    types = [_types(t) for t in batch["types"]] if "types" in batch else [None] * n
    return ids, mentions, contexts, types


def link_records(ids, results: list[LinkResult]):
    """The results as an Arrow table of link records (``id`` + every :class:`LinkResult` field)."""
    import pyarrow as pa

    rows = [{"id": row_id, **result.to_dict()} for row_id, result in zip(ids, results, strict=True)]
    return pa.Table.from_pylist(rows, schema=link_record_schema())


class RayLinker:
    """A Ray Data batch function: loads the :class:`Linker` once per actor, links each batch of mentions.

    The actor's device is the GPU Ray assigned to it (``num_gpus`` in ``map_batches``), else the CPU.
    ``link_batch_size`` is the number of (mention, candidate) pairs per CrossEncoder batch.
    """

    def __init__(
        self,
        model_dir: str | Path,
        index_dir: str | Path,
        top_k: int = 5,
        n_candidates: int | None = None,
        link_batch_size: int = 256,
        precision: str = "auto",
        device: str | None = None,
    ):
        self.top_k = top_k
        self.linker = Linker.from_pretrained(
            model_dir,
            index_dir,
            device=device,
            n_candidates=n_candidates,
            batch_size=link_batch_size,
            precision=precision,
        )

    def __call__(self, batch: dict[str, np.ndarray]):
        ids, mentions, contexts, types = batch_inputs(batch)
        results = self.linker.link(mentions, contexts=contexts, types=types, top_k=self.top_k)
        return link_records(ids, results)


def link_dataset(
    ds,
    model_dir: str | Path,
    index_dir: str | Path,
    num_gpus_per_actor: float = 0,
    concurrency: int = 1,
    batch_size: int = 1024,
    top_k: int = 5,
    n_candidates: int | None = None,
    link_batch_size: int = 256,
    precision: str = "auto",
    num_cpus_per_actor: float | None = None,
):
    """``ds`` (a Ray Dataset of mentions) linked by ``concurrency`` actors, each holding one :class:`Linker`.

    Args:
        ds: ``ray.data.Dataset`` with the columns of the module docs.
        model_dir / index_dir: the trained model and index directories, readable from every node.
        num_gpus_per_actor: GPUs per actor (1 on a GPU cluster: one actor per GPU; 0 on CPU).
        concurrency: actors (e.g. the number of GPUs in the cluster).
        batch_size: mentions per batch handed to an actor.
        top_k, n_candidates, link_batch_size, precision: as in ``xenc link``.
        num_cpus_per_actor: CPUs reserved per actor (Ray's default when None).

    Returns:
        a lazy ``ray.data.Dataset`` of link records (write it with ``write_parquet`` / ``write_json``).
    """
    ray = require_ray()
    for path, what in ((model_dir, "model directory"), (index_dir, "index directory")):
        if not Path(path).exists():  # the driver sees the paths the actors will open (a shared filesystem)
            raise XencError(f"link_dataset: {what} {path} does not exist")
    remote_args: dict[str, Any] = {"num_gpus": num_gpus_per_actor} if num_gpus_per_actor else {}
    if num_cpus_per_actor is not None:
        remote_args["num_cpus"] = num_cpus_per_actor
    return ds.map_batches(
        RayLinker,
        fn_constructor_kwargs={
            "model_dir": str(model_dir),
            "index_dir": str(index_dir),
            "top_k": top_k,
            "n_candidates": n_candidates,
            "link_batch_size": link_batch_size,
            "precision": precision,
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        **remote_args,
    )
