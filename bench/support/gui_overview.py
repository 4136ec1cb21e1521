"""Loads the dashboard's overview RUNS times in headless Chromium (bench/gui.sh) and prints, per
run, one line of JSON: the navigation timing of the load (milliseconds from navigation start:
requestStart, responseStart = first byte, so its difference to requestStart is the server's
time as the browser saw it, responseEnd, domInteractive, domContentLoadedEventEnd, loadEventEnd
and first-contentful-paint) and the CPU time the renderer's main thread spent on the document
(CDP Performance.getMetrics in thread time, which starts again with each navigation: all its
tasks, and of those script, style recalculation and layout, in ms; and its DOM nodes). CPU time,
unlike the timings, hardly depends on how busy the machine is. With a screenshot path, saves a full-page PNG of the last load (the window made
as tall as the page)."""
import json
import sys

sys.path.insert(0, "bench/support")
from chromium import headless_chromium  # noqa: E402

NAVIGATION = (
    "const n = performance.getEntriesByType('navigation')[0];"
    "const p = performance.getEntriesByName('first-contentful-paint')[0];"
    "return {requestStart: n.requestStart, responseStart: n.responseStart,"
    " responseEnd: n.responseEnd, domInteractive: n.domInteractive,"
    " domContentLoadedEventEnd: n.domContentLoadedEventEnd, loadEventEnd: n.loadEventEnd,"
    " firstContentfulPaint: p ? p.startTime : null};"
)
DURATIONS = ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration")


def metrics(driver):
    answer = driver.execute_cdp_cmd("Performance.getMetrics", {})
    return {metric["name"]: metric["value"] for metric in answer["metrics"]}


def main():
    url, runs = sys.argv[1], int(sys.argv[2])
    screenshot = sys.argv[3] if len(sys.argv) > 3 else ""
    driver = headless_chromium()
    try:
        driver.execute_cdp_cmd("Performance.enable", {"timeDomain": "threadTicks"})
        for _ in range(runs):
            driver.get(url)
            timing = driver.execute_script(NAVIGATION)
            after = metrics(driver)
            for name in DURATIONS:
                timing[name] = round(after[name] * 1000, 1)
            timing["Nodes"] = int(after["Nodes"])
            print(json.dumps({k: round(v, 1) if isinstance(v, float) else v
                              for k, v in timing.items()}), flush=True)
        if screenshot:
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1400, height + 40)
            driver.save_screenshot(screenshot)
    finally:
        driver.quit()


main()
