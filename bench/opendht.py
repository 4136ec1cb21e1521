#!/usr/bin/env python3
"""The OpenDHT bridge and discovery against a real `dhtnode --proxyserver` on loopback (issue 19's
targets), release build; bench/opendht.sh builds it and runs this. Each scenario RUNS (3) times;
the figures printed are medians (latencies: the median of the runs' p50 and p99).

  import     COUNT (5,000) original-format values put straight to the proxy's REST put
             (`POST /key/bad_actors`, 8 connections) while our node listens: values imported per
             second (first to last import, from /api/v1/health polled every 20 ms) and the put
             rate; then the node is restarted and the proxy replays the COUNT stored values at
             once: imported per second again. Bytes per record: what our node read from its
             connections to the proxy (kernel TCP counters, `ss`) over the values it received.
  latency    PROBES (50) values put by python3-opendht (a DHT node of its own bootstrapped from
             the dhtnode, as an original SentryPeer puts), one at a time; time from the put to
             `/ip-addresses/{ip}?origin=opendht` answering 200 (polled every 5 ms): p50, p99.
  flood      BOGUS (20,000) bogus values (garbage, wrong keys, future timestamps, bad fields,
             oversized) through the REST put: our node's RSS before, after and peak
             (VmHWM), and the refusal counters.
  discovery  two nodes that know only the dhtnode (`-p --opendht-proxy`, no -b) started
             together: seconds from their start to both connected, and to a probe captured by
             the first being stored by the second.
Loopback only; needs dhtnode, python3-opendht and curl.
"""

import base64
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import p2p_cluster

BINARY = os.path.abspath(os.environ.get("BINARY", "target/release/sentrypeer"))
RUNS = int(os.environ.get("RUNS", "3"))
COUNT = int(os.environ.get("COUNT", "5000"))
PROBES = int(os.environ.get("PROBES", "50"))
BOGUS = int(os.environ.get("BOGUS", "20000"))
PUTTERS = 8


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def now_text(offset=0.0):
    at = time.time() + offset
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}"


def original(source_ip, offset=0.0):
    """A value as the original's C build puts it (13 keys, its order and formats)."""
    return json.dumps({
        "app_name": "sentrypeer", "app_version": "v4.0.4", "event_timestamp": now_text(offset),
        "event_uuid": str(uuid.uuid4()), "created_by_node_id": "7d1f1a0e-2b3c-4d5e-8f90-abcdefabcdef",
        "collected_method": "passive", "transport_type": "UDP", "source_ip": source_ip,
        "destination_ip": "192.0.2.1", "called_number": "+441234567890", "sip_method": "OPTIONS",
        "sip_user_agent": "friendly-scanner",
        "sip_message": "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nTo: <sip:+441234567890@192.0.2.1>\r\n\r\n",
    }).encode()


def address(index):
    return f"10.{index // 62500 % 250}.{index // 250 % 250}.{index % 250 + 1}"


def bogus(index):
    kind = index % 5
    if kind == 0:
        return os.urandom(200)
    if kind == 1:
        return json.dumps({"hello": index, "padding": "x" * 300}).encode()
    if kind == 2:
        return original(address(index), offset=86400 * 30)
    if kind == 3:
        return original("not-an-address")
    return b"{" + b"x" * 60000 + b"}"


