"""The console in a real browser: headless Chromium driven over WebDriver.

Seeds the acme-repair tenant through the API (the no-code forms and
routing of example-rules/nocode, agents, a pipeline, a few tickets), then
does what a tenant admin does in the console:

1. signs in with the tenant's key (a wrong key is refused first);
2. opens the routing document, types a typo and sees the error located at
   its line and column with the compiler's hint, then fixes it;
3. changes where phone tickets go, simulates a phone ticket and sees the
   assignment change, runs a backtest and reads its report;
4. saves the draft as a new version, activates it, creates a phone ticket
   and sees it routed by the new version on the ticket's timeline;
5. previews the equipment-repair form: dependent options, a field required
   to solve, the plugin's own validation;
6. looks at the same screens on a narrow (phone-sized) window.

Usage: console_test.py BASE_URL ADMIN_KEY NOCODE_DIR SCREENSHOT_DIR
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

base, admin, nocode, shots = sys.argv[1:5]
TENANT = "acme-repair"
WAIT_S = 20


# --- The tenant, seeded through the API --------------------------------

def call(method, path, key, body=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req) as resp:
            text = resp.read()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {path}: {e.code} {e.read().decode()}") from None


def seed():
    key = call("POST", "/v1/tenants", admin, {"id": TENANT})["api_key"]
    t = f"/v1/tenants/{TENANT}"
    hours = {d: "09:00-17:00" for d in ["mon", "tue", "wed", "thu", "fri"]}
    call("PUT", f"{t}/calendars", key,
         [{"name": "business-hours", "timezone": "Europe/Berlin", "hours": hours}])
    for plugin, doc in [("templates", "templates.toml"), ("routing", "routing.toml"),
                        ("escalation", "escalation.toml")]:
        with open(os.path.join(nocode, doc)) as f:
            call("POST", f"{t}/plugins/{plugin}", key, f.read(), "application/toml")
        call("POST", f"{t}/plugins/{plugin}/activate", key, {"version": 1})
    call("PUT", f"{t}/agents", key, [
        {"id": "ana", "name": "Ana Lima", "group": "field-service-emea",
         "skills": ["hardware"], "level": 2, "open_tickets": 2},
        {"id": "sara", "name": "Sara Berg", "group": "senior-support", "level": 4, "open_tickets": 1},
        {"id": "vic", "name": "Vic Moreau", "group": "voice", "skills": ["phone"], "open_tickets": 0},
        {"id": "wes", "name": "Wes Adler", "group": "voice-emea", "skills": ["phone"], "open_tickets": 0},
    ])
    call("PUT", f"{t}/pipeline", key, [
        {"plugin": "templates", "on_failure": "fail-event"},
        {"plugin": "routing", "settings": {"max_open": 5, "senior_level": 3}},
        {"plugin": "escalation", "settings": {"calendar": "business-hours"}},
    ])
    laptop = {"device_model": {"choice": "laptop"}, "serial_number": {"text": "AB123456"}}
    tickets = [
        ("R-1", {"subject": "Laptop does not boot", "category": "hardware",
                 "requester": {"id": "c-1", "name": "Jo Park", "region": "emea"}, "fields": laptop}),
        ("R-2", {"subject": "Cannot log in", "category": "account", "channel": "phone",
                 "requester": {"id": "c-2", "region": "emea"}}),
        ("R-3", {"subject": "Projector", "category": "hardware",
                 "requester": {"id": "c-3", "region": "emea", "tier": "vip"}, "fields": laptop}),
        ("R-4", {"subject": "Invoice copy", "category": "billing", "requester": {"id": "c-4"}}),
    ]
    for ticket, body in tickets:
        call("POST", f"{t}/tickets/{ticket}", key, body)
    return key


# --- The browser --------------------------------------------------------

def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-quic",
                 "--disable-sync", "--no-first-run", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    # Debian's driver, so Selenium never downloads one.
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_window_size(width, height)
    return driver


def wait_for(what, condition, timeout=WAIT_S):
    """Polls `condition` until it returns something true; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # the page is still changing
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


