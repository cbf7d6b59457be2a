// The staff page's script (served as /staff.js: the page's CSP allows no
// inline script). The token lives in sessionStorage only: it is gone when
// the browser tab closes, and never baked into the page.
const base = "/v1/offices/" + encodeURIComponent(document.body.dataset.office);
const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem("antrean-token") || "";
tokenInput.addEventListener("change", () => { sessionStorage.setItem("antrean-token", tokenInput.value.trim()); refresh(); });
const counterSelect = document.getElementById("counter");
counterSelect.addEventListener("change", () => { localStorage.setItem("antrean-counter", counterSelect.value); refresh(); });
const message = document.getElementById("message");

async function api(method, path) {
  const r = await fetch(base + path, { method, headers: { "Authorization": "Bearer " + tokenInput.value.trim() } });
  if (r.status === 401) { throw new Error("Token salah / wrong token"); }
  if (r.status === 403) { throw new Error("Bukan token petugas / not a staff token"); }
  if (r.status === 429) { throw new Error("Terlalu cepat, coba lagi / too fast, try again"); }
  if (r.status === 204) { return null; }
  const body = await r.json();
  if (!r.ok) { throw new Error(body.message || body.error); }
  return body;
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
    const s = await api("GET", "/staff");
    if (counterSelect.options.length === 0) {
      for (const c of s.board.counters) { counterSelect.add(new Option(c.label, c.id)); }
      counterSelect.value = localStorage.getItem("antrean-counter") || s.board.counters[0].id;
    }
    const mine = s.board.counters.find(c => c.id === counterSelect.value);
    document.getElementById("serving").textContent = mine && mine.serving ? mine.serving.number : "\u2013";
    fill("waiting", s.waiting.map(w => [w.number, w.slot, w.service]));
    fill("counters", s.board.counters.map(c => [c.label, c.serving ? c.serving.number : "\u2013"]));
    fill("kiosks", s.kiosks.map(k => [k.kiosk, k.printer, String(k.pending), k.at]));
    message.textContent = "";
  } catch (e) { message.textContent = e.message; }
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