class DhtNode:
    def __init__(self, work):
        self.log = open(os.path.join(work, "dhtnode.log"), "w")
        for _ in range(8):
            self.proxy_port, self.dht_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
            self.proc = subprocess.Popen(
                ["dhtnode", "-s", "-p", str(self.dht_port), "--proxyserver", str(self.proxy_port)],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
            deadline = time.time() + 30
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.url()}/", timeout=2):
                        return
                except (urllib.error.URLError, OSError):
                    time.sleep(0.1)
            self.stop()
        raise SystemExit("dhtnode did not start")

    def url(self):
        return f"http://127.0.0.1:{self.proxy_port}"

    def put_all(self, values):
        """REST puts over PUTTERS keep-alive connections; returns puts per second. A lone
        dhtnode answers 502 (no other node took the value) but stores and announces it."""
        def worker(first):
            connection = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=30)
            for value in values[first::PUTTERS]:
                body = json.dumps({"data": base64.b64encode(value).decode()})
                connection.request("POST", "/key/bad_actors", body, {"Content-Type": "application/json"})
                connection.getresponse().read()
        started = time.time()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(PUTTERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(values) / (time.time() - started)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Node(p2p_cluster.Node):
    """One of our nodes (log, `wait_for`, `stop` as bench/p2p_cluster.py's), with the API."""

    def __init__(self, work, name, args):
        super().__init__(work, name)
        env = dict(os.environ, HOME=self.dir, RUST_LOG="info")
        self.proc = subprocess.Popen(
            [BINARY, "-N", "-a", "--api-listen-address", "127.0.0.1:0", "--sip-listen-address",
             "127.0.0.1:0", "-f", os.path.join(self.dir, "sentrypeer.db"), *args],
            cwd=self.dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"))
        self.api = self.wait_for(r"listening for API on (\S+)")

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://{self.api}{path}", timeout=10) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, None

    def health(self, api=None):
        return self.get("/api/v1/health")[1]

    def opendht(self, key):
        return self.health()["opendht"].get(key, 0)

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as status:
            return int(re.search(rf"{key}:\s+(\d+)", status.read()).group(1))

    def proxy_bytes_received(self, proxy_port):
        out = subprocess.run(["ss", "-tinpH", "dst", f"127.0.0.1:{proxy_port}"], capture_output=True,
                             text=True).stdout
        total, mine = 0, False
        for line in out.splitlines():
            if not line.startswith((" ", "\t")):
                mine = f"pid={self.proc.pid}," in line
            elif mine:
                found = re.search(r"bytes_received:(\d+)", line)
                total += int(found.group(1)) if found else 0
        return total


def wait_imported(node, count, timeout=120):
    """Polls health every 20 ms until `count` values are imported: (first seen, last seen)."""
    first = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        imported = node.opendht("imported")
        if imported and first is None:
            first = (time.time(), imported)
        if imported >= count:
            return first, time.time()
        time.sleep(0.02)
    raise SystemExit(f"imported {node.opendht('imported')} of {count}: {node.health()['opendht']}")


def rate(first, last, count):
    at, already = first
    return (count - already) / max(last - at, 1e-3)


def import_run(work):
    dht = DhtNode(work)
    try:
        node = Node(work, "import", ["--opendht-proxy", dht.url()])
        node.wait_for("OpenDHT proxy reachable")
        values = [original(address(i)) for i in range(COUNT)]
        before = node.proxy_bytes_received(dht.proxy_port)
        putter = threading.Thread(target=lambda: results.__setitem__("put", dht.put_all(values)))
        results = {}
        putter.start()
        first, last = wait_imported(node, COUNT)
        putter.join()
        received = node.opendht("received")
        per_record = (node.proxy_bytes_received(dht.proxy_port) - before) / max(received, 1)
        live = rate(first, last, COUNT)
        node.stop()
        node = Node(work, "replay", ["--opendht-proxy", dht.url()])
        first, last = wait_imported(node, COUNT)
        replay = rate(first, last, COUNT)
        node.stop()
        return {"live imported/s": live, "put/s": results["put"], "replay imported/s": replay,
                "bytes/record": per_record}
    finally:
        dht.stop()


PYTHON_PUTTER = """
import sys, time, opendht
node = opendht.DhtRunner()
node.run(port=0)
node.bootstrap('127.0.0.1', sys.argv[1])
key = opendht.InfoHash.get('bad_actors')
for line in sys.stdin:
    node.put(key, opendht.Value(line.strip().encode()))
    print('put', time.time(), flush=True)
node.join()
"""


def latency_run(work):
    dht = DhtNode(work)
    try:
        node = Node(work, "latency", ["--opendht-proxy", dht.url()])
        node.wait_for("OpenDHT proxy reachable")
        putter = subprocess.Popen(["/usr/bin/python3", "-c", PYTHON_PUTTER, str(dht.dht_port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        latencies = []
        for index in range(PROBES):
            ip = f"203.0.{index // 250}.{index % 250 + 1}"
            started = time.time()
            putter.stdin.write(original(ip).decode() + "\n")
            putter.stdin.flush()
            deadline = started + 30
            while node.get(f"/ip-addresses/{ip}?origin=opendht")[0] != 200:
                if time.time() > deadline:
                    raise SystemExit(f"{ip} never served: {node.health()['opendht']}")
                time.sleep(0.005)
            latencies.append(time.time() - started)
            putter.stdout.readline()
        putter.stdin.close()
        putter.wait(timeout=30)
        node.stop()
        latencies.sort()
        return {"p50 ms": latencies[len(latencies) // 2] * 1000,
                "p99 ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}
    finally:
        dht.stop()


def flood_run(work):
    dht = DhtNode(work)
    try:
        node = Node(work, "flood", ["--opendht-proxy", dht.url()])
        node.wait_for("OpenDHT proxy reachable")
        time.sleep(1)
        before = node.status("VmRSS")
        values = [bogus(i) for i in range(BOGUS)]
        dht.put_all(values)
        deadline = time.time() + 120
        while node.opendht("received") < BOGUS and time.time() < deadline:
            time.sleep(0.1)
        refused = node.health()["opendht"]
        after, peak = node.status("VmRSS"), node.status("VmHWM")
        node.stop()
        return {"RSS before KiB": before, "RSS after KiB": after, "peak KiB": peak,
                "received": refused.get("received", 0),
                "refused": sum(refused.get("refused", {}).values()),
                "imported": refused.get("imported", 0)}
    finally:
        dht.stop()


def discovery_run(work):
    dht = DhtNode(work)
    nodes = []
    try:
        args = ["-p", "--p2p-listen-address", "127.0.0.1:0", "--p2p-min-contribution", "1",
                "--p2p-announce-address", "127.0.0.1:0", "--opendht-proxy", dht.url()]
        started = time.time()
        nodes = [Node(work, f"discovery{i}", [*args, *(["-r"] if i == 0 else [])]) for i in range(2)]
        ids = [node.wait_for(r"peer_id=(\S+)") for node in nodes]
        for node, other in zip(nodes, reversed(ids)):
            node.wait_for(rf"peer connected.*{re.escape(other)}", timeout=120)
        connected = time.time() - started
        sip = nodes[0].wait_for(r"listening for UDP on (\S+)")
        host, port = sip.rsplit(":", 1)
        probe = (f"OPTIONS sip:100@{host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx1\r\n"
                 "From: <sip:bench@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: disc1\r\n"
                 "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
        deadline = time.time() + 120
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            while nodes[1].health()["p2p"].get("accepted_records", 0) < 1:
                if time.time() > deadline:
                    raise SystemExit(f"no record shared: {nodes[1].health()}")
                sender.sendto(probe, (host, int(port)))
                time.sleep(0.2)
        return {"connected s": connected, "record shared s": time.time() - started}
    finally:
        for node in nodes:
            node.stop()
        dht.stop()


SCENARIOS = {"import": import_run, "latency": latency_run, "flood": flood_run,
             "discovery": discovery_run}


def main():
    chosen = sys.argv[1:] or list(SCENARIOS)
    with open("/proc/loadavg") as loadavg:
        print(f"load average at start: {loadavg.read().split()[0]}")
    for name in chosen:
        runs = []
        for _ in range(RUNS):
            with tempfile.TemporaryDirectory() as work:
                runs.append(SCENARIOS[name](work))
            print(f"  {name} run: " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()), flush=True)
        medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(f"{name} (median of {RUNS}): " + ", ".join(f"{k} {v:,.1f}" for k, v in medians.items()))
    with open("/proc/loadavg") as loadavg:
        print(f"load average at end: {loadavg.read().split()[0]}")


if __name__ == "__main__":
    main()
