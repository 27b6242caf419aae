"""@serve.batch in a real event loop: batch sizes asserted from what the function saw."""

from __future__ import annotations

import asyncio

import pytest

import gantry_serve as serve


class Recorder:
    def __init__(self) -> None:
        self.seen: list[list] = []

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=30)
    async def double(self, xs: list[int]) -> list[int]:
        self.seen.append(list(xs))
        return [x * 2 for x in xs]


def test_full_batches_form_without_waiting_for_the_timeout() -> None:
    rec = Recorder()

    async def main() -> list[int]:
        return await asyncio.gather(*[rec.double(i) for i in range(8)])

    # With a 30 s wait, the test only finishes quickly because full batches start at once.
    assert asyncio.run(asyncio.wait_for(main(), 10)) == [i * 2 for i in range(8)]
    assert [len(b) for b in rec.seen] == [4, 4]
    assert sorted(x for b in rec.seen for x in b) == list(range(8))


def test_partial_batch_after_timeout_and_runtime_setters() -> None:
    seen: list[int] = []

    @serve.batch(max_batch_size=10, batch_wait_timeout_s=0.01)
    async def total(xs: list[int]) -> list[int]:
        seen.append(len(xs))
        return xs

    async def main() -> None:
        assert await asyncio.gather(*[total(i) for i in range(3)]) == [0, 1, 2]
        total.set_max_batch_size(2)
        total.set_batch_wait_timeout_s(30)
        assert await asyncio.gather(*[total(i) for i in range(4)]) == [0, 1, 2, 3]

    asyncio.run(asyncio.wait_for(main(), 10))
    assert seen == [3, 2, 2]
    assert total._get_max_batch_size() == 2
    with pytest.raises(ValueError, match="max_batch_size: must be an int >= 1"):
        total.set_max_batch_size(0)


def test_several_arguments_are_batched_per_position() -> None:
    calls: list[tuple] = []

    @serve.batch(max_batch_size=3, batch_wait_timeout_s=30)
    async def join(words: list[str], sep: list[str]) -> list[str]:
        calls.append((list(words), list(sep)))
        return [s.join([w, w]) for w, s in zip(words, sep)]

    async def main() -> list[str]:
        return await asyncio.gather(join("a", sep="-"), join("b", sep="+"), join("c", sep="*"))

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["a-a", "b+b", "c*c"]
    assert calls == [(["a", "b", "c"], ["-", "+", "*"])]


def test_errors_reach_every_caller() -> None:
    @serve.batch(max_batch_size=2, batch_wait_timeout_s=30)
    async def broken(xs: list[int]) -> list[int]:
        raise KeyError("model fell over")

    @serve.batch(max_batch_size=2, batch_wait_timeout_s=30)
    async def short(xs: list[int]) -> list[int]:
        return xs[:1]

    async def main() -> tuple[list, list]:
        a = await asyncio.gather(broken(1), broken(2), return_exceptions=True)
        b = await asyncio.gather(short(1), short(2), return_exceptions=True)
        return a, b

    a, b = asyncio.run(asyncio.wait_for(main(), 10))
    assert all(isinstance(e, KeyError) for e in a)
    assert all(isinstance(e, TypeError) and "length 2 but it returned 1" in str(e) for e in b)


def test_max_concurrent_batches() -> None:
    for limit in (1, 2):
        running = 0
        peak = 0

        @serve.batch(max_batch_size=1, batch_wait_timeout_s=0, max_concurrent_batches=limit)
        async def slow(xs: list[int]) -> list[int]:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            for _ in range(5):  # yield to the loop so other batches could start
                await asyncio.sleep(0)
            running -= 1
            return xs

        async def main() -> list[int]:
            return await asyncio.gather(*[slow(i) for i in range(6)])

        assert asyncio.run(asyncio.wait_for(main(), 10)) == list(range(6))
        assert peak == limit, (limit, peak)


def test_generator_batching() -> None:
    batches: list[int] = []

    @serve.batch(max_batch_size=3, batch_wait_timeout_s=30)
    async def countdown(ns: list[int]):
        batches.append(len(ns))
        for step in range(max(ns)):
            yield [StopIteration() if step >= n else f"{n}:{step}" for n in ns]

    async def collect(n: int) -> list[str]:
        return [item async for item in countdown(n)]

    async def main() -> list[list[str]]:
        return await asyncio.gather(collect(1), collect(3), collect(2))

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [["1:0"], ["3:0", "3:1", "3:2"], ["2:0", "2:1"]]
    assert batches == [3]


def test_batch_requires_async() -> None:
    with pytest.raises(TypeError, match="must be 'async def'"):

        @serve.batch
        def sync(xs: list[int]) -> list[int]:
            return xs
