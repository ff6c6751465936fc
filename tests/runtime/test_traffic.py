"""Traffic rules and planning (runtime/traffic.py): pure functions, no Azure needed."""

import pytest

from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_fill_traffic,
    azml_parse_traffic,
    azml_plan_traffic,
    azml_same_live_traffic,
)


def test_plan_traffic_keeps_proportions_and_sums_to_100():
    assert azml_plan_traffic({"blue": 100}, "green", 10) == {"blue": 90, "green": 10}
    plan = azml_plan_traffic({"a": 50, "b": 50}, "c", 33)
    assert sum(plan.values()) == 100 and plan["c"] == 33 and abs(plan["a"] - plan["b"]) <= 1
    assert azml_plan_traffic({}, "blue", 100) == {"blue": 100}
    assert azml_plan_traffic({"blue": 0}, "green", 0) == {"blue": 0, "green": 0}
    assert azml_plan_traffic({"Blue": 100}, "blue", 100) == {"blue": 100}


def test_plan_traffic_refuses_a_share_nobody_can_take():
    with pytest.raises(ValueError, match="traffic_percent: 40 would leave 60%"):
        azml_plan_traffic({}, "blue", 40)


@pytest.mark.parametrize(
    ("traffic", "mirror", "message"),
    [
        ({"blue": 90}, None, "sum to 100"),
        ({"blue": 100, "ghost": 0}, None, "'ghost' does not exist"),
        ({"blue": 100}, {"green": 60}, "at most 50"),
        ({"blue": 50, "green": 50}, {"green": 10}, "cannot also receive mirrored"),
        ({"blue": 100}, {"green": 10, "red": 10}, "only one deployment"),
        ({"blue": -5, "green": 105}, None, "between 0 and 100"),
    ],
)
def test_traffic_rules(traffic, mirror, message):
    with pytest.raises(ValueError, match=message):
        azml_check_traffic(traffic, mirror, ["blue", "green", "red"])


def test_traffic_maps_come_as_dicts_or_json_with_whole_percents():
    assert azml_parse_traffic("traffic", {"blue": 90.0, "green": 10}) == {"blue": 90, "green": 10}
    assert azml_parse_traffic("traffic", '{"blue": 100}') == {"blue": 100}
    assert azml_parse_traffic("mirror_traffic", "") == {}
    with pytest.raises(ValueError, match="^traffic: not a JSON object"):
        azml_parse_traffic("traffic", "{blue")
    with pytest.raises(ValueError, match=r"^traffic\[blue\]: 12.5 must be a whole number"):
        azml_parse_traffic("traffic", {"blue": 12.5})


def test_left_out_deployments_get_zero_and_names_ignore_case():
    assert azml_fill_traffic({"BLUE": 100}, ["blue", "green"]) == {"blue": 100, "green": 0}
    assert azml_same_live_traffic({"blue": 100, "green": 0}, {"Blue": 100})
    assert not azml_same_live_traffic({"blue": 100}, {"blue": 90, "green": 10})
