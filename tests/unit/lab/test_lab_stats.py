from stateline.lab.stats import Recorder


def test_responses_and_errors_land_in_their_timeline_bucket_with_instances():
    r = Recorder(resolution=0.5)
    r.response(0.1, 0.002, True, 200, "app-1")
    r.response(0.7, 0.004, True, 200, "app-2")
    r.response(0.8, 0.004, False, 503, "app-2")
    r.error(1.6, "reset")
    out = r.to_json(2.0)
    assert out["requests"] == 4 and out["ok"] == 2 and out["failed"] == 2
    assert out["errors"] == {"http_503": 1, "reset": 1}
    assert out["instances"] == {"app-1": 1, "app-2": 2}
    assert [b["t"] for b in out["timeline"]] == [0.0, 0.5, 1.0, 1.5]
    assert [b["requests"] for b in out["timeline"]] == [1, 2, 0, 1]
    assert out["timeline"][1]["instances"] == {"app-2": 2}
    assert out["throughput_rps"] == 2.0


def test_recent_reports_the_rate_of_the_last_complete_second():
    r = Recorder(resolution=0.5)
    for i in range(300):
        r.response(i / 100, 0.001, True, 200, None)  # 100 per second over 3 s
    assert r.recent(2.0)["rate"] == 100