def text_of(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def button(driver, label):
    for b in driver.find_elements(By.TAG_NAME, "button"):
        if b.is_displayed() and (b.text.strip() == label or b.get_attribute("aria-label") == label):
            return b
    raise AssertionError(f"no visible button {label!r}")


def shot(driver, name, show=None):
    """Saves a screenshot, with the element matching `show` in view."""
    if show:
        for element in driver.find_elements(By.CSS_SELECTOR, show)[:1]:
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
    path = os.path.join(shots, f"{name}.png")
    driver.save_screenshot(path)
    print(f"  screenshot {path}")


def editor_line(driver, text):
    """The rendered editor line whose text is `text`, scrolled into view."""
    scroller = driver.find_element(By.CSS_SELECTOR, ".cm-scroller")
    # CodeMirror renders the lines near the viewport only: scroll through.
    for top in range(0, 20000, 200):
        for line in driver.find_elements(By.CSS_SELECTOR, ".cm-line"):
            if line.text == text:
                driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})", line)
                return line
        driver.execute_script("arguments[0].scrollTop = arguments[1]", scroller, top)
        time.sleep(0.05)
    raise AssertionError(f"the editor has no line {text!r}")


def type_at_end_of(driver, line_text, keys):
    # Close a completion list left open by the last keys typed.
    ActionKeys(driver).send(Keys.ESCAPE)
    line = editor_line(driver, line_text)
    line.click()
    ActionKeys(driver).send(Keys.END, *keys)


class ActionKeys:
    """Keys to whatever has focus (the editor's content)."""

    def __init__(self, driver):
        self.driver = driver

    def send(self, *keys):
        active = self.driver.switch_to.active_element
        for k in keys:
            active.send_keys(k)


def completions_at(driver, line_text, column):
    """The completion list asked for (Ctrl+Space) at `column` of a line."""
    type_at_end_of(driver, line_text, [Keys.HOME] + [Keys.ARROW_RIGHT] * column)
    ActionKeys(driver).send(Keys.CONTROL + " ")
    options = wait_for("the completion list", lambda: [
        label.text for label in driver.find_elements(By.CSS_SELECTOR, ".cm-tooltip-autocomplete .cm-completionLabel")])
    ActionKeys(driver).send(Keys.ESCAPE)
    return options


def step(name):
    print(f"- {name}")


# --- The steps ------------------------------------------------------------

def sign_in(driver, key):
    step("sign in (a wrong key is refused)")
    driver.get(base + "/console")
    wait_for("the sign-in form", lambda: driver.find_element(By.NAME, "tenant"))
    shot(driver, "01-sign-in")
    driver.find_element(By.NAME, "tenant").send_keys(TENANT)
    driver.find_element(By.NAME, "key").send_keys("not-the-key")
    button(driver, "Sign in").click()
    wait_for("the refusal", lambda: "unauthorized" in text_of(driver, "[role=alert]").lower()
             or "key" in text_of(driver, "[role=alert]").lower())
    assert "not-the-key" not in driver.current_url
    driver.get_log("browser")  # the refused call's 401, logged by the browser
    field = driver.find_element(By.NAME, "key")
    field.clear()
    field.send_keys(key)
    button(driver, "Sign in").click()
    wait_for("the workspace", lambda: text_of(driver, "[data-testid=tenant]") == TENANT)
    assert key not in driver.current_url, "the key must never reach a URL"


def open_plugin(driver, name):
    wait_for(f"the plugin {name}", lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, ".plugin-list button")
                                           if b.text.startswith(name)])[0].click()
    wait_for("the editor with the active version",
             lambda: driver.find_elements(By.CSS_SELECTOR, ".cm-content")
             and "version" in text_of(driver, ".editor-column h3"))


