#!/usr/bin/env python3
"""Hostile-client benchmark (issue 21; not a test): the release daemon on loopback under the
attacks the issue measured, each figure the median of RUNS runs (default 3).

  reflection  bytes out / bytes in for a spoofed UDP source, per personality (INVITEs with a
              foreign Proxy-Authorization at 50/s, then blind ACKs, as in the issue)
  unread      one GET /numbers nobody reads during a UDP flood: the -wal file's peak, its size
              after shutdown, events stored and dropped
  readers     505 slow /numbers readers: RSS and threads before, during, after; a point lookup
  stats       the same UDP flood with no API client, then with 24 concurrent /api/v1/stats:
              stored, store drops, kernel drops
  abandoned   24 /api/v1/stats whose clients leave at once: CPU the daemon uses in the 5 s after

Run it through bench/hostile.sh (builds the release binary, the seeder and the load generator).
"""

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
import urllib.request

BINARY = os.path.abspath("target/release/sentrypeer")
SEED = os.path.abspath("target/release/examples/seed")
LOADGEN = os.path.abspath("target/release/examples/loadgen")
RUNS = int(os.environ.get("RUNS", "3"))
FLOOD = int(os.environ.get("FLOOD", "200000"))
FLOOD_RATE = int(os.environ.get("FLOOD_RATE", "10000"))
STATS_FLOOD_RATE = int(os.environ.get("STATS_FLOOD_RATE", "20000"))
EVENTS = int(os.environ.get("EVENTS", "1000000"))
NUMBERS = int(os.environ.get("NUMBERS", "250000"))


class Daemon:
    """The release binary in a scratch directory, its ports read from its log."""

    def __init__(self, work, args, config=""):
        self.work = work
        self.db = os.path.join(work, "sentrypeer.db")
        with open(os.path.join(work, "sentrypeer.toml"), "w") as file:
            file.write(config)
        self.log = os.path.join(work, "daemon.log")
        command = [BINARY, "-g", os.path.join(work, "sentrypeer.toml"), "-f", self.db,
                   "--sip-listen-address", "127.0.0.1:0", "-z", "127.0.0.1:0",
                   "-t", os.path.join(work, "cert.pem"), "-k", os.path.join(work, "key.pem"),
                   "-a", "--api-listen-address", "127.0.0.1:0"] + args
        env = {"PATH": os.environ["PATH"], "HOME": work, "RUST_LOG": "info"}
        self.process = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.time() + 60
        while time.time() < deadline:
            text = open(self.log).read()
            if "sentrypeer ready" in text:
                break
            if self.process.poll() is not None:
                sys.exit(f"daemon exited:\n{text}")
            time.sleep(0.05)
        self.udp = self.address(text, "UDP")
        self.api = self.address(text, "API")

    @staticmethod
    def address(text, what):
        host, port = re.search(rf"listening for {what} on ([0-9.]+):(\d+)", text).groups()
        return host, int(port)

    def health(self, source="127.0.0.200"):
        # urllib cannot pick a source address: a raw exchange from `source`.
        with socket.create_connection(self.api, timeout=30, source_address=(source, 0)) as conn:
            conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def usage(self):
        status = open(f"/proc/{self.process.pid}/status").read()
        field = lambda name: int(re.search(rf"^{name}:\s+(\d+)", status, re.M).group(1))
        stat = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        return {"rss_kib": field("VmRSS"), "threads": field("Threads"), "cpu_s": cpu}

    def wal(self):
        try:
            return os.path.getsize(self.db + "-wal")
        except FileNotFoundError:
            return 0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=120)


def seeded(work, events=EVENTS, ips=50000, numbers=NUMBERS):
    template = os.path.join(tempfile.gettempdir(), f"hostile-seed-{events}-{ips}-{numbers}.db")
    if not os.path.exists(template):
        subprocess.run([SEED, template, str(events), str(ips), str(numbers)], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["cp", template, os.path.join(work, "sentrypeer.db")], check=True)


