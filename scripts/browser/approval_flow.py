#!/usr/bin/env python3
"""Drives the gateway's approval page in headless Chromium, as a person would.

Run by Tests/GatewayTests/BrowserTests.swift (which starts the stack); usable by hand:

  .venv/bin/python scripts/browser/approval_flow.py --url http://127.0.0.1:8765 \\
      --token "$(cat .hitl/run/tokens/approver1.token)" --flow approve --expect-balance '$850.00' --artifacts artifacts/browser

Flows:
  approve  sign in, type "Transfer $150 to Alice", see the approval appear, click Approve,
           see the transfer complete and the balance change to --expect-balance
  reject   the same with Reject (and a reason); the balance stays --expect-balance
  link     open a notification's approve link (--link), see the confirmation page,
           confirm, see "Approved"; open the link again: "Already decided"
  stale    sign in, ask for the transfer, see the approval; while the page is not
           looking (its refresh paused), a second approver (--token2) edits it over
           HTTP; click Approve on what the page still shows: nothing is decided, the
           page says so and shows the new version; reject that version
  inbox    the inbox and an approval's page: two requests, newest first; search and
           amount filters (and a bad amount: an error, not "Nothing waits for you");
           a second approver (--token2) edits one (payee and amount): its page shows
           the change as a diff, the person's words and the history; approve it there
           and see the run complete; reject the other with a reason (a reject without
           one is refused) and see the agent repeat it; find both in the history
           filters; open the run's page from the approval's; the audit log with the
           chain verified; approve one from the keyboard alone. Checked with axe-core (no serious or critical violations) and,
           with --width 375, that the header fits a phone.
  page     sign in, open a notification's page link (--link: /approvals/{id}): the
           approval's page shows it with --expect-status
A screenshot of each state goes to --artifacts. Exit 0 on success; 1 with a message
(and failure.png / failure.html) otherwise.
"""
import argparse
import json
import os
import sys
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT_SECONDS = 60  # generous: the machine is shared and builds run beside the test


