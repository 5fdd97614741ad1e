// Sightline HUD page: draws the glasses display from the agent's event stream
// (/events: a snapshot on every (re)connect, then live updates, as protobuf JSON).
// Every received string goes through textContent: nothing is parsed as HTML.
"use strict";

const REGION_CLASS = {
  HUD_REGION_LABELS: "labels",
  HUD_REGION_PANEL: "panel",
  HUD_REGION_CARD: "card",
  HUD_REGION_CAPTION: "caption",
  HUD_REGION_STATUS: "status",
};
const MAX_TIMER_MS = 2 ** 31 - 1;
const CONTENT_KINDS = ["caption", "labels", "card", "panel", "status", "clear"];
const CARD_KINDS = {
  CARD_KIND_INFO: ["info", "Info"],
  CARD_KIND_OFFER: ["offer", "Offer"],
  CARD_KIND_PAYMENT_CONFIRMATION: ["payment", "Confirm payment"],
  CARD_KIND_RECEIPT: ["receipt", "Receipt"],
  CARD_KIND_ERROR: ["error", "Error"],
  // The assistant's cards.
  CARD_KIND_ANSWER: ["answer", "Answer"],
  CARD_KIND_SUGGESTION: ["suggestion", "Did you mean"],
  CARD_KIND_REMINDER: ["reminder", "Reminder"],
  CARD_KIND_BRIEFING: ["briefing", "Briefing"],
  CARD_KIND_NOTIFICATION: ["notification", "Notification"],
};
// Cards whose actions are not clicked here: a payment is confirmed by its own gesture and challenge.
const HINT_ONLY_CARDS = new Set(["payment"]);
// The overlay's last item row when items did not all fit: "+3 more".
const MORE_ROW = /^\+\d+( more)?$/;

const hudEl = document.getElementById("hud");
const linkEl = document.getElementById("link");
const connEl = document.getElementById("conn");
const deviceEl = document.getElementById("device");

// Region name -> {version: BigInt, node: Element | null, timer: number}.
// The version stays after a clear or an expiry, so older updates stay dropped.
const shown = new Map();
let layout = {};
let snapshots = 0;

function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// A TextBlock arrives wrapped for the HUD by the overlay: one element per line, never re-wrapped.
function textBlock(block, className) {
  const box = h("div", className);
  if (!block) return box;
  if (block.language) box.lang = block.language;
  for (const line of block.lines || []) box.append(h("div", "line", line));
  if (block.truncated) box.classList.add("truncated");
  return box;
}

function contentKind(update) {
  return CONTENT_KINDS.find((kind) => kind in update) || null;
}

function place(node, region, bounds) {
  const rect = bounds && bounds.width && bounds.height ? bounds : layout[region] || { x: 0, y: 0, width: 640, height: 480 };
  const px = (value) => `${Number(value || 0)}px`;
  node.style.left = px(rect.x);
  node.style.top = px(rect.y);
  node.style.width = px(rect.width);
  node.style.height = px(rect.height);
  return { width: Number(rect.width || 0), height: Number(rect.height || 0) };
}

// --- money: minor units (an int64, so a JSON string) formatted without floats ---
function formatMoney(money) {
  if (!money || !money.currencyCode) return "";
  const currency = money.currencyCode;
  let format;
  try {
    format = new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "narrowSymbol" });
  } catch {
    return `${money.minorUnits || 0} ${currency} (minor units)`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits;
  let minor = BigInt(money.minorUnits || "0");
  const negative = minor < 0n;
  if (negative) minor = -minor;
  const scale = 10n ** BigInt(digits);
  const fraction = digits ? `.${(minor % scale).toString().padStart(digits, "0")}` : "";
  // A decimal string is formatted exactly; a Number could round.
  return format.format(`${negative ? "-" : ""}${minor / scale}${fraction}`);
}