def edit_routing(driver):
    step("routing: a typo is located with its hint, then fixed")
    open_plugin(driver, "routing")
    wait_for("the first check", lambda: text_of(driver, "[data-testid=check-status]").startswith("Compiles"))
    # `ticket.channel` misspelt in the phone rule's condition.
    line = "when = 'ticket.channel == \"phone\"'"
    type_at_end_of(driver, line, [Keys.HOME] + [Keys.ARROW_RIGHT] * len("when = 'ticket.chan") + [Keys.DELETE])
    typo = "when = 'ticket.chanel == \"phone\"'"
    wait_for("the typo in the editor", lambda: editor_line(driver, typo))
    diagnostics = wait_for("the located diagnostic",
                           lambda: text_of(driver, "[data-testid=diagnostics]"))
    print(f"  diagnostic: {diagnostics}")
    assert "line " in diagnostics and "column " in diagnostics, diagnostics
    assert "chanel" in diagnostics, diagnostics
    assert "Hint:" in diagnostics and "channel" in diagnostics.split("Hint:")[1], diagnostics
    # The error is also marked in the editor at its place.
    wait_for("the inline mark", lambda: driver.find_elements(By.CSS_SELECTOR, ".cm-lintRange-error"))
    shot(driver, "02-rules-diagnostic")
    type_at_end_of(driver, typo, [Keys.HOME] + [Keys.ARROW_RIGHT] * len("when = 'ticket.chan") + ["n"])
    wait_for("the fix to compile", lambda: text_of(driver, "[data-testid=check-status]").startswith("Compiles"))
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=diagnostics]")

    step("routing: completion of fields and of the document's settings")
    phone = "when = 'ticket.channel == \"phone\"'"
    fields = completions_at(driver, phone, len("when = 'ticket."))
    assert "channel" in fields and "priority" in fields, fields
    settings = completions_at(driver, 'max_open = "setting.max_open"', len('max_open = "setting.'))
    assert settings[:2] == ["max_open", "senior_level"], settings
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=diagnostics]")

    step("routing: phone tickets go to voice-emea")
    type_at_end_of(driver, 'group = "voice"', [Keys.ARROW_LEFT, "-emea"])
    wait_for("the changed draft to compile",
             lambda: "unsaved changes" in text_of(driver, "[data-testid=check-status]"))


def simulate(driver):
    step("simulate a phone ticket with the draft")
    button(driver, "Test").click()
    Select(driver.find_element(By.CSS_SELECTOR, ".test-panel select")).select_by_visible_text("New ticket by phone")
    button(driver, "Simulate").click()
    result = wait_for("the simulation", lambda: text_of(driver, "[data-testid=simulation]"))
    changes = text_of(driver, "table.changes")
    print(f"  changes: {changes!r}")
    assert "group voice voice-emea" in changes and "agent vic wes" in changes, result
    shot(driver, "03-simulate", "[role=tablist]")


def backtest(driver):
    step("backtest the draft over the recorded history")
    button(driver, "Backtest").click()
    button(driver, "Run backtest").click()
    assert driver.find_elements(By.CSS_SELECTOR, "progress") or True
    report = wait_for("the report", lambda: text_of(driver, "[data-testid=backtest-report]"), timeout=60)
    print(f"  report: {report.splitlines()[0]}")
    # Of the seeded tickets only R-2 came in by phone.
    assert report.startswith("1 of "), report
    assert "group" in report and "voice-emea" in report and "R-2" in report, report
    assert driver.find_element(By.CSS_SELECTOR, "progress").get_attribute("value") is not None
    shot(driver, "04-backtest", "[role=tablist]")


