"""Registration of the API's concurrent requests in batches: the store's round trips are the bottleneck."""

import asyncio
from collections.abc import Awaitable, Callable

from services.intake.handlers import Registered
from shared.contracts.intake import AppealSubmitted
from shared.http_guard import within_deadline

Register = Callable[[list[AppealSubmitted]], Awaitable[dict[str, Registered]]]


class RegistrationBatcher:
    """Registers concurrent requests together: one number reservation, one insert and one publish per batch.

    While a batch is being registered, newly arrived submissions wait and go in the next one, so a lone request
    waits for nothing and a busy API makes few round trips.
    """

    def __init__(self, register_submissions: Register, deadline_s: float, max_batch: int = 200) -> None:
        self.register_submissions = register_submissions
        self.deadline_s = deadline_s
        self.max_batch = max_batch
        self.pending: list[tuple[AppealSubmitted, asyncio.Future]] = []
        self.draining: asyncio.Task | None = None

    async def register(self, submission: AppealSubmitted) -> Registered:
        answer = asyncio.get_running_loop().create_future()
        self.pending.append((submission, answer))
        if self.draining is None:
            self.draining = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
                await self._register(batch)
        finally:
            self.draining = None

    async def _register(self, batch: list[tuple[AppealSubmitted, asyncio.Future]]) -> None:
        try:
            # The batch's own deadline: it serves several requests, each waiting within its own.
            submissions = [submission for submission, _ in batch]
            registered = await within_deadline(self.deadline_s, lambda: self.register_submissions(submissions))
        except Exception as error:
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
            return
        answered: set[str] = set()
        for submission, answer in batch:
            key = submission.intake_key()
            appeal_id, new = registered[key]
            # Two requests for one appeal in the same batch: only the first made it.
            if not answer.done():
                answer.set_result(Registered(appeal_id, new and key not in answered))
            answered.add(key)
