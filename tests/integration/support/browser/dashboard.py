#!/usr/bin/python3
"""Drives the SentryPeer dashboard in real headless Chromium (Selenium 4, chromium-driver).

Usage: dashboard.py BASE_URL TOKEN UDP_HOST:PORT SCREENSHOT_DIR

Checks, in order, and exits non-zero with a message on the first failure:
  1. without the session cookie every page shows the sign-in form and no data;
  2. after signing in, the overview's numbers equal /api/v1/stats (totals, top IP, user agents,
     destination addresses); each top country's map tile shows its count;
  3. a UDP probe from a new source appears on the live page (event and decision, from
     /api/v1/stream) within 2 s, without a reload; under more events than the page's sample
     holds, every one is counted and its tables stay bounded;
  4. the search finds that source and its detail page shows its SIP message;
  5. an XSS payload sent as a User-Agent shows as text on every page and runs nothing;
  6. the health page shows the node id of /api/v1/health.
Saves a screenshot of each page in SCREENSHOT_DIR. Prints one JSON line of measurements.
"""
import json
import os
import socket
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE, TOKEN, UDP, SHOTS = sys.argv[1:5]
UDP_HOST, UDP_PORT = UDP.rsplit(":", 1)
WAIT = 20
# Each part of the payload tries a different way to run script; any of them would set a mark on
# the page's <body>.
XSS = ('<img src=x onerror="document.body.dataset.xss=1">'
       '</script><script>document.body.dataset.xss=2</script>'
       'javascript:document.body.dataset.xss=3')


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def api(path):
    request = urllib.request.Request(BASE + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return json.load(response)


def probe(source, user_agent, call_id):
    message = (
        "OPTIONS sip:100@{host}:{port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP {src}:5070;branch=z9hG4bK-{cid}\r\n"
        "From: <sip:gui@{src}>;tag=1\r\nTo: <sip:100@{host}>\r\n"
        "Call-ID: {cid}@{src}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        "User-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
    ).format(host=UDP_HOST, port=UDP_PORT, src=source, cid=call_id, ua=user_agent)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.sendto(message.encode(), (UDP_HOST, int(UDP_PORT)))
    sock.close()


def wait_until(what, condition, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def not_run(driver, page):
    mark = driver.execute_script("return document.body.dataset.xss || null")
    check(mark is None, "XSS payload ran on %s (mark %s)" % (page, mark))
    check(not driver.find_elements(By.CSS_SELECTOR, 'img[src="x"]'), "payload became an <img> on " + page)


def main():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(WAIT)
    measured = {}
    try:
        # The attacker with the XSS user agent, and one more event, before anything is looked at.
        probe("127.0.0.2", XSS, "gui-xss")
        probe("127.0.0.2", "friendly-scanner", "gui-2")
        wait_until("2 events stored", lambda: api("/api/v1/stats")["totals"]["events"] >= 2)

        # 1. No cookie: the sign-in form and no data, on every page.
        for path in ("/ui/", "/ui/live", "/ui/ip/127.0.0.2", "/ui/health", "/ui/peers", "/ui/search?q=127.0.0.2"):
            driver.get(BASE + path)
            check(driver.find_elements(By.ID, "token"), "no sign-in form on " + path)
            check("127.0.0.2" not in driver.page_source.replace("/ui/search?q=127.0.0.2", ""),
                  "data shown without the token on " + path)
            check(not driver.find_elements(By.ID, "events-all"), "totals shown without the token")
        shot(driver, "sign-in")
        driver.find_element(By.ID, "token").send_keys("wrong")
        driver.find_element(By.CSS_SELECTOR, "form[action='/ui/sign-in'] button").click()
        # The click only starts the form's navigation: wait for the page it leads to.
        wait_until("a wrong token refused with an error",
                   lambda: driver.find_elements(By.CSS_SELECTOR, "p.error"))
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "form[action='/ui/sign-in'] button").click()
        wait_until("the overview after signing in", lambda: driver.find_elements(By.ID, "events-all"))
        cookie = driver.get_cookie("sentrypeer_session")
        check(cookie and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
              "session cookie not HttpOnly/SameSite=Strict: %r" % (cookie,))

        # The original's root sends a browser to the dashboard.
        driver.get(BASE + "/")
        check(driver.current_url == BASE + "/ui/", "/ redirected a browser to %s" % driver.current_url)

        # 2. The overview's numbers are the API's.
        driver.get(BASE + "/ui/")
        stats = api("/api/v1/stats")
        for row, key in (("events", "events"), ("ip-addresses", "ip_addresses"),
                         ("called-numbers", "called_numbers")):
            shown = int(driver.find_element(By.ID, row + "-all").get_attribute("data-count"))
            check(shown == stats["totals"][key], "%s: page %d, API %d" % (row, shown, stats["totals"][key]))
        top_ip = driver.find_element(By.CSS_SELECTOR, "#top-ips td.value a").text
        top_count = int(driver.find_element(By.CSS_SELECTOR, "#top-ips td.count").get_attribute("data-count"))
        first = stats["top_ip_addresses"][0]
        check((top_ip, top_count) == (first["value"], first["seen_count"]),
              "top IP: page %s/%d, API %s/%d" % (top_ip, top_count, first["value"], first["seen_count"]))
        agents = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#top-user-agents td.value")]
        check(XSS in agents, "the XSS user agent is not shown as text on the overview: %r" % agents)
        # Top user agents and destination addresses: the same values and counts as the API's.
        for table, key in (("top-user-agents", "by_user_agent"), ("top-destinations", "by_destination")):
            rows = [(row.find_element(By.CSS_SELECTOR, "td.value").text,
                     int(row.find_element(By.CSS_SELECTOR, "td.count").get_attribute("data-count")))
                    for row in driver.find_elements(By.CSS_SELECTOR, "#%s tr" % table)]
            expected = [(item["value"] or "(none)", item["count"]) for item in stats[key]]
            check(rows == expected, "%s: page %r, API %r" % (table, rows, expected))
        check(stats["by_destination"] and stats["by_destination"][0]["value"].endswith(":" + UDP_PORT),
              "the probes' destination is not this honeypot's UDP port: %r" % stats["by_destination"])
        # The world map: a tile per country in the top list, with the same count.
        for row in driver.find_elements(By.CSS_SELECTOR, "#top-countries tr"):
            code = row.find_element(By.CSS_SELECTOR, "td.value").text
            count = row.find_element(By.CSS_SELECTOR, "td.count").get_attribute("data-count")
            if code == "(none)":
                continue
            tiles = driver.find_elements(By.CSS_SELECTOR, '#world-map g[data-country="%s"]' % code)
            check(tiles and tiles[0].get_attribute("data-count") == count,
                  "map tile of %s does not show %s events" % (code, count))
        check(len(driver.find_elements(By.CSS_SELECTOR, "#world-map g.tile")) > 200, "the world map has no tiles")
        not_run(driver, "overview")
        shot(driver, "overview")

        # 3. Live: a new source's probe appears without a reload, as an event and as a decision,
        # from /api/v1/stream (the session cookie stands for the token).
        driver.get(BASE + "/ui/live")
        check(driver.find_element(By.ID, "live-status").get_attribute("data-stream") == "/api/v1/stream",
              "the live page does not follow /api/v1/stream")
        wait_until("the live stream to connect",
                   lambda: "Connected" in driver.find_element(By.ID, "connection").text)
        driver.execute_script("window.__sameDocument = true")
        sent = time.monotonic()
        probe("127.0.0.3", "live-probe", "gui-live")
        wait_until("127.0.0.3's event on the live page",
                   lambda: any("127.0.0.3" in row.text for row in
                               driver.find_elements(By.CSS_SELECTOR, "#recent-events tr.event")),
                   timeout=2.0)
        measured["live_event_seconds"] = round(time.monotonic() - sent, 3)
        wait_until("127.0.0.3's decision on the live page",
                   lambda: any("127.0.0.3" in row.text for row in
                               driver.find_elements(By.CSS_SELECTOR, "#decisions tr.decision")),
                   timeout=max(0.1, 2.0 - (time.monotonic() - sent)))
        measured["live_seconds"] = round(time.monotonic() - sent, 3)
        check(driver.execute_script("return window.__sameDocument === true"), "the live page reloaded")
        not_run(driver, "live")
        shot(driver, "live")

        # More events than the page's sample holds: every one is counted, the tables stay bounded.
        rows = int(driver.find_element(By.ID, "live-status").get_attribute("data-rows"))
        before = int(driver.find_element(By.ID, "event-count").text)
        flood = rows * 3
        for n in range(flood):
            probe("127.0.%d.%d" % (1 + n // 200, 1 + n % 200), "flood-%d" % n, "gui-flood-%d" % n)

        def counted():
            events = int(driver.find_element(By.ID, "event-count").text)
            lost = int(driver.find_element(By.ID, "missed-count").text)
            return events + lost - before >= flood

        wait_until("the flood counted on the live page", counted)
        started = time.monotonic()
        driver.execute_script("return 1")
        measured["script_round_trip_seconds"] = round(time.monotonic() - started, 3)
        for table in ("recent-events", "decisions"):
            shown = len(driver.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table))
            check(0 < shown <= rows, "%s holds %d rows after %d events (sample %d)" % (table, shown, flood, rows))
        check(driver.execute_script("return window.__sameDocument === true"), "the live page reloaded")
        shot(driver, "live-flood")

        # 4. Search finds it; its detail page shows its SIP message.
        driver.get(BASE + "/ui/search")
        field = driver.find_element(By.ID, "q")
        field.send_keys("127.0.0.3")
        field.submit()
        wait_until("the detail page", lambda: driver.current_url.endswith("/ui/ip/127.0.0.3")
                   or driver.find_elements(By.ID, "messages"))
        wait_until("its SIP message", lambda: "Call-ID: gui-live@127.0.0.3" in
                   " ".join(p.text for p in driver.find_elements(By.CSS_SELECTOR, "pre.sip-message")))
        shot(driver, "detail")

        # 5. The XSS source's page: the payload is text, in the table and the raw message.
        driver.get(BASE + "/ui/ip/127.0.0.2")
        agents = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "td.user-agent")]
        check(XSS in agents, "the XSS user agent is not shown as text on its detail page: %r" % agents)
        # Older messages sit in closed <details>: read their text, shown or not.
        messages = " ".join(p.get_attribute("textContent")
                            for p in driver.find_elements(By.CSS_SELECTOR, "pre.sip-message"))
        check("User-Agent: " + XSS in messages, "the raw message does not show the payload as text")
        not_run(driver, "detail")
        shot(driver, "detail-xss")

        # Peers (sharing is off in this run: the page says so).
        driver.get(BASE + "/ui/peers")
        check(driver.find_elements(By.ID, "p2p-off"), "the peers page does not say sharing is off")
        shot(driver, "peers")

        # 6. Health, and the API feed it links to opens with the session cookie alone.
        driver.get(BASE + "/api/v1/stats")
        check('"events"' in driver.page_source, "the signed-in browser cannot open the API it links to")
        driver.get(BASE + "/ui/health")
        node = driver.find_element(By.ID, "node-id").text
        check(node == api("/api/v1/health")["node_id"], "health node id %s" % node)
        not_run(driver, "health")
        shot(driver, "health")
    finally:
        driver.quit()
    print(json.dumps(measured))


main()
