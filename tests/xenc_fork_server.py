"""``xenc`` commands run without paying the imports each time: a fork server for tests/test_readme.py.

Every ``xenc`` process imports torch, transformers and sentence-transformers first (about 7
CPU-seconds); README's blocks run some 20 commands. The server imports them once, then for each
command forks a child that takes the client's stdin/stdout/stderr, working directory, environment
and arguments and runs :func:`xenc_toolkit.cli.main.main`, exactly as the ``xenc`` script does; the
client (the ``xenc`` on the test's PATH) exits with the child's exit status. The server is started
with the test's environment, so the libraries that read it at import see the same values.

    python tests/xenc_fork_server.py SOCKET   # prints "ready" once it listens
"""

from __future__ import annotations

import json
import os
import socket
import sys
import traceback

CLIENT = """#!{python}
import json, os, socket, sys
connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
connection.connect({socket_path!r})
request = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}
socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
sys.exit(int(connection.recv(64) or b"1"))
"""


def _run(request: dict, fds: list[int]) -> int:
    from xenc_toolkit.cli.main import main

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["xenc", *request["argv"]]
    try:
        main(request["argv"])
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def serve(socket_path: str) -> None:
    import sentence_transformers  # noqa: F401  - the imports every command would pay
    import torch  # noqa: F401
    import transformers  # noqa: F401

    import xenc_toolkit.cli.main  # noqa: F401

    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(socket_path)
    server.listen(4)
    print("ready", flush=True)
    while True:
        connection, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            server.close()
            connection.close()
            os._exit(_run(json.loads(message), fds))
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        connection.send(str(os.waitstatus_to_exitcode(status)).encode())
        connection.close()


if __name__ == "__main__":
    serve(sys.argv[1])
