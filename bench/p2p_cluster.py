#!/usr/bin/env python3
"""Peer-to-peer benchmarks at community scale (not tests), run by bench/p2p.sh.

scale        NODES nodes (default 50), on one loopback address (TOPOLOGY=loopback) or each in a
             network namespace of its own with an address in 198.51.100.0/24, routed through a
             hub namespace (TOPOLOGY=netns, root). Node i bootstraps from node (i - 1) / 2 and finds the rest
             itself. Every node captures: PROBES probes (default 300) at RATE per second (default
             20) go to nodes picked at random. Reports, per run, how many (record, node) pairs
             arrived, the propagation latency from capture to each other node's acceptance
             (p50, p99, max), P2P bytes per record per node (in + out; netns: the node's veth
             counters; loopback: its TCP sockets' byte counts from `ss`), and CPU per node (% of
             one core over the probe phase).
late-joiner  PEERS serving nodes (default 2, kept apart from each other) hold a 7-day window of
             RECORDS records (default 1,000,000) from AUTHORS authors (default 20), seeded with
             `examples/seed`; they capture LIVE probes per second between them (default 100) meanwhile; a new
             node joins, shares 10 probes (the default --p2p-min-contribution) and catches up.
             Reports the time until its first pass over the window is done (its "caught up"),
             its CPU and the peers' while serving, and whether the peers captured every live
             probe meanwhile.

Everything runs on loopback or in namespaces this script creates and deletes; every process
it starts is stopped by PID.
"""

import calendar
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BINARY = os.environ.get("BINARY", "target/release/sentrypeer")
SEED = os.environ.get("SEED_BINARY", "target/release/examples/seed")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LAN = "198.51.100"


