"use strict";
// careslot's booking UI: a SMART app in plain JavaScript. It signs in with the
// authorization code flow and PKCE (S256) against the endpoints careslot's SMART
// discovery names, keeps the token in sessionStorage (gone with the tab), and then
// talks only to the public FHIR API. Pages are built with DOM calls, never innerHTML,
// so no server text is ever read as markup.

const FHIR_BASE = location.origin + "/fhir";
const CLIENT_ID = "careslot-ui";
const REDIRECT_URI = location.origin + "/callback.html";
const SESSION_KEY = "careslot.session";
const PENDING_KEY = "careslot.signin";
// Lists refresh this often while the page is visible and no live update channel is open
// (?poll=<seconds> sets it, for tests that must see a change arrive without polling).
const POLL_MS = (Number(new URLSearchParams(location.search).get("poll")) || 15) * 1000;
const LIVE_KEY = "careslot.live"; // the id of this tab's live-update Subscription
const LIVE_SLOTS_KEY = "careslot.live-slots"; // and of the one following a doctor's slots
const SCOPES = {
  patient: "openid fhirUser launch/patient patient/*.cruds",
  staff: "openid fhirUser user/*.cruds",
};

// ---------------------------------------------------------------- small helpers

function $(id) { return document.getElementById(id); }

// el builds an element: attributes (on* are listeners) and children (strings are text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) e.append(c);
  }
  return e;
}

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) { return b64url(crypto.getRandomValues(new Uint8Array(n))); }

// jwtClaims reads a JWT's payload for display only (who signed in); careslot checks tokens.
function jwtClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch (e) {
    return {};
  }
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const whenFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

function startOfDay(d) { const x = new Date(d); x.setHours(0, 0, 0, 0); return x; }
function addDays(d, n) { const x = new Date(d); x.setDate(x.getDate() + n); return x; }
function startOfWeek(d) { const x = startOfDay(d); return addDays(x, -((x.getDay() + 6) % 7)); } // Monday
function isoDate(d) { return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; }
function parseDate(s) { const [y, m, d] = s.split("-").map(Number); return new Date(y, m - 1, d); }

function humanName(res) {
  const n = (res && res.name && res.name[0]) || {};
  if (n.text) return n.text;
  return [...(n.prefix || []), ...(n.given || []), n.family].filter(Boolean).join(" ") || (res && res.id) || "unknown";
}

// latest starts a load of what and returns whether it is still the latest one, so that
// an older answer arriving late never overwrites a newer one (a filter changed while the
// first page still loads, a week clicked through quickly).
const loads = {};
function latest(what) {
  const n = (loads[what] || 0) + 1;
  loads[what] = n;
  return () => loads[what] === n;
}

// ---------------------------------------------------------------- messages

// outcomeText is a refusal as a person reads it: the OperationOutcome's diagnostics.
function outcomeText(err) {
  const oo = err && err.outcome;
  if (oo && oo.resourceType === "OperationOutcome" && Array.isArray(oo.issue) && oo.issue.length) {
    return oo.issue.map((i) => i.diagnostics || (i.details && i.details.text) || i.code).join(" ");
  }
  if (err && err.status) return `careslot answered ${err.status}.`;
  return (err && err.message) || String(err);
}

function alertBox(kind, ...content) {
  return el("div", { class: `alert alert-${kind}`, role: kind === "danger" ? "alert" : "status" }, ...content);
}

function showAlert(kind, text) {
  const box = alertBox(kind, text, " ", el("button", { type: "button", class: "btn-close float-end", "aria-label": "Dismiss", onclick: () => box.remove() }));
  $("alerts").replaceChildren(box);
}

function showError(err) {
  if (err instanceof SignedOut) return;
  showAlert("danger", outcomeText(err));
}

// ---------------------------------------------------------------- sign-in

let smartConfigCache;
async function smartConfig() {
  if (!smartConfigCache) {
    const r = await fetch(FHIR_BASE + "/.well-known/smart-configuration", { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(`SMART discovery answered ${r.status}`);
    smartConfigCache = await r.json();
  }
  return smartConfigCache;
}

async function signIn(kind) {
  const cfg = await smartConfig();
  const verifier = randomString(48);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = randomString(24);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: "code", client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: SCOPES[kind],
    state, aud: FHIR_BASE, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(cfg.authorization_endpoint + "?" + q.toString());
}

// finishSignIn runs on callback.html: it checks the state, trades the code and its
// verifier for a token and goes back to the app.
async function finishSignIn() {
  const q = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (q.get("error")) throw new Error(`Sign-in was not completed: ${q.get("error_description") || q.get("error")}`);
  if (!pending || !q.get("state") || q.get("state") !== pending.state) throw new Error("This sign-in answer is not one this page asked for; sign in again.");
  const cfg = await smartConfig();
  const r = await fetch(cfg.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: q.get("code"), redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: pending.verifier }),
  });
  const tok = await r.json().catch(() => ({}));
  if (!r.ok || !tok.access_token) throw new Error(`The token was refused: ${tok.error_description || tok.error || r.status}`);
  const claims = jwtClaims(tok.id_token || "");
  const fhirUser = String(claims.fhirUser || "").replace(FHIR_BASE + "/", "");
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    token: tok.access_token, idToken: tok.id_token || "", patient: tok.patient || "", fhirUser, scope: tok.scope || "",
    expiresAt: Date.now() + 1000 * (tok.expires_in || 3600), name: claims.name || claims.preferred_username || "",
  }));
  location.replace("/");
}

function currentSession() {
  const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  if (!s || s.expiresAt < Date.now()) return null;
  return s;
}

// signingOut is set by the Sign out button: requests still under way (a live update's
// refresh, a poll) then fail quietly instead of sending the page home, which would cut the
// logout at Hydra short.
let signingOut = false;

function signOut(message) {
  if (signingOut) return;
  sessionStorage.removeItem(SESSION_KEY);
  if (message) sessionStorage.setItem("careslot.message", message);
  location.assign("/");
}

// signOutEverywhere is the Sign out button: the access token is revoked, and the sign-in
// at careslot (Hydra's session, which would otherwise sign the next person at this
// browser in without a password) is ended by OpenID Connect RP-initiated logout, which
// comes back to this page.
async function signOutEverywhere() {
  const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  signingOut = true;
  clearInterval(pollTimer);
  // Deleting the live-update Subscriptions is a courtesy (they end by themselves within a
  // day): a slow server must not hold the sign-out up. Revoking the token is not.
  await Promise.race([stopLive(), new Promise((resolve) => setTimeout(resolve, 4000))]);
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.setItem("careslot.message", "You are signed out.");
  const cfg = await smartConfig().catch(() => null);
  if (s && cfg && cfg.revocation_endpoint) {
    await fetch(cfg.revocation_endpoint, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: s.token, token_type_hint: "access_token", client_id: CLIENT_ID }) }).catch(() => null);
  }
  if (s && s.idToken && cfg && cfg.end_session_endpoint) {
    const q = new URLSearchParams({ id_token_hint: s.idToken, post_logout_redirect_uri: location.origin + "/", state: randomString(16) });
    location.assign(cfg.end_session_endpoint + "?" + q.toString());
    return;
  }
  location.assign("/");
}

// ---------------------------------------------------------------- FHIR

class FhirError extends Error {
  constructor(status, outcome) {
    super(`careslot answered ${status}`);
    this.status = status;
    this.outcome = outcome;
  }
}
class SignedOut extends Error {}

async function fhir(method, path, body, headers) {
  const h = { ...(headers || {}) };
  if (body !== undefined) h["Content-Type"] = "application/fhir+json";
  const r = await send(method, path, body === undefined ? undefined : JSON.stringify(body), h);
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!r.ok) throw new FhirError(r.status, json);
  return json;
}

// send is one request to the API with the user's token; a 401 signs the UI out.
async function send(method, path, body, headers) {
  const s = currentSession();
  if (!s) { signOut("Your session ended; please sign in again."); throw new SignedOut(); }
  const h = { Authorization: "Bearer " + s.token, Accept: "application/fhir+json", ...(headers || {}) };
  // no-store: a read must be the current version (an update's If-Match is taken from it),
  // and patient data has no business in the browser's cache.
  const r = await fetch(path ? FHIR_BASE + "/" + path : FHIR_BASE, { method, headers: h, cache: "no-store", body });
  if (r.status === 401) { signOut("Your session ended; please sign in again."); throw new SignedOut(); }
  return r;
}

// binaryBlob reads a Binary's bytes (careslot answers them raw, with their content type).
async function binaryBlob(reference) {
  const r = await send("GET", reference, undefined, { Accept: "*/*" });
  if (!r.ok) throw new FhirError(r.status, await r.json().catch(() => null));
  return r.blob();
}

function resources(bundle, type) {
  return ((bundle && bundle.entry) || []).map((e) => e.resource).filter((r) => r && (!type || r.resourceType === type));
}

function ref(r) { return r.resourceType + "/" + r.id; }

function participantOf(appt, type) {
  return (appt.participant || []).find((p) => p.actor && (p.actor.reference || "").startsWith(type + "/"));
}

// The directory (doctors and what they do) is read once: every signed-in person may.
let directory;
async function loadDirectory() {
  if (directory) return directory;
  const bundle = await fhir("GET", "PractitionerRole?_include=PractitionerRole:practitioner&_count=200");
  const practitioners = new Map(resources(bundle, "Practitioner").map((p) => [ref(p), p]));
  const doctors = new Map();
  for (const role of resources(bundle, "PractitionerRole")) {
    const pref = role.practitioner && role.practitioner.reference;
    const p = practitioners.get(pref);
    if (!p) continue;
    const d = doctors.get(pref) || { ref: pref, name: humanName(p), specialties: [] };
    for (const s of role.specialty || []) {
      for (const c of s.coding || []) d.specialties.push({ code: `${c.system}|${c.code}`, display: c.display || s.text || c.code });
    }
    doctors.set(pref, d);
  }
  directory = { doctors: [...doctors.values()].sort((a, b) => a.name.localeCompare(b.name)), practitioners };
  return directory;
}

