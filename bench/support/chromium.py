"""Headless Chromium through Selenium (Debian chromium + chromium-driver) for the dashboard
benchmarks (bench/gui.sh, bench/gui_live.sh)."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def headless_chromium():
    """A WebDriver session of a headless Chromium with a 1400x1000 window."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
