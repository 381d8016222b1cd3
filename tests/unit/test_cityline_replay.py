"""cityline/replay.py's year: the channel mix and month weights of 2022, scaled, and the same appeals for a seed."""

import pytest

from cityline.output import UserError
from cityline.replay import CHANNELS_2022, MONTH_WEIGHTS_2022, apportion, labelled_texts, year_plan


@pytest.mark.parametrize(("total", "weights"), [(10, [1, 1, 1]), (895_074, CHANNELS_2022.values()), (7, [3, 0, 1])])
def test_apportion_adds_up_and_follows_the_weights(total, weights):
    counts = apportion(total, weights)
    weights = list(weights)
    assert sum(counts) == total
    assert all(abs(count - total * weight / sum(weights)) < 1 for count, weight in zip(counts, weights, strict=True))


def test_the_whole_year_is_the_2022_mix_and_the_blackout_months_carry_the_most():
    plan = year_plan(2022, 1.0, seed=1, texts=["a"])
    by_channel: dict[str, int] = {}
    for month in plan:
        for appeal in month:
            by_channel[appeal.channel] = by_channel.get(appeal.channel, 0) + 1
    assert by_channel == CHANNELS_2022
    sizes = [len(month) for month in plan]
    assert sum(sizes) == 895_074
    assert sizes.index(max(sizes)) + 1 == MONTH_WEIGHTS_2022.index(max(MONTH_WEIGHTS_2022)) + 1 == 11
    assert all(appeal.received_at.month == appeal.month and appeal.received_at.year == 2022 for appeal in plan[1])


def test_a_small_scale_keeps_the_shape_and_the_seed_gives_the_same_appeals():
    texts = labelled_texts()
    first, again = year_plan(2022, 0.001, 7, texts), year_plan(2022, 0.001, 7, texts)
    assert first == again
    assert sum(len(month) for month in first) == 895
    assert {appeal.text for month in first for appeal in month} <= set(texts)


@pytest.mark.parametrize("scale", [0, -0.1, 1.5])
def test_a_scale_outside_the_year_is_refused(scale):
    with pytest.raises(UserError, match="--scale"):
        year_plan(2022, scale, 1, ["a"])