function doctorName(reference) {
  const d = directory && directory.doctors.find((x) => x.ref === reference);
  return d ? d.name : reference;
}

function statusBadge(status) {
  const kind = { booked: "success", pending: "warning", proposed: "warning", arrived: "info", "checked-in": "info",
    fulfilled: "secondary", cancelled: "danger", noshow: "dark" }[status] || "light";
  return el("span", { class: `badge text-bg-${kind}`, "data-status": status }, status);
}

// ---------------------------------------------------------------- patient

// moving is the appointment being rescheduled, while the patient picks its new time.
const patientState = { doctor: null, week: startOfWeek(new Date()), offer: null, moving: null };

async function showPatient(s) {
  $("patient-view").hidden = false;
  const [me] = await Promise.all([fhir("GET", "Patient/" + encodeURIComponent(s.patient)), loadDirectory()]);
  $("who-name").textContent = humanName(me);
  $("patient-greeting").textContent = `Hello, ${humanName(me)}`;
  const specialties = new Map();
  for (const d of directory.doctors) for (const sp of d.specialties) specialties.set(sp.code, sp.display);
  $("specialty").replaceChildren(el("option", { value: "" }, "Any specialty"),
    ...[...specialties].sort((a, b) => a[1].localeCompare(b[1])).map(([code, display]) => el("option", { value: code }, display)));
  $("specialty").addEventListener("change", renderDoctors);
  $("doctor-name").addEventListener("input", renderDoctors);
  $("find-form").addEventListener("submit", (e) => e.preventDefault());
  $("week-prev").addEventListener("click", () => { patientState.week = addDays(patientState.week, -7); loadWeek().catch(showError); });
  $("week-next").addEventListener("click", () => { patientState.week = addDays(patientState.week, 7); loadWeek().catch(showError); });
  $("confirm-book").addEventListener("click", () => (patientState.moving ? reschedule(patientState.moving, patientState.offer) : book(patientState.offer)).catch(showError));
  $("confirm-cancel").addEventListener("click", () => { $("confirm").hidden = true; patientState.offer = null; });
  $("patient-refresh").addEventListener("click", () => loadPatientAppointments().catch(showError));
  $("profile-form").addEventListener("submit", (e) => { e.preventDefault(); saveProfile().catch(profileError); });
  $("coverage-form").addEventListener("submit", (e) => { e.preventDefault(); saveCoverage().catch(profileError); });
  renderDoctors();
  fillProfile(me);
  await Promise.all([loadPatientAppointments(), loadCoverages()]);
  poll(loadPatientAppointments);
  followLive("Appointment?patient=Patient/" + s.patient, loadPatientAppointments);
}

// ---------------------------------------------------------------- patient profile

function telecom(p, system) { return ((p.telecom || []).find((t) => t.system === system) || {}).value || ""; }

function fillProfile(p) {
  const addr = (p.address || [])[0] || {};
  $("profile-phone").value = telecom(p, "phone");
  $("profile-email").value = telecom(p, "email");
  $("profile-line").value = (addr.line || [])[0] || "";
  $("profile-postal").value = addr.postalCode || "";
  $("profile-city").value = addr.city || "";
}

function profileError(err) {
  $("profile-result").replaceChildren(alertBox("danger", outcomeText(err)));
  $("profile-result").focus();
}

function profileDone(text) {
  $("profile-result").replaceChildren(alertBox("success", text));
  $("profile-result").focus();
}

// saveProfile changes only the contact details of the stored Patient, sent with If-Match.
async function saveProfile() {
  const s = currentSession();
  const p = await fhir("GET", "Patient/" + encodeURIComponent(s.patient));
  const set = (system, value) => {
    p.telecom = (p.telecom || []).filter((t) => t.system !== system);
    if (value) p.telecom.push({ system, value, use: system === "phone" ? "mobile" : "home" });
    if (!p.telecom.length) delete p.telecom;
  };
  set("phone", $("profile-phone").value.trim());
  set("email", $("profile-email").value.trim());
  const addr = { ...((p.address || [])[0] || {}), use: "home" };
  const line = $("profile-line").value.trim(), postal = $("profile-postal").value.trim(), city = $("profile-city").value.trim();
  if (line) addr.line = [line]; else delete addr.line;
  if (postal) addr.postalCode = postal; else delete addr.postalCode;
  if (city) addr.city = city; else delete addr.city;
  const rest = (p.address || []).slice(1);
  p.address = addr.line || addr.postalCode || addr.city ? [addr, ...rest] : rest;
  if (!p.address.length) delete p.address;
  const saved = await fhir("PUT", "Patient/" + encodeURIComponent(s.patient), p, { "If-Match": `W/"${p.meta.versionId}"` });
  fillProfile(saved || p);
  profileDone("Your profile is saved.");
}

let insurers = [];
let coverages = [];

async function loadCoverages() {
  const s = currentSession();
  const [covBundle, orgBundle] = await Promise.all([
    fhir("GET", `Coverage?beneficiary=Patient/${encodeURIComponent(s.patient)}&_count=50`),
    insurers.length ? null : fhir("GET", "Organization?type=" + encodeURIComponent("http://terminology.hl7.org/CodeSystem/organization-type|ins") + "&_count=100"),
  ]);
  if (orgBundle) {
    insurers = resources(orgBundle, "Organization");
    $("coverage-insurer").replaceChildren(...insurers.map((o) => el("option", { value: ref(o) }, o.name || o.id)));
  }
  coverages = resources(covBundle, "Coverage");
  const insurerName = (r) => { const o = insurers.find((x) => ref(x) === r); return o ? o.name || o.id : r; };
  $("coverages").replaceChildren(...(coverages.length ? coverages.map((c) => el("li", { class: "list-group-item d-flex justify-content-between", "data-coverage": c.id },
    el("span", {}, insurerName(((c.payor || [])[0] || {}).reference), c.subscriberId ? ` · member ${c.subscriberId}` : "",
      c.period && c.period.end ? ` · until ${c.period.end}` : ""),
    statusBadge(c.status))) : [el("li", { class: "list-group-item text-body-secondary" }, "No insurance on file: bookings need one.")]));
  const active = coverages.find((c) => c.status === "active");
  if (active) {
    $("coverage-insurer").value = ((active.payor || [])[0] || {}).reference || "";
    $("coverage-member").value = active.subscriberId || "";
  }
}

// saveCoverage changes the active Coverage (insurer, member number), or makes one.
async function saveCoverage() {
  const s = currentSession();
  const payor = [{ reference: $("coverage-insurer").value }];
  const member = $("coverage-member").value.trim();
  const active = coverages.find((c) => c.status === "active");
  if (active) {
    await fhir("PUT", "Coverage/" + encodeURIComponent(active.id), { ...active, payor, subscriberId: member || undefined }, { "If-Match": `W/"${active.meta.versionId}"` });
  } else {
    await fhir("POST", "Coverage", { resourceType: "Coverage", status: "active", beneficiary: { reference: "Patient/" + s.patient },
      payor, subscriberId: member || undefined, period: { start: isoDate(new Date()) } });
  }
  await loadCoverages();
  profileDone("Your insurance is saved.");
}

function renderDoctors() {
  const specialty = $("specialty").value;
  const name = $("doctor-name").value.trim().toLowerCase();
  const list = directory.doctors.filter((d) => (!specialty || d.specialties.some((s) => s.code === specialty)) &&
    (!name || d.name.toLowerCase().includes(name)));
  $("doctors").replaceChildren(...list.map((d) => el("button", {
    type: "button", class: "list-group-item list-group-item-action" + (patientState.doctor === d ? " active" : ""),
    "aria-pressed": patientState.doctor === d ? "true" : "false", "data-doctor": d.ref,
    onclick: () => { patientState.doctor = d; renderDoctors(); loadWeek().catch(showError); followSlots(d, loadWeek); },
  }, el("strong", {}, d.name), " ", el("span", { class: "small" }, d.specialties.map((s) => s.display).join(", ")))));
  if (!list.length) $("doctors").replaceChildren(el("p", { class: "text-body-secondary" }, "No doctor matches."));
}

// findSlots asks $find for the doctor's open slots in [from, to), for this patient.
async function findSlots(doctorRef, from, to) {
  const s = currentSession();
  const q = new URLSearchParams({ start: from.toISOString(), end: to.toISOString(), practitioner: doctorRef,
    "patient-reference": "Patient/" + s.patient, _count: "500" });
  return resources(await fhir("GET", "Appointment/$find?" + q.toString()), "Appointment");
}

async function loadWeek() {
  const d = patientState.doctor;
  if (!d) return;
  const from = patientState.week, to = addDays(from, 7);
  $("week").hidden = false;
  $("week-label").textContent = `${d.name}: ${shortDayFormat.format(from)} – ${shortDayFormat.format(addDays(to, -1))}`;
  // The times shown stay (dimmed) until the new ones come: the page does not jump under
  // a finger or a click while they load.
  if (!$("slots").children.length || $("slots").dataset.week !== isoDate(from) + d.ref) {
    $("slots").replaceChildren(el("p", { class: "text-body-secondary" }, "Looking for free times…"));
  }
  $("slots").dataset.week = isoDate(from) + d.ref;
  $("slots").setAttribute("aria-busy", "true");
  const now = new Date();
  const current = latest("week");
  let offers;
  try {
    offers = (await findSlots(d.ref, from < now ? now : from, to)).filter((a) => new Date(a.start) > now);
  } finally {
    if (current()) $("slots").removeAttribute("aria-busy");
  }
  if (!current()) return;
  const days = [];
  for (let i = 0; i < 7; i++) {
    const day = addDays(from, i);
    const mine = offers.filter((a) => isoDate(new Date(a.start)) === isoDate(day));
    if (!mine.length) continue;
    days.push(el("div", { class: "slot-day" }, el("h4", {}, dayFormat.format(day)),
      mine.map((a) => el("button", {
        type: "button", class: "btn btn-outline-primary btn-sm", "data-start": new Date(a.start).toISOString(),
        "aria-label": `${d.name}, ${whenFormat.format(new Date(a.start))}`, onclick: () => offer(a),
      }, timeFormat.format(new Date(a.start))))));
  }
  $("slots").replaceChildren(...(days.length ? days : [el("p", { class: "text-body-secondary" }, "No free time this week; try the next one.")]));
}

