import pytest

from stateline.lab.faults import Fault, FaultSchedule, failover_schedule


def test_faults_come_out_in_time_order_and_each_once():
    s = FaultSchedule([Fault(5, "scale", apps=2), Fault(2, "kill", "app-1")])
    assert s.due(1) == []
    assert [f.action for f in s.due(3)] == ["kill"]
    assert s.due(3) == []
    assert s.next_at() == 5
    assert [f.action for f in s.due(100)] == ["scale"]
    assert s.finished and s.next_at() is None


def test_failover_schedule_kills_a_third_in_and_drains_two_thirds_in():
    s = failover_schedule(30, apps=3)
    kill, scale = s.faults
    assert (kill.at, kill.action, kill.target) == (10, "kill", "app-2")
    assert (scale.at, scale.action, scale.apps) == (20, "scale", 2)
    assert "SIGKILL app-2" in kill.describe()


@pytest.mark.parametrize("kwargs", [
    {"at": 1, "action": "explode"}, {"at": -1, "action": "mark"},
    {"at": 1, "action": "kill"}, {"at": 1, "action": "scale", "apps": 0}])
def test_malformed_faults_are_refused(kwargs):
    with pytest.raises(ValueError):
        Fault(**kwargs)