def browser(width=1280):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("HITL_CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},860", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    service = Service(os.environ.get("HITL_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    # Headless Chromium will not make a window narrower than 500 px: a phone's width is
    # emulated instead, so the page lays itself out (and screenshots) at exactly `width`.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 860, "deviceScaleFactor": 1, "mobile": width < 600})
    return driver


class Flow:
    def __init__(self, driver, artifacts, prefix):
        self.driver = driver
        self.artifacts = artifacts
        self.prefix = prefix
        # The inbox re-renders its rows on every live update, so an element found
        # in one poll can be gone by the next read: that is a reason to look
        # again, not a failure.
        self.wait = WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,))

    def shot(self, name):
        path = os.path.join(self.artifacts, f"{self.prefix}-{name}.png")
        self.driver.save_screenshot(path)
        print(f"screenshot {path}")

    def fits_the_screen(self, what):
        """The page never scrolls sideways: everything fits the window's width (375 px on a phone)."""
        width = self.driver.execute_script("return window.innerWidth")
        wide = self.driver.execute_script("return document.documentElement.scrollWidth")
        if wide > width:
            raise AssertionError(f"{what} is {wide} px wide on a {width} px screen: it scrolls sideways")

    def visible(self, css):
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text_in(self, css, text):
        self.wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def sign_in(self, url, token):
        self.driver.get(url)
        self.visible("#token").send_keys(token)
        self.driver.find_element(By.ID, "sign-in-button").click()
        self.visible("#app")
        self.text_in("#approver", "approver")
        self.text_in("#balance", "$")

    def chat_until_approval(self, message):
        self.shot("1-signed-in")
        self.driver.find_element(By.ID, "message").send_keys(message)
        self.driver.find_element(By.ID, "send").click()
        self.visible(".timeline .step.waiting")
        card = self.visible("#approvals .approval")
        amount = card.find_element(By.CSS_SELECTOR, ".amount").text
        if amount != "$150.00":
            raise AssertionError(f"the pending approval shows {amount!r}, expected $150.00")
        if "alice" not in card.find_element(By.CSS_SELECTOR, ".what").text:
            raise AssertionError("the pending approval does not name alice")
        self.shot("2-approval-pending")
        return card

    def decide(self, card, approve, reason, expect_balance):
        if reason:
            card.find_element(By.CSS_SELECTOR, "input.reason").send_keys(reason)
        card.find_element(By.CSS_SELECTOR, ".button.approve" if approve else ".button.reject").click()
        self.visible(".timeline .bubble.agent.done")
        self.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#approvals .approval"))
        self.text_in("#balance", expect_balance)
        reply = self.driver.find_elements(By.CSS_SELECTOR, ".timeline .bubble.agent.done")[-1].text
        print(f"reply {reply}")
        self.shot("3-approved-complete" if approve else "3-rejected-complete")
        return reply


class Inbox(Flow):
    """The inbox and the page of one approval, as an approver works them."""

    def cards(self):
        return self.driver.find_elements(By.CSS_SELECTOR, "#approvals .approval")

    def settled(self, read):
        """`read()` once the rows hold still long enough to answer it: a live
        update may replace a row between finding it and reading it."""
        return self.wait.until(lambda d: read())

    def card_id(self, amount):
        return self.settled(lambda: next((c.get_attribute("data-id") for c in self.cards()
                                          if c.find_element(By.CSS_SELECTOR, ".amount").text == amount), None))

    def first_row(self, css):
        return self.settled(lambda: self.cards()[0].find_element(By.CSS_SELECTOR, css).text if self.cards() else None)

    def until_cards(self, count, what):
        try:
            self.wait.until(lambda d: len(self.cards()) == count)
        except TimeoutException:
            raise AssertionError(f"{what}: expected {count} rows, the inbox shows {len(self.cards())}")

    def type_into(self, element_id, text):
        field = self.driver.find_element(By.ID, element_id)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        if text:
            field.send_keys(text)

    def check_accessibility(self, name):
        from axe_selenium_python import Axe
        axe = Axe(self.driver)
        axe.inject()
        results = axe.run()
        bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
        with open(os.path.join(self.artifacts, f"{self.prefix}-axe-{name}.json"), "w") as report:
            json.dump(results["violations"], report, indent=1)
        if bad:
            details = "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad)
            raise AssertionError(f"axe-core found serious or critical violations on the {name} view: {details}")
        print(f"axe {name}: {len(results['violations'])} minor or moderate, none serious or critical")

    def check_header_fits(self):
        width = self.driver.execute_script("return window.innerWidth")
        right = self.driver.execute_script("return document.getElementById('sign-out').getBoundingClientRect().right")
        overflow = self.driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
        if right > width or overflow:
            raise AssertionError(f"the header does not fit {width} px: Sign out ends at {right:.0f} px (page wider than the screen: {overflow})")

    def chat(self, message, rows):
        self.driver.find_element(By.ID, "message").send_keys(message)
        self.driver.find_element(By.ID, "send").click()
        self.until_cards(rows, f"after asking {message!r}")

    def open_card(self, amount):
        approval = self.card_id(amount)

        def click():
            link = self.driver.find_element(By.CSS_SELECTOR, f'#approvals .approval[data-id="{approval}"] a.open')
            self.driver.execute_script("arguments[0].scrollIntoView()", link)
            link.click()
            return True
        self.settled(click)
        self.visible("#detail-body")

    def back(self):
        self.driver.find_element(By.ID, "back").click()
        self.visible("#app")

    def bubble_after(self, message, mode="tools"):
        """Sends `message` and returns the class of the agent's final bubble."""
        Select(self.driver.find_element(By.ID, "mode")).select_by_value(mode)
        before = len(self.driver.find_elements(By.CSS_SELECTOR, ".timeline .bubble.agent"))
        self.driver.find_element(By.ID, "message").send_keys(message)
        self.driver.find_element(By.ID, "send").click()
        self.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".timeline .bubble.agent")) > before)
        return self.driver.find_elements(By.CSS_SELECTOR, ".timeline .bubble.agent")[-1]

    def run(self, url, token, other):
        self.sign_in(url, token)
        self.check_header_fits()
        # A tool's error is not a success: no green bubble for an unknown payee.
        refused = self.bubble_after("Transfer $50 to Zed")
        if "refused" not in refused.get_attribute("class") and "failed" not in refused.get_attribute("class"):
            raise AssertionError(f"an unknown payee's answer is shown as a success: {refused.text!r} ({refused.get_attribute('class')})")
        # Structured mode names the plan's steps.
        self.bubble_after("Check my balance", mode="structured")
        plans = [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, ".timeline .step") if e.text.startswith("Plan:")]
        if not plans or "check the balance" not in plans[-1]:
            raise AssertionError(f"the structured plan is not shown in words: {plans}")
        Select(self.driver.find_element(By.ID, "mode")).select_by_value("tools")
        self.shot("0-refusal-and-plan")
        # A list asked for just before a request exists and answered just after it (a slow
        # network): the page must not take the new approval for one decided elsewhere.
        self.driver.execute_script("""
            const original = window.fetch;
            window.__delayNextList = true;
            window.fetch = (url, options) => {
              const slow = window.__delayNextList && String(url).startsWith('/approvals?');
              if (slow) window.__delayNextList = false;
              const answer = original(url, options);
              return slow ? answer.then((r) => new Promise((resolve) => setTimeout(() => resolve(r), 2500))) : answer;
            };
            refreshApprovals();
        """)
        self.chat("Transfer $150 to Alice", 1)
        self.driver.execute_script("return new Promise((resolve) => setTimeout(resolve, 3000))")
        elsewhere = [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, ".timeline .step") if "elsewhere" in e.text]
        if elsewhere:
            raise AssertionError(f"a list older than the request made the page say it was decided elsewhere: {elsewhere}")
        self.until_cards(1, "after the slow list")
        self.chat("Transfer $120 to Bob for the gym", 2)
        first = self.first_row(".amount")
        if first != "$120.00":
            raise AssertionError(f"newest first: the first row is {first!r}, expected the $120.00 just asked for")
        # What the person said it is for reaches the approver's row.
        purpose = self.first_row(".purpose")
        if purpose != "For: the gym":
            raise AssertionError(f"the row shows the purpose {purpose!r}, not 'For: the gym'")
        self.shot("1-inbox-newest-first")
        self.check_accessibility("inbox")

        self.type_into("filter-q", "alice")
        self.until_cards(1, "search 'alice'")
        if "alice" not in self.first_row(".what"):
            raise AssertionError("search 'alice' shows a row without alice")
        self.shot("2-search")
        self.type_into("filter-q", "")
        self.until_cards(2, "search cleared")
        self.type_into("filter-min", "130")
        self.until_cards(1, "from $130")
        self.type_into("filter-min", "lots")
        self.visible("#approvals-error")
        self.text_in("#approvals-error", "From")
        if self.driver.find_element(By.ID, "approvals-empty").is_displayed():
            raise AssertionError("a filter that could not be read shows 'Nothing waits for you' above its error")
        self.shot("3-bad-filter")
        self.type_into("filter-min", "")
        self.until_cards(2, "amount filter cleared")

        # A second approver changes the $150 request: payee and amount.
        other.edit(self.card_id("$150.00"), "140.00", to="bob")
        self.wait.until(lambda d: any(c.find_element(By.CSS_SELECTOR, ".amount").text == "$140.00" for c in self.cards()))
        self.open_card("$140.00")
        self.text_in("#detail-title", "Transfer $140.00 to bob")
        self.visible("#versions-section")
        self.text_in("#diff", "$150.00")
        self.text_in("#diff", "alice")
        self.text_in("#diff-note", "approver2")
        self.text_in("#transcript", "Transfer $150 to Alice")
        self.text_in("#audit", "edited")
        self.text_in("#decide-note", "version 2")
        self.shot("4-approval-page-edited")
        self.check_accessibility("approval page")
        self.driver.find_element(By.ID, "approve-version").click()
        self.text_in("#decide-result", "The agent")
        self.text_in("#detail-status", "completed")
        self.text_in("#transcript", "The agent replied")
        self.shot("5-approved-on-its-page")

        self.back()
        self.until_cards(1, "after approving one")
        self.open_card("$120.00")
        self.text_in("#facts", "the gym")
        self.driver.find_element(By.ID, "reject-version").click()
        self.text_in("#decide-error", "Say why")
        self.driver.find_element(By.ID, "decide-reason").send_keys("Bob is paid on Fridays")
        self.driver.find_element(By.ID, "reject-version").click()
        self.text_in("#decide-result", "Fridays")
        self.text_in("#detail-status", "rejected")
        self.shot("6-rejected-with-reason")

        self.back()
        Select(self.driver.find_element(By.ID, "filter-status")).select_by_value("rejected")
        self.until_cards(1, "history: rejected")
        self.open_card("$120.00")
        self.text_in("#facts", "Fridays")
        self.text_in("#audit", "rejected")
        self.shot("7-history-rejected")
        self.back()
        Select(self.driver.find_element(By.ID, "filter-status")).select_by_value("completed")
        self.until_cards(1, "history: completed")
        self.shot("8-history-completed")

        # The run's own page, from the approval's.
        self.open_card("$140.00")
        self.driver.find_element(By.CSS_SELECTOR, "#detail-id a").click()
        self.visible("#run-body")
        self.text_in("#run-title", "Transfer $150 to Alice")
        self.text_in("#run-status", "completed")
        self.text_in("#run-transcript", "The agent replied")
        self.text_in("#run-approvals", "$140.00")
        self.shot("9-run-page")

        # The audit log of the period, with the chain's verdict.
        self.driver.find_element(By.CSS_SELECTOR, "#views a[data-view=audit]").click()
        self.visible("#audit-view")
        self.text_in("#audit-verdict", "chain verified")
        self.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr")) >= 6)
        self.text_in("#audit-table", "Fridays")
        self.check_header_fits()  # and the page does not scroll sideways: a wide table scrolls in its box
        self.shot("10-audit-log")
        self.check_accessibility("audit log")

        # Keyboard only: the reason box, Tab to Approve, Enter.
        self.driver.find_element(By.CSS_SELECTOR, "#views a[data-view=inbox]").click()
        self.visible("#app")
        Select(self.driver.find_element(By.ID, "filter-status")).select_by_value("pending")
        self.chat("Transfer $110 to Alice", 1)
        reason = self.cards()[0].find_element(By.CSS_SELECTOR, "input.reason")
        reason.send_keys("checked by phone")
        reason.send_keys(Keys.TAB)
        focused = self.driver.switch_to.active_element
        if focused.text != "Approve":
            raise AssertionError(f"Tab from the reason box lands on {focused.text!r}, not Approve")
        focused.send_keys(Keys.ENTER)
        self.until_cards(0, "approved from the keyboard")
        self.wait.until(lambda d: "$110.00" in d.find_elements(By.CSS_SELECTOR, ".timeline .bubble.agent.done")[-1].text)
        self.shot("11-approved-from-the-keyboard")


