"""`cityline replay` at a tiny scale through the running pipeline: every month's appeals assigned, each stage timed."""

import pytest

from cityline.replay import replay_year
from shared.settings import ConnectionSettings

pytestmark = pytest.mark.integration


async def test_a_tiny_year_goes_through_month_by_month(pipeline):
    connection = ConnectionSettings(
        kafka_bootstrap_servers=pipeline.bootstrap, mongodb_uri=pipeline.store_uri, mongodb_database=pipeline.database
    )

    months, stages, appeal_ids = await replay_year(connection, 2022, scale=0.0002, seed=3, wait_s=90)

    assert [month.month for month in months] == list(range(1, 13))
    assert sum(month.appeals for month in months) == 179 == len(set(appeal_ids))
    assert all(month.assigned == month.appeals for month in months)
    assert max(months, key=lambda month: month.appeals).month in (10, 11, 12)  # the blackout months
    assert set(stages) == {"registered -> classified", "classified -> assigned"}
    assert all(ms >= 0 for ms in stages.values())
