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
A screenshot of each state goes to --artifacts. Exit 0 on success; 1 with a message
(and failure.png / failure.html) otherwise.
"""
import argparse
import os
import sys

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
    parser.add_argument("--flow", required=True, choices=["approve", "reject", "link"])
    parser.add_argument("--expect-balance", default="$850.00", help="the available balance shown at the end")
    parser.add_argument("--link", help="the approve link from a notification (link flow)")
    parser.add_argument("--artifacts", default="artifacts/browser", help="where screenshots go")
    args = parser.parse_args()
    if args.flow in ("approve", "reject") and not args.token:
        parser.error("--token is needed for the approve and reject flows")
    if args.flow == "link" and not args.link:
        parser.error("--link is needed for the link flow")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
