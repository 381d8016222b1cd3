"""shared.service.Periodic: a background job that ends when it is stopped, even when its run swallowed the
cancellation (as PyMongo's async network layer can)."""

import asyncio

from shared.service import Periodic


async def test_a_job_whose_run_swallows_the_cancellation_still_ends_at_once():
    started = asyncio.Event()

    async def swallowing_run() -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # what a library that swallows the cancellation does

    job = Periodic("swallowing", swallowing_run, interval_s=300, first_delay_s=0)
    task = asyncio.create_task(job.loop())
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


async def test_a_job_runs_again_after_its_interval_and_survives_a_failed_run():
    runs = []
    third = asyncio.Event()

    async def flaky_run() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the store was away")
        if len(runs) == 3:
            third.set()

    task = asyncio.create_task(Periodic("flaky", flaky_run, interval_s=0.01, first_delay_s=0).loop())
    await asyncio.wait_for(third.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert runs[:3] == [0, 1, 2]