def activate_and_route(driver):
    step("save, activate, and a new phone ticket is routed by the new version")
    button(driver, "Versions diff").click()
    diff = wait_for("the diff", lambda: text_of(driver, "[data-testid=diff]"))
    assert '- group = "voice"' in diff and '+ group = "voice-emea"' in diff, diff
    button(driver, "Save as new version").click()
    wait_for("the new version", lambda: "Saved as version 2" in text_of(driver, "[data-testid=message]"))
    button(driver, "Activate version 2").click()
    wait_for("the activation", lambda: "Version 2 is active" in text_of(driver, "[data-testid=message]"))
    assert "v2 active" in text_of(driver, ".plugin-list")
    # Rolling back puts version 1 back; version 2 is then activated again.
    button(driver, "Roll back").click()
    wait_for("the rollback", lambda: "version 1 is active" in text_of(driver, "[data-testid=message]"))
    assert "v1 active" in text_of(driver, ".plugin-list")
    button(driver, "Activate version 2").click()
    wait_for("the second activation", lambda: "Version 2 is active" in text_of(driver, "[data-testid=message]"))
    shot(driver, "05-activated")

    button(driver, "Tickets").click()
    form = wait_for("the new-ticket form", lambda: driver.find_element(By.CSS_SELECTOR, "form.new-ticket"))
    values = {"id": "R-9", "subject": "Headset broken", "category": "account", "channel": "phone",
              "requester": "c-9", "region": "emea"}
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assignee = wait_for("the routed ticket", lambda: text_of(driver, "[data-testid=assignee]"))
    assert assignee == "voice-emea / wes", assignee
    timeline = text_of(driver, "[data-testid=timeline]")
    assert "routing v2" in timeline and "assign → voice-emea/wes" in timeline, timeline
    # The escalation rules started SLA clocks; their milestones are
    # pending timers on the timeline, after the creation.
    sla = text_of(driver, "table.sla")
    assert "first_response" in sla and "resolution" in sla, sla
    assert "SLA first_response at 50%" in timeline and "pending" in timeline, timeline
    assert timeline.index("created") < timeline.index("SLA first_response at 50%"), timeline
    shot(driver, "06-ticket-timeline")


def form_preview(driver):
    step("form preview: dependent options, required to solve, the plugin's validation")
    button(driver, "Rules").click()
    open_plugin(driver, "templates")
    # The tabs work from the keyboard: arrows move between them.
    button(driver, "Form preview").click()
    ActionKeys(driver).send(Keys.ARROW_RIGHT)
    wait_for("the Test tab", lambda: button(driver, "Test").get_attribute("aria-selected") == "true")
    ActionKeys(driver).send(Keys.ARROW_LEFT)
    wait_for("the Form preview tab", lambda: button(driver, "Form preview").get_attribute("aria-selected") == "true")
    form = wait_for("the equipment form", lambda: driver.find_element(By.CSS_SELECTOR, "form[aria-label='Equipment repair form']"))
    Select(form.find_element(By.ID, "field-device_model")).select_by_visible_text("printer")
    variants = [o.get_attribute("value") for o in
                Select(form.find_element(By.ID, "field-device_variant")).options if o.get_attribute("value")]
    assert variants == ["laserjet-m404", "pixma-g650"], variants
    form.find_element(By.ID, "field-serial_number").send_keys("PR123456")
    driver.find_element(By.CSS_SELECTOR, "input[name=form-mode][value=solve]").click()
    button(driver, "Solve").click()
    status = wait_for("the missing fields", lambda: text_of(driver, "[data-testid=form-status]"))
    assert "missing" in status and "resolution_code" in status, status
    assert driver.find_element(By.ID, "field-resolution_code").get_attribute("aria-invalid") == "true"
    shot(driver, "07-form-preview", "[role=tablist]")
    Select(form.find_element(By.ID, "field-resolution_code")).select_by_index(1)
    button(driver, "Solve").click()
    wait_for("the complete form", lambda: "complete" in text_of(driver, "[data-testid=form-status]"))

    serial = form.find_element(By.ID, "field-serial_number")
    serial.clear()
    serial.send_keys("pr-77")
    button(driver, "Validate with the plugin").click()
    verdict = wait_for("the plugin's verdict", lambda: text_of(driver, "[data-testid=plugin-validation]"))
    assert "rejects" in verdict and "serial_number" in verdict, verdict


def narrow(driver, key):
    step("a narrow window")
    driver.set_window_size(390, 844)
    button(driver, "Rules").click()
    open_plugin(driver, "routing")
    wait_for("the check", lambda: text_of(driver, "[data-testid=check-status]"))
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways at 390 px ({width} px wide)"
    shot(driver, "08-narrow")


def main():
    key = seed()
    driver = browser(1280, 900)
    try:
        sign_in(driver, key)
        edit_routing(driver)
        simulate(driver)
        backtest(driver)
        activate_and_route(driver)
        form_preview(driver)
        narrow(driver, key)
        logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not logs, f"the page logged errors: {logs}"
    except BaseException:
        shot(driver, "failure")
        raise
    finally:
        driver.quit()
    print("console: every step passed")


if __name__ == "__main__":
    main()