class OtherApprover:
    """A second approver using the gateway's JSON API (no browser), as another person's page would."""

    def __init__(self, url, token):
        self.url = url
        self.cookie = None
        self.csrf = None
        answer, headers = self.call("POST", "/login", {"token": token})
        self.cookie = headers.get("Set-Cookie", "").split(";")[0]
        self.csrf = json.loads(answer)["csrf_token"]

    def call(self, method, path, body=None):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
            return response.read().decode(), response.headers

    def edit(self, approval_id, amount, to=None):
        """Approves `approval_id` with its amount (and payee) changed: a new version, waiting for more people."""
        approvals = json.loads(self.call("GET", "/approvals")[0])["approvals"]
        approval = next(a for a in approvals if a["approval_id"] == approval_id)
        edited = dict(approval["action"], amount=amount)
        if to:
            edited["to"] = to
        self.call("POST", "/execute", {"run_id": approval["run_id"], "approval_id": approval_id, "approved": True,
                                       "version": approval["version"], "edited_action": edited})


def run(args):
    os.makedirs(args.artifacts, exist_ok=True)
    driver = browser(args.width)
    prefix = args.flow if args.width == 1280 else f"{args.flow}-{args.width}px"
    flow = (Inbox if args.flow == "inbox" else Flow)(driver, args.artifacts, prefix)
    try:
        if args.flow in ("approve", "reject"):
            flow.sign_in(args.url, args.token)
            card = flow.chat_until_approval("Transfer $150 to Alice")
            reply = flow.decide(card, args.flow == "approve", None if args.flow == "approve" else "Not this week", args.expect_balance)
            if args.flow == "approve" and "150" not in reply:
                raise AssertionError(f"the reply does not mention the transfer: {reply!r}")
        elif args.flow == "link":
            driver.get(args.link)
            flow.text_in("h1", "Approve this transfer?")
            flow.text_in(".action-card .amount", "$150.00")
            flow.fits_the_screen("the link's confirmation page")
            flow.shot("1-link-confirm")
            driver.find_element(By.ID, "confirm").click()
            flow.text_in("h1#outcome", "Approved")
            flow.fits_the_screen("the link's outcome page")
            flow.shot("2-link-approved")
            driver.get(args.link)
            flow.text_in("h1#outcome", "Already decided")
            flow.shot("3-link-reopened")
        elif args.flow == "stale":
            flow.sign_in(args.url, args.token)
            card = flow.chat_until_approval("Transfer $150 to Alice")
            # The page stops looking for changes, as a slow or backgrounded tab would.
            driver.execute_script("clearInterval(state.pollTimer)")
            OtherApprover(args.url, args.token2).edit(card.get_attribute("data-id"), "12000.00")
            card.find_element(By.CSS_SELECTOR, ".button.approve").click()
            flow.text_in(".timeline .bubble.stale", "changed by someone else")
            edited = flow.visible("#approvals .approval.edited")
            flow.text_in("#approvals .approval.edited .amount", "$12,000.00")
            flow.text_in("#approvals .approval.edited .edited-notice", "version 2")
            flow.shot("1-stale-click-refused")
            flow.decide(edited, False, "Not that much", args.expect_balance)
        elif args.flow == "page":
            flow.sign_in(args.url, args.token)
            driver.get(args.link)
            flow.visible("#detail-body")
            flow.text_in("#detail-status", args.expect_status)
            flow.text_in("#transcript", "asked")
            flow.fits_the_screen("the approval's page")
            flow.shot("1-page-from-notification")
        elif args.flow == "inbox":
            flow.run(args.url, args.token, OtherApprover(args.url, args.token2))
        print("ok")
        return 0
    except (AssertionError, TimeoutException) as error:
        driver.save_screenshot(os.path.join(args.artifacts, f"{prefix}-failure.png"))
        with open(os.path.join(args.artifacts, f"{prefix}-failure.html"), "w") as page:
            page.write(driver.page_source)
        print(f"FAILED in the {args.flow} flow: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8765")
    parser.add_argument("--token", help="an approver token (approve and reject flows)")
    parser.add_argument("--token2", help="a second approver's token (stale flow)")
    parser.add_argument("--flow", required=True, choices=["approve", "reject", "link", "stale", "inbox", "page"])
    parser.add_argument("--expect-status", default="completed", help="the approval's status its page shows (page flow)")
    parser.add_argument("--width", type=int, default=1280, help="the window's width in pixels (375: a phone)")
    parser.add_argument("--expect-balance", default="$850.00", help="the available balance shown at the end")
    parser.add_argument("--link", help="the approve link from a notification (link flow)")
    parser.add_argument("--artifacts", default="artifacts/browser", help="where screenshots go")
    args = parser.parse_args()
    if args.flow in ("approve", "reject", "stale", "inbox", "page") and not args.token:
        parser.error("--token is needed for the approve, reject, stale, inbox and page flows")
    if args.flow in ("stale", "inbox") and not args.token2:
        parser.error("--token2 (a second approver) is needed for the stale and inbox flows")
    if args.flow in ("link", "page") and not args.link:
        parser.error("--link is needed for the link and page flows")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
