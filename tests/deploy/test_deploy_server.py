"""The endpoint over loopback (port 0): the SageMaker contract, 4xx for bad requests, and
the server still answering after each of them."""

from __future__ import annotations

import threading
import time
import types

import httpx
import pytest

from fmnist_edu.deploy import inference, loadtest, payloads, server


@pytest.fixture(scope="module")
def url(archive_path):
    with server.in_thread(archive_path) as address:
        yield address


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=10) as c:
        yield c


def _post(client, url, body, content_type, accept="application/json"):
    headers = {"Content-Type": content_type, "Accept": accept}
    return client.post(f"{url}/invocations", content=body, headers=headers)


def test_ping_and_each_content_type(client, url, images, handler, model_dir):
    assert client.get(f"{url}/ping").status_code == 200
    model = handler.load_model(model_dir, "torch")
    for content_type, encode in payloads.ENCODERS.items():
        sent = images[:1] if content_type == inference.PNG else images[:4]
        body = encode(sent[0] if content_type == inference.PNG else sent)
        response = _post(client, url, body, content_type)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        labels = [p["label"] for p in response.json()["predictions"]]
        assert (
            labels
            == model(handler.input_fn(payloads.to_npy(sent), inference.NPY)).argmax(1).tolist()
        )


def test_every_bad_request_is_4xx_and_the_next_request_succeeds(client, url, images):
    good = payloads.to_json(images[0])
    for bad in payloads.bad_requests(images[0]):
        response = _post(client, url, bad.body, bad.content_type, bad.accept)
        assert response.status_code == bad.status, (bad.what, response.text)
        assert response.json()["error"]
        assert _post(client, url, good, inference.JSON).status_code == 200, bad.what


def test_a_chunked_body_over_the_limit_is_cut_off(client, url, images):
    def chunks():
        for _ in range(inference.MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    response = _post(client, url, chunks(), inference.JSON)
    assert response.status_code == 413
    assert _post(client, url, payloads.to_json(images[0]), inference.JSON).status_code == 200


def test_wrong_methods_and_paths(client, url):
    assert client.get(f"{url}/invocations").status_code == 405
    assert client.post(f"{url}/ping").status_code == 405
    assert client.get(f"{url}/elsewhere").status_code == 404


def test_a_failing_handler_is_a_500_and_the_server_goes_on():
    def input_fn(body, content_type):
        if body == b"crash":
            raise RuntimeError("a bug in the handler")
        return body

    fake = types.SimpleNamespace(
        MAX_BODY_BYTES=100,
        input_fn=input_fn,
        predict_fn=lambda data, model: data,
        output_fn=lambda prediction, accept: prediction.decode(),
    )
    app = server.create_app(fake, model=None)
    sock = server.bind("127.0.0.1", 0)
    uv = server._server(app)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        address = server.url_of(sock)
        with httpx.Client(timeout=10) as c:
            for _ in range(100):  # until the loop accepts
                try:
                    c.get(f"{address}/ping")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            crash = c.post(f"{address}/invocations", content=b"crash")
            assert crash.status_code == 500 and "RuntimeError" in crash.json()["error"]
            assert "a bug" not in crash.text  # no internals leak
            echo = c.post(f"{address}/invocations", content=b"hello")
            assert (echo.status_code, echo.text) == (200, "hello")
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()


def test_load_test_counts_latencies_and_failures(url, images):
    good = loadtest.measure(url, payloads.to_json(images[0]), concurrency=3, requests=40)
    assert good.requests == 40 and good.failures == 0 and good.concurrency == 3
    assert 0 < good.p50 <= good.p99 and good.per_second > 0
    bad = loadtest.measure(url, b"[", concurrency=2, requests=10, warmup=0)
    assert bad.requests == 10 and bad.failures == 10
    short = loadtest.measure(url, b"[", requests=100_000, max_seconds=0.3, warmup=0)
    assert 0 < short.requests < 100_000 and short.seconds < 5


def test_load_result_percentiles():
    result = loadtest.LoadResult(1, tuple(float(v) for v in range(1, 101)), 2.0, 0)
    assert result.p50 == pytest.approx(50.5) and result.p99 == pytest.approx(99.01)
    assert result.per_second == 50
    with pytest.raises(loadtest.LoadTestError):
        loadtest.LoadResult(1, (), 1.0, 0).percentile(50)


def test_load_test_errors_are_clear():
    with pytest.raises(loadtest.LoadTestError, match="give an address"):
        loadtest.measure("ftp://x", b"")
    sock = server.bind("127.0.0.1", 0)
    address = server.url_of(sock)
    sock.close()  # nobody listens there now
    with pytest.raises(loadtest.LoadTestError, match="the load test failed"):
        loadtest.measure(address, b"[]", requests=1, warmup=0)


def test_serve_refuses_bad_settings(archive_path):
    sock = server.bind("127.0.0.1", 0)
    try:
        busy = sock.getsockname()[1]
        with pytest.raises(server.ServeError, match="cannot listen"):
            server.serve(archive_path, port=busy, stop_after=1)
    finally:
        sock.close()
    with pytest.raises(server.ServeError, match="backend='tensorflow'"):
        server.serve(archive_path, backend="tensorflow")
    with pytest.raises(server.ServeError, match="threads=0"):
        server.serve(archive_path, threads=0)
    with pytest.raises(server.ServeError, match="cannot listen"):
        server.serve(archive_path, port=70000)


def test_serve_stops_by_itself_and_cleans_up(archive_path, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    lines: list[str] = []
    start = time.perf_counter()
    server.serve(archive_path, port=0, stop_after=0.5, announce=lines.append)
    assert time.perf_counter() - start < 10
    assert len(lines) == 1 and "http://127.0.0.1:" in lines[0]
    assert list(tmp_path.iterdir()) == []  # the unpacked archive is gone
