#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The HTTP benchmark's driver (bench/http/run.sh builds the programs and calls this).

Every server runs for the whole run, each on its own loopback port; the repetitions are interleaved
(one wrk run per server in turn, repeated), and the table gives medians. Before the HTTP runs, the
file-read anchors of w3tp_bench (raw liburing and blocking pread, 1 and 2 threads) say whether the
machine was idle enough to measure anything: when either scales less than 1.6x, the run is invalid and
gives no verdicts.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HELLO = b"Hello"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port, what, log, timeout=20.0):
    """Waits until port accepts a connection; fails (with the server's log) when proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log) as f:
                sys.exit(f"http_bench: {what} exited with {proc.returncode} before it listened:\n{f.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"http_bench: {what} did not listen on port {port} within {timeout:.0f} s")


def check_answer(port, path, headers, what):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        if r.status != 200 or body != HELLO:
            sys.exit(f"http_bench: {what} answered {r.status} {body!r}, not 200 'Hello'")


def host_config(site, module, port, basic):
    users = os.path.join(os.path.dirname(site), "users.txt")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <sites>
      <site name="Bench" id="1">
        <application path="/"><virtualDirectory path="/" physicalPath="{site}" /></application>
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:{port}:" /></bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <globalModules><add name="Bench" image="{module}" /></globalModules>
    <modules><add name="Bench" /></modules>
    <security>
      <authentication>
        <anonymousAuthentication enabled="true" />
        <basicAuthentication enabled="{'true' if basic else 'false'}" usersFile="{users}" />
      </authentication>
    </security>
  </system.webServer>
</configuration>
"""


def nginx_config(work, site, port):
    return f"""worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  default_type text/plain;
  server {{
    listen 127.0.0.1:{port};
    root {site};
  }}
}}
"""


WRK_RPS = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.M)
WRK_P = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
WRK_BAD = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*", re.M)
UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(port, path, headers, args):
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    text = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.seconds + 60).stdout
    m = WRK_RPS.search(text)
    if not m:
        sys.exit(f"http_bench: no Requests/sec in wrk's output:\n{text}")
    lat = {p: float(v) * UNIT[u] for p, v, u in WRK_P.findall(text)}
    errors = [b.group(0) for b in WRK_BAD.finditer(text)]
    return float(m.group(1)), lat.get("50"), lat.get("99"), errors


