"""Choose the torch device from the config's `device` key (auto | cpu | cuda)."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger("vmrec")


def resolve_device(choice: str = "auto") -> torch.device:
    """auto -> cuda if available else cpu; cuda without a GPU is an error, not a silent fallback."""
    if choice not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"device must be one of auto, cpu, cuda; found {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device: cuda, but torch sees no CUDA GPU (use auto or cpu)")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(choice)
    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({threads} threads)"
    log.info("device: %s", name)
    return dev