function offer(a) {
  patientState.offer = a;
  const doctor = participantOf(a, "Practitioner");
  const m = patientState.moving;
  $("confirm-text").textContent = m
    ? `Move your appointment of ${whenFormat.format(new Date(m.start))} to ${whenFormat.format(new Date(a.start))}?`
    : `Book ${doctorName(doctor && doctor.actor.reference)} on ${whenFormat.format(new Date(a.start))}?`;
  $("confirm").hidden = false;
  $("book-result").replaceChildren();
  $("confirm-book").focus();
}

// book asks for the offered slot: a pending Appointment that holds the slot while the
// doctor answers (docs/scheduling.md, Doctor approval). A 409 means someone was faster.
async function book(a) {
  if (!a) return;
  const appt = JSON.parse(JSON.stringify(a));
  delete appt.id;
  appt.status = "pending";
  for (const p of appt.participant || []) {
    const r = (p.actor && p.actor.reference) || "";
    if (r.startsWith("Patient/")) p.status = "accepted";
    else if (r.startsWith("Practitioner/") || r.startsWith("PractitionerRole/")) p.status = "needs-action";
    else p.status = "accepted"; // a place has nobody to answer for it
  }
  await submitOffer(a, () => fhir("POST", "Appointment", appt),
    `Requested: ${doctorName(participantOf(a, "Practitioner").actor.reference)} on ${whenFormat.format(new Date(a.start))}. The doctor will confirm it.`);
}

// submitOffer runs write, which books or moves to the offered appointment a, then says
// success and reloads the lists; a slot lost to someone else offers the next free ones,
// any other refusal is shown from its OperationOutcome.
async function submitOffer(a, write, success) {
  $("confirm-book").disabled = true;
  try {
    await write();
    patientState.moving = null;
    patientState.offer = null;
    $("confirm").hidden = true;
    $("book-result").replaceChildren(alertBox("success", success));
    $("book-result").focus();
    await Promise.all([loadPatientAppointments(), loadWeek()]);
  } catch (err) {
    if (await lostSlot(a, err)) await slotTaken(a, err);
    else {
      $("book-result").replaceChildren(alertBox("danger", outcomeText(err)));
      $("book-result").focus();
    }
  } finally {
    $("confirm-book").disabled = false;
  }
}

// startReschedule shows the week of the appointment's doctor to pick its new time.
function startReschedule(a) {
  const doctorRef = (participantOf(a, "Practitioner") || { actor: {} }).actor.reference;
  const d = directory.doctors.find((x) => x.ref === doctorRef);
  if (!d) { showAlert("danger", "The doctor of this appointment is not in the directory."); return; }
  patientState.moving = a;
  patientState.doctor = d;
  patientState.week = startOfWeek(new Date(a.start) < new Date() ? new Date() : new Date(a.start));
  $("confirm").hidden = true;
  renderDoctors();
  const box = alertBox("info", el("span", { "data-moving": a.id }, `Choose a new time for your appointment of ${whenFormat.format(new Date(a.start))} with ${d.name}. `),
    el("button", { type: "button", class: "btn btn-sm btn-link", onclick: stopReschedule }, "Keep the current time"));
  $("book-result").replaceChildren(box);
  $("book-result").focus();
  loadWeek().catch(showError);
  followSlots(d, loadWeek);
}

function stopReschedule() {
  patientState.moving = null;
  $("confirm").hidden = true;
  $("book-result").replaceChildren();
}

// reschedule moves the appointment to the offered slot: one update with the new slot and
// time, which careslot applies in one transaction (the old slot freed, the new taken),
// or refuses with 409 when the new one was taken meanwhile.
async function reschedule(m, a) {
  if (!m || !a) return;
  await submitOffer(a, () => updateAppointment(m.id, (cur) => { cur.slot = a.slot; cur.start = a.start; cur.end = a.end; }),
    `Moved to ${whenFormat.format(new Date(a.start))}.`);
}

// lostSlot tells whether a refusal means someone else took the slot: a 409, or a 422
// about the slot, which is how careslot answers a patient once the slot is another
// patient's (a busy slot of someone else's is not theirs to see, so it reads as missing);
// then the slot is no longer among the free ones.
async function lostSlot(a, err) {
  if (!(err instanceof FhirError)) return false;
  if (err.status === 409) return true;
  const slots = (a.slot || []).map((s) => s.reference);
  const text = JSON.stringify((err.outcome && err.outcome.issue) || []);
  if (err.status !== 422 || !slots.some((r) => text.includes(r))) return false;
  const doctor = participantOf(a, "Practitioner").actor.reference;
  const start = new Date(a.start);
  const still = await findSlots(doctor, start, new Date(start.getTime() + 60000)).catch(() => []);
  return !still.some((o) => (o.slot || []).some((s) => slots.includes(s.reference)));
}

// slotTaken tells the patient the slot went to someone else and offers the doctor's
// next free times.
async function slotTaken(a, err) {
  $("confirm").hidden = true;
  patientState.offer = null;
  const doctor = participantOf(a, "Practitioner").actor.reference;
  const start = new Date(a.start);
  const next = (await findSlots(doctor, start, addDays(start, 14)).catch(() => [])).slice(0, 3);
  const box = alertBox("warning",
    el("p", { class: "fw-semibold mb-1" }, "This slot was just taken."),
    err.status === 409 ? el("p", { class: "small mb-2" }, outcomeText(err)) : null,
    next.length ? el("p", { class: "mb-1" }, "Next free times:") : el("p", { class: "mb-0" }, "No free time in the next two weeks."),
    el("div", { class: "d-flex flex-wrap gap-2" }, next.map((n) => el("button", {
      type: "button", class: "btn btn-sm btn-primary", "data-start": new Date(n.start).toISOString(), onclick: () => offer(n),
    }, whenFormat.format(new Date(n.start))))));
  box.setAttribute("data-conflict", "true");
  $("book-result").replaceChildren(box);
  $("book-result").focus();
  loadWeek().catch(showError);
}

async function loadPatientAppointments() {
  const s = currentSession();
  const bundle = await fhir("GET", `Appointment?patient=Patient/${encodeURIComponent(s.patient)}&_sort=date&_count=200`);
  const now = new Date();
  const all = resources(bundle, "Appointment").filter((a) => a.start);
  // A visit that is over (fulfilled, missed) is past even before its planned end.
  const over = ["cancelled", "entered-in-error", "fulfilled", "noshow"];
  const upcoming = all.filter((a) => new Date(a.end || a.start) >= now && !over.includes(a.status));
  const past = all.filter((a) => !upcoming.includes(a)).reverse();
  const item = (a, canCancel) => el("li", { class: "list-group-item", "data-appointment": a.id },
    el("div", { class: "d-flex justify-content-between gap-2" },
      el("span", {}, el("strong", {}, whenFormat.format(new Date(a.start))), el("br"),
        doctorName((participantOf(a, "Practitioner") || { actor: {} }).actor.reference)),
      el("span", {}, statusBadge(a.status))),
    canCancel && ["proposed", "pending", "booked", "waitlist"].includes(a.status)
      ? el("div", { class: "appt-actions" },
        el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-reschedule": a.id,
          "aria-label": `Reschedule the appointment on ${whenFormat.format(new Date(a.start))}`, onclick: () => startReschedule(a) }, "Reschedule"),
        el("button", { type: "button", class: "btn btn-sm btn-outline-danger",
          "aria-label": `Cancel the appointment on ${whenFormat.format(new Date(a.start))}`, onclick: (e) => askCancel(e.target, a) }, "Cancel"))
      : null);
  $("upcoming").replaceChildren(...(upcoming.length ? upcoming.map((a) => item(a, true)) : [el("li", { class: "list-group-item text-body-secondary" }, "Nothing booked yet.")]));
  $("past").replaceChildren(...(past.length ? past.map((a) => item(a, false)) : [el("li", { class: "list-group-item text-body-secondary" }, "No past appointments.")]));
  await loadRecords(all);
}

