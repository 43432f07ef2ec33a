"""Devices and dtypes: what ``--device`` / ``--dtype`` values mean on this machine."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import XencError

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_devices(devices: Sequence[str] | None) -> list[torch.device] | None:
    """Devices for multi-device encoding: ``None`` / empty = one device; ``["all"]`` = every visible GPU.

    All entries must be of one type (several GPUs, or several CPU workers for testing).
    """
    if not devices:
        return None
    names = [str(d).strip() for d in devices if str(d).strip()]
    if names == ["all"]:
        if not torch.cuda.is_available():
            raise XencError("encoder devices 'all': no CUDA device is visible")
        return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    resolved = []
    for name in names:
        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise XencError(f"encoder devices: {name!r} is not a device (expected e.g. 'cuda:0', 'cpu')") from exc
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise XencError(f"encoder devices: {name!r} requested but no CUDA device is visible")
            device = torch.device("cuda", torch.cuda.current_device() if device.index is None else device.index)
            if device.index >= torch.cuda.device_count():
                raise XencError(f"encoder devices: {name!r}, but only {torch.cuda.device_count()} GPU(s) are visible")
        resolved.append(device)
    if len({d.type for d in resolved}) > 1:
        raise XencError(f"encoder devices {names}: mix device types (use several GPUs, or CPU only)")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """'auto' means bf16 on GPUs that support it (fp16 otherwise), fp32 on CPU."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return _DTYPES[dtype]
