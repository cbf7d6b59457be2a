// The staff page's script (served as /staff.js: the page's CSP allows no
// inline script). The token lives in sessionStorage only: it is gone when
// the browser tab closes, and never baked into the page. The offices to
// choose from are those the token may see (GET /v1/offices): its own
// office, or every office for a city administrator's token.
const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem("antrean-token") || "";
const officeSelect = document.getElementById("office");
const counterSelect = document.getElementById("counter");
const message = document.getElementById("message");
let offices = null;

tokenInput.addEventListener("change", () => {
  sessionStorage.setItem("antrean-token", tokenInput.value.trim());
  offices = null;
  refresh();
});
officeSelect.addEventListener("change", () => {
  localStorage.setItem("antrean-office", officeSelect.value);
  counterSelect.replaceChildren();
  refresh();
});
counterSelect.addEventListener("change", () => {
  localStorage.setItem("antrean-counter", counterSelect.value);
  refresh();
});

async function request(method, url) {
  const r = await fetch(url, { method, headers: { "Authorization": "Bearer " + tokenInput.value.trim() } });
  if (r.status === 401) { throw new Error("Token salah / wrong token"); }
  if (r.status === 403) { throw new Error("Bukan token petugas / not a staff token"); }
  if (r.status === 429) { throw new Error("Terlalu cepat, coba lagi / too fast, try again"); }
  if (r.status === 204) { return null; }
  const body = await r.json();
  if (!r.ok) { throw new Error(body.message || body.error); }
  return body;
}

function api(method, path) {
  return request(method, "/v1/offices/" + encodeURIComponent(officeSelect.value) + path);
}

async function loadOffices() {
  const list = await request("GET", "/v1/offices");
  offices = list.offices;
  officeSelect.replaceChildren();
  counterSelect.replaceChildren();
  for (const o of offices) { officeSelect.add(new Option(o.name, o.id)); }
  const remembered = localStorage.getItem("antrean-office");
  if (offices.some(o => o.id === remembered)) { officeSelect.value = remembered; }
  if (offices.length === 0) { throw new Error("Token ini bukan untuk kantor di sini / this token is for no office here"); }
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
function fill(id, rows) {
  const tbody = document.querySelector("#" + id + " tbody");
  tbody.replaceChildren();
  for (const r of rows) { const tr = document.createElement("tr"); r.forEach(t => cell(tr, t)); tbody.appendChild(tr); }
}

async function refresh() {
  if (tokenInput.value.trim() === "") { message.textContent = "Masukkan token petugas / enter a staff token"; return; }
  try {
    if (offices === null) { await loadOffices(); }
    const office = offices.find(o => o.id === officeSelect.value);
    document.getElementById("office-name").textContent = office ? office.name : "\u2013";
    const s = await api("GET", "/staff");
    if (counterSelect.options.length === 0) {
      for (const c of s.board.counters) { counterSelect.add(new Option(c.label, c.id)); }
      const remembered = localStorage.getItem("antrean-counter");
      counterSelect.value = s.board.counters.some(c => c.id === remembered) ? remembered : s.board.counters[0].id;
    }
    const mine = s.board.counters.find(c => c.id === counterSelect.value);
    document.getElementById("serving").textContent = mine && mine.serving ? mine.serving.number : "\u2013";
    fillWaiting(s.waiting);
    fill("counters", s.board.counters.map(c => [c.label, c.serving ? c.serving.number : "\u2013"]));
    fill("kiosks", s.kiosks.map(k => [k.kiosk, k.kind, k.reported ? k.printer : "belum lapor / never reported", k.reported ? String(k.pending) : "", k.at]));
    message.textContent = "";
  } catch (e) { offices = offices && offices.length ? offices : null; message.textContent = e.message; }
}

// Priority claims: the state, and confirm/decline buttons for staff who
// saw the reason at the counter (UU 25/2009 art. 29).
const PRIORITY = { requested: "diminta / requested", confirmed: "PRIORITAS (dikonfirmasi / confirmed)", declined: "ditolak / declined" };
function fillWaiting(rows) {
  const tbody = document.querySelector("#waiting tbody");
  tbody.replaceChildren();
  for (const w of rows) {
    const tr = document.createElement("tr");
    [w.number, w.slot, w.service].forEach(t => cell(tr, t));
    const td = document.createElement("td");
    td.className = w.priority ? "priority " + w.priority : "";
    td.textContent = w.priority ? PRIORITY[w.priority] || w.priority : "";
    if (w.priority) {
      for (const [d, label] of [["confirm", "Konfirmasi / confirm"], ["decline", "Tolak / decline"]]) {
        if ((d === "confirm") === (w.priority === "confirmed")) { continue; }
        const b = document.createElement("button");
        b.textContent = label;
        b.dataset.booking = w.booking;
        b.dataset.decision = d;
        b.className = "priority-" + d;
        b.addEventListener("click", () => decide(w.booking, d));
        td.appendChild(b);
      }
    }
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
}

async function decide(booking, decision) {
  try { await api("POST", "/checkins/" + encodeURIComponent(booking) + "/priority/" + decision); message.textContent = ""; }
  catch (e) { message.textContent = e.message; }
  refresh();
}

async function act(action) {
  try {
    const r = await api("POST", "/counters/" + encodeURIComponent(counterSelect.value) + "/" + action);
    message.textContent = r === null ? "Tidak ada yang menunggu / nobody waiting" : "";
  } catch (e) { message.textContent = e.message; }
  refresh();
}
for (const a of ["next", "recall", "done", "skip"]) { document.getElementById(a).addEventListener("click", () => act(a)); }
refresh();
setInterval(refresh, 3000);