// loadRecords lists the patient's documents grouped by the visit they belong to.
// A document belongs to the appointment it names (context.related), or to its
// encounter's; diagnoses and prescriptions to their encounter's appointment.
async function loadRecords(appts) {
  const s = currentSession();
  const patient = "Patient/" + encodeURIComponent(s.patient);
  const [docBundle, encBundle, condBundle, medBundle] = await Promise.all([
    fhir("GET", `DocumentReference?patient=${patient}&_sort=-date&_count=100`),
    fhir("GET", `Encounter?patient=${patient}&_count=200`),
    fhir("GET", `Condition?patient=${patient}&_count=200`),
    fhir("GET", `MedicationRequest?patient=${patient}&_count=200`),
  ]);
  const visitOf = new Map(resources(encBundle, "Encounter").map((e) => [ref(e), ((e.appointment || [])[0] || {}).reference || ""]));
  const byVisit = new Map();
  const group = (key) => {
    if (!byVisit.has(key)) byVisit.set(key, { docs: [], conditions: [], prescriptions: [] });
    return byVisit.get(key);
  };
  for (const d of resources(docBundle, "DocumentReference")) {
    const related = ((d.context && d.context.related) || []).map((r) => r.reference).find((r) => (r || "").startsWith("Appointment/"));
    const enc = ((d.context && d.context.encounter) || []).map((r) => visitOf.get(r.reference)).find(Boolean);
    group(related || enc || "").docs.push(d);
  }
  for (const c of resources(condBundle, "Condition")) group(visitOf.get((c.encounter || {}).reference) || "").conditions.push(c);
  for (const m of resources(medBundle, "MedicationRequest")) group(visitOf.get((m.encounter || {}).reference) || "").prescriptions.push(m);
  const visit = (key) => {
    const a = appts.find((x) => "Appointment/" + x.id === key);
    if (!a) return "Other records";
    return `Visit on ${whenFormat.format(new Date(a.start))} with ${doctorName((participantOf(a, "Practitioner") || { actor: {} }).actor.reference)}`;
  };
  for (const url of attachmentURLs) URL.revokeObjectURL(url);
  attachmentURLs = [];
  const concept = (cc) => (cc && (cc.text || ((cc.coding || [])[0] || {}).display || ((cc.coding || [])[0] || {}).code)) || "unnamed";
  const sections = [...byVisit].map(([key, g]) => el("li", { class: "list-group-item", "data-visit": key },
    el("h3", { class: "h6" }, visit(key)),
    g.conditions.length ? el("div", { class: "mb-2" }, el("h4", { class: "small fw-semibold mb-1" }, "Diagnoses"),
      el("ul", { class: "mb-0" }, g.conditions.map((c) => el("li", { "data-condition": c.id }, concept(c.code),
        ((c.code && c.code.coding) || []).filter((x) => x.code).map((x) => el("span", { class: "text-body-secondary" }, ` (${x.code})`)))))) : null,
    g.prescriptions.length ? el("div", { class: "mb-2" }, el("h4", { class: "small fw-semibold mb-1" }, "Prescriptions"),
      el("ul", { class: "mb-0" }, g.prescriptions.map((m) => el("li", { "data-prescription": m.id }, concept(m.medicationCodeableConcept),
        (m.dosageInstruction || []).filter((d) => d.text).map((d) => el("span", { class: "text-body-secondary" }, `: ${d.text}`)),
        m.status !== "active" ? el("span", { class: "text-body-secondary" }, ` (${m.status})`) : null)))) : null,
    g.docs.map((d) => el("div", { class: "mb-2", "data-document": d.id },
      el("div", { class: "small text-body-secondary" }, `${d.type && (d.type.text || (d.type.coding || [{}])[0].display) || "Document"}, ${d.date ? whenFormat.format(new Date(d.date)) : ""}${d.author && d.author[0] ? " · " + doctorName(d.author[0].reference) : ""}`),
      (d.content || []).map((c) => attachmentView(c.attachment || {}))))));
  $("records").replaceChildren(...(sections.length ? sections : [el("li", { class: "list-group-item text-body-secondary" }, "No records yet.")]));
}

// attachmentView shows a text attachment in place and offers any other as a download.
function attachmentView(att) {
  if (att.url && /^Binary\/[A-Za-z0-9.-]+$/.test(att.url)) return binaryView(att);
  const bytes = att.data ? Uint8Array.from(atob(att.data), (ch) => ch.charCodeAt(0)) : new Uint8Array();
  const type = att.contentType || "application/octet-stream";
  if (type.startsWith("text/plain")) {
    return el("details", { class: "mb-1" }, el("summary", {}, att.title || "Note"),
      el("p", { class: "mb-0 note-text" }, new TextDecoder().decode(bytes)));
  }
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  attachmentURLs.push(url);
  const name = att.title || "document";
  return el("div", { "data-attachment": name }, el("a", { href: url, target: "_blank", rel: "noopener", "data-open": name }, `Open ${name}`),
    " · ", el("a", { href: url, download: name, "aria-label": `Download ${name}` }, "Download"));
}

// binaryView offers a file stored as a Binary: its bytes are fetched (with the token) when
// asked for, then offered to open or download like an inline one.
function binaryView(att) {
  const name = att.title || "document";
  const box = el("div", { "data-attachment": name });
  const button = el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-fetch": name,
    onclick: async () => {
      button.disabled = true;
      try {
        const url = URL.createObjectURL(await binaryBlob(att.url));
        attachmentURLs.push(url);
        box.replaceChildren(el("a", { href: url, target: "_blank", rel: "noopener", "data-open": name }, `Open ${name}`),
          " · ", el("a", { href: url, download: name, "aria-label": `Download ${name}` }, "Download"));
        box.querySelector("a").focus();
      } catch (err) {
        button.disabled = false;
        showError(err);
      }
    } }, `Get ${name}`, att.size ? ` (${Math.ceil(att.size / 1024)} KB)` : "");
  box.append(button);
  return box;
}

// attachmentURLs are the object URLs of the records shown; they are let go when the
// records are drawn again.
let attachmentURLs = [];

// askCancel asks again in place (no window.confirm, which blocks the page).
function askCancel(button, a) {
  const box = el("div", { class: "mt-2", role: "group", "aria-label": "Confirm the cancellation" },
    el("span", { class: "me-2" }, "Cancel this appointment?"),
    el("button", { type: "button", class: "btn btn-sm btn-danger me-1", "data-confirm-cancel": a.id,
      onclick: (e) => { e.target.disabled = true; cancel(a).catch((err) => { e.target.disabled = false; showError(err); }); } }, "Yes, cancel it"),
    el("button", { type: "button", class: "btn btn-sm btn-link", onclick: () => { box.remove(); button.hidden = false; button.focus(); } }, "Keep it"));
  button.hidden = true;
  button.after(box);
  box.querySelector("button").focus();
}

async function cancel(a) {
  await updateAppointment(a.id, (cur) => {
    cur.status = "cancelled";
    cur.cancelationReason = { text: "Cancelled by the patient in careslot" };
  });
  $("book-result").replaceChildren(); // an earlier "Requested" would now mislead
  showAlert("success", "The appointment is cancelled.");
  await loadPatientAppointments();
  if (patientState.doctor) await loadWeek();
}

// updateAppointment reads the appointment, changes it and writes it back with If-Match,
// so that a change made meanwhile by someone else is refused rather than overwritten.
async function updateAppointment(id, change) {
  const cur = await fhir("GET", "Appointment/" + encodeURIComponent(id));
  change(cur);
  return fhir("PUT", "Appointment/" + encodeURIComponent(id), cur, { "If-Match": `W/"${cur.meta.versionId}"` });
}

// ---------------------------------------------------------------- doctor

// roles and schedule are the doctor's own (loadAvailability).
const doctorState = { date: startOfDay(new Date()), span: "day", roles: [], schedule: null };

async function showDoctor(s) {
  $("doctor-view").hidden = false;
  const [me] = await Promise.all([fhir("GET", s.fhirUser), loadDirectory()]);
  $("who-name").textContent = humanName(me);
  $("doctor-heading").textContent = `Appointments of ${humanName(me)}`;
  $("doctor-date").value = isoDate(doctorState.date);
  $("doctor-date").addEventListener("change", () => { if ($("doctor-date").value) { doctorState.date = parseDate($("doctor-date").value); loadDoctor().catch(showError); } });
  for (const r of document.querySelectorAll("input[name=span]")) r.addEventListener("change", () => { doctorState.span = r.value; loadDoctor().catch(showError); });
  const step = (n) => { doctorState.date = addDays(doctorState.date, n * (doctorState.span === "week" ? 7 : 1)); $("doctor-date").value = isoDate(doctorState.date); loadDoctor().catch(showError); };
  $("doctor-prev").addEventListener("click", () => step(-1));
  $("doctor-next").addEventListener("click", () => step(1));
  $("doctor-refresh").addEventListener("click", () => loadDoctor().catch(showError));
  $("doctor-range").addEventListener("submit", (e) => e.preventDefault());
  $("gen-from").value = isoDate(doctorState.date);
  $("gen-to").value = isoDate(addDays(doctorState.date, 6));
  $("generate-form").addEventListener("submit", (e) => { e.preventDefault(); submitting(e.target, generateSlots).catch(availabilityError); });
  $("block-form").addEventListener("submit", (e) => { e.preventDefault(); submitting(e.target, blockTime).catch(availabilityError); });
  await loadAvailability();
  await loadDoctor();
  poll(loadDoctor);
  followLive("Appointment?actor=" + s.fhirUser, loadDoctor);
}

// submitting runs fn with the form's submit button disabled, so a second press does not
// send it twice.
async function submitting(form, fn) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try { await fn(); } finally { button.disabled = false; }
}

// ---------------------------------------------------------------- doctor: availability

const dayNames = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

// loadAvailability reads the doctor's roles (their hours, set by the clinic) and their
// Schedule, which slots are made in.
async function loadAvailability() {
  const s = currentSession();
  const [roles, schedules] = await Promise.all([
    fhir("GET", "PractitionerRole?practitioner=" + encodeURIComponent(s.fhirUser) + "&_count=50"),
    fhir("GET", "Schedule?actor=" + encodeURIComponent(s.fhirUser) + "&_count=50"),
  ]);
  doctorState.roles = resources(roles, "PractitionerRole");
  doctorState.schedule = resources(schedules, "Schedule").find((x) => x.active !== false) || null;
  const lines = [];
  for (const role of doctorState.roles) {
    for (const t of role.availableTime || []) {
      const days = t.daysOfWeek && t.daysOfWeek.length < 7 ? t.daysOfWeek.map((d) => dayNames[d] || d).join(", ") : "Every day";
      const hours = t.allDay ? "all day" : `${(t.availableStartTime || "00:00").slice(0, 5)}–${(t.availableEndTime || "24:00").slice(0, 5)}`;
      lines.push(el("li", {}, `${days}: ${hours}`));
    }
    for (const n of role.notAvailable || []) {
      const during = n.during ? ` (${n.during.start || "…"} – ${n.during.end || "…"})` : "";
      lines.push(el("li", {}, `Not available: ${n.description}${during}`));
    }
  }
  $("hours").replaceChildren(...(lines.length ? lines : [el("li", {}, "No hours yet: ask the clinic to set them.")]));
}

