#!/usr/bin/env python3
"""Load generator over KServe's Python InferenceRESTClient: the anchor that
kinfer-bench is compared with in tools/bench/compare.

A closed loop in asyncio: --concurrency coroutines share one client (one
httpx.AsyncClient) and each sends the next request as soon as its previous
one is answered, for --duration seconds after --warmup seconds.  The request
is the V2 JSON body of --data passed as a dict, as KServe users do; the
client serialises it with orjson and parses the answer into an
InferResponse, every call.

Prints one JSON line in kinfer-bench's --json format (requests, errors,
seconds, rps, latency_us, cpu_user_s, cpu_sys_s, cpu_us_per_request,
protocol, connections).  CPU time is this process's own (getrusage) over the
measured window only, as kinfer-bench measures its own.
"""
import argparse
import asyncio
import json
import math
import resource
import sys
import time


def percentile(sorted_vals, p):
    """The value at percentile p by the nearest-rank rule (as kinfer-bench)."""
    if not sorted_vals:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[min(rank, len(sorted_vals)) - 1]


async def run(args):
    from kserve import InferenceRESTClient, RESTConfig

    verify = args.cacert if args.cacert else (not args.insecure)
    config = RESTConfig(protocol=args.protocol, http2=args.http2, retries=0,
                        timeout=args.timeout, verify=verify)
    client = InferenceRESTClient(config)
    with open(args.data, "rb") as f:
        body = json.load(f)

    # One call first: it opens the connection and tells which HTTP version
    # httpx settled on (http2=True over http:// is still HTTP/1.1 in httpx,
    # which has no h2c).
    probe = await client._client.post(
        args.url.rstrip("/") + "/v2/models/%s/infer" % args.model,
        json=body)
    http_version = probe.http_version
    await client.infer(args.url, dict(body), model_name=args.model)

    loop = time.perf_counter
    t_start = loop()
    t0 = t_start + args.warmup
    t_end = t0 + args.duration
    latencies = []
    errors = [0]
    first_error = [None]
    last_done = [t0]
    ru0 = [None]

    async def worker():
        while True:
            start = loop()
            if start >= t_end:
                return
            measured = start >= t0
            if measured and ru0[0] is None:
                ru0[0] = resource.getrusage(resource.RUSAGE_SELF)
            try:
                # A fresh dict each call, as an application builds its
                # request (a shallow copy: the tensors are shared).
                await client.infer(args.url, dict(body), model_name=args.model)
                ok = True
            except Exception as e:  # noqa: BLE001 - counted and reported
                ok = False
                if first_error[0] is None:
                    first_error[0] = repr(e)[:300]
            end = loop()
            if measured:
                if ok:
                    latencies.append(end - start)
                else:
                    errors[0] += 1
                if end > last_done[0]:
                    last_done[0] = end

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    await client.close()

    if ru0[0] is None:
        ru0[0] = ru1
    n = len(latencies) + errors[0]
    seconds = max(last_done[0] - t0, 0.0)
    lat = sorted(latencies)
    us = lambda v: round(v * 1e6, 1)
    cpu_user = ru1.ru_utime - ru0[0].ru_utime
    cpu_sys = ru1.ru_stime - ru0[0].ru_stime
    out = {
        "requests": n,
        "errors": errors[0],
        "seconds": round(seconds, 6),
        "rps": round(n / seconds, 2) if seconds > 0 else 0.0,
        "latency_us": {
            "p50": us(percentile(lat, 50)),
            "p90": us(percentile(lat, 90)),
            "p99": us(percentile(lat, 99)),
            "p999": us(percentile(lat, 99.9)),
            "max": us(lat[-1]) if lat else 0.0,
        },
        "cpu_user_s": round(cpu_user, 6),
        "cpu_sys_s": round(cpu_sys, 6),
        "cpu_us_per_request": round((cpu_user + cpu_sys) * 1e6 / n, 3) if n else 0.0,
        "protocol": "h2" if http_version == "HTTP/2" else "http/1.1",
        "connections": 1,
        "concurrency": args.concurrency,
        "mean_us": us(sum(lat) / len(lat)) if lat else 0.0,
        "client": "kserve-python",
    }
    if first_error[0]:
        out["first_error"] = first_error[0]
    print(json.dumps(out))
    return 0 if errors[0] == 0 and n > 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="V2 request JSON file")
    p.add_argument("--protocol", default="v2")
    p.add_argument("--http2", action="store_true")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--cacert")
    p.add_argument("--insecure", action="store_true")
    args = p.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
