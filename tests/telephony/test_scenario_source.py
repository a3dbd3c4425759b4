from telephony.scenario import scenario_source, scenario_version


def test_the_checkout_scenario_declares_a_positive_version():
    assert scenario_version() >= 1
    assert f"var SCENARIO_VERSION = {scenario_version()};" in scenario_source()