function availabilityError(err) {
  if (err instanceof SignedOut) return;
  $("availability-result").replaceChildren(alertBox("danger", outcomeText(err)));
  $("availability-result").focus();
}

function availabilityDone(kind, text) {
  $("availability-result").replaceChildren(alertBox(kind, text));
  $("availability-result").focus();
}

// ensureSchedule is the doctor's Schedule, made (with their roles and specialties) when
// they have none yet.
async function ensureSchedule() {
  if (doctorState.schedule) return doctorState.schedule;
  const s = currentSession();
  const specialty = doctorState.roles.flatMap((r) => r.specialty || []);
  doctorState.schedule = await fhir("POST", "Schedule", {
    resourceType: "Schedule", active: true,
    actor: [{ reference: s.fhirUser }, ...doctorState.roles.map((r) => ({ reference: ref(r) }))],
    specialty: specialty.length ? specialty : undefined,
  });
  return doctorState.schedule;
}

// generateSlots asks careslot's $generate-slots to open free slots from the doctor's
// hours on the chosen days (read in the browser's time zone); it makes slots only where
// the schedule has none, so running it twice changes nothing.
async function generateSlots() {
  const from = parseDate($("gen-from").value), to = addDays(parseDate($("gen-to").value), 1);
  if (!(to > from)) throw new Error("The last day must not be before the first.");
  const sched = await ensureSchedule();
  const answer = await fhir("POST", `Schedule/${encodeURIComponent(sched.id)}/$generate-slots`, {
    resourceType: "Parameters", parameter: [
      { name: "start", valueDateTime: from.toISOString() },
      { name: "end", valueDateTime: to.toISOString() },
      { name: "slot-length", valueInteger: Number($("gen-length").value) },
      { name: "timezone", valueString: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" },
    ],
  });
  const made = answer.total || 0;
  const days = `${shortDayFormat.format(from)} – ${shortDayFormat.format(addDays(to, -1))}`;
  availabilityDone(made ? "success" : "info", made
    ? `Opened ${made} free slot${made === 1 ? "" : "s"} (${days}); patients can book them now.`
    : `No new slot (${days}): the days already have slots, or your hours do not cover them.`);
  await loadDoctor();
}

// mySlots are the slots of the doctor's schedule that overlap [from, to). A slot is at
// most a day long (blocks are cut at midnight), so a day's look back finds them all.
async function mySlots(sched, from, to) {
  const q = new URLSearchParams({ schedule: "Schedule/" + sched.id, _count: "1000", _sort: "start" });
  q.append("start", "ge" + addDays(from, -1).toISOString());
  q.append("start", "lt" + to.toISOString());
  return resources(await fhir("GET", "Slot?" + q.toString()), "Slot")
    .filter((x) => new Date(x.end) > from && new Date(x.start) < to);
}

// blockTime takes [from, to) off: its free slots become busy-unavailable, and the time
// without slots gets busy-unavailable slots (one per day), so patients cannot book it and
// $generate-slots does not open it later. Booked slots are kept: the doctor cancels or
// moves those appointments. One transaction: all of it, or nothing.
async function blockTime() {
  const from = new Date($("block-from").value), to = new Date($("block-to").value);
  if (isNaN(from) || isNaN(to) || !(to > from)) throw new Error("Choose when the time off starts and ends (the end after the start).");
  const reason = $("block-reason").value.trim();
  const comment = "Time off" + (reason ? ": " + reason : "");
  const sched = await ensureSchedule();
  const slots = await mySlots(sched, from, to);
  const entry = [];
  let kept = 0, cursor = from;
  const gap = (a, b) => {
    for (let d = a; d < b;) {
      const end = new Date(Math.min(addDays(startOfDay(d), 1), b));
      entry.push({ resource: { resourceType: "Slot", schedule: { reference: "Schedule/" + sched.id }, status: "busy-unavailable",
        start: d.toISOString(), end: end.toISOString(), comment }, request: { method: "POST", url: "Slot" } });
      d = end;
    }
  };
  for (const slot of slots) {
    const start = new Date(slot.start), end = new Date(slot.end);
    if (start > cursor) gap(cursor, start);
    if (end > cursor) cursor = end;
    if (slot.status === "free") {
      entry.push({ resource: { ...slot, status: "busy-unavailable", comment },
        request: { method: "PUT", url: "Slot/" + slot.id, ifMatch: `W/"${slot.meta.versionId}"` } });
    } else if (slot.status === "busy" || slot.status === "busy-tentative") kept++;
  }
  if (cursor < to) gap(cursor, to);
  if (entry.length) await fhir("POST", "", { resourceType: "Bundle", type: "transaction", entry });
  availabilityDone(kept ? "warning" : "success", `Blocked ${whenFormat.format(from)} – ${whenFormat.format(to)}.` +
    (kept ? ` ${kept} booked slot${kept === 1 ? " is" : "s are"} kept: cancel or move ${kept === 1 ? "that appointment" : "those appointments"} if needed.` : ""));
  $("block-form").reset();
  await loadDoctor();
}

function doctorRange() {
  const from = doctorState.span === "week" ? startOfWeek(doctorState.date) : doctorState.date;
  return [from, addDays(from, doctorState.span === "week" ? 7 : 1)];
}

async function loadDoctor() {
  const s = currentSession();
  const [from, to] = doctorRange();
  const q = new URLSearchParams({ practitioner: s.fhirUser, _sort: "date", _count: "200", _include: "Appointment:patient" });
  q.append("date", "ge" + from.toISOString());
  q.append("date", "lt" + to.toISOString());
  const current = latest("doctor");
  const [bundle, slots] = await Promise.all([fhir("GET", "Appointment?" + q.toString()),
    doctorState.schedule ? mySlots(doctorState.schedule, from, to) : []]);
  if (!current()) return;
  const patients = new Map(resources(bundle, "Patient").map((p) => [ref(p), p]));
  const appts = resources(bundle, "Appointment");
  $("doctor-list").replaceChildren(slotSummary(slots),
    appointmentTable(appts, patients, { doctor: s.fhirUser, onChange: loadDoctor, showDoctor: false }));
}

// slotSummary counts the doctor's slots of the period by what patients can do with them.
function slotSummary(slots) {
  const n = { free: 0, booked: 0, blocked: 0 };
  for (const x of slots) {
    if (x.status === "free") n.free++;
    else if (x.status === "busy-unavailable") n.blocked++;
    else if (x.status !== "entered-in-error") n.booked++;
  }
  return el("p", { class: "small text-body-secondary", id: "slot-summary", "data-free": String(n.free), "data-blocked": String(n.blocked) },
    slots.length ? `Slots in this period: ${n.free} free, ${n.booked} taken, ${n.blocked} blocked.` : "No slots in this period: open some from your hours.");
}

// appointmentTable lists appointments by day, with the actions the viewer may take.
function appointmentTable(appts, patients, opts) {
  if (!appts.length) return el("p", { class: "text-body-secondary" }, "No appointments in this period.");
  const groups = new Map();
  for (const a of appts) {
    const key = a.start ? isoDate(new Date(a.start)) : "no date";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(a);
  }
  return el("div", {}, [...groups].map(([key, list]) => el("section", { class: "mb-3" },
    el("h2", { class: "h6 border-bottom pb-1" }, key === "no date" ? "Without a date" : dayFormat.format(parseDate(key))),
    el("ul", { class: "list-group" }, list.map((a) => {
      const pat = participantOf(a, "Patient");
      const patRef = pat && pat.actor.reference;
      const patName = patients.get(patRef) ? humanName(patients.get(patRef)) : (pat && pat.actor.display) || patRef || "no patient";
      const docRef = (participantOf(a, "Practitioner") || { actor: {} }).actor.reference;
      return el("li", { class: "list-group-item", "data-appointment": a.id },
        el("div", { class: "d-flex flex-wrap justify-content-between gap-2" },
          el("span", {}, el("strong", {}, a.start ? timeFormat.format(new Date(a.start)) : "—"), " ", patName,
            opts.showDoctor ? el("span", { class: "text-body-secondary" }, " with ", doctorName(docRef)) : null),
          statusBadge(a.status)),
        opts.doctor ? doctorActions(a, opts) : null);
    })))));
}

function doctorActions(a, opts) {
  const me = participantOf(a, "Practitioner");
  const buttons = [];
  const label = (what) => `${what}: ${a.start ? whenFormat.format(new Date(a.start)) : a.id}`;
  const act = (text, cls, fn) => buttons.push(el("button", { type: "button", class: `btn btn-sm ${cls}`, "aria-label": label(text),
    onclick: async (e) => {
      e.target.disabled = true;
      try { await fn(); await opts.onChange(); } catch (err) { showError(err); e.target.disabled = false; }
    } }, text));
  const awaiting = ["proposed", "pending", "waitlist"].includes(a.status) && me && ["needs-action", "tentative"].includes(me.status);
  if (awaiting) {
    act("Approve", "btn-success", () => respond(a, opts.doctor, "accepted"));
    act("Decline", "btn-outline-danger", () => respond(a, opts.doctor, "declined"));
  }
  if (a.status === "booked") {
    act("Arrived", "btn-primary", () => updateAppointment(a.id, (c) => { c.status = "arrived"; }));
    act("No-show", "btn-outline-dark", () => updateAppointment(a.id, (c) => { c.status = "noshow"; }));
  }
  if (a.status === "arrived" || a.status === "checked-in") {
    act("Fulfilled", "btn-secondary", () => updateAppointment(a.id, (c) => { c.status = "fulfilled"; }));
  }
  if (["booked", "arrived", "checked-in", "fulfilled"].includes(a.status) && participantOf(a, "Patient")) {
    buttons.push(el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "aria-label": label("Add a note"),
      "data-add-note": a.id, onclick: (e) => noteForm(e.target, a, opts) }, "Add a note"));
  }
  // A diagnosis and a prescription belong to the visit itself (its Encounter), which
  // careslot opens when the patient arrives.
  if (["arrived", "checked-in", "fulfilled"].includes(a.status) && participantOf(a, "Patient")) {
    buttons.push(el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "aria-label": label("Add a diagnosis"),
      "data-add-diagnosis": a.id, onclick: (e) => recordForm(e.target, a, opts, diagnosisForm) }, "Add a diagnosis"));
    buttons.push(el("button", { type: "button", class: "btn btn-sm btn-outline-primary", "aria-label": label("Add a prescription"),
      "data-add-prescription": a.id, onclick: (e) => recordForm(e.target, a, opts, prescriptionForm) }, "Add a prescription"));
  }
  return buttons.length ? el("div", { class: "appt-actions" }, buttons) : null;
}

