"""Choose the torch device from the config's `device` key (auto | cpu | cuda)."""

from __future__ import annotations

import logging
import os
import re

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
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({cpu_threads()})"
    log.info("device: %s", name)
    return dev


def cpu_threads() -> str:
    """The thread settings that decide CPU float results: torch's, OpenMP's and MKL's thread counts, the
    CPUs this process may run on, and the *_NUM_THREADS variables. Two runs whose curves differ in the
    last digits usually differ here (a different thread count changes the order of float sums)."""
    info = torch.__config__.parallel_info()
    found = dict(re.findall(r"(omp_get_max_threads|mkl_get_max_threads)\(\) : (\d+)", info))
    parts = [f"{torch.get_num_threads()} threads", f"omp {found.get('omp_get_max_threads', '?')}",
             f"mkl {found.get('mkl_get_max_threads', '?')}"]
    if hasattr(os, "sched_getaffinity"):
        parts.append(f"{len(os.sched_getaffinity(0))} CPUs allowed")
    env = [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DYNAMIC")
           if k in os.environ]
    return ", ".join(parts + env)