// --- one renderer per content kind ---
function renderCaption(caption, node) {
  for (const entry of caption.entries || []) {
    const row = h("div", `entry ${entry.isFinal ? "final" : "partial"}`);
    row.dataset.utterance = entry.utteranceId || "";
    row.append(textBlock(entry.source, "source"));
    if (entry.translation && (entry.translation.lines || []).length) {
      const translation = textBlock(entry.translation, "translation");
      if (entry.translationEngine) translation.title = entry.translationEngine;
      row.append(translation);
    }
    node.append(row);
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
const unit = (value) => Math.max(0, Math.min(1, Number(value || 0)));
const pct = (value) => `${unit(value) * 100}%`;

function boxOf(box) {
  const b = box || {};
  return { x: unit(b.x), y: unit(b.y), width: unit(b.width), height: unit(b.height) };
}

const centre = (b) => [b.x + b.width / 2, b.y + b.height / 2];

// Whether two boxes (photo fractions) share more than a sliver: a label beside its anchor only touches it.
function overlaps(a, b) {
  const width = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const height = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return width > 0.002 && height > 0.002;
}

// A placed label's text fills its box: one line per row of the box, shrunk if a line is wider than the box.
function fitLabels(root) {
  for (const tag of root.querySelectorAll(".label-tag.placed")) {
    const text = tag.querySelector(".label-text");
    const rows = Math.max(1, text.childElementCount);
    const style = getComputedStyle(tag);
    const height = tag.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const width = tag.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (height <= 0 || width <= 0) continue;
    const line = height / rows;
    text.style.lineHeight = `${line}px`;
    let size = line * 0.82;
    text.style.fontSize = `${size}px`;
    const widest = Math.max(0, ...[...text.children].map((row) => row.scrollWidth));
    if (widest > width) {
      size *= width / widest;
      text.style.fontSize = `${size}px`;
    }
  }
}

function renderLabels(labels, node, size) {
  const frame = h("div", "photo-frame no-photo");
  node.append(frame);
  const chips = h("div", "tags");
  if (labels.photoId) {
    const img = h("img", "photo");
    img.alt = "";
    img.addEventListener("load", () => {
      // Fit the photo inside the region (contain): anchors are fractions of the photo, not of the region.
      const scale = Math.min(size.width / img.naturalWidth, size.height / img.naturalHeight);
      const width = img.naturalWidth * scale;
      const height = img.naturalHeight * scale;
      frame.style.width = `${width}px`;
      frame.style.height = `${height}px`;
      frame.style.left = `${(size.width - width) / 2}px`;
      frame.style.top = `${(size.height - height) / 2}px`;
      frame.classList.remove("no-photo");
      // Chips go in the margin beside the photo when there is one, so they cover no label.
      const margin = (size.width - width) / 2;
      if (margin >= 96) {
        chips.classList.add("side");
        chips.style.maxWidth = `${margin - 16}px`;
      }
      fitLabels(frame);
      node.dataset.photo = "loaded";
    });
    img.addEventListener("error", () => {
      node.dataset.photo = "missing";
    });
    img.src = `photos/${encodeURIComponent(labels.photoId)}`;
    frame.append(img);
  }
  // Leader lines in photo fractions (the frame's box), under the labels.
  const leaders = document.createElementNS(SVG_NS, "svg");
  leaders.setAttribute("class", "leaders");
  leaders.setAttribute("viewBox", "0 0 1 1");
  leaders.setAttribute("preserveAspectRatio", "none");
  frame.append(leaders);
  (labels.labels || []).forEach((label, index) => {
    const anchor = boxOf(label.anchor);
    const mark = h("div", "anchor");
    mark.dataset.label = String(index);
    mark.style.left = pct(anchor.x);
    mark.style.top = pct(anchor.y);
    mark.style.width = pct(anchor.width);
    mark.style.height = pct(anchor.height);
    frame.append(mark);
    const placement = label.placement ? boxOf(label.placement) : null;
    let tag;
    if (placement && placement.width && placement.height) {
      // Where the overlay laid it out, clear of every other label.
      tag = h("div", "label-tag placed");
      tag.style.left = pct(placement.x);
      tag.style.top = pct(placement.y);
      tag.style.width = pct(placement.width);
      tag.style.height = pct(placement.height);
      frame.append(tag);
      if (!overlaps(placement, anchor)) {
        // Beside its text: a thin line from the label (drawn over its start) to the middle of the text it translates.
        const [[x1, y1], [x2, y2]] = [centre(placement), centre(anchor)];
        const line = document.createElementNS(SVG_NS, "line");
        for (const [name, value] of Object.entries({ x1, y1, x2, y2 })) line.setAttribute(name, String(value));
        line.setAttribute("vector-effect", "non-scaling-stroke");
        line.dataset.label = String(index);
        leaders.append(line);
      }
    } else {
      // No placement (an older overlay, a hand-written step): a tag above its box, below it near the top edge.
      tag = h("div", anchor.y < 0.15 ? "label-tag below" : "label-tag");
      mark.append(tag);
    }
    tag.dataset.label = String(index);
    tag.append(textBlock(label.text, "label-text"));
    if (label.sourceText) {
      tag.append(h("div", "label-source", label.sourceText));
      tag.title = label.sourceText;
    }
    const status = label.translationStatus || "";
    if (status) {
      // Subtle: a tinted edge and a dot; the word itself is for the tooltip and screen readers.
      tag.dataset.status = status;
      const dot = h("span", "label-status", status);
      dot.title = `translation ${status}`;
      tag.append(dot);
    }
  });
  // Once the region is on the page (and again when the photo has loaded and sized the frame).
  requestAnimationFrame(() => fitLabels(frame));
  for (const tag of labels.tags || []) chips.append(h("span", "chip", tag));
  for (const code of labels.codes || []) chips.append(h("span", "chip code", code));
  const omitted = Number(labels.omitted || 0);
  if (omitted > 0) chips.append(h("span", "chip more", `+${omitted} more`));
  if (chips.childElementCount) node.append(chips);
}

function renderCard(card, node) {
  const [kindClass, kindName] = CARD_KINDS[card.kind] || ["info", "Card"];
  node.classList.add(`kind-${kindClass}`);
  node.dataset.cardKind = kindClass;

  const head = h("div", "card-head");
  head.append(h("span", "card-kind", kindName));
  if (card.expiresAt) {
    const expires = h("span", "expires");
    expires.dataset.expires = String(Date.parse(card.expiresAt));
    head.append(expires);
  }
  node.append(head, textBlock(card.title, "card-title"));

  const money = h("div", "card-money");
  const amount = formatMoney(card.amount);
  if (amount) money.append(h("span", "value", amount), h("span", "currency", card.amount.currencyCode));
  if (card.challenge) {
    const challenge = h("span", "card-challenge");
    challenge.append(h("span", "hint", "code"), h("span", "code", card.challenge));
    money.append(challenge);
  }
  if (money.childElementCount) node.append(money);
  node.append(textBlock(card.body, "card-body"));
  if ((card.items || []).length) {
    const items = h("div", "card-items");
    for (const item of card.items) {
      const row = textBlock(item, "card-item");
      if (item.truncated && MORE_ROW.test((item.lines || []).join(""))) row.classList.add("more");
      items.append(row);
    }
    node.append(items);
  }

  const foot = h("div", "card-foot");
  for (const action of card.actions || []) {
    const clickable = !HINT_ONLY_CARDS.has(kindClass) && action.actionId;
    const chip = h(clickable ? "button" : "span", "action", action.label || action.actionId);
    chip.dataset.action = action.actionId || "";
    if (clickable) {
      chip.type = "button";
      chip.addEventListener("click", () => chooseAction(chip, node));
    }
    foot.append(chip);
  }
  if (card.referenceId) foot.append(h("span", "reference", card.referenceId));
  if (foot.childElementCount) node.append(foot);
  tickExpiries(node);
}

// A choice on the card: the agent sends it up as a Confirmation (reference_id = the action id).
async function chooseAction(button, card) {
  if (card.dataset.chosen) return; // one choice per card
  card.dataset.chosen = button.dataset.action;
  for (const other of card.querySelectorAll("button.action")) other.disabled = true;
  button.classList.add("chosen");
  try {
    const response = await fetch("actions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ actionId: button.dataset.action }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    button.dataset.sent = answer.eventId || "";
  } catch (error) {
    // Say so on the card and let the wearer try again.
    button.classList.remove("chosen");
    button.dataset.error = String(error.message || error);
    button.title = button.dataset.error;
    delete card.dataset.chosen;
    for (const other of card.querySelectorAll("button.action")) other.disabled = false;
  }
}

function renderPanel(panel, node) {
  node.append(textBlock(panel.text, "panel-text"));
}

function renderStatus(status, node) {
  const online = Boolean(status.online);
  node.append(h("span", `pill ${online ? "online" : "offline"}`, online ? "online" : "offline"));
  const queued = Number(status.queued || 0);
  if (queued > 0 || !online) node.append(h("span", "queue", `${queued} queued`));
  if (status.privacyMode) node.append(h("span", "pill privacy", "privacy"));
}

const RENDERERS = { caption: renderCaption, labels: renderLabels, card: renderCard, panel: renderPanel, status: renderStatus };

// --- latest-wins per region, ttl expiry ---
function drop(entry) {
  clearTimeout(entry.timer);
  if (entry.node) entry.node.remove();
  entry.node = null;
}

function apply(update, ageMs) {
  const region = update.region;
  const regionClass = REGION_CLASS[region];
  if (!regionClass) return; // a region this page does not know
  const version = BigInt(update.regionVersion || "0");
  const current = shown.get(region);
  if (current && version <= current.version) return; // stale or replayed
  if (current) drop(current);
  const entry = { version, node: null, timer: 0 };
  shown.set(region, entry);

  const kind = contentKind(update);
  const ttl = Number(update.ttlMs || 0);
  const left = ttl ? ttl - Number(ageMs || 0) : Infinity;
  if (!kind || kind === "clear" || left <= 0) return; // cleared, or expired before it reached us

  const node = h("div", `region ${regionClass}`);
  node.dataset.region = regionClass;
  node.dataset.version = version.toString();
  node.dataset.kind = kind;
  const size = place(node, region, update.bounds);
  RENDERERS[kind](update[kind], node, size);
  hudEl.append(node);
  entry.node = node;
  // setTimeout fires at once past 2^31-1 ms; a ttl that long means "until replaced" anyway.
  if (ttl && left <= MAX_TIMER_MS) entry.timer = setTimeout(() => drop(entry), left);
}

function reset() {
  for (const entry of shown.values()) drop(entry);
  shown.clear();
}

function tickExpiries(root = hudEl) {
  const now = Date.now();
  for (const node of root.querySelectorAll("[data-expires]")) {
    const seconds = Math.ceil((Number(node.dataset.expires) - now) / 1000);
    node.textContent = seconds > 0 ? `expires in ${seconds} s` : "expired";
    node.closest(".card")?.classList.toggle("expired", seconds <= 0);
  }
}

function setLink(online) {
  linkEl.hidden = online;
  hudEl.dataset.link = online ? "up" : "down";
}

function setConnected(connected) {
  hudEl.dataset.connected = String(connected);
  hudEl.classList.toggle("stale", !connected);
  connEl.dataset.state = connected ? "live" : "reconnecting";
  connEl.textContent = connected ? "live" : "reconnecting…";
}

// --- the stream ---
function connect() {
  const source = new EventSource("events");
  source.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    // The snapshot is the whole truth: forget everything, never replay what was missed.
    reset();
    layout = snapshot.layout || {};
    deviceEl.textContent = `device ${snapshot.device}`;
    setLink(Boolean(snapshot.link && snapshot.link.online));
    for (const item of snapshot.updates || []) apply(item.update, item.ageMs);
    snapshots += 1;
    hudEl.dataset.snapshots = String(snapshots);
    setConnected(true);
  });
  source.addEventListener("update", (event) => {
    const item = JSON.parse(event.data);
    apply(item.update, item.ageMs);
  });
  source.addEventListener("link", (event) => setLink(Boolean(JSON.parse(event.data).online)));
  // EventSource reconnects by itself (the server sets retry:); the next snapshot resyncs.
  source.addEventListener("error", () => setConnected(false));
}

setInterval(() => tickExpiries(), 1000);
connect();
