"""Traffic rules and planning (runtime/traffic.py): pure functions, no Azure needed."""

import pytest

from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_fill_traffic,
    azml_parse_traffic,
    azml_plan_traffic,
    azml_same_live_traffic,
    azml_traffic_of,
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


def test_largest_remainders_get_the_leftover_points_ties_by_name():
    # 5:2 of 100 is 71.43 and 28.57: the larger remainder (b), not the larger share, rounds up.
    assert azml_plan_traffic({"a": 5, "b": 2}, "c", 0) == {"a": 71, "b": 29, "c": 0}
    # 1:2 is 33.33 and 66.67: b rounds up, though a sorts first by name.
    assert azml_plan_traffic({"a": 1, "b": 2}, "c", 0) == {"a": 33, "b": 67, "c": 0}
    # Equal remainders: the name decides.
    assert azml_plan_traffic({"b": 50, "a": 50}, "c", 33) == {"a": 34, "b": 33, "c": 33}


def test_plan_traffic_checks_the_share_first():
    for percent in (101, -1):
        with pytest.raises(ValueError) as raised:
            azml_plan_traffic({"blue": 100}, "green", percent)
        assert str(raised.value) == f"traffic_percent: {percent} must be between 0 and 100"
    with pytest.raises(ValueError) as raised:
        azml_plan_traffic({"blue": 0}, "green", 40)
    assert str(raised.value) == (
        "traffic_percent: 40 would leave 60% of requests with no deployment; no other "
        "deployment on the endpoint takes traffic, so use 100 (or 0)")
    assert azml_plan_traffic({"blue": 100}, "green", 100) == {"blue": 0, "green": 100}


@pytest.mark.parametrize(("traffic", "mirror", "message"), [
    ({"ghost": 100}, None, "traffic: deployment 'ghost' does not exist on the endpoint "
                           "(existing: blue, green)"),
    ({"blue": 100}, {"ghost": 10}, "mirror_traffic: deployment 'ghost' does not exist on the "
                                   "endpoint (existing: blue, green)"),
    ({"blue": 101}, None, "traffic[blue]: 101 must be between 0 and 100"),
    ({"blue": 100}, {"green": 101}, "mirror_traffic[green]: 101 must be between 0 and 100"),
    ({"blue": 1}, None, "traffic: live traffic must sum to 100 (or all be 0), got 1"),
    ({"blue": 100}, {"green": 51}, "mirror_traffic[green]: 51 must be at most 50"),
    ({"blue": 100}, {"green": 5, "blue": 5},
     "mirror_traffic: only one deployment can receive mirrored traffic"),
    ({"blue": 60, "green": 40}, {"green": 5},
     "mirror_traffic[green]: a deployment that takes live traffic cannot also receive mirrored "
     "traffic"),
])
def test_whole_traffic_messages(traffic, mirror, message):
    with pytest.raises(ValueError) as raised:
        azml_check_traffic(traffic, mirror, ["green", "blue"])
    assert str(raised.value) == message


def test_an_endpoint_without_deployments_says_none_exist():
    with pytest.raises(ValueError) as raised:
        azml_check_traffic({"blue": 100}, None, [])
    assert str(raised.value) == "traffic: deployment 'blue' does not exist on the endpoint " \
        "(existing: none)"


def test_traffic_at_the_limits_is_accepted():
    assert azml_check_traffic({"blue": 0, "green": 0}, None, ["blue", "green"]) is None
    assert azml_check_traffic({"Blue": 100}, {"green": 50}, ["blue", "green"]) is None
    assert azml_check_traffic({"blue": 100}, {"green": 0, "red": 0}, ["blue", "green", "red"]) \
        is None


def test_parsed_maps_keep_0_and_100_and_name_what_is_wrong():
    assert azml_parse_traffic("traffic", {"blue": 0, "green": 100}) == {"blue": 0, "green": 100}
    for value, message in (
        ({"blue": 101}, "traffic[blue]: 101 must be between 0 and 100"),
        ({"blue": -1}, "traffic[blue]: -1 must be between 0 and 100"),
        ([["blue", 100]], "traffic: must map deployment names to whole percents"),
        ({"b": 100}, "traffic deployment: 'b' is not a valid name; it must be 3-32 characters, "
                     "start with a letter, and contain only letters, digits and hyphens"),
    ):
        with pytest.raises(ValueError) as raised:
            azml_parse_traffic("traffic", value)
        assert str(raised.value) == message


def test_traffic_of_an_endpoint_entity_is_whole_percents():
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    endpoint = ManagedOnlineEndpoint(name="ep-1", traffic={"blue": 90.0, "green": 10.0},
                                     mirror_traffic={"red": 20.0})
    assert azml_traffic_of(endpoint) == ({"blue": 90, "green": 10}, {"red": 20})
    assert azml_traffic_of(ManagedOnlineEndpoint(name="ep-2")) == ({}, {})


def test_one_deployment_named_twice_in_different_case_is_refused():
    # Azure matches deployment names ignoring case: {"blue": 50, "BLUE": 50} is one deployment.
    with pytest.raises(ValueError) as raised:
        azml_parse_traffic("traffic", {"blue": 50, "BLUE": 50})
    assert str(raised.value) == (
        "traffic: deployment 'BLUE' is given twice (as 'blue' too); names ignore case")
    with pytest.raises(ValueError, match="given twice"):
        azml_parse_traffic("traffic", {"Green": 50, "gREEN": 50})
    assert azml_parse_traffic("traffic", {"blue": 50, "green": 50}) == {"blue": 50, "green": 50}
