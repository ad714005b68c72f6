// The approval page: sign in, chat with the agent over Server-Sent Events,
// and decide pending approvals. Plain JavaScript, no build step.
"use strict";

const state = { lastDecision: null, csrf: null, account: "checking", runs: new Map(), decided: new Set(), pollTimer: null };
const $ = (id) => document.getElementById(id);

// ---- HTTP ----------------------------------------------------------------

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw problem(response, data);
  return data;
}

function problem(response, data) {
  const error = new Error((data.error && data.error.message) || `the gateway answered ${response.status}`);
  error.status = response.status;
  error.reason = data.error && data.error.reason;
  return error;
}

// Reads a text/event-stream body: calls onEvent(name, data, id) per event.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = { event: "message", data: "", id: null };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const key = line.slice(0, colon);
        const text = line.slice(colon + 1).replace(/^ /, "");
        if (key === "data") fields.data += text; else fields[key] = text;
      }
      if (fields.data) onEvent(fields.event, JSON.parse(fields.data), fields.id);
    }
  }
}

// Streams a run: POST /chat or /execute, and if the connection drops before the
// run paused or ended, reconnects to GET /runs/{id}/events with Last-Event-ID.
async function streamRun(path, body, knownRunID) {
  let runID = knownRunID || null;
  let lastID = null;
  let finished = false;
  const onEvent = (name, data, id) => {
    if (data.run_id) runID = data.run_id;
    if (id) lastID = id;
    if (["run_paused", "run_completed", "error"].includes(name)) finished = true;
    showEvent(name, data);
  };
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": state.csrf, "Accept": "text/event-stream" };
  try {
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
    if (!response.ok) throw problem(response, await response.json().catch(() => ({})));
    await readEvents(response, onEvent);
  } catch (error) {
    if (!runID || error.status) throw error;
  }
  for (let attempt = 0; !finished && runID && attempt < 5; attempt++) {
    const response = await fetch(`/runs/${encodeURIComponent(runID)}/events`, {
      headers: lastID ? { "Last-Event-ID": lastID, "Accept": "text/event-stream" } : { "Accept": "text/event-stream" },
      credentials: "same-origin",
    }).catch(() => null);
    if (response && response.ok) await readEvents(response, onEvent).catch(() => {});
    if (!finished) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  refreshBalance();
  refreshApprovals();
}

// ---- The timeline ----------------------------------------------------------

function add(className, text) {
  $("timeline-empty").hidden = true;
  const item = document.createElement("li");
  item.className = className;
  item.textContent = text;
  $("timeline").appendChild(item);
  item.scrollIntoView({ block: "end", behavior: "smooth" });
  return item;
}

function money(amount, currency) {
  const negative = String(amount).startsWith("-");
  const [whole, fraction = "00"] = String(amount).replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const number = `${grouped}.${(fraction + "00").slice(0, 2)}`;
  return (negative ? "-" : "") + (currency === "USD" || !currency ? `$${number}` : `${number} ${currency}`);
}

function describe(action) {
  if (!action) return "an action";
  const amount = money(action.amount, action.currency);
  return action.kind === "deposit" ? `deposit ${amount} into ${action.to}` : `transfer ${amount} to ${action.to}`;
}

const decidedText = {
  approved: "Approved. The agent carries it out.",
  rejected: "Rejected. The agent is told, and nothing moves.",
  expired: "The approval expired. Nothing moved.",
  cancelled: "The approval was withdrawn.",
};

const toolNames = { get_balance: "checking the balance", deposit_money: "depositing", transfer_money: "transferring" };

function showEvent(name, data) {
  switch (name) {
    case "run_started": add("step", `Run ${data.run_id} started (${data.mode === "structured" ? "structured plan" : "tool calls"})`); break;
    case "plan": add("step", `Plan: ${(data.actions || []).map((a) => a.action || a.kind || "step").join(", ")}`); break;
    case "tool_call": add("step", `The agent is ${toolNames[data.name] || data.name}…`); break;
    case "tool_result": add("step", `Result: ${data.output}`); break;
    case "approval_required":
      state.runs.set(data.approval_id, data.run_id);
      add("step waiting", `Waiting for approval: ${describe(data.action)}. Decide on the right.`);
      refreshApprovals();
      break;
    case "approval_decided": state.lastDecision = data.status; add(`step decided-${data.status}`, decidedText[data.status] || `Approval ${data.status}.`); break;
    case "message": break; // the reply arrives with run_completed
    case "run_paused": break; // each approval it waits for came as approval_required
    case "decision":
      if (data.status === "pending") {
        add("step", `Your vote is recorded: ${data.approved_by.length} of ${data.required_approvers} approvals. Another approver must also decide.`);
      }
      break;
    case "run_completed": {
      // Green only for what went through; a refusal told back is plain news.
      const refused = (state.lastDecision && state.lastDecision !== "approved") || /^(DENIED|EXPIRED|FAILED)/.test(data.reply || "");
      add(refused ? "bubble agent done refused" : "bubble agent done", data.reply || "Done.");
      state.lastDecision = null;
      refreshBalance();
      break;
    }
    case "error": add("bubble agent failed", data.message || "The request could not be completed."); break;
    default: break;
  }
}

// ---- Chat ------------------------------------------------------------------

async function sendMessage(event) {
  event.preventDefault();
  const message = $("message").value.trim();
  if (!message) return;
  $("message").value = "";
  $("send").disabled = true;
  add("bubble user", message);
  try {
    await streamRun("/chat", { message, mode: $("mode").value });
  } catch (error) {
    add("bubble agent failed", error.message);
    if (error.status === 401) showSignIn();
  } finally {
    $("send").disabled = false;
    $("message").focus();
  }
}

// ---- Approvals ---------------------------------------------------------------

function age(createdAt, now) {
  const seconds = Math.max(0, Math.round((Date.parse(now) - Date.parse(createdAt)) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function renderApprovals(list, now) {
  const container = $("approvals");
  const open = new Set(list.map((a) => a.approval_id));
  for (const card of [...container.children]) if (!open.has(card.dataset.id)) card.remove();
  for (const approval of list) {
    let card = container.querySelector(`[data-id="${CSS.escape(approval.approval_id)}"]`);
    if (card && card.dataset.version !== String(approval.version) && !card.classList.contains("busy")) {
      // Edited elsewhere: show what it says now; a click then decides that version.
      const fresh = approvalCard(approval, true);
      card.replaceWith(fresh);
      card = fresh;
    }
    if (!card) {
      card = approvalCard(approval);
      container.appendChild(card);
    }
    card.querySelector(".age").textContent = age(approval.created_at, now);
    state.runs.set(approval.approval_id, approval.run_id);
  }
  $("pending-count").textContent = String(list.length);
  $("pending-count").classList.toggle("zero", list.length === 0);
  $("approvals-empty").hidden = list.length > 0;
}

// The figures that made the policy ask for people, in words: " · $270.00 in 24h, over $200.00".
function whyText(approval) {
  const figures = approval.policy_figures || {};
  const parts = [];
  if (figures.window_total) parts.push(`${money(figures.window_total, approval.action.currency)} in ${figures.window}, over ${money(figures.limit, approval.action.currency)}`);
  else if (figures.window_count) parts.push(`${figures.window_count} in ${figures.window}, over ${figures.limit}`);
  if (figures.second_person) parts.push(figures.second_person);
  if (approval.required_approvers > 1) parts.push(`${(approval.approved_by || []).length} of ${approval.required_approvers} approvals`);
  return parts.length ? ` · ${parts.join(" · ")}` : "";
}

function approvalCard(approval, edited) {
  const action = approval.action;
  const card = document.createElement("li");
  card.className = edited ? "approval edited" : "approval";
  card.dataset.id = approval.approval_id;
  // The version shown is the version decided: POST /execute sends it back.
  card.dataset.version = String(approval.version);
  const headline = document.createElement("div");
  headline.className = "headline";
  const amount = document.createElement("span");
  amount.className = "amount";
  amount.textContent = money(action.amount, action.currency);
  const when = document.createElement("span");
  when.className = "age";
  headline.append(amount, when);
  const what = document.createElement("p");
  what.className = "what";
  what.textContent = action.kind === "deposit" ? `Deposit into ${action.to}` : `Transfer to ${action.to}` + (action.from ? ` from ${action.from}` : "");
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = `${approval.approval_id} · requested by ${approval.requested_by} · rule ${approval.policy_rule}` + whyText(approval);
  const reason = document.createElement("input");
  reason.type = "text";
  reason.placeholder = "Reason (optional)";
  reason.maxLength = 1000;
  reason.className = "reason";
  const actions = document.createElement("div");
  actions.className = "actions";
  const approve = document.createElement("button");
  approve.type = "button";
  approve.className = "button approve";
  approve.textContent = "Approve";
  const reject = document.createElement("button");
  reject.type = "button";
  reject.className = "button reject";
  reject.textContent = "Reject";
  approve.addEventListener("click", () => decide(approval, true, reason.value, card));
  reject.addEventListener("click", () => decide(approval, false, reason.value, card));
  actions.append(approve, reject);
  card.append(headline, what, meta);
  if (edited) {
    const notice = document.createElement("p");
    notice.className = "edited-notice";
    notice.setAttribute("role", "status");
    notice.textContent = `Changed since you first saw it (now version ${approval.version}). Review it again before you decide.`;
    card.append(notice);
  }
  card.append(reason, actions);
  return card;
}

async function decide(approval, approved, reason, card) {
  card.classList.add("busy");
  for (const button of card.querySelectorAll("button")) button.disabled = true;
  state.decided.add(approval.approval_id);
  add("bubble user", `${approved ? "Approve" : "Reject"} ${describe(approval.action)}${reason ? ` — ${reason}` : ""}`);
  const body = { run_id: approval.run_id, approval_id: approval.approval_id, version: approval.version, approved, reason: reason || undefined };
  try {
    await streamRun("/execute", body, approval.run_id);
  } catch (error) {
    if (error.reason === "VERSION_MISMATCH") {
      // Someone edited it after this card was drawn: nothing was decided; show the new version.
      state.decided.delete(approval.approval_id);
      add("bubble agent failed stale", "Nothing was decided: this request was changed by someone else after you opened it. " +
        "Its new version is shown on the right; review it and decide again.");
      card.classList.remove("busy");
      for (const button of card.querySelectorAll("button")) button.disabled = false;
      card.dataset.version = "stale";  // the next refresh draws the new version in its place
      refreshApprovals();
      return;
    }
    add("bubble agent failed", error.message);
    card.classList.remove("busy");
    for (const button of card.querySelectorAll("button")) button.disabled = false;
  }
}

async function refreshApprovals() {
  try {
    const page = await api("GET", "/approvals");
    const before = new Set(state.runs.keys());
    renderApprovals(page.approvals, page.now);
    $("approvals-error").hidden = true;
    $("live-dot").classList.remove("stale");
    // An approval of a run shown here, decided elsewhere (a link, the CLI): show how the run went on.
    const pending = new Set(page.approvals.map((a) => a.approval_id));
    for (const id of before) {
      if (!pending.has(id) && !state.decided.has(id)) {
        state.decided.add(id);
        followElsewhere(state.runs.get(id));
      }
    }
  } catch (error) {
    if (error.status === 401) return showSignIn();
    $("approvals-error").textContent = error.message;
    $("approvals-error").hidden = false;
    $("live-dot").classList.add("stale");
  }
}

async function followElsewhere(runID) {
  if (!runID) return;
  add("step", "Decided elsewhere; following the run…");
  for (let attempt = 0; attempt < 10; attempt++) {
    let finished = false;
    const response = await fetch(`/runs/${encodeURIComponent(runID)}/events?last_event_id=0`, { credentials: "same-origin" }).catch(() => null);
    if (response && response.ok) {
      const seen = [];
      await readEvents(response, (name, data) => seen.push([name, data])).catch(() => {});
      const last = seen[seen.length - 1];
      if (last && (last[0] === "run_completed" || last[0] === "error")) {
        showEvent(last[0], last[1]);
        finished = true;
      }
    }
    if (finished) break;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  refreshBalance();
}

// ---- Balance -------------------------------------------------------------------

async function refreshBalance() {
  try {
    const balance = await api("GET", "/balance");
    const text = money(balance.available, balance.currency);
    const value = $("balance");
    if (value.textContent !== text && value.textContent !== "—") {
      value.classList.add("changed");
      setTimeout(() => value.classList.remove("changed"), 1500);
    }
    value.textContent = text;
    $("balance-detail").textContent = balance.held !== "0.00" ? `posted ${money(balance.posted, balance.currency)} · held ${money(balance.held, balance.currency)}` : "";
  } catch (error) {
    if (error.status === 401) showSignIn();
  }
}

// ---- Session -------------------------------------------------------------------

function showSignIn() {
  state.csrf = null;
  clearInterval(state.pollTimer);
  $("app").hidden = true;
  $("account").hidden = true;
  $("sign-in").hidden = false;
  $("token").focus();
}

function showApp(session) {
  state.csrf = session.csrf_token;
  state.account = session.account;
  $("approver").textContent = session.approver;
  $("account-name").textContent = session.account;
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("account").hidden = false;
  refreshBalance();
  refreshApprovals();
  clearInterval(state.pollTimer);
  state.pollTimer = setInterval(refreshApprovals, 2000);
  $("message").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("sign-in-error").hidden = true;
  try {
    showApp(await api("POST", "/login", { token: $("token").value }));
    $("token").value = "";
  } catch (error) {
    $("sign-in-error").textContent = error.message;
    $("sign-in-error").hidden = false;
  }
}

async function signOut() {
  await api("POST", "/logout", {}).catch(() => {});
  showSignIn();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("chat-form").addEventListener("submit", sendMessage);
  $("sign-out").addEventListener("click", signOut);
  try {
    showApp(await api("GET", "/session"));
  } catch {
    showSignIn();
  }
});
