"""The browser tests' server: a browser that hangs up mid-answer leaves no file open."""
import socket
import struct
import time

from .conftest import serve


def test_a_static_answer_cut_off_by_a_reset_connection_is_closed(app, recwarn):
    """Werkzeug's server skips close() when the client resets; pytest would fail the next test."""
    import gc

    with serve(app) as url:
        port = int(url.rsplit(":", 1)[1])
        for _ in range(20):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /static/htmx.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.002)  # the server is writing the file when the reset arrives
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
    gc.collect()
    unclosed = [str(w.message) for w in recwarn if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
