#!/usr/bin/env python3
"""The Python anchor for codec_bench: the same tensors encoded and decoded
the way the KServe Python client does it, with orjson and numpy.

  codec_bench --dump DIR        # writes DIR/FP32_1000.bin, ... (raw LE)
  codec_orjson.py DIR [--quick]

Encode (InferRequest.to_rest): the input becomes
{"name", "shape", "datatype", "data": array.flatten().tolist()} inside
{"id", "inputs": [...]}, serialised with orjson.dumps.
Decode (InferResponse.from_rest): orjson.loads of a V2 response body, then
numpy.array(output["data"], dtype=...).reshape(shape).
Binary: encode is tobytes() after the orjson header, decode is
numpy.frombuffer of the body slice.

Each figure: median of 5 runs of at least 0.2 s of process CPU time, in ns
per element, as codec_bench measures.  Pin it with taskset like codec_bench.
"""
import statistics
import sys
import time

import numpy
import orjson

DTYPES = {"FP32": numpy.float32, "INT64": numpy.int64}
SIZES = [1000, 100000, 1000000]


def measure(fn, n, min_time):
    fn()  # warm up
    runs = []
    for _ in range(5):
        iters = 0
        t0 = time.process_time()
        while True:
            fn()
            iters += 1
            t = time.process_time() - t0
            if t >= min_time:
                break
        runs.append(t / iters / n * 1e9)
    return statistics.median(runs)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = sys.argv[1]
    min_time = 0.02 if "--quick" in sys.argv[2:] else 0.2
    print("%-6s %8s %10s %10s %10s %10s" %
          ("dtype", "elems", "json-enc", "json-dec", "bin-enc", "bin-dec"))
    for name, dtype in DTYPES.items():
        for n in SIZES:
            arr = numpy.fromfile("%s/%s_%d.bin" % (directory, name, n),
                                 dtype=numpy.dtype(dtype).newbyteorder("<"))
            shape = [n]

            def enc_json():
                body = {"id": "1", "inputs": [{
                    "name": "in", "shape": shape, "datatype": name,
                    "data": arr.flatten().tolist()}]}
                return orjson.dumps(body)

            response = orjson.dumps({
                "model_name": "m", "id": "1", "outputs": [{
                    "name": "out", "datatype": name, "shape": shape,
                    "data": arr.tolist()}]})

            def dec_json():
                doc = orjson.loads(response)
                out = doc["outputs"][0]
                return numpy.array(out["data"], dtype=dtype).reshape(out["shape"])

            def enc_bin():
                raw = arr.tobytes()
                body = {"id": "1", "inputs": [{
                    "name": "in", "shape": shape, "datatype": name,
                    "parameters": {"binary_data_size": len(raw)}}]}
                head = orjson.dumps(body)
                return head + raw

            raw_head = orjson.dumps({
                "model_name": "m", "id": "1", "outputs": [{
                    "name": "out", "datatype": name, "shape": shape,
                    "parameters": {"binary_data_size": arr.nbytes}}]})
            bin_body = raw_head + arr.tobytes()

            def dec_bin():
                doc = orjson.loads(bin_body[:len(raw_head)])
                out = doc["outputs"][0]
                size = out["parameters"]["binary_data_size"]
                return numpy.frombuffer(bin_body, dtype=dtype, count=n,
                                        offset=len(raw_head)).reshape(out["shape"])

            # Same values back: the anchor is checked, not only timed.
            assert numpy.array_equal(dec_json(), arr)
            assert numpy.array_equal(dec_bin(), arr)
            print("%-6s %8d %10.2f %10.2f %10.2f %10.2f" % (
                name, n, measure(enc_json, n, min_time),
                measure(dec_json, n, min_time), measure(enc_bin, n, min_time),
                measure(dec_bin, n, min_time)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
