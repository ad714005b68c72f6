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
A screenshot of each state goes to --artifacts. Exit 0 on success; 1 with a message
(and failure.png / failure.html) otherwise.
"""
import argparse
import json
import os
import sys
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_SECONDS = 60  # generous: the machine is shared and builds run beside the test


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("HITL_CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,860", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    service = Service(os.environ.get("HITL_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


class Flow:
    def __init__(self, driver, artifacts, prefix):
        self.driver = driver
        self.artifacts = artifacts
        self.prefix = prefix
        self.wait = WebDriverWait(driver, WAIT_SECONDS)

    def shot(self, name):
        path = os.path.join(self.artifacts, f"{self.prefix}-{name}.png")
        self.driver.save_screenshot(path)
        print(f"screenshot {path}")

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

    def edit(self, approval_id, amount):
        """Approves `approval_id` with its amount changed: a new version, waiting for more people."""
        approvals = json.loads(self.call("GET", "/approvals")[0])["approvals"]
        approval = next(a for a in approvals if a["approval_id"] == approval_id)
        edited = dict(approval["action"], amount=amount)
        self.call("POST", "/execute", {"run_id": approval["run_id"], "approval_id": approval_id, "approved": True,
                                       "version": approval["version"], "edited_action": edited})


def run(args):
    os.makedirs(args.artifacts, exist_ok=True)
    driver = browser()
    flow = Flow(driver, args.artifacts, args.flow)
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
            flow.shot("1-link-confirm")
            driver.find_element(By.ID, "confirm").click()
            flow.text_in("h1#outcome", "Approved")
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
        print("ok")
        return 0
    except (AssertionError, TimeoutException) as error:
        driver.save_screenshot(os.path.join(args.artifacts, f"{args.flow}-failure.png"))
        with open(os.path.join(args.artifacts, f"{args.flow}-failure.html"), "w") as page:
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
    parser.add_argument("--flow", required=True, choices=["approve", "reject", "link", "stale"])
    parser.add_argument("--expect-balance", default="$850.00", help="the available balance shown at the end")
    parser.add_argument("--link", help="the approve link from a notification (link flow)")
    parser.add_argument("--artifacts", default="artifacts/browser", help="where screenshots go")
    args = parser.parse_args()
    if args.flow in ("approve", "reject", "stale") and not args.token:
        parser.error("--token is needed for the approve, reject and stale flows")
    if args.flow == "stale" and not args.token2:
        parser.error("--token2 (a second approver) is needed for the stale flow")
    if args.flow == "link" and not args.link:
        parser.error("--link is needed for the link flow")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
