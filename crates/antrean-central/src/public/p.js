// The live status page (/p/{office}/{date}/{number}): the page arrives
// rendered whole; this keeps it current from the office's public event
// stream. Its own number's call shows at once; other changes fetch the
// status again, spread out so that a call does not make every phone ask
// at the same instant. Without the stream (closed, or too many open) it
// asks every 30 s. No framework, no personal data.
"use strict";
const main = document.getElementById("status");
const me = main.dataset.number;
const lang = main.dataset.lang === "en" ? "en" : "id";
const base = "/p/" + encodeURIComponent(main.dataset.office);
const statusUrl = base + "/status/" + main.dataset.date + "/" + encodeURIComponent(me);
const T = {
  id: {
    called: l => "Nomor Anda dipanggil di " + l, checked_in: "Menunggu dipanggil",
    booked: "Belum check-in: pindai QR Anda di kios", served: "Sudah dilayani",
    no_show: "Dilewati (tidak hadir saat dipanggil)", cancelled: "Dibatalkan"
  },
  en: {
    called: l => "Your number is being called at " + l, checked_in: "Waiting to be called",
    booked: "Not checked in yet: scan your QR code at the kiosk", served: "Served",
    no_show: "Skipped (not there when called)", cancelled: "Cancelled"
  }
};
const other = lang === "en" ? "id" : "en";
let counters = {};
let timer = null;

function text(id, t) { const e = document.getElementById(id); if (e) { e.textContent = t; } }
function hhmm(t) { return t ? t.replace(":", ".") : "\u2013"; }
function stateText(l, s, label) { const f = T[l][s]; return typeof f === "function" ? f(label) : (f || "\u2013"); }

function showState(state, label) {
  const el = document.getElementById("state");
  el.className = "state " + state;
  el.textContent = stateText(lang, state, label);
  const also = document.getElementById("called-also");
  also.hidden = state !== "called";
  also.textContent = state === "called" ? stateText(other, state, label) : "";
  if (state === "called" && navigator.vibrate) { navigator.vibrate([300, 100, 300]); }
}

function showCounter(id, number, priority) {
  const row = document.querySelector("#counters tr[data-counter='" + CSS.escape(id) + "']");
  if (!row) { return; }
  row.querySelector(".num").textContent = number || "\u2013";
  row.querySelector(".why").textContent = "";
  if (priority) { const b = document.createElement("span"); b.className = "prio"; b.textContent = "PRIORITAS"; row.querySelector(".why").appendChild(b); }
}

function render(s) {
  counters = {};
  for (const c of s.counters) { counters[c.id] = c.label; showCounter(c.id, c.number, c.priority); }
  showState(s.state, s.counter_label || "");
  text("ahead", s.ahead === undefined ? "\u2013" : String(s.ahead));
  text("eta", hhmm(s.estimated_call));
  const n = document.getElementById("notice");
  n.hidden = !s.notice;
  n.textContent = s.notice || "";
}

async function refresh() {
  timer = null;
  try {
    const r = await fetch(statusUrl, { cache: "no-store" });
    if (r.ok) { render(await r.json()); }
  } catch (e) { /* offline for a moment: the next event or poll asks again */ }
}

// Soon, but spread over a few seconds across phones.
function later(max) { if (timer === null) { timer = setTimeout(refresh, 500 + Math.random() * max); } }

function live() {
  const es = new EventSource(base + "/events");
  // The page may come from a cache (max-age): once the stream is open,
  // nothing is missed from here on, so ask for the status once.
  es.onopen = () => later(1000);
  es.addEventListener("call", m => {
    const e = JSON.parse(m.data);
    showCounter(e.counter, e.number, e.priority);
    if (e.number === me) {
      showState("called", counters[e.counter] || ("Loket " + e.counter));
      text("ahead", "0");
    } else {
      later(4000);
    }
  });
  for (const kind of ["done", "skip"]) {
    es.addEventListener(kind, m => {
      const e = JSON.parse(m.data);
      showCounter(e.counter, null, false);
      if (e.number === me) { refresh(); } else { later(4000); }
    });
  }
  es.addEventListener("checkin", () => later(8000));
  es.addEventListener("notice", m => { const e = JSON.parse(m.data); const n = document.getElementById("notice"); n.hidden = !e.text; n.textContent = e.text || ""; });
  es.addEventListener("reset", () => refresh());
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) { setTimeout(live, 30000); refresh(); } };
}

if (main.dataset.today === "1") {
  for (const row of document.querySelectorAll("#counters tr[data-counter]")) {
    counters[row.dataset.counter] = row.firstChild.textContent;
  }
  live();
  setInterval(refresh, 60000);
}
