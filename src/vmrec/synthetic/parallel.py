"""Threads for the generator that leave its output byte-identical for any thread count.

`ordered_map` runs independent tasks on threads and returns their results in order; `Float32Stream`
lets each task draw its own slice of one generator's float32 uniforms, exactly the values that
drawing them in order would give (PCG64 can jump ahead: `PCG64.advance`). numpy releases the GIL in
the elementwise, sorting and random-filling work the tasks do, so two threads use two cores.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def ordered_map(fn: Callable, items: Iterable[tuple], threads: int) -> Iterator:
    """fn(*item) for each item, on `threads` threads, results in the items' order.

    `items` is consumed lazily in the calling thread, with at most 2 x threads items in flight, which
    bounds the memory their results hold. threads <= 1: in the calling thread, one after another."""
    if threads <= 1:
        yield from (fn(*it) for it in items)
        return
    with ThreadPoolExecutor(threads) as ex:
        pending: deque = deque()
        for it in items:
            pending.append(ex.submit(fn, *it))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class Float32Stream:
    """The float32 uniforms `rng.random(n, dtype=np.float32)` would give from rng's current state,
    drawn at any position, from any thread.

    numpy's float32 uniform is (u32 >> 8) / 2**24 of one 32-bit draw; PCG64 makes a 32-bit draw the low
    half of a 64-bit output and keeps the high half for the next one (`has_uint32`). So uniform number
    `pos` of the stream is a half of 64-bit output pos // 2 (after the kept half, if any), reached with
    `PCG64.advance` in O(log pos). `finish(total)` leaves rng where drawing `total` uniforms in order
    would have. Another bit generator than PCG64 is refused (`supported`)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.state = rng.bit_generator.state

    @staticmethod
    def supported(rng: np.random.Generator) -> bool:
        return isinstance(rng.bit_generator, np.random.PCG64)

    def _generator_at(self, pos: int) -> np.random.Generator:
        """A fresh generator whose next float32 uniform is number `pos` (>= the kept half, if any)."""
        st = {**self.state, "has_uint32": 0, "uinteger": 0}
        bg = np.random.PCG64()
        bg.state = st
        bg.advance(pos // 2)
        g = np.random.Generator(bg)
        if pos % 2:
            g.random(1, dtype=np.float32)  # the low half; the high half is next
        return g

    def draw(self, pos: int, shape: tuple[int, ...]) -> np.ndarray:
        """Uniforms number pos .. pos + prod(shape) - 1 of the stream, in `shape`."""
        n = int(np.prod(shape))
        if not self.state["has_uint32"]:
            return self._generator_at(pos).random(n, dtype=np.float32).reshape(shape)
        if pos > 0:
            return self._generator_at(pos - 1).random(n, dtype=np.float32).reshape(shape)
        out = np.empty(n, dtype=np.float32)
        out[:1] = (self.state["uinteger"] >> 8) * (1.0 / 16777216.0)  # the kept high half
        out[1:] = self._generator_at(0).random(n - 1, dtype=np.float32)
        return out.reshape(shape)

    def finish(self, total: int) -> None:
        """Set rng to its state after `total` uniforms drawn in order from the start."""
        h = int(self.state["has_uint32"])
        if total == 0:
            self.rng.bit_generator.state = self.state
            return
        self.rng.bit_generator.state = self._generator_at(total - h).bit_generator.state