def flood(daemon, count, rate, sources="127.0.0.2-127.0.0.33"):
    target = f"{daemon.udp[0]}:{daemon.udp[1]}"
    return subprocess.Popen([LOADGEN, "send", "--target", target, "--rate", str(rate),
                             "--count", str(count), "--sources", sources],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def unread(api, path, source):
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.bind((source, 0))
    conn.connect(api)
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return conn


def settle(daemon, sent):
    """Waits until every probe sent is stored or counted as dropped; the events section."""
    deadline = time.time() + 300
    while time.time() < deadline:
        events = daemon.health()["events"]
        if events["stored"] + events["dropped"] + events["kernel_dropped"] >= sent:
            return events
        time.sleep(0.2)
    return events


def reflection(personality):
    """Bytes out / bytes in for a victim's address at 50 INVITEs/s with foreign credentials,
    each followed by a blind ACK, for 5 s; replies counted until 15 s after (ring times)."""
    with tempfile.TemporaryDirectory() as work:
        daemon = Daemon(work, ["-N", "-r", "--sip-personality", personality])
        victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        victim.bind(("127.0.0.77", 0))
        sent = received = 0
        stop = threading.Event()

        def receive():
            nonlocal received
            victim.settimeout(0.2)
            while not stop.is_set():
                try:
                    received += len(victim.recv(65536))
                except socket.timeout:
                    pass

        reader = threading.Thread(target=receive)
        reader.start()
        port = victim.getsockname()[1]
        for index in range(250):
            for method in ("INVITE", "ACK"):
                message = blind(method, f"refl-{index}", port)
                victim.sendto(message, daemon.udp)
                sent += len(message)
            time.sleep(0.02)
        time.sleep(15)
        stop.set()
        reader.join()
        daemon.stop()
        return received / sent


def blind(method, call, port):
    credentials = ("Proxy-Authorization: Digest username=\"105\",realm=\"asterisk\",nonce=\"x\","
                   "uri=\"sip:127.0.0.1\",response=\"00000000000000000000000000000000\"\r\n"
                   if method == "INVITE" else "")
    sdp = "v=0\r\nc=IN IP4 127.0.0.77\r\nm=audio 4000 RTP/AVP 0\r\n" if method == "INVITE" else ""
    head = (f"{method} sip:0046812118532@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.77:{port};branch=z9hG4bK-{call}-{method}\r\n"
            f"From: <sip:100@127.0.0.1>;tag=f-{call}\r\nTo: <sip:0046812118532@127.0.0.1>\r\n"
            f"Call-ID: {call}\r\nCSeq: 1 {method}\r\nContact: <sip:100@127.0.0.77:{port}>\r\n"
            f"{credentials}Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n")
    return (head + sdp).encode()


def unread_during_flood():
    with tempfile.TemporaryDirectory() as work:
        seeded(work)
        daemon = Daemon(work, ["-N"], "api_write_timeout_secs = 600\n")
        before = daemon.wal()
        held = unread(daemon.api, "/numbers", "127.0.0.100")
        sender = flood(daemon, FLOOD, FLOOD_RATE)
        peak = before
        while sender.poll() is None:
            peak = max(peak, daemon.wal())
            time.sleep(0.05)
        events = settle(daemon, FLOOD)
        peak = max(peak, daemon.wal())
        held.close()
        daemon.stop()
        after = os.path.getsize(daemon.db + "-wal") if os.path.exists(daemon.db + "-wal") else 0
        return {"wal_peak_mb": peak / 1e6, "wal_after_shutdown_mb": after / 1e6,
                "stored": events["stored"], "dropped": events["dropped"],
                "kernel_dropped": events["kernel_dropped"]}


def slow_readers(count=505):
    with tempfile.TemporaryDirectory() as work:
        seeded(work)
        daemon = Daemon(work, ["-N"], "api_write_timeout_secs = 600\n")
        daemon.health()
        before = daemon.usage()
        readers = [unread(daemon.api, "/numbers", f"127.0.1.{2 + index // 30}")
                   for index in range(count)]
        deadline = time.time() + 120
        while daemon.health()["api"]["connections_open"] <= count and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(2)
        during = daemon.usage()
        started = time.time()
        lookup = f"http://{daemon.api[0]}:{daemon.api[1]}/ip-addresses/198.18.0.1"
        urllib.request.urlopen(lookup, timeout=60).read()
        lookup_s = time.time() - started
        for reader in readers:
            reader.close()
        while daemon.health()["api"]["connections_open"] > 1:
            time.sleep(0.1)
        after = daemon.usage()
        daemon.stop()
        return {"rss_before_mb": before["rss_kib"] / 1024, "rss_during_mb": during["rss_kib"] / 1024,
                "rss_after_mb": after["rss_kib"] / 1024, "threads_before": before["threads"],
                "threads_during": during["threads"], "lookup_ms": lookup_s * 1000}


def stats_during_flood(askers=24):
    with tempfile.TemporaryDirectory() as work:
        seeded(work)
        daemon = Daemon(work, ["-N"])
        sender = flood(daemon, STATS_FLOOD_RATE * 13, STATS_FLOOD_RATE)
        url = f"http://{daemon.api[0]}:{daemon.api[1]}/api/v1/stats"

        def ask(index):
            while sender.poll() is None:
                subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "5",
                                "--interface", f"127.0.2.{index + 2}", url])

        threads = [threading.Thread(target=ask, args=(index,)) for index in range(askers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = settle(daemon, STATS_FLOOD_RATE * 13)
        daemon.stop()
        return {"sent": STATS_FLOOD_RATE * 13, "stored": events["stored"],
                "store_dropped": events["dropped"], "kernel_dropped": events["kernel_dropped"]}


def abandoned_stats(count=24):
    with tempfile.TemporaryDirectory() as work:
        seeded(work)
        daemon = Daemon(work, ["-N"])
        clients = [unread(daemon.api, "/api/v1/stats", "127.0.3.2") for _ in range(count)]
        time.sleep(0.5)
        for client in clients:
            client.close()
        start = daemon.usage()["cpu_s"]
        time.sleep(5)
        used = daemon.usage()["cpu_s"] - start
        daemon.stop()
        return {"cpu_s_in_5s_after": used}


def median_of(measure):
    results = [measure() for _ in range(RUNS)]
    if isinstance(results[0], dict):
        return {key: round(statistics.median(r[key] for r in results), 3) for key in results[0]}
    return round(statistics.median(results), 3)


def main():
    only = set(sys.argv[1:]) or {"reflection", "unread", "readers", "stats", "abandoned"}
    if "reflection" in only:
        for personality in ("freepbx", "generic", "canned"):
            print(f"reflection {personality} bytes_out_per_byte_in median={median_of(lambda: reflection(personality))}", flush=True)
    if "unread" in only:
        print(f"unread /numbers during {FLOOD} probes at {FLOOD_RATE}/s: {median_of(unread_during_flood)}", flush=True)
    if "readers" in only:
        print(f"505 slow readers: {median_of(slow_readers)}", flush=True)
    if "stats" in only:
        for askers in (0, 24):
            figures = median_of(lambda: stats_during_flood(askers))
            print(f"{askers} stats clients during {STATS_FLOOD_RATE}/s flood: {figures}", flush=True)
    if "abandoned" in only:
        print(f"24 abandoned stats: {median_of(abandoned_stats)}", flush=True)


if __name__ == "__main__":
    main()
