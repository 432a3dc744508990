"""`charrnn serve` over loopback: same seed same text as CharRNN.sample for 16
clients at once, server-sent events, /info, and 200 malformed requests that
each get a 4xx with the server alive after them all."""

import http.client
import json
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from charrnn_c.serve import MAX_BODY, MAX_N, make_server

from conftest import small


@pytest.fixture(scope="module")
def model(shakespeare):
    return small(hidden_size=48, num_layers=2, cell="gru", seed=2,
                 optimizer="adam").fit(shakespeare[:20000], iterations=80, progress=False)


@pytest.fixture(scope="module")
def server(model):
    server = make_server(model, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def request(server, method, path, body=None, headers=None):
    """(status, body bytes) of one request over a fresh connection."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_sixteen_clients_at_once_get_model_sample(server, model):
    def client(seed):
        status, body = request(server, "POST", "/sample", {"n": 300, "prime": "KING.",
                                                           "temperature": 0.8, "seed": seed})
        assert status == 200
        return json.loads(body)["samples"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(client, range(16)))
    for seed, samples in enumerate(answers):
        assert samples == [model.sample(300, prime="KING.", temperature=0.8, seed=seed)]
    status, body = request(server, "POST", "/sample",
                           {"n": 200, "seed": 9, "num_samples": 3, "top_k": 5, "stop": "\n"})
    assert status == 200
    assert json.loads(body)["samples"] == model.sample(200, seed=9, num_samples=3, top_k=5,
                                                       stop="\n")


def test_stream_sends_the_same_text_as_events(server, model):
    status, body = request(server, "POST", "/stream", {"n": 120, "prime": "KING.",
                                                       "seed": 4, "top_p": 0.9})
    assert status == 200
    events = body.decode().split("\n\n")
    pieces = [json.loads(event[len("data: "):]) for event in events
              if event.startswith("data:")]
    assert events[-2] == "event: end\ndata: {}"
    assert "".join(pieces) == model.sample(120, prime="KING.", seed=4, top_p=0.9)
    assert len(pieces) == 120                      # a character an event


def test_info_describes_the_model(server, model):
    status, body = request(server, "GET", "/info")
    info = json.loads(body)
    assert status == 200
    assert (info["cell"], info["hidden_size"], info["num_layers"]) == ("gru", 48, 2)
    assert info["vocabulary"] == model.vocab_.to_dict()
    assert info["limits"]["n"] == MAX_N


def malformed():
    """200 bad requests: (method, path, body, headers), and a few raw byte streams."""
    fields = {"n": ["500", 1.5, -1, MAX_N + 1, 10**30, True, None, [], {}],
              "temperature": [-0.1, "hot", [1], True, None],
              "top_k": [0, -5, 2.5, "3", False],
              "top_p": [0, 1.5, -1, "0.9", [0.5]],
              "seed": [-1, 1.5, "7", 2**200, [1]],
              "num_samples": [0, 65, 10**9, "2", 1.0],
              "prime": [5, ["a"], {"a": 1}, "KING\u263a", "\U0001F600", "\x00"],
              "stop": [7, ["\n"], "\u263a"]}
    cases = [("POST", "/sample", {field: value}, None)
             for field, values in fields.items() for value in values]
    cases += [("POST", "/stream", {field: value}, None)
              for field, values in fields.items() for value in values]
    cases += [("POST", "/stream", {"num_samples": 2}, None)]
    bodies = [b"{", b"[1, 2]", b"\"text\"", b"42", b"null", b"{\"n\": }", b"\xff\xfe",
              b"[" * 100000 + b"]" * 100000, b"{\"unknown\": 1}", b"{\"n\": NaN}",
              b"{\"temperature\": Infinity}", b"{\"n\": 1e400}"]
    cases += [(method, path, body, None) for body in bodies
              for method, path in (("POST", "/sample"), ("POST", "/stream"))]
    cases += [("POST", "/sample", b"{}", {"Content-Length": "abc"}),
              ("POST", "/sample", b"{}", {"Content-Length": str(MAX_BODY + 1)}),
              ("POST", "/sample", b"x" * (MAX_BODY + 1), None),
              ("POST", "/sample", b"{}", {"Transfer-Encoding": "chunked"})]
    cases += [(method, path, None, None) for method, path in [
        ("GET", "/"), ("GET", "/sample"), ("POST", "/info"), ("POST", "/nothing"),
        ("PUT", "/sample"), ("DELETE", "/info"), ("PATCH", "/stream"), ("GET", "/../etc"),
        ("OPTIONS", "/sample"), ("GET", "/info/x")]]
    raw = [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"POST /sample HTTP/9.9\r\n\r\n",
           b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
           b"GET /info HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"]
    cases += [("RAW", None, data, None) for data in raw]
    while len(cases) < 200:                        # unknown characters, prime after prime
        cases.append(("POST", "/sample", {"prime": f"{len(cases)}\u00e9\u00e8"}, None))
    return cases[:200]


def raw_status(server, data):
    with socket.create_connection(server.server_address[:2], timeout=30) as connection:
        connection.sendall(data)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    return int(reply.split()[1])


def test_200_malformed_requests_each_get_a_4xx(server, model):
    cases = malformed()
    assert len(cases) == 200
    for method, path, body, headers in cases:
        if method == "RAW":
            status = raw_status(server, body)
            answer = b""
        else:
            status, answer = request(server, method, path, body, headers)
        assert 400 <= status < 500, (method, path, repr(body)[:80], status, answer[:200])
        if answer:
            assert json.loads(answer)["error"]
    status, body = request(server, "POST", "/sample", {"n": 50, "seed": 1})
    assert status == 200 and json.loads(body)["samples"] == [model.sample(50, seed=1)]
    assert request(server, "GET", "/info")[0] == 200


def test_a_wrong_field_is_named(server):
    status, body = request(server, "POST", "/sample", {"top_p": 2})
    assert status == 400
    assert json.loads(body) == {"error": "top_p must be in (0, 1], got 2", "field": "top_p"}
    status, body = request(server, "POST", "/sample", {"prime": "\u263a"})
    assert status == 400 and json.loads(body)["field"] == "prime"
    assert "not in the vocabulary" in json.loads(body)["error"]


def test_the_command_line_serves(tmp_path, model):
    path = tmp_path / "model.safetensors"
    model.save(path, weights_only=True, dtype="float32")
    process = subprocess.Popen([sys.executable, "-m", "charrnn_c", "serve", str(path),
                                "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith(f"serving {path} on http://127.0.0.1:")
        port = int(line.split(":")[-1].split()[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/sample", body=json.dumps({"n": 80, "seed": 3}))
        samples = json.loads(connection.getresponse().read())["samples"]
        assert samples == [model.sample(80, seed=3)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_silent_client_is_dropped_and_others_served(server, model, monkeypatch):
    from charrnn_c import serve

    monkeypatch.setattr(serve.Handler, "timeout", 0.5)       # SOCKET_TIMEOUT, shortened
    with socket.create_connection(server.server_address[:2], timeout=30) as silent:
        # Headers promise 100 bytes of body; one comes, then nothing.
        silent.sendall(b"POST /sample HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        status, body = request(server, "POST", "/sample", {"n": 30, "seed": 2})
        assert status == 200 and json.loads(body)["samples"] == [model.sample(30, seed=2)]
        assert silent.recv(100) == b""                       # closed once its time ran out
    assert request(server, "GET", "/info")[0] == 200