def anchors(build, reps):
    """Runs w3tp_bench's anchors only; returns (raw liburing scaling, pread scaling, valid)."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as js:
        subprocess.run([os.path.join(build, "bench", "w3tp_bench"), "run", "--only", "anchors-only",
                        "--reps", str(reps), "--no-instructions", "--json", js.name],
                       check=True, stdout=subprocess.DEVNULL)
        for line in open(js.name):
            rec = json.loads(line)
            if "anchors" in rec:
                a = rec["anchors"]
                return a["raw_liburing"], a["pread"], bool(rec["valid"])
    sys.exit("http_bench: w3tp_bench printed no anchors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--skip-anchors", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--md")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("http_bench: wrk is missing (apt-get install -y wrk)")

    work = tempfile.mkdtemp(prefix="w3tp-http-bench-")
    os.chmod(work, 0o755)
    site = os.path.join(work, "site")
    os.mkdir(site)
    with open(os.path.join(site, "hello.txt"), "wb") as f:
        f.write(HELLO)
    # The sample writes hello.txt in its site's folder on every request: it gets a folder of its own, and
    # its row asks for another file there.
    sample_site = os.path.join(work, "sample-site")
    os.mkdir(sample_site)
    with open(os.path.join(sample_site, "page.txt"), "wb") as f:
        f.write(HELLO)
    with open(os.path.join(work, "users.txt"), "w") as f:
        f.write("alice:secret\n")
    basic = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}

    b = os.path.abspath(args.build)
    host = os.path.join(b, "src", "w3tp-iishost")
    chunks = os.path.join(b, "bench", "http", "libw3tp_bench_hello_chunks.so")
    sample = os.path.join(b, "examples", "libiis_hello_module.so")
    beast = os.path.join(b, "bench", "http", "w3tp_bench_beast_hello")

    # (name, row, argv, env, path, headers)
    servers = []
    for backend in ("io_uring", "epoll"):
        for row, module, auth in (("hello", chunks, False), ("sample", sample, True)):
            port = free_port()
            cfg = os.path.join(work, f"{row}-{backend}.config")
            with open(cfg, "w") as f:
                f.write(host_config(sample_site if auth else site, module, port, auth))
            servers.append((f"w3tp-iishost {backend}", row, [host, f"/config:{cfg}"],
                            {"W3TP_BACKEND": backend}, port, "/page.txt" if row == "sample" else "/",
                            basic if auth else {}))
    if shutil.which("nginx"):
        port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(work, site, port))
        servers.append(("nginx (2 workers)", "hello", ["nginx", "-e", os.path.join(work, "nginx-error.log"),
                                                        "-p", work, "-c", conf], {}, port, "/hello.txt", {}))
    else:
        print("http_bench: nginx is missing (apt-get install -y nginx): its peer is skipped")
    if os.path.exists(beast):
        port = free_port()
        servers.append(("Beast async (2 thr)", "hello", [beast, str(port), "2"], {}, port, "/", {}))
    else:
        print("http_bench: the Beast peer was not built (Boost missing): skipped")

    raw = pread = None
    valid = True
    if not args.skip_anchors:
        raw, pread, valid = anchors(b, args.reps)
        print(f"anchors (2 threads / 1 thread, medians of {args.reps}): raw liburing {raw:.2f}x, "
              f"pread {pread:.2f}x -> {'valid' if valid else 'INVALID (the machine was busy)'}")

    procs = []
    results = {}
    try:
        for name, row, argv, env, port, path, headers in servers:
            log = os.path.join(work, f"{row}-{len(procs)}.log")
            with open(log, "w") as err:
                p = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err,
                                     start_new_session=True)
            procs.append(p)
            wait_listening(p, port, name, log)
            check_answer(port, path, headers, f"{name} ({row})")
            results[(name, row)] = []
        for rep in range(args.reps):
            for name, row, argv, env, port, path, headers in servers:
                rps, p50, p99, errors = wrk(port, path, headers, args)
                if errors:
                    sys.exit(f"http_bench: {name} ({row}): wrk reported {errors}")
                results[(name, row)].append((rps, p50, p99))
                print(f"  rep {rep + 1}/{args.reps}  {name:<22} {row:<7} {rps:>10.0f} req/s  "
                      f"p99 {p99 * 1e6:>8.0f} us", flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    def med(key, i):
        return statistics.median(r[i] for r in results[key])

    nginx = ("nginx (2 workers)", "hello")
    lines = [f"| server | row | req/s (median of {args.reps}) | p50 | p99 | req/s / nginx | p99 / nginx |",
             "|---|---|---:|---:|---:|---:|---:|"]
    out = []
    for (name, row) in results:
        rps, p50, p99 = med((name, row), 0), med((name, row), 1), med((name, row), 2)
        rr = rps / med(nginx, 0) if nginx in results else None
        pr = p99 / med(nginx, 2) if nginx in results else None
        lines.append(f"| {name} | {row} | {rps:.0f} | {p50 * 1e6:.0f} us | {p99 * 1e6:.0f} us | "
                     f"{'-' if rr is None else f'{rr:.2f}'} | {'-' if pr is None else f'{pr:.2f}'} |")
        out.append({"server": name, "row": row, "rps": rps, "p50_s": p50, "p99_s": p99, "rps_over_nginx": rr,
                    "p99_over_nginx": pr, "runs": results[(name, row)]})
    print()
    print(f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.seconds}s --latency, keep-alive, 127.0.0.1; "
          f"'hello': a module's WriteEntityChunks (nginx, Beast: the same 5 bytes); "
          f"'sample': the IIS documentation module (Basic auth, a per-request overlapped file write)")
    print("\n".join(lines))
    verdicts = []
    if nginx in results:
        for backend in ("io_uring", "epoll"):
            key = (f"w3tp-iishost {backend}", "hello")
            ok_rps = med(key, 0) >= med(nginx, 0)
            ok_p99 = med(key, 2) <= med(nginx, 2)
            v = "no verdict (invalid run)" if not valid else ("MET" if ok_rps and ok_p99 else "MISSED")
            verdicts.append(f"target: {backend} >= 1.0x nginx req/s and p99 <= nginx's: {v}")
    print("\n".join(verdicts))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "reps": args.reps,
                                "seconds": args.seconds, "connections": args.connections,
                                "anchors": {"raw_liburing": raw, "pread": pread}, "valid": valid,
                                "rows": out}) + "\n")
    if args.md:
        with open(args.md, "w") as f:
            f.write("\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n")


if __name__ == "__main__":
    main()