// noteForm opens, below the appointment, the form of a visit note with an optional file.
function noteForm(button, a, opts) {
  button.hidden = true;
  const id = "note-" + a.id;
  const form = el("form", { class: "mt-2", "data-note-form": a.id },
    el("label", { for: id, class: "form-label" }, "Note on this visit"),
    el("textarea", { id, class: "form-control", rows: "3", required: true }),
    el("label", { for: id + "-file", class: "form-label mt-2" }, "Attach a file (optional)"),
    el("input", { id: id + "-file", type: "file", class: "form-control" }),
    el("div", { class: "mt-2" },
      el("button", { type: "submit", class: "btn btn-sm btn-primary" }, "Save the note"),
      el("button", { type: "button", class: "btn btn-sm btn-link", onclick: () => { form.remove(); button.hidden = false; button.focus(); } }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await addNote(a, opts.doctor, form.querySelector("textarea").value, form.querySelector("input[type=file]").files[0]);
      showAlert("success", "The note is saved; the patient sees it with this visit.");
      await opts.onChange();
    } catch (err) {
      showError(err);
      submit.disabled = false;
    }
  });
  button.after(form);
  form.querySelector("textarea").focus();
}

// The record forms of a visit: their fields, and how the record is written.
const diagnosisForm = {
  kind: "diagnosis",
  fields: [
    { name: "text", label: "Diagnosis", required: true, placeholder: "e.g. Essential hypertension" },
    { name: "code", label: "ICD-10 code (optional)", placeholder: "e.g. I10", pattern: "[A-Za-z][0-9][0-9A-Za-z](\\.[0-9A-Za-z]{1,4})?" },
  ],
  save: addDiagnosis,
  done: "The diagnosis is saved; the patient sees it with this visit.",
};
const prescriptionForm = {
  kind: "prescription",
  fields: [
    { name: "medication", label: "Medication", required: true, placeholder: "e.g. Ramipril 5 mg tablet" },
    { name: "dosage", label: "How to take it", required: true, placeholder: "e.g. one tablet every morning" },
  ],
  save: addPrescription,
  done: "The prescription is saved; the patient sees it with this visit.",
};