def probe(number, call_id):
    return (f"OPTIONS sip:{number}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{call_id}\r\n"
            f"From: <sip:bench@127.0.0.1>;tag={call_id}\r\nTo: <sip:{number}@127.0.0.1>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 OPTIONS\r\nUser-Agent: p2p-bench\r\nContent-Length: 0\r\n\r\n").encode()


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Node:
    def __init__(self, work, index, ns=None, address="127.0.0.1"):
        self.index, self.ns, self.address = index, ns, address
        self.dir = os.path.join(work, str(index))
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "log")
        self.proc = None

    def start(self, args):
        command = [os.path.abspath(BINARY), *args]
        if self.ns:
            command = ["ip", "netns", "exec", self.ns, *command]
        env = dict(os.environ, HOME=self.dir, RUST_LOG="sentrypeer::p2p=debug,info")
        self.proc = subprocess.Popen(command, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

    def text(self):
        with open(self.log, errors="replace") as log:
            return log.read()

    def wait_for(self, pattern, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found.group(1) if found.groups() else found.group(0)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"node {self.index}: no {pattern!r}\n{self.text()[-3000:]}")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def p2p_bytes(self):
        if self.ns:
            out = ip("-n", self.ns, "-s", "-j", "link", "show", "eth0").stdout
            stats = json.loads(out)[0]["stats64"]
            return stats["rx"]["bytes"] + stats["tx"]["bytes"]
        out = subprocess.run(["ss", "-tinpH"], capture_output=True, text=True).stdout
        total, mine = 0, False
        for line in out.splitlines():
            if not line.startswith((" ", "\t")):
                mine = f"pid={self.proc.pid}," in line
            elif mine:
                for key in ("bytes_sent", "bytes_received"):
                    found = re.search(rf"{key}:(\d+)", line)
                    total += int(found.group(1)) if found else 0
        return total

    def health(self, api):
        with urllib.request.urlopen(f"http://{api}/api/v1/health", timeout=10) as answer:
            return json.load(answer)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Lan:
    """Namespaces of their own, one address each, joined through a hub namespace that routes
    between them. Routed rather than bridged: a bridged LAN of 50 hosts that all talk to each
    other needs 2,450 ARP entries, and the kernel's ARP table is shared by every namespace
    (gc_thresh3, 1,024 by default), so late hosts could not resolve their peers at all; routed,
    each host knows only the hub."""

    def __init__(self):
        self.prefix = f"spb{os.getpid()}"
        self.hub = f"{self.prefix}-hub"
        self.hosts = []
        ip("netns", "add", self.hub)
        subprocess.run(["ip", "netns", "exec", self.hub, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                       check=True)

    def host(self, index):
        name, address, gateway = f"{self.prefix}-{index}", f"{LAN}.{index + 1}", f"{LAN}.254"
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", self.hub, "link", "add", f"v{index}", "type", "veth", "peer", "name", "eth0",
           "netns", name)
        ip("-n", self.hub, "addr", "add", f"{gateway}/32", "dev", f"v{index}")
        ip("-n", self.hub, "link", "set", f"v{index}", "up")
        ip("-n", self.hub, "route", "add", f"{address}/32", "dev", f"v{index}")
        ip("-n", name, "addr", "add", f"{address}/32", "dev", "eth0")
        ip("-n", name, "link", "set", "eth0", "up")
        ip("-n", name, "route", "add", f"{gateway}/32", "dev", "eth0")
        ip("-n", name, "route", "add", f"{LAN}.0/24", "via", gateway, "dev", "eth0")
        self.hosts.append(name)
        return name, address

    def delete(self):
        for name in [*self.hosts, self.hub]:
            ip("netns", "del", name, check=False)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def accepted_lines(node):
    """(event_uuid, acceptance time) of every peer record the node accepted."""
    for line in node.text().splitlines():
        if "peer record accepted" in line:
            found = re.search(r"event_uuid=(\S+)", line)
            if found:
                yield found.group(1), line.split()[0]


def stamp(text):
    """Seconds since the epoch of a log timestamp or an event_timestamp (UTC)."""
    text = text.replace("T", " ").rstrip("Z")
    day, clock = text.split(" ")
    whole, _, fraction = clock.partition(".")
    return calendar.timegm(time.strptime(f"{day} {whole}", "%Y-%m-%d %H:%M:%S")) + float(
        f"0.{fraction or 0}")


def send_probes(nodes, targets, count, rate, lan):
    """`count` probes at `rate` a second, each to a node picked at random."""
    plan = [random.choice(targets) for _ in range(count)]
    script = ("import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "plan=sys.argv[1].split(',');gap=float(sys.argv[2])\nstart=time.time()\n"
              "for i,t in enumerate(plan):\n h,p=t.rsplit(':',1)\n"
              f" m=(\"OPTIONS sip:%d@x SIP/2.0\\r\\nVia: SIP/2.0/UDP 1.2.3.4:5999;branch=z9hG4bKs%d\\r\\n"
              "From: <sip:b@x>;tag=%d\\r\\nTo: <sip:%d@x>\\r\\nCall-ID: s%d\\r\\nCSeq: 1 OPTIONS\\r\\n"
              "Content-Length: 0\\r\\n\\r\\n\"%(1000+i,i,i,1000+i,i)).encode()\n"
              " s.sendto(m,(h,int(p)))\n time.sleep(max(0,start+(i+1)*gap-time.time()))\n")
    command = [sys.executable, "-c", script, ",".join(plan), str(1 / rate)]
    if lan:
        sender, _ = lan.host(250)
        command = ["ip", "netns", "exec", sender, *command]
    subprocess.run(command, check=True)


def scale(args):
    topology = os.environ.get("TOPOLOGY", "loopback")
    count, probes, rate = int(os.environ.get("NODES", 50)), int(os.environ.get("PROBES", 300)), float(
        os.environ.get("RATE", 20))
    work = tempfile.mkdtemp(prefix="p2p-scale-")
    lan = Lan() if topology == "netns" else None
    nodes = []
    try:
        addresses = []
        for index in range(count):
            ns, address = lan.host(index) if lan else (None, "127.0.0.1")
            node = Node(work, index, ns, address)
            node_args = ["-N", "-p", "--p2p-listen-address", f"{address}:0", "--sip-listen-address",
                         f"{address}:0", "--p2p-min-contribution", "1", "-j", "-l", "events.json",
                         "-f", "sentrypeer.db"]
            if index:
                node_args += ["-b", addresses[(index - 1) // 2]]
            node.start(node_args)
            addresses.append(node.wait_for(rf"listening for P2P on (/ip4/{re.escape(address)}/\S+)"))
            node.udp = node.wait_for(r"listening for UDP on (\S+)")
            nodes.append(node)
        for node in nodes:
            node.wait_for("peer subscribed", timeout=120)
        targets = [f"{node.address}:{node.udp.rsplit(':', 1)[1]}" for node in nodes]
        bytes_before = [node.p2p_bytes() for node in nodes]
        cpu_before = [node.cpu_seconds() for node in nodes]
        started = time.time()
        send_probes(nodes, targets, probes, rate, lan)
        # Every record at every other node, or 30 s after the last probe.
        deadline = time.time() + 30
        while time.time() < deadline:
            if sum(len(list(accepted_lines(node))) for node in nodes) >= probes * (count - 1):
                break
            time.sleep(0.5)
        elapsed = time.time() - started
        cpu = [(node.cpu_seconds() - before) / elapsed * 100 for node, before in zip(nodes, cpu_before)]
        traffic = [node.p2p_bytes() - before for node, before in zip(nodes, bytes_before)]
        captured = {}
        for node in nodes:
            path = os.path.join(node.dir, "events.json")
            if os.path.exists(path):
                for line in open(path):
                    event = json.loads(line)
                    captured[event["event_uuid"]] = stamp(event["event_timestamp"])
        latencies = []
        for node in nodes:
            for uuid, at in accepted_lines(node):
                if uuid in captured:
                    latencies.append(stamp(at) - captured[uuid])
        records = len(captured)
        expected = records * (count - 1)
        per_record = [value / max(1, records) for value in traffic]
        print(f"scale {topology}: {count} nodes, {records} records captured across them at {rate:g}/s; "
              f"{len(latencies)}/{expected} (record, node) deliveries; latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies, default=float('nan')) * 1000:.0f} ms; "
              f"P2P bytes per record per node: median {statistics.median(per_record):.0f}, max {max(per_record):.0f}; "
              f"CPU per node: median {statistics.median(cpu):.1f}%, max {max(cpu):.1f}% of a core over {elapsed:.0f} s")
    finally:
        for node in nodes:
            node.stop()
        if lan:
            lan.delete()
        if os.environ.get("KEEP"):
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def events(node):
    return node.health(node.api)["events"]


def late_joiner(args):
    peers, records = int(os.environ.get("PEERS", 2)), int(os.environ.get("RECORDS", 1_000_000))
    authors, live = int(os.environ.get("AUTHORS", 20)), float(os.environ.get("LIVE", 100))
    work = tempfile.mkdtemp(prefix="p2p-late-")
    nodes = []
    try:
        seeded = os.path.join(work, "seeded.db")
        started = time.time()
        subprocess.run([SEED, seeded, str(records), "50000", "10000", str(authors)], check=True)
        print(f"seeded {records} records from {authors} authors in {time.time() - started:.0f} s")
        addresses, peer_ids = [], []
        common = ["-N", "-p", "--p2p-listen-address", "127.0.0.1:0", "--sip-listen-address",
                  "127.0.0.1:0", "-a", "--api-listen-address", "127.0.0.1:0", "-f", "sentrypeer.db"]
        for index in range(peers):
            node = Node(work, index)
            database = os.path.join(node.dir, "sentrypeer.db")
            if index + 1 < peers:
                shutil.copy(seeded, database)
            else:
                os.rename(seeded, database)
            # The serving peers are kept apart (each denies the earlier ones), so what is
            # measured is the newcomer's catch-up, not theirs from each other.
            node.start(common + [arg for peer_id in peer_ids for arg in ("--p2p-deny", peer_id)])
            addresses.append(node.wait_for(r"listening for P2P on (\S+)"))
            peer_ids.append(node.wait_for(r"p2p identity peer_id=(\S+)"))
            node.udp = node.wait_for(r"listening for UDP on (\S+)")
            node.api = node.wait_for(r"listening for API on (\S+)")
            nodes.append(node)
        joiner = Node(work, peers)
        cpu_before = [node.cpu_seconds() for node in nodes]
        started = time.time()
        # The joiner serves nobody: in a running community the peers have their window and do
        # not ask a newcomer for it (these peers, just started, would).
        joiner.start(common + ["--p2p-min-contribution", "1000000000"]
                     + [arg for address in addresses for arg in ("-b", address)])
        serving, nodes = nodes, nodes + [joiner]
        joiner.udp = joiner.wait_for(r"listening for UDP on (\S+)")
        joiner.api = joiner.wait_for(r"listening for API on (\S+)")
        joiner.wait_for("peer subscribed")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        host, port = joiner.udp.rsplit(":", 1)
        for n in range(10):
            sock.sendto(probe(2000 + n, f"join-{n}"), (host, int(port)))
        # Live capture on the peers while they serve, until the joiner's first pass is done.
        sent, gap, next_probe, done_at = [0] * peers, 1 / live, time.time(), None
        while time.time() - started < 900 and done_at is None:
            now = time.time()
            while next_probe <= now:
                target = sum(sent) % peers
                host, port = serving[target].udp.rsplit(":", 1)
                sock.sendto(probe(3000 + sum(sent), f"live-{sum(sent)}"), (host, int(port)))
                sent[target] += 1
                next_probe += gap
            caught_up = re.search(r"^(\S+) .*caught up", joiner.text(), re.MULTILINE)
            if caught_up:
                done_at = stamp(caught_up.group(1))
            time.sleep(0.01)
        elapsed = (done_at or time.time()) - started
        cpu = [(node.cpu_seconds() - before) / elapsed * 100 for node, before in zip(serving, cpu_before)]
        joiner_cpu = joiner.cpu_seconds() / elapsed * 100
        time.sleep(2)
        captured = [sum(events(node)["received"].values()) for node in serving]
        dropped = [events(node)["dropped"] + (events(node)["kernel_dropped"] or 0) for node in serving]
        joiner.stop()
        with sqlite3.connect(os.path.join(joiner.dir, "sentrypeer.db")) as db:
            window = db.execute("SELECT COUNT(*) FROM honey WHERE user_agent = 'friendly-scanner'"
                                ).fetchone()[0]
        outcome = f"in {elapsed:.0f} s" if done_at else f"NOT within {elapsed:.0f} s"
        print(f"late joiner: {records} records of a 7-day window from {authors} authors, {peers} peers: "
              f"first pass {outcome} ({window} of the window's records stored); "
              f"joiner CPU {joiner_cpu:.0f}% of a core; peers' CPU {', '.join(f'{value:.0f}%' for value in cpu)} "
              f"of a core; live probes the peers captured while serving: "
              f"{', '.join(f'{c}/{s}' for c, s in zip(captured, sent))}, dropped {sum(dropped)}")
    finally:
        for node in nodes:
            node.stop()
        if os.environ.get("KEEP"):
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    {"scale": scale, "late-joiner": late_joiner}[sys.argv[1]](sys.argv[2:])
