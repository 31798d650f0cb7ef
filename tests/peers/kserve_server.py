#!/usr/bin/env python3
"""KServe's own Python model server with models that behave like
kinfer-server's, for the parity tests.

    kserve_server.py --port-file FILE

Picks a free loopback port, serves V1 and V2 over HTTP/1.1 on it with the
models `echo` (every input i back as output `output-<i>`; V1 :predict and
:explain answer {"predictions": <instances>}) and `not_ready` (registered
but never ready), and writes the port to FILE once it answers.
"""
import argparse
import os
import socket
import threading
import time
import urllib.request

import kserve
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


class Echo(Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.ready = True

    async def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            outputs = []
            for i, inp in enumerate(payload.inputs):
                out = InferOutput(name=f"output-{i}", shape=list(inp.shape),
                                  datatype=inp.datatype,
                                  parameters=dict(inp.parameters or {}))
                binary = bool(payload.parameters and
                              payload.parameters.get("binary_data_output"))
                out.set_data_from_numpy(inp.as_numpy(), binary_data=binary)
                outputs.append(out)
            return InferResponse(response_id=payload.id or "", model_name=self.name,
                                 infer_outputs=outputs,
                                 parameters=payload.parameters,
                                 use_binary_outputs=any(
                                     o.parameters.get("binary_data_size") is not None
                                     for o in outputs if o.parameters))
        return {"predictions": payload.get("instances", payload.get("inputs"))}

    async def explain(self, payload, headers=None):
        return {"predictions": payload.get("instances", payload.get("inputs"))}


class NotReady(Model):
    """Registered (KServe registers only ready models), then not ready."""

    def __init__(self, name: str):
        super().__init__(name)
        self.ready = True

    def start(self):
        self.ready = False

    async def predict(self, payload, headers=None, response_headers=None):
        raise RuntimeError("predict called on a model that is not ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def announce(port: int, port_file: str) -> None:
    url = f"http://127.0.0.1:{port}/v2/health/live"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    tmp = port_file + ".tmp"
                    with open(tmp, "w") as f:
                        f.write(str(port))
                    os.rename(tmp, port_file)
                    return
        except OSError:
            time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    port = free_port()
    threading.Thread(target=announce, args=(port, args.port_file), daemon=True).start()
    ModelServer(http_port=port, grpc_port=free_port(), enable_grpc=False,
                enable_latency_logging=False).start([Echo("echo"), NotReady("not_ready")])


if __name__ == "__main__":
    main()