// recordForm opens, below the appointment, the form of a diagnosis or a prescription.
function recordForm(button, a, opts, spec) {
  button.hidden = true;
  const id = (name) => `${spec.kind}-${name}-${a.id}`;
  const form = el("form", { class: "mt-2 row g-2", [`data-${spec.kind}-form`]: a.id },
    spec.fields.map((f) => el("div", { class: "col-sm-6" },
      el("label", { for: id(f.name), class: "form-label" }, f.label),
      el("input", { id: id(f.name), name: f.name, class: "form-control", required: f.required, placeholder: f.placeholder, pattern: f.pattern, autocomplete: "off" }))),
    el("div", { class: "col-12" },
      el("button", { type: "submit", class: "btn btn-sm btn-primary" }, `Save the ${spec.kind}`),
      el("button", { type: "button", class: "btn btn-sm btn-link", onclick: () => { form.remove(); button.hidden = false; button.focus(); } }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    const values = Object.fromEntries(spec.fields.map((f) => [f.name, form.elements[f.name].value.trim()]));
    try {
      await spec.save(a, opts.doctor, values);
      await opts.onChange(); // the list is drawn again, without the form
      showAlert("success", spec.done);
    } catch (err) {
      showError(err);
      submit.disabled = false;
    }
  });
  button.closest(".appt-actions").after(form);
  form.querySelector("input").focus();
}

// visitEncounter is the Encounter careslot opened for the appointment's visit.
async function visitEncounter(a) {
  const enc = resources(await fhir("GET", "Encounter?appointment=Appointment/" + encodeURIComponent(a.id)), "Encounter")[0];
  if (!enc) throw new Error("This visit has no encounter yet: mark the patient arrived first.");
  return enc;
}

// addDiagnosis records a Condition of the patient, diagnosed in this visit.
async function addDiagnosis(a, doctor, v) {
  const enc = await visitEncounter(a);
  const code = { text: v.text };
  if (v.code) code.coding = [{ system: "http://hl7.org/fhir/sid/icd-10", code: v.code.toUpperCase(), display: v.text }];
  return fhir("POST", "Condition", {
    resourceType: "Condition",
    clinicalStatus: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" }] },
    verificationStatus: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-ver-status", code: "confirmed" }] },
    category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-category", code: "encounter-diagnosis", display: "Encounter Diagnosis" }] }],
    code, subject: { reference: participantOf(a, "Patient").actor.reference }, encounter: { reference: ref(enc) },
    recordedDate: new Date().toISOString(), recorder: { reference: doctor },
  });
}

// addPrescription records a MedicationRequest (an order) of this visit.
async function addPrescription(a, doctor, v) {
  const enc = await visitEncounter(a);
  return fhir("POST", "MedicationRequest", {
    resourceType: "MedicationRequest", status: "active", intent: "order",
    medicationCodeableConcept: { text: v.medication },
    subject: { reference: participantOf(a, "Patient").actor.reference }, encounter: { reference: ref(enc) },
    authoredOn: new Date().toISOString(), requester: { reference: doctor },
    dosageInstruction: [{ text: v.dosage }],
  });
}

function textBase64(text) {
  let s = "";
  for (const b of new TextEncoder().encode(text)) s += String.fromCharCode(b);
  return btoa(s);
}

// addNote stores the visit note as a DocumentReference of the patient, written by the
// doctor, tied to the appointment (context.related); a file is a second attachment, its
// bytes uploaded first as a Binary (raw), which the DocumentReference then names: careslot
// makes the document the Binary's securityContext, so who may read one may read the other.
async function addNote(a, doctor, text, file) {
  const content = [{ attachment: { contentType: "text/plain; charset=utf-8", title: "Visit note", data: textBase64(text), creation: new Date().toISOString() } }];
  if (file) {
    const type = file.type || "application/octet-stream";
    const r = await send("POST", "Binary", file, { "Content-Type": type });
    const bin = await r.json().catch(() => null);
    if (!r.ok) throw new FhirError(r.status, bin);
    content.push({ attachment: { contentType: type, title: file.name, url: "Binary/" + bin.id } });
  }
  return fhir("POST", "DocumentReference", {
    resourceType: "DocumentReference", status: "current",
    type: { coding: [{ system: "http://loinc.org", code: "11506-3", display: "Progress note" }], text: "Visit note" },
    subject: { reference: participantOf(a, "Patient").actor.reference },
    date: new Date().toISOString(), author: [{ reference: doctor }], description: text.split("\n")[0].slice(0, 120),
    content,
    context: { related: [{ reference: "Appointment/" + a.id }], period: a.start ? { start: a.start, end: a.end } : undefined },
  });
}

// respond is the doctor's answer, an AppointmentResponse careslot applies to the appointment.
function respond(a, doctor, status) {
  return fhir("POST", "AppointmentResponse", {
    resourceType: "AppointmentResponse", appointment: { reference: "Appointment/" + a.id },
    actor: { reference: doctor }, participantStatus: status,
  });
}

// ---------------------------------------------------------------- polling and start

let pollTimer;
function poll(fn) {
  clearInterval(pollTimer);
  pollTimer = setInterval(() => { if (!document.hidden && !liveBound()) fn().catch(showError); }, POLL_MS);
}

// ---------------------------------------------------------------- live updates

// The user's appointments are followed over the subscriptions websocket channel: a
// Subscription of the user's own (criteria-based, channel websocket, no payload: each
// change is a "ping"), bound with a single-use binding token, since a browser's
// WebSocket cannot send the Authorization header. Each ping refreshes the list; polling
// takes over whenever the socket is not bound. The Subscription is deleted on sign-out,
// and ends by itself a day later should the tab just be closed.
// A patient looking at a doctor's week follows that doctor's Slots the same way, on a
// second Subscription and socket (criteria Slot?schedule=<the doctor's schedules>),
// changed in place (PUT, If-Match) when another doctor is picked.
const live = newChannel(LIVE_KEY, "live updates of the appointments list");
const liveSlots = newChannel(LIVE_SLOTS_KEY, "live updates of a doctor's free times");

function newChannel(key, reason) {
  return { key, reason, id: "", criteria: "", socket: null, bound: false, stopped: false, retry: 0, refresh: null };
}

function liveBound() { return live.bound; }

function setLive(state) { document.body.dataset.live = state; }

async function followLive(criteria, refresh) {
  try {
    live.id = await liveSubscription(live, criteria);
    await connectLive(live, refresh, setLive);
  } catch (err) {
    if (err instanceof SignedOut) return;
    setLive("failed"); // polling goes on
  }
}

// followSlots makes the week on show follow the Slots of the doctor's schedules, one
// doctor after another (two quick picks must not make two Subscriptions).
function followSlots(doctor, refresh) {
  liveSlots.queue = (liveSlots.queue || Promise.resolve()).then(() => pointSlots(doctor, refresh));
}

async function pointSlots(doctor, refresh) {
  const setState = (state) => { document.body.dataset.liveSlots = state; };
  try {
    const schedules = resources(await fhir("GET", "Schedule?actor=" + encodeURIComponent(doctor.ref) + "&_count=50"), "Schedule");
    if (!schedules.length || liveSlots.stopped) return;
    const criteria = "Slot?schedule=" + schedules.map((x) => "Schedule/" + x.id).join(",");
    if (liveSlots.id && liveSlots.criteria === criteria) return;
    liveSlots.id = await liveSubscription(liveSlots, criteria);
    liveSlots.refresh = refresh;
    if (!liveSlots.socket) await connectLive(liveSlots, () => liveSlots.refresh(), setState);
  } catch (err) {
    if (err instanceof SignedOut) return;
    setState("failed"); // the week still refreshes on each move and booking
  }
}

// liveSubscription reuses this tab's Subscription (a reload), points it at new criteria,
// or creates one.
async function liveSubscription(ch, criteria) {
  const known = ch.id || sessionStorage.getItem(ch.key);
  if (known) {
    const r = await send("GET", "Subscription/" + encodeURIComponent(known));
    const sub = r.ok ? await r.json() : null;
    if (sub && sub.status !== "off" && sub.status !== "error") {
      if (sub.criteria !== criteria) {
        sub.criteria = criteria;
        await fhir("PUT", "Subscription/" + encodeURIComponent(sub.id), sub, { "If-Match": r.headers.get("ETag") });
      }
      ch.criteria = criteria;
      return sub.id;
    }
  }
  const end = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const sub = await fhir("POST", "Subscription", {
    resourceType: "Subscription", status: "requested", end, criteria,
    reason: "careslot booking UI: " + ch.reason,
    channel: { type: "websocket" },
  });
  sessionStorage.setItem(ch.key, sub.id);
  ch.criteria = criteria;
  return sub.id;
}

function parameter(params, name) {
  const p = ((params && params.parameter) || []).find((x) => x.name === name);
  return p && (p.valueString || p.valueUrl || p.valueUri || p.valueDateTime);
}

async function connectLive(ch, refresh, setState) {
  const params = await fhir("POST", "Subscription/" + encodeURIComponent(ch.id) + "/$get-ws-binding-token");
  const socket = new WebSocket(parameter(params, "websocket-url"));
  ch.socket = socket;
  socket.addEventListener("open", () => socket.send("bind-with-token " + parameter(params, "token")));
  socket.addEventListener("message", (e) => {
    const text = String(e.data);
    if (text === "bound " + ch.id) {
      ch.bound = true;
      ch.retry = 0;
      setState("bound");
      refresh().catch(showError); // whatever changed while it was not bound
    } else if (text.startsWith("ping ")) {
      refresh().catch(showError);
    }
  });
  socket.addEventListener("close", () => {
    if (ch.socket !== socket) return;
    ch.bound = false;
    ch.socket = null;
    if (ch.stopped) return;
    setState("closed");
    // Polling covers the gap; try again later, less and less often.
    ch.retry = Math.min(ch.retry + 1, 6);
    setTimeout(() => { if (!ch.stopped) connectLive(ch, refresh, setState).catch(() => setState("failed")); }, 5000 * ch.retry);
  });
}

// stopLive closes the sockets and deletes the Subscriptions (on sign-out, while the token
// still works).
async function stopLive() {
  await Promise.all([live, liveSlots].map(async (ch) => {
    ch.stopped = true;
    ch.bound = false;
    if (ch.socket) ch.socket.close();
    const id = ch.id || sessionStorage.getItem(ch.key);
    sessionStorage.removeItem(ch.key);
    if (id) await fhir("DELETE", "Subscription/" + encodeURIComponent(id)).catch(() => null);
  }));
}

async function start() {
  if (location.pathname === "/callback.html") {
    try { await finishSignIn(); } catch (err) {
      $("callback-status").replaceChildren("Sign-in failed. ", el("a", { href: "/" }, "Back to careslot"));
      showAlert("danger", err.message);
    }
    return;
  }
  const message = sessionStorage.getItem("careslot.message");
  if (message) { sessionStorage.removeItem("careslot.message"); showAlert("info", message); }
  const s = currentSession();
  if (!s) {
    $("signed-out").hidden = false;
    $("sign-in-patient").addEventListener("click", () => signIn("patient").catch(showError));
    $("sign-in-staff").addEventListener("click", () => signIn("staff").catch(showError));
    return;
  }
  $("who").hidden = false;
  $("sign-out").addEventListener("click", (e) => { e.target.disabled = true; signOutEverywhere(); });
  try {
    if (s.patient && (!s.fhirUser || s.fhirUser.startsWith("Patient/"))) await showPatient(s);
    else if (s.fhirUser.startsWith("Practitioner/")) await showDoctor(s);
    else await showAdmin(s);
    document.body.dataset.ready = "true"; // the view is loaded and answers input
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- admin

async function showAdmin() {
  $("admin-view").hidden = false;
  $("who-name").textContent = "Clinic administrator";
  $("admin-filter").addEventListener("submit", (e) => { e.preventDefault(); loadAdmin().catch(showError); });
  $("register-form").addEventListener("submit", (e) => { e.preventDefault(); registerPatient().catch(showError); });
  const today = startOfDay(new Date());
  $("filter-from").value = isoDate(today);
  $("filter-to").value = isoDate(addDays(today, 28));
  const [, insurers] = await Promise.all([loadDirectory(),
    fhir("GET", "Organization?type=" + encodeURIComponent("http://terminology.hl7.org/CodeSystem/organization-type|ins") + "&_count=100")]);
  $("filter-doctor").replaceChildren(el("option", { value: "" }, "Any doctor"),
    ...directory.doctors.map((d) => el("option", { value: d.ref }, d.name)));
  $("reg-insurer").replaceChildren(el("option", { value: "" }, "No insurance"),
    ...resources(insurers, "Organization").map((o) => el("option", { value: ref(o) }, o.name || o.id)));
  fillDoctorForm();
  $("doctor-reg-form").addEventListener("submit", (e) => { e.preventDefault(); registerDoctor().catch(showError); });
  $("audit-filter").addEventListener("submit", (e) => { e.preventDefault(); loadAudit().catch(auditError); });
  $("audit-from").value = isoDate(addDays(today, -7));
  await Promise.all([loadAdmin(), loadAudit().catch(auditError)]);
  poll(loadAdmin);
}

// Specialties a clinic commonly offers (SNOMED CT, R4's practice setting codes); the
// directory's own are offered too.
const SNOMED = "http://snomed.info/sct";
const commonSpecialties = [["394814009", "General practice"], ["394579002", "Cardiology"], ["394582007", "Dermatology"],
  ["394583002", "Endocrinology"], ["394584008", "Gastroenterology"], ["394585009", "Obstetrics and gynecology"],
  ["394591006", "Neurology"], ["394594003", "Ophthalmology"], ["394537008", "Pediatrics"], ["394587001", "Psychiatry"],
  ["418112009", "Pulmonary medicine"], ["394801008", "Trauma and orthopedics"]];

function fillDoctorForm() {
  const known = new Map(commonSpecialties.map(([code, display]) => [`${SNOMED}|${code}`, display]));
  for (const d of directory.doctors) for (const sp of d.specialties) if (!known.has(sp.code)) known.set(sp.code, sp.display);
  $("dreg-specialties").replaceChildren(...[...known].sort((a, b) => a[1].localeCompare(b[1])).map(([code, display], i) =>
    el("div", { class: "form-check" }, el("input", { class: "form-check-input", type: "checkbox", id: "dreg-sp-" + i, value: code, "data-display": display }),
      el("label", { class: "form-check-label", for: "dreg-sp-" + i }, display))));
  $("dreg-days").replaceChildren(...Object.entries(dayNames).map(([code, name]) =>
    el("div", { class: "form-check" }, el("input", { class: "form-check-input", type: "checkbox", id: "dreg-day-" + code, value: code,
      checked: !["sat", "sun"].includes(code) }), el("label", { class: "form-check-label", for: "dreg-day-" + code }, name))));
}

// registerDoctor writes, in one transaction, the Practitioner, their PractitionerRole
// (specialties and working hours, which $generate-slots reads) and their Schedule, so
// the doctor is in the directory and can open slots at once.
async function registerDoctor() {
  const given = $("dreg-given").value.trim(), family = $("dreg-family").value.trim();
  const specialty = [...document.querySelectorAll("#dreg-specialties input:checked")].map((c) => {
    const [system, code] = c.value.split("|");
    return { coding: [{ system, code, display: c.dataset.display }], text: c.dataset.display };
  });
  const days = [...document.querySelectorAll("#dreg-days input:checked")].map((c) => c.value);
  const result = (kind, ...content) => { $("doctor-reg-result").replaceChildren(alertBox(kind, ...content)); $("doctor-reg-result").focus(); };
  if (!specialty.length) { result("danger", "Choose at least one specialty."); return; }
  if (!days.length) { result("danger", "Choose at least one working day."); return; }
  const start = $("dreg-start").value, end = $("dreg-end").value;
  if (!(end > start)) { result("danger", "The working hours must end after they start."); return; }
  const [pURL, rURL, sURL] = [0, 1, 2].map(() => "urn:uuid:" + crypto.randomUUID());
  const entries = [
    { fullUrl: pURL, request: { method: "POST", url: "Practitioner" },
      resource: { resourceType: "Practitioner", active: true, name: [{ prefix: ["Dr"], given: [given], family }] } },
    { fullUrl: rURL, request: { method: "POST", url: "PractitionerRole" },
      resource: { resourceType: "PractitionerRole", active: true, practitioner: { reference: pURL }, specialty,
        availableTime: [{ daysOfWeek: days, availableStartTime: start + ":00", availableEndTime: end + ":00" }] } },
    { fullUrl: sURL, request: { method: "POST", url: "Schedule" },
      resource: { resourceType: "Schedule", active: true, actor: [{ reference: pURL }, { reference: rURL }], specialty } },
  ];
  const button = $("doctor-reg-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await fhir("POST", "", { resourceType: "Bundle", type: "transaction", entry: entries });
    const id = (answer.entry[0].response.location || "").split("/_history")[0].split("/").slice(-2).join("/");
    result("success", el("span", { "data-registered-doctor": id }, `Registered Dr ${given} ${family} as ${id}, with a schedule; they can open slots from their hours.`), " ",
      el("span", { class: "small" }, "To let them sign in: ", el("code", {}, `careslot user add -role practitioner -fhir-user ${id} <username>`)));
    $("doctor-reg-form").reset();
    fillDoctorForm();
    directory = null; // the new doctor joins the filter's list
    await loadDirectory();
    const chosen = $("filter-doctor").value;
    $("filter-doctor").replaceChildren(el("option", { value: "" }, "Any doctor"), ...directory.doctors.map((d) => el("option", { value: d.ref }, d.name)));
    $("filter-doctor").value = chosen;
  } catch (err) {
    result("danger", outcomeText(err));
  } finally {
    button.disabled = false;
  }
}

function auditError(err) {
  if (err instanceof SignedOut) return;
  $("audit-list").replaceChildren(alertBox("danger", outcomeText(err)));
}

const actionNames = { C: "create", R: "read", U: "update", D: "delete", E: "search or operation" };

// actionText is the action, with the REST interaction when it says more (search-type, vread).
function actionText(e) {
  const name = actionNames[e.action] || e.action || "";
  const sub = e.subtype && e.subtype[0] && e.subtype[0].code;
  return sub && sub !== name ? `${name} (${sub})` : name;
}
const outcomeNames = { 0: "success", 4: "refused", 8: "server error", 12: "major failure" };

// loadAudit shows the AuditEvents matching the filter, newest first, as a table a person
// reads: when, who, what they did to what, whose data, and the outcome.
async function loadAudit(next) {
  $("audit-list").setAttribute("aria-busy", "true");
  const current = latest("audit");
  try {
    await showAudit(next, current);
  } finally {
    if (current()) $("audit-list").removeAttribute("aria-busy");
  }
}

async function showAudit(next, current) {
  let path = next;
  if (!path) {
    const q = new URLSearchParams({ _sort: "-date", _count: "50" });
    const patientText = $("audit-patient").value.trim();
    if (patientText) q.set("patient", (await adminPatients(patientText)).join(","));
    if ($("audit-action").value) q.set("action", $("audit-action").value);
    if ($("audit-outcome").value) q.set("outcome", $("audit-outcome").value);
    if ($("audit-from").value) q.append("date", "ge" + parseDate($("audit-from").value).toISOString());
    if ($("audit-to").value) q.append("date", "lt" + addDays(parseDate($("audit-to").value), 1).toISOString());
    path = "AuditEvent?" + q.toString();
  }
  const bundle = await fhir("GET", path);
  const events = resources(bundle, "AuditEvent");
  // Names of the people in the events, read in one search.
  const people = new Set();
  for (const e of events) {
    for (const a of e.agent || []) if (a.who && /^Patient\//.test(a.who.reference || "")) people.add(a.who.reference.slice(8));
    for (const en of e.entity || []) if (en.what && /^Patient\//.test(en.what.reference || "")) people.add(en.what.reference.slice(8));
  }
  const names = new Map();
  if (people.size) {
    const found = await fhir("GET", "Patient?_id=" + encodeURIComponent([...people].slice(0, 100).join(",")) + "&_count=100&_elements=name").catch(() => null);
    for (const p of resources(found, "Patient")) names.set(ref(p), humanName(p));
  }
  if (!current()) return;
  const nameOf = (r) => names.get(r) || (r && r.startsWith("Practitioner/") ? doctorName(r) : r);
  const who = (e) => {
    const a = (e.agent || []).find((x) => x.requestor) || (e.agent || [])[0] || {};
    if (a.who && a.who.reference) return nameOf(a.who.reference);
    return a.name || (a.who && (a.who.display || (a.who.identifier && a.who.identifier.value))) || a.altId || "unknown";
  };
  const what = (e) => {
    const target = (e.entity || []).find((x) => x.role && x.role.code === "4" && x.what);
    if (target) return target.what.reference || target.what.display || "";
    const query = (e.entity || []).find((x) => x.role && x.role.code === "24");
    if (query) return query.description || query.name || "a search";
    // A Patient acted on is recorded as the patient entity alone.
    const patient = (e.entity || []).find((x) => x.role && x.role.code === "1" && x.what);
    return patient && e.action !== "E" ? patient.what.reference : "";
  };
  const patientsOf = (e) => [...new Set((e.entity || []).filter((x) => x.role && x.role.code === "1" && x.what && x.what.reference)
    .map((x) => nameOf(x.what.reference)))].join(", ");
  const rows = events.map((e) => el("tr", { "data-audit": e.id, "data-action": e.action || "", "data-outcome": e.outcome || "" },
    el("td", {}, e.recorded ? whenFormat.format(new Date(e.recorded)) : ""),
    el("td", {}, who(e)),
    el("td", {}, actionText(e)),
    el("td", {}, what(e)),
    el("td", {}, patientsOf(e)),
    el("td", {}, el("span", { class: `badge text-bg-${e.outcome === "0" ? "success" : e.outcome === "4" ? "warning" : "danger"}` }, outcomeNames[e.outcome] || e.outcome || ""),
      e.outcomeDesc ? el("div", { class: "small text-body-secondary" }, e.outcomeDesc) : null)));
  const nextLink = ((bundle.link || []).find((l) => l.relation === "next") || {}).url;
  const total = typeof bundle.total === "number" ? ` of ${bundle.total}` : "";
  $("audit-list").dataset.shown = path; // which search the table shows
  $("audit-list").replaceChildren(
    el("p", { class: "small text-body-secondary", "data-count": String(events.length) }, `${events.length}${total} events`),
    events.length ? el("div", { class: "table-responsive" }, el("table", { class: "table table-sm audit-table" },
      el("caption", { class: "visually-hidden" }, "Audit events, newest first"),
      el("thead", {}, el("tr", {}, ["When", "Who", "Action", "On what", "Whose data", "Outcome"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))) : el("p", { class: "text-body-secondary" }, "No event matches."),
    ...(nextLink ? [el("button", { type: "button", class: "btn btn-sm btn-outline-secondary", onclick: () => loadAudit(nextLink.replace(FHIR_BASE + "/", "")).catch(auditError) }, "Older events")] : []));
}

// adminPatients turns the patient filter into references: the patients whose name
// matches, and the text itself as an id.
async function adminPatients(text) {
  const found = resources(await fhir("GET", "Patient?name=" + encodeURIComponent(text) + "&_count=50"), "Patient").map(ref);
  if (/^[A-Za-z0-9.-]{1,64}$/.test(text)) found.push("Patient/" + text);
  return [...new Set(found)];
}

async function loadAdmin() {
  const q = new URLSearchParams({ _sort: "date", _count: "200", _include: "Appointment:patient" });
  if ($("filter-doctor").value) q.set("practitioner", $("filter-doctor").value);
  if ($("filter-status").value) q.set("status", $("filter-status").value);
  if ($("filter-from").value) q.append("date", "ge" + parseDate($("filter-from").value).toISOString());
  if ($("filter-to").value) q.append("date", "lt" + addDays(parseDate($("filter-to").value), 1).toISOString());
  $("admin-list").setAttribute("aria-busy", "true");
  const current = latest("admin");
  try {
    const patientText = $("filter-patient").value.trim();
    if (patientText) q.set("patient", (await adminPatients(patientText)).join(","));
    const bundle = await fhir("GET", "Appointment?" + q.toString());
    if (!current()) return;
    const patients = new Map(resources(bundle, "Patient").map((p) => [ref(p), p]));
    const appts = resources(bundle, "Appointment");
    const total = typeof bundle.total === "number" ? bundle.total : appts.length;
    $("admin-list").replaceChildren(el("p", { class: "small text-body-secondary", "data-count": String(appts.length) },
      `${appts.length} of ${total} appointments`), appointmentTable(appts, patients, { showDoctor: true }));
  } finally {
    if (current()) $("admin-list").removeAttribute("aria-busy");
  }
}

// registerPatient writes the patient and their insurance in one transaction, so that
// neither exists without the other.
async function registerPatient() {
  const given = $("reg-given").value.trim(), family = $("reg-family").value.trim();
  const patient = { resourceType: "Patient", active: true, name: [{ given: [given], family }],
    gender: $("reg-gender").value, birthDate: $("reg-birth").value };
  const entries = [{ fullUrl: "urn:uuid:" + crypto.randomUUID(), resource: patient, request: { method: "POST", url: "Patient" } }];
  const insurer = $("reg-insurer").value;
  if (insurer) {
    const coverage = { resourceType: "Coverage", status: "active", beneficiary: { reference: entries[0].fullUrl },
      payor: [{ reference: insurer }], period: { start: isoDate(new Date()) } };
    if ($("reg-member").value.trim()) coverage.subscriberId = $("reg-member").value.trim();
    entries.push({ fullUrl: "urn:uuid:" + crypto.randomUUID(), resource: coverage, request: { method: "POST", url: "Coverage" } });
  }
  const button = $("register-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await fhir("POST", "", { resourceType: "Bundle", type: "transaction", entry: entries });
    const location = (answer.entry[0].response.location || "").split("/_history")[0];
    const id = location.split("/").slice(-2).join("/");
    $("register-result").replaceChildren(alertBox("success",
      el("span", { "data-registered": id }, `Registered ${given} ${family} as ${id}${insurer ? " with insurance" : ""}.`), " ",
      el("span", { class: "small" }, "To let them sign in: ", el("code", {}, `careslot user add -role patient -fhir-user ${id} <username>`))));
    $("register-form").reset();
  } catch (err) {
    $("register-result").replaceChildren(alertBox("danger", outcomeText(err)));
  } finally {
    button.disabled = false;
    $("register-result").focus();
  }
}

document.addEventListener("DOMContentLoaded", () => { start(); });
