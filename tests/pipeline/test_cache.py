import contextlib

from adsearch.pipeline.cache import run_step


def _writer(name, text, calls):
    def fn(out):
        calls.append(name)
        (out / f"{name}.txt").write_text(text)

    return fn


def test_downstream_reruns_only_when_upstream_product_changes(tmp_path):
    calls: list[str] = []
    out = tmp_path / "run"

    def chain(a_cfg, a_text, b_cfg):
        run_step(out, "a", a_cfg, [], ["a.txt"], _writer("a", a_text, calls))
        run_step(out, "b", b_cfg, [out / "a.txt"], ["b.txt"], _writer("b", "b", calls))

    chain({"v": 1}, "x", {"w": 1})
    assert calls == ["a", "b"]
    chain({"v": 1}, "x", {"w": 1})
    assert calls == ["a", "b"]  # everything skipped
    chain({"v": 1}, "x", {"w": 2})
    assert calls == ["a", "b", "b"]  # only b
    chain({"v": 2}, "x", {"w": 2})
    assert calls == ["a", "b", "b", "a"]  # a reran, same product -> b skipped
    chain({"v": 3}, "y", {"w": 2})
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_deleted_or_modified_output_reruns(tmp_path):
    calls: list[str] = []
    run_step(tmp_path, "a", {}, [], ["a.txt"], _writer("a", "x", calls))
    (tmp_path / "a.txt").write_text("tampered")
    run_step(tmp_path, "a", {}, [], ["a.txt"], _writer("a", "x", calls))
    assert calls == ["a", "a"]
    (tmp_path / "a.txt").unlink()
    run_step(tmp_path, "a", {}, [], ["a.txt"], _writer("a", "x", calls))
    assert calls == ["a", "a", "a"]


def test_failed_step_is_not_recorded(tmp_path):
    def boom(out):
        raise ValueError("boom")

    with contextlib.suppress(ValueError):
        run_step(tmp_path, "a", {}, [], ["a.txt"], boom)
    assert not (tmp_path / ".state" / "a.json").exists()


def test_record_has_timing_and_key(tmp_path):
    from adsearch.pipeline.cache import input_key, read_record

    calls: list[str] = []
    run_step(tmp_path, "a", {"v": 1}, [], ["a.txt"], _writer("a", "x", calls))
    run_step(tmp_path, "b", {}, [tmp_path / "a.txt"], ["b.txt"], _writer("b", "y", calls))
    rec = read_record(tmp_path, "b")
    assert rec is not None and rec["seconds"] >= 0
    assert rec["key"] == input_key(tmp_path, {}, [tmp_path / "a.txt"])
    assert read_record(tmp_path, "missing") is None
