// The approval inbox: sign in, chat with the agent over Server-Sent Events, work the
// approvals (filter, search, open one, decide, edit), read each one's history.
// Plain JavaScript, no build step.
"use strict";

const PAGE = 25;          // rows per page of the inbox
const MAX_ROWS = 100;     // the gateway's largest page
const POLL_MS = 2000;     // the inbox's live refresh
const REFUSALS = /^(ERROR|DENIED|EXPIRED|FAILED|CANCELLED)\b/;

const state = {
  csrf: null, account: "checking", approver: null, pollTimer: null, clockSkew: 0,
  runs: new Map(),          // approval id → run id, for approvals this page showed
  decided: new Set(),       // approvals decided from this page
  listed: new Set(),        // pending approvals the last list showed (what "decided elsewhere" compares with)
  lastDecision: null, refusedRuns: new Set(), pages: 1, detailID: null, detailTimer: null, detail: null, auditNext: null,
  listRequests: 0, listDrawn: 0,  // the inbox's list requests, and the newest whose answer was drawn
};
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
async function streamRun(path, body, knownRunID, onEvent = showEvent) {
  let runID = knownRunID || null;
  let lastID = null;
  let finished = false;
  const handle = (name, data, id) => {
    if (data.run_id) runID = data.run_id;
    if (id) lastID = id;
    if (["run_paused", "run_completed", "error"].includes(name)) finished = true;
    onEvent(name, data);
  };
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": state.csrf, "Accept": "text/event-stream" };
  try {
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
    if (!response.ok) throw problem(response, await response.json().catch(() => ({})));
    await readEvents(response, handle);
  } catch (error) {
    if (!runID || error.status) throw error;
  }
  for (let attempt = 0; !finished && runID && attempt < 5; attempt++) {
    const response = await fetch(`/runs/${encodeURIComponent(runID)}/events`, {
      headers: lastID ? { "Last-Event-ID": lastID, "Accept": "text/event-stream" } : { "Accept": "text/event-stream" },
      credentials: "same-origin",
    }).catch(() => null);
    if (response && response.ok) await readEvents(response, handle).catch(() => {});
    if (!finished) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  refreshBalance();
  refreshApprovals();
}

// ---- Words and figures -------------------------------------------------------

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

function capitalized(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

function now() { return Date.now() + state.clockSkew; }

function span(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d`;
}

function age(createdAt) {
  const seconds = Math.max(0, Math.round((now() - Date.parse(createdAt)) / 1000));
  return seconds < 60 ? "just now" : `${span(seconds)} ago`;
}

function expiry(approval) {
  if (approval.status !== "pending") return "";
  const seconds = Math.round((Date.parse(approval.expires_at) - now()) / 1000);
  return seconds > 0 ? `expires in ${span(seconds)}` : "expiring now";
}

function votes(approval) {
  const needed = approval.required_approvers || 0;
  if (needed === 0) return "approved by the policy";
  return `${(approval.approved_by || []).length} of ${needed} approval${needed === 1 ? "" : "s"}`;
}

// The figures that made the policy ask for people, in words.
function whyText(approval) {
  const figures = approval.policy_figures || {};
  const parts = [];
  if (figures.window_total) parts.push(`${money(figures.window_total, approval.action.currency)} in ${figures.window}, over ${money(figures.limit, approval.action.currency)}`);
  else if (figures.window_count) parts.push(`${figures.window_count} in ${figures.window}, over ${figures.limit}`);
  else if (figures.amount) {
    parts.push(figures.limit ? `${money(figures.amount, approval.action.currency)} over ${money(figures.limit, approval.action.currency)}` : money(figures.amount, approval.action.currency));
  }
  if (figures.second_person) parts.push(figures.second_person);
  return parts.join(" · ");
}

// What the signed-in person may do with this version: approve (unless they approved it
// already, or asked for it at a tier that needs other people), reject, and why not.
function votePlan(approval) {
  if (approval.status !== "pending") return { open: false, approve: false, note: `This request is ${approval.status}.` };
  if ((approval.approved_by || []).includes(state.approver)) {
    return { open: true, approve: false, note: `You approved version ${approval.version}; ${votes(approval)} so far. Another approver must also decide.` };
  }
  if (approval.requested_by === state.approver && !approval.requester_may_approve && approval.required_approvers > 1) {
    return { open: true, approve: false, note: "You asked for this, and this amount needs other people's approval: you may still reject it." };
  }
  return { open: true, approve: true, note: null };
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

const decidedText = {
  approved: "Approved. The agent carries it out.",
  rejected: "Rejected. The agent is told, and nothing moves.",
  expired: "The approval expired. Nothing moved.",
  cancelled: "The approval was withdrawn.",
};

const toolNames = { get_balance: "checking the balance", deposit_money: "depositing", transfer_money: "transferring" };

function planText(steps) {
  return (steps || []).map((step) => {
    const kind = step.action_type || "step";
    // The structured plan's action types (Sources/Agent/Agent+Structured.swift).
    if (kind === "check_balance") return "check the balance";
    const amount = step.amount ? money(step.amount) : "";
    if (kind === "deposit") return `deposit ${amount}`.trim();
    if (kind === "transfer") return `transfer ${amount} to ${step.to_account || "?"}`.replace("  ", " ");
    return kind.replace(/_/g, " ");
  }).join(", ");
}

function showEvent(name, data) {
  switch (name) {
    case "run_started": add("step", `Run ${data.run_id} started (${data.mode === "structured" ? "structured plan" : "tool calls"})`); break;
    case "plan": add("step", `Plan: ${planText(data.actions)}`); break;
    case "tool_call": add("step", `The agent is ${toolNames[data.name] || data.name}…`); break;
    case "tool_result":
      if (REFUSALS.test(data.output || "")) state.refusedRuns.add(data.run_id);
      add(REFUSALS.test(data.output || "") ? "step refused" : "step", `Result: ${data.output}`);
      break;
    case "approval_required":
      state.runs.set(data.approval_id, data.run_id);
      add("step waiting", `Waiting for approval: ${describe(data.action)}. It is in the approvals list.`);
      refreshApprovals();
      break;
    case "approval_decided":
      state.lastDecision = data.status;
      if (data.status !== "approved") state.refusedRuns.add(data.run_id);
      add(`step decided-${data.status}`, decidedText[data.status] || `Approval ${data.status}.`);
      break;
    case "message": break; // the reply arrives with run_completed
    case "run_paused": break; // each approval it waits for came as approval_required
    case "decision":
      if (data.status === "pending") {
        add("step", `Your vote is recorded: ${data.approved_by.length} of ${data.required_approvers} approvals. Another approver must also decide.`);
      }
      break;
    case "run_completed": {
      // Green only for what went through: a refusal or a tool's error told back is plain news.
      const refused = state.refusedRuns.has(data.run_id) || REFUSALS.test(data.reply || "");
      add(refused ? "bubble agent done refused" : "bubble agent done", data.reply || "Done.");
      state.refusedRuns.delete(data.run_id);
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

// ---- The inbox ---------------------------------------------------------------

const AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;

// The list's query from the filters; null (with the message shown) when one is not valid.
function inboxQuery() {
  const params = new URLSearchParams();
  params.set("status", $("filter-status").value);
  params.set("order", $("filter-order").value);
  const kind = $("filter-kind").value;
  if (kind) params.set("kind", kind);
  for (const [id, name] of [["filter-min", "min_amount"], ["filter-max", "max_amount"]]) {
    const value = $(id).value.trim().replace(/^\$/, "").replace(/,/g, "");
    if (!value) continue;
    if (!AMOUNT.test(value)) {
      showListError(`${id === "filter-min" ? "From" : "To"}: write an amount like 150 or 150.50`);
      return null;
    }
    params.set(name, value);
  }
  const q = $("filter-q").value.trim();
  if (q) params.set("q", q);
  params.set("limit", String(Math.min(PAGE * state.pages, MAX_ROWS)));
  return params;
}

function showListError(message) {
  $("approvals-error").textContent = message;
  $("approvals-error").hidden = false;
  $("approvals-empty").hidden = true;
  $("live-dot").classList.add("stale");
}

function renderApprovals(page) {
  const list = page.approvals;
  const container = $("approvals");
  const open = new Set(list.map((a) => a.approval_id));
  for (const card of [...container.children]) if (!open.has(card.dataset.id)) card.remove();
  let previous = null;
  for (const approval of list) {
    let card = container.querySelector(`[data-id="${CSS.escape(approval.approval_id)}"]`);
    if (card && card.dataset.version !== String(approval.version) && !card.classList.contains("busy")) {
      // Edited elsewhere: show what it says now; a click then decides that version.
      const fresh = approvalCard(approval, true);
      card.replaceWith(fresh);
      card = fresh;
    } else if (card && card.dataset.status !== approval.status) {
      const fresh = approvalCard(approval, card.classList.contains("edited"));
      card.replaceWith(fresh);
      card = fresh;
    }
    if (!card) card = approvalCard(approval);
    // In the list's order: a new request lands where the order puts it (at the top, newest first).
    const expected = previous ? previous.nextSibling : container.firstChild;
    if (card !== expected) container.insertBefore(card, expected);
    card.querySelector(".age").textContent = [age(approval.created_at), expiry(approval)].filter(Boolean).join(" · ");
    state.runs.set(approval.approval_id, approval.run_id);
    previous = card;
  }
  const status = $("filter-status").value;
  $("inbox-title").textContent = status === "pending" ? "Waiting for approval" : status === "all" ? "All approvals" : capitalized(status);
  $("pending-count").textContent = page.next_cursor ? `${list.length}+` : String(list.length);
  $("pending-count").classList.toggle("zero", list.length === 0);
  const filtered = $("filter-q").value.trim() || $("filter-kind").value || $("filter-min").value.trim() || $("filter-max").value.trim();
  $("approvals-empty").textContent = status === "pending" && !filtered
    ? "Nothing waits for you. New requests appear here by themselves."
    : "No approvals match these filters.";
  $("approvals-empty").hidden = list.length > 0;
  $("more-bar").hidden = !page.next_cursor && list.length < PAGE;
  $("more").hidden = !page.next_cursor || list.length >= MAX_ROWS;
  $("more-note").textContent = page.next_cursor
    ? (list.length >= MAX_ROWS ? `Showing the first ${list.length}; narrow the filters to see the rest.` : `Showing ${list.length}; more match.`)
    : `All ${list.length} shown.`;
}

function approvalCard(approval, edited, readOnly = false) {
  const action = approval.action;
  const card = document.createElement("li");
  card.className = `approval status-${approval.status}` + (edited ? " edited" : "");
  card.dataset.id = approval.approval_id;
  card.dataset.status = approval.status;
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
  card.append(headline, what);
  if (action.memo) {
    const purpose = document.createElement("p");
    purpose.className = "purpose";
    purpose.textContent = `For: ${action.memo}`;
    card.append(purpose);
  }
  const meta = document.createElement("p");
  meta.className = "meta";
  const why = whyText(approval);
  meta.textContent = `requested by ${approval.requested_by} · ${votes(approval)} · rule ${approval.policy_rule}` + (why ? ` · ${why}` : "");
  const open = document.createElement("a");
  open.className = "open";
  open.href = `/approvals/${encodeURIComponent(approval.approval_id)}`;
  open.textContent = approval.status === "pending" ? "Open: history, conversation, edit" : `Open (${approval.status})`;
  open.addEventListener("click", navigate);
  card.append(meta, open);
  if (edited) {
    const notice = document.createElement("p");
    notice.className = "edited-notice";
    notice.setAttribute("role", "status");
    notice.textContent = `Changed since you first saw it (now version ${approval.version}). Review it again before you decide.`;
    card.append(notice);
  }
  const plan = votePlan(approval);
  if (!plan.open || readOnly) return card;
  if (plan.note) {
    const note = document.createElement("p");
    note.className = "vote-note";
    note.textContent = plan.note;
    card.append(note);
  }
  const reason = document.createElement("input");
  reason.type = "text";
  reason.placeholder = "Reason (optional; the agent's model reads it)";
  reason.setAttribute("aria-label", `Reason for ${approval.approval_id}`);
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
  actions.append(...(plan.approve ? [approve, reject] : [reject]));
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
  if (state.approver === null) return;
  const query = inboxQuery();
  if (!query) return;
  // Lists can answer out of order (a slow one started before a newer one): only the
  // newest request's answer is drawn, so an old list never hides a newer approval.
  const sequence = ++state.listRequests;
  try {
    const page = await api("GET", `/approvals?${query}`);
    if (sequence < state.listDrawn) return;
    state.listDrawn = sequence;
    state.clockSkew = Date.parse(page.now) - Date.now();
    $("approvals-error").hidden = true;
    renderApprovals(page);
    $("live-dot").classList.remove("stale");
    // A pending approval the last list showed, of a run this page follows, decided elsewhere
    // (a link, the CLI, another approver): show how the run went on. Only what a list showed
    // counts: an approval announced by the chat before any list had it is not "gone".
    if (query.get("status") === "pending" && !query.get("q") && !query.get("kind") && !query.get("min_amount") && !query.get("max_amount")) {
      const pending = new Set(page.approvals.map((a) => a.approval_id));
      for (const id of state.listed) {
        if (!pending.has(id) && !state.decided.has(id) && !page.next_cursor) {
          state.decided.add(id);
          followElsewhere(state.runs.get(id));
        }
      }
      state.listed = pending;
    }
  } catch (error) {
    if (error.status === 401) return showSignIn();
    showListError(error.message);
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
        for (const [name, data] of seen) if (name === "tool_result" && REFUSALS.test(data.output || "")) state.refusedRuns.add(data.run_id);
        showEvent(last[0], last[1]);
        finished = true;
      }
    }
    if (finished) break;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  refreshBalance();
}

function filtersChanged() {
  state.pages = 1;
  state.listed = new Set();
  refreshApprovals();
}

// ---- One approval ------------------------------------------------------------

function navigate(event) {
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  history.pushState({}, "", event.currentTarget.getAttribute("href"));
  route();
}

const VIEWS = ["app", "detail", "run-view", "audit-view"];

function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
  for (const link of document.querySelectorAll("#views a")) {
    const current = (link.dataset.view === "audit") === (id === "audit-view");
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
}

function route() {
  const approval = location.pathname.match(/^\/approvals\/([A-Za-z0-9_.:-]{1,128})$/);
  const run = location.pathname.match(/^\/runs\/([A-Za-z0-9_.:-]{1,128})$/);
  clearInterval(state.detailTimer);
  if (state.approver === null) return;
  state.detailID = null;
  if (approval) {
    showView("detail");
    showDetail(decodeURIComponent(approval[1]), true);
    state.detailTimer = setInterval(() => showDetail(state.detailID, false), POLL_MS * 2);
  } else if (run) {
    showView("run-view");
    state.detailID = run[1];
    showRun(decodeURIComponent(run[1]));
    state.detailTimer = setInterval(() => showRun(decodeURIComponent(run[1])), POLL_MS * 2);
  } else if (location.pathname === "/audit") {
    showView("audit-view");
    state.detailID = "audit";
    showAudit(false);
  } else {
    showView("app");
    refreshApprovals();
  }
}

async function showDetail(id, fresh) {
  state.detailID = id;
  if (fresh) {
    $("detail-body").hidden = true;
    $("decide-error").hidden = true;
    $("decide-result").hidden = true;
    $("decide-reason").value = "";
    $("edit").open = false;
  }
  try {
    const detail = await api("GET", `/approvals/${encodeURIComponent(id)}`);
    if (state.detailID !== id) return;
    state.clockSkew = Date.parse(detail.now) - Date.now();
    renderDetail(detail, fresh);
    $("detail-error").hidden = true;
  } catch (error) {
    if (error.status === 401) return showSignIn();
    $("detail-error").textContent = error.status === 404 ? `No approval ${id}: it may have been typed wrong, or it belongs to another stack.` : error.message;
    $("detail-error").hidden = false;
    if (fresh) $("detail-body").hidden = true;
  }
}

function fact(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function renderDetail(detail, fresh) {
  const approval = detail.approval;
  const action = approval.action;
  const previous = state.detail;
  state.detail = detail;
  document.title = `hitl · ${approval.approval_id}`;
  $("detail-id").replaceChildren(
    document.createTextNode(`Approval ${approval.approval_id} · version ${approval.version} · `), runLink(approval.run_id));
  $("detail-title").textContent = capitalized(describe(action));
  $("detail-status").textContent = approval.status;
  $("detail-status").className = `status-badge status-${approval.status}`;
  $("detail-summary").textContent = [votes(approval), expiry(approval)].filter(Boolean).join(" · ");

  const facts = $("facts");
  facts.replaceChildren();
  fact(facts, "Amount", money(action.amount, action.currency));
  if (action.kind === "transfer") {
    fact(facts, "From", action.from || "—");
    fact(facts, "To", action.to);
  } else {
    fact(facts, "Into", action.to);
  }
  if (detail.balance) {
    const b = detail.balance;
    fact(facts, `${b.account} now`, `${money(b.available, b.currency)} available · ${money(b.held, b.currency)} held · ${money(b.posted, b.currency)} posted`);
  }
  fact(facts, "Purpose", action.memo || "none given");
  fact(facts, "Requested by", approval.requested_by);
  fact(facts, "Why a person", `rule ${approval.policy_rule}` + (whyText(approval) ? ` · ${whyText(approval)}` : "") + ` · ${votes(approval)}`);
  if ((approval.approved_by || []).length) fact(facts, "Approved by", approval.approved_by.join(", "));
  fact(facts, approval.status === "pending" ? "Expires" : "Was to expire", `${new Date(approval.expires_at).toLocaleString()}` + (expiry(approval) ? ` (${expiry(approval)})` : ""));
  if (approval.reason) fact(facts, "Reason", approval.reason);
  if (approval.outcome) fact(facts, "What ran", `${approval.outcome.status}${approval.outcome.detail ? `: ${approval.outcome.detail}` : ""}`);

  renderDiff(approval, detail.audit || []);
  renderTranscript(detail.transcript || [], approval.approval_id, detail.run);
  renderAudit(detail.audit || []);
  renderDecision(approval, fresh, previous);
  $("detail-body").hidden = false;
}

function renderDiff(approval, audit) {
  const before = approval.original_action;
  const after = approval.action;
  const rows = [];
  for (const [field, label] of [["amount", "Amount"], ["to", "To"], ["from", "From"], ["memo", "Memo"], ["currency", "Currency"]]) {
    const was = before[field] ?? "";
    const now = after[field] ?? "";
    if (String(was) === String(now)) continue;
    const shown = (value) => (field === "amount" && value !== "" ? money(value, after.currency) : (value || "—"));
    rows.push([label, shown(was), shown(now)]);
  }
  const body = $("diff").querySelector("tbody");
  body.replaceChildren(...rows.map(([label, was, now]) => {
    const row = document.createElement("tr");
    for (const [index, text] of [label, was, now].entries()) {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) cell.scope = "row";
      cell.textContent = text;
      if (index === 1) cell.className = "was";
      if (index === 2) cell.className = "now";
      row.append(cell);
    }
    return row;
  }));
  const editors = audit.filter((r) => r.step === "edited").map((r) => `${r.actor} (version ${r.version})`);
  $("diff-note").textContent = editors.length ? `Edited by ${editors.join(", ")}. Votes count only for the version they were cast on.` : "";
  $("versions-section").hidden = rows.length === 0;
}

function transcriptLine(event, approvalID) {
  switch (event.type) {
    case "run_started": return ["said", `${event.requested_by || "The person"} asked: “${event.message || "(not recorded)"}”`];
    case "plan": return ["step", `The model planned: ${planText(event.actions)}`];
    case "tool_call": return ["step", `The model asked to ${toolCallText(event.name, event.arguments)}`];
    case "tool_result": return [REFUSALS.test(event.output || "") ? "step refused" : "step", `Result: ${event.output}`];
    case "approval_required": return [event.approval_id === approvalID ? "waiting this" : "waiting", `Needs a person: ${describe(event.action)} (${event.approval_id})`];
    case "approval_decided": return [`decided-${event.status}`, `${event.approval_id} was ${event.status}`];
    case "message": return ["said agent", `The agent: ${event.text}`];
    case "run_completed": return [REFUSALS.test(event.reply || "") ? "said agent refused-reply" : "said agent", `The agent replied: ${event.reply || "done"}`];
    case "error": return ["refused", `The run failed: ${event.message || event.reason}`];
    default: return null;
  }
}

// A tool call in words: "transfer $150.00 to alice", from the arguments as the model wrote them.
function toolCallText(name, argumentsText) {
  let args = {};
  try { args = JSON.parse(argumentsText || "{}") || {}; } catch { args = {}; }
  const amount = args.amount !== undefined && /^\d+(\.\d+)?$/.test(String(args.amount)) ? money(String(args.amount)) : args.amount;
  switch (name) {
    case "get_balance": return "check the balance";
    case "deposit_money": return `deposit ${amount ?? "?"}`;
    case "transfer_money": return `transfer ${amount ?? "?"} to ${args.to_account ?? "?"}`;
    default: return `${name} ${argumentsText || ""}`.trim();
  }
}

function renderTranscript(events, approvalID, run) {
  renderTranscriptInto($("transcript"), events, approvalID, run);
}

function renderTranscriptInto(list, events, approvalID, run) {
  const items = [];
  // The model's answer comes twice (message, then run_completed with the same reply): once is enough.
  const replies = new Set(events.filter((e) => e.type === "run_completed").map((e) => e.reply));
  for (const event of events) {
    if (event.type === "message" && replies.has(event.text)) continue;
    const line = transcriptLine(event, approvalID);
    if (!line) continue;
    const item = document.createElement("li");
    item.className = line[0];
    item.textContent = line[1];
    if (event.at) item.title = new Date(event.at).toLocaleString();
    items.push(item);
  }
  if (run && run.status === "running") {
    const item = document.createElement("li");
    item.className = "step";
    item.textContent = "The agent is working on it…";
    items.push(item);
  }
  if (!items.length) {
    const item = document.createElement("li");
    item.className = "step";
    item.textContent = "The run's story could not be read just now.";
    items.push(item);
  }
  list.replaceChildren(...items);
}

const stepWords = {
  submitted: "asked for by the agent", vote: "voted", edited: "edited", approved: "approved", rejected: "rejected",
  expired: "expired", cancelled: "cancelled", completed: "carried out", failed: "could not be carried out", notified: "notified",
};

function renderAudit(records) {
  $("audit").replaceChildren(...records.map((record) => {
    const item = document.createElement("li");
    let detail = {};
    try { detail = JSON.parse(record.detail || "{}"); } catch { detail = {}; }
    const extra = [detail.decision, detail.reason, detail.outcome && detail.outcome.status, detail.channel].filter(Boolean).join(" · ");
    const time = document.createElement("time");
    time.dateTime = record.at;
    time.textContent = new Date(record.at).toLocaleString();
    const text = document.createElement("span");
    text.textContent = ` ${record.actor} · ${stepWords[record.step] || record.step} · version ${record.version}` + (extra ? ` · ${extra}` : "");
    item.append(time, text);
    return item;
  }));
}

function renderDecision(approval, fresh, previous) {
  const plan = votePlan(approval);
  $("decide").hidden = !plan.open && $("decide-result").hidden;
  $("decide-note").textContent = plan.note || `You decide version ${approval.version}. Reject with a reason the agent's model will read, or change the request before approving it.`;
  for (const id of ["reject-version", "decide-reason-box"]) $(id).hidden = !plan.open;
  for (const id of ["approve-version", "edit"]) $(id).hidden = !plan.approve;
  $("approve-version").textContent = `Approve version ${approval.version}`;
  const changed = previous && previous.approval.approval_id === approval.approval_id && previous.approval.version !== approval.version;
  if (fresh || changed) {
    $("edit-amount").value = approval.action.amount;
    $("edit-to").value = approval.action.to;
    $("edit-memo").value = approval.action.memo || "";
  }
  if (changed && !fresh) {
    $("decide-error").textContent = `Changed by ${previous.approval.version < approval.version ? "another approver" : "someone"} while you looked: now version ${approval.version}. The changes are shown above; review them before you decide.`;
    $("decide-error").hidden = false;
  }
}

async function decideHere(approved, edited) {
  const approval = state.detail.approval;
  const reason = $("decide-reason").value.trim();
  $("decide-error").hidden = true;
  $("decide-result").hidden = true;
  if (!approved && !reason) {
    $("decide-error").textContent = "Say why you reject it: the agent's model reads the reason and tells the person.";
    $("decide-error").hidden = false;
    $("decide-reason").focus();
    return;
  }
  const buttons = ["approve-version", "reject-version", "approve-edit"].map($);
  for (const button of buttons) button.disabled = true;
  state.decided.add(approval.approval_id);
  const body = { run_id: approval.run_id, approval_id: approval.approval_id, version: approval.version, approved, reason: reason || undefined };
  if (edited) body.edited_action = edited;
  const told = [];
  try {
    await streamRun("/execute", body, approval.run_id, (name, data) => {
      if (name === "decision" && data.status === "pending") told.push(`Your vote is recorded: ${data.approved_by.length} of ${data.required_approvers} approvals.`);
      if (name === "run_completed") told.push(`The agent: ${data.reply || "done"}`);
      if (name === "error") told.push(`The run failed: ${data.message}`);
    });
    $("decide-result").textContent = told.join(" ") || (approved ? "Approved." : "Rejected.");
    $("decide-result").className = approved && !told.some((text) => /DENIED|FAILED|ERROR|failed/.test(text)) ? "ok-note" : "plain-note";
    $("decide-result").hidden = false;
  } catch (error) {
    state.decided.delete(approval.approval_id);
    $("decide-error").textContent = error.reason === "VERSION_MISMATCH"
      ? "Nothing was decided: another approver changed this request after you opened it. The new version is shown; review it and decide again."
      : error.message;
    $("decide-error").hidden = false;
  } finally {
    for (const button of buttons) button.disabled = false;
  }
  await showDetail(approval.approval_id, false);
}

function submitEdit(event) {
  event.preventDefault();
  const approval = state.detail.approval;
  const amount = $("edit-amount").value.trim().replace(/^\$/, "").replace(/,/g, "");
  const to = $("edit-to").value.trim().toLowerCase();
  const memo = $("edit-memo").value.trim();
  const problems = [];
  if (!AMOUNT.test(amount) || Number(amount) <= 0) problems.push("Amount: write a positive amount like 150 or 150.50");
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(to)) problems.push("Payee: an account name such as alice (letters, digits, '-' and '_')");
  if (problems.length) {
    $("decide-error").textContent = problems.join(". ");
    $("decide-error").hidden = false;
    return;
  }
  const [whole, fraction = ""] = amount.split(".");
  const edited = { ...approval.action, amount: `${whole}.${(fraction + "00").slice(0, 2)}`, to };
  if (memo) edited.memo = memo; else delete edited.memo;
  decideHere(true, edited);
}

function runLink(runID) {
  const link = document.createElement("a");
  link.href = `/runs/${encodeURIComponent(runID)}`;
  link.textContent = `run ${runID}`;
  link.addEventListener("click", navigate);
  return link;
}

// ---- One run ------------------------------------------------------------------

async function showRun(runID) {
  try {
    const story = await api("GET", `/runs/${encodeURIComponent(runID)}/transcript`);
    if (state.detailID !== runID && state.detailID !== encodeURIComponent(runID)) return;
    const run = story.run;
    const started = story.transcript.find((e) => e.type === "run_started");
    document.title = `hitl · ${runID}`;
    $("run-id").textContent = `Run ${runID}` + (started && started.requested_by ? ` · for ${started.requested_by}` : "");
    $("run-title").textContent = started && started.message ? `“${started.message}”` : `Run ${runID}`;
    $("run-status").textContent = run.status;
    $("run-status").className = `status-badge status-${run.status === "awaiting_approval" ? "pending" : run.status}`;
    $("run-summary").textContent = run.status === "awaiting_approval"
      ? `waiting for ${run.pending.length} approval${run.pending.length === 1 ? "" : "s"}`
      : (run.reply ? `replied: ${run.reply}` : "");
    renderTranscriptInto($("run-transcript"), story.transcript, null, run);
    $("run-approvals").replaceChildren(...story.approvals.map((a) => approvalCard(a, false, true)));
    if (!story.approvals.length) {
      const none = document.createElement("li");
      none.className = "empty";
      none.textContent = "No action of this run needed a person.";
      $("run-approvals").append(none);
    }
    $("run-body").hidden = false;
    $("run-error").hidden = true;
  } catch (error) {
    if (error.status === 401) return showSignIn();
    $("run-error").textContent = error.status === 404 ? `No run ${runID}: it may have been typed wrong, or pruned.` : error.message;
    $("run-error").hidden = false;
  }
}

// ---- The audit log ------------------------------------------------------------

function localToRFC3339(value) {
  return value ? new Date(value).toISOString() : "";
}

async function showAudit(more) {
  const params = new URLSearchParams({ limit: "50" });
  const since = localToRFC3339($("audit-since").value);
  const until = localToRFC3339($("audit-until").value);
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  if (more && state.auditNext) params.set("after_seq", String(state.auditNext));
  try {
    const page = await api("GET", `/audit?${params}`);
    const verdict = page.verification;
    $("audit-verdict").textContent = verdict.ok ? "chain verified" : "chain broken";
    $("audit-verdict").className = `status-badge ${verdict.ok ? "status-completed" : "status-failed"}`;
    $("audit-verdict-detail").textContent = verdict.ok
      ? `${verdict.records} records, every hash and link checked; head ${String(verdict.head_hash).slice(0, 12)}… at #${verdict.head_seq}`
      : `${verdict.problems.length} problem(s): ${verdict.problems.slice(0, 3).map((p) => `#${p.seq} ${p.problem}`).join("; ")}`;
    const rows = page.records.map((record) => {
      const row = document.createElement("tr");
      let detail = {};
      try { detail = JSON.parse(record.detail || "{}"); } catch { detail = {}; }
      const extra = [detail.decision, detail.reason, detail.outcome && detail.outcome.status].filter(Boolean).join(" · ");
      const link = document.createElement("a");
      link.href = `/approvals/${encodeURIComponent(record.approval_id)}`;
      link.textContent = record.approval_id;
      link.addEventListener("click", navigate);
      const cells = [String(record.seq), new Date(record.at).toLocaleString(), link, record.actor, stepWords[record.step] || record.step, extra];
      for (const value of cells) {
        const cell = document.createElement("td");
        if (typeof value === "string") cell.textContent = value; else cell.append(value);
        row.append(cell);
      }
      return row;
    });
    const body = $("audit-table").querySelector("tbody");
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    state.auditNext = page.next_after_seq || null;
    $("audit-more").hidden = !state.auditNext;
    $("audit-more-note").textContent = state.auditNext ? "More records in this period." : "";
    $("audit-empty").hidden = body.children.length > 0;
    $("audit-error").hidden = true;
  } catch (error) {
    if (error.status === 401) return showSignIn();
    $("audit-error").textContent = error.message;
    $("audit-error").hidden = false;
  }
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
  state.approver = null;
  clearInterval(state.pollTimer);
  clearInterval(state.detailTimer);
  for (const view of VIEWS) $(view).hidden = true;
  $("views").hidden = true;
  $("account").hidden = true;
  $("sign-in").hidden = false;
  $("token").focus();
}

function showApp(session) {
  state.csrf = session.csrf_token;
  state.account = session.account;
  state.approver = session.approver;
  $("approver").textContent = session.approver;
  $("account-name").textContent = session.account;
  $("sign-in").hidden = true;
  $("account").hidden = false;
  $("views").hidden = false;
  refreshBalance();
  route();
  clearInterval(state.pollTimer);
  state.pollTimer = setInterval(() => { if (!state.detailID) refreshApprovals(); }, POLL_MS);
  if (!state.detailID) $("message").focus();
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
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); filtersChanged(); });
  for (const id of ["filter-status", "filter-order", "filter-kind"]) $(id).addEventListener("change", filtersChanged);
  for (const id of ["filter-q", "filter-min", "filter-max"]) {
    let timer = null;
    $(id).addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(filtersChanged, 300); });
  }
  $("more").addEventListener("click", () => { state.pages += 1; refreshApprovals(); });
  for (const link of document.querySelectorAll("[data-back], #views a")) link.addEventListener("click", navigate);
  $("audit-form").addEventListener("submit", (event) => { event.preventDefault(); showAudit(false); });
  $("audit-more").addEventListener("click", () => showAudit(true));
  $("approve-version").addEventListener("click", () => decideHere(true, null));
  $("reject-version").addEventListener("click", () => decideHere(false, null));
  $("edit-form").addEventListener("submit", submitEdit);
  window.addEventListener("popstate", route);
  try {
    showApp(await api("GET", "/session"));
  } catch {
    showSignIn();
  }
});
