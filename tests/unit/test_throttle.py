"""The worker's shared throttle, on a real event loop: caps that change while held, and the per-iDRAC rate
limit (network.max_requests_per_minute) as a sliding window that a raised limit releases at once."""

from __future__ import annotations

import asyncio

import pytest

from dsm_core.redfish.client import Gate, Throttle


async def test_a_gate_resized_while_held_lets_a_waiter_in() -> None:
    gate = Gate(1)
    entered: list[str] = []

    async def hold(name: str, release: asyncio.Event) -> None:
        async with gate:
            entered.append(name)
            await release.wait()

    first, second = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(hold("a", first))
    b = asyncio.create_task(hold("b", second))
    await asyncio.sleep(0.05)
    assert entered == ["a"], "a cap of 1 holds the second back"
    await gate.resize(2)
    await asyncio.sleep(0.05)
    assert entered == ["a", "b"], "raising the cap lets the waiter in without a restart"
    await gate.resize(1)
    c = asyncio.create_task(hold("c", asyncio.Event()))
    first.set()
    await asyncio.sleep(0.05)
    assert "c" not in entered, "lowered to 1 with b still inside: c waits"
    second.set()
    await asyncio.sleep(0.05)
    assert entered[-1] == "c"
    c.cancel()
    await asyncio.gather(a, b, c, return_exceptions=True)


async def test_the_rate_limit_holds_the_next_request_and_a_raised_limit_frees_it() -> None:
    throttle = Throttle(per_minute=3)
    for _ in range(3):
        await asyncio.wait_for(throttle.space("10.0.0.1:443"), 0.2)
    fourth = asyncio.create_task(throttle.space("10.0.0.1:443"))
    await asyncio.sleep(0.3)
    assert not fourth.done(), "a 4th request within the minute waits"
    await asyncio.wait_for(throttle.space("10.0.0.2:443"), 0.2)  # another iDRAC has its own budget
    await throttle.configure(64, 2, 100, 0)
    await asyncio.wait_for(fourth, 2.5)  # re-checked every second: released without waiting out the minute


async def test_spacing_between_requests_follows_the_setting() -> None:
    throttle = Throttle(delay_ms=0)
    loop = asyncio.get_running_loop()
    await throttle.space("a")
    await throttle.configure(64, 2, 0, 300)
    start = loop.time()
    await throttle.space("a")
    await throttle.space("a")
    assert loop.time() - start >= 0.25, "the second request waited for its 300 ms spacing"


@pytest.mark.parametrize("cap", [1, 3])
async def test_configure_changes_the_per_idrac_cap_of_existing_endpoints(cap: int) -> None:
    throttle = Throttle(per_idrac=2)
    gate = throttle.for_endpoint("10.0.0.1:443")
    await throttle.configure(64, cap, 0, 0)
    assert gate.limit == cap and throttle.for_endpoint("10.0.0.9:443").limit == cap
