// likeness web app: a thin layer over the JSON API. Every state change sends the session's
// CSRF token (rendered into the page's <meta name="csrf-token">).
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const doc = await response.json().catch(() => ({ detail: response.statusText }));
    const detail = typeof doc.detail === "string" ? doc.detail : JSON.stringify(doc.detail);
    throw new Error(detail);
  }
  return response.status === 204 ? null : response.json();
}

function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error.message;
  box.hidden = false;
}

// Run an action, then reload the page (the server renders the new state); show a refusal.
async function act(action) {
  try {
    await action();
    window.location.reload();
  } catch (error) {
    showError(error);
  }
}

function selected(name) {
  return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((box) =>
    Number(box.value),
  );
}

// On a phone a table reads as one block a row, each cell named by its column (app.css's
// table.stacked): every table whose first row is its header.
for (const table of document.querySelectorAll("table")) {
  const head = table.querySelector("tr");
  if (!head || head.querySelector("td")) continue;
  const names = [...head.children].map((cell) => cell.textContent.trim());
  for (const row of [...table.querySelectorAll("tr")].slice(1)) {
    [...row.children].forEach((cell, i) => {
      if (names[i] && cell.colSpan === 1 && !cell.dataset.label) cell.dataset.label = names[i];
    });
  }
  table.classList.add("stacked");
}

// Sign-in page.
document.getElementById("sign-in-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/api/sign-in", { passphrase: event.target.passphrase.value });
    // Where to go next was checked by the server (a path of this site, nothing else).
    window.location.assign(event.target.dataset.next || "/people");
  } catch (error) {
    showError(error);
  }
});

{
  const button = document.getElementById("sign-out");
  button?.addEventListener("click", () =>
    api("POST", button.dataset.url ?? "/api/sign-out").then(() =>
      window.location.assign(button.dataset.then ?? "/sign-in"),
    ),
  );
}

// Person page: rename.
document.querySelector("form.rename[data-person]")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const id = Number(event.target.dataset.person);
  act(() => api("PATCH", `/api/people/${id}`, { name: event.target.name.value }));
});

// People page: one card per person.
for (const card of document.querySelectorAll(".person")) {
  const id = Number(card.dataset.id);
  card.querySelector(".rename")?.addEventListener("submit", (event) => {
    event.preventDefault();
    act(() => api("PATCH", `/api/people/${id}`, { name: event.target.name.value }));
  });
  card.querySelector(".hide")?.addEventListener("click", () =>
    act(() => api("PATCH", `/api/people/${id}`, { hidden: card.dataset.hidden !== "true" })),
  );
  card.querySelector(".minor")?.addEventListener("click", () =>
    act(() => api("PATCH", `/api/people/${id}`, { minor: card.dataset.minor !== "true" })),
  );
  card.querySelector(".me")?.addEventListener("click", () =>
    act(() => api("POST", `/api/people/${id}/me`)),
  );
}

// After a reload, say what the last action did (kept over the reload in sessionStorage).
function flash(text, href, label) {
  sessionStorage.setItem("flash", JSON.stringify({ text, href, label }));
}

{
  const saved = sessionStorage.getItem("flash");
  const box = document.getElementById("flash");
  if (saved && box) {
    sessionStorage.removeItem("flash");
    const { text, href, label } = JSON.parse(saved);
    box.textContent = text;
    if (href) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = label;
      box.append(" ", link);
    }
    box.hidden = false;
  }
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const personName = (p) => p.name || `Person ${p.id}`;

function faceImage(face) {
  const img = document.createElement("img");
  img.alt = "";
  if (face) img.src = `/api/faces/${face}/thumbnail`;
  return img;
}

// Merging: ask the server what each merge would do, show it, merge only when confirmed.
async function confirmMerge(target, others) {
  const dialog = document.getElementById("merge-dialog");
  const box = document.getElementById("merge-preview");
  // One preview of the whole merge: each person as the target will be by their turn.
  const query = others.map((other) => `other=${other}`).join("&");
  const previews = await api("GET", `/api/people/${target}/merge-preview?${query}`);
  box.replaceChildren();
  for (const p of previews) {
    const row = document.createElement("div");
    row.className = "merge-pair";
    const text = document.createElement("p");
    const lines = [
      `${personName(p.other)} (${plural(p.faces_moving, "face")} on ${plural(p.photos_moving, "photo")}) ` +
        `goes into ${personName(p.target)}, who will be called ${p.name_after ? `“${p.name_after}”` : "nothing yet"}.`,
    ];
    if (p.minor_carried) {
      lines.push(`${personName(p.other)} is a minor: the merged person will be marked as one.`);
    }
    if (p.grants_left || p.adapters_left) {
      lines.push(
        `${personName(p.other)}'s ${plural(p.grants_left, "permission")} and ${plural(p.adapters_left, "adapter")} ` +
          "stop applying; undoing the merge brings them back.",
      );
    }
    text.textContent = lines.join(" ");
    if (p.refusal) {
      const refusal = document.createElement("strong");
      refusal.className = "refusal";
      refusal.textContent = ` Cannot merge: ${p.refusal}.`;
      text.append(refusal);
    }
    row.append(faceImage(p.other.face), faceImage(p.target.face), text);
    box.append(row);
  }
  const confirm = document.getElementById("merge-confirm");
  confirm.disabled = previews.some((p) => p.refusal);
  document.getElementById("merge-cancel").onclick = () => dialog.close("cancel");
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "merge"), { once: true }),
  );
}

async function mergePeople(target, others, then) {
  let merged = 0;
  try {
    if (!(await confirmMerge(target, others))) return;
    for (const other of others) {
      await api("POST", `/api/people/${target}/merge`, { other });
      merged += 1;
    }
    const people = others.length + 1;
    flash(`Merged ${people} people into one. Undo is offered on this page for a week.`);
    then();
  } catch (error) {
    if (merged === 0) {
      showError(error);
      return;
    }
    // Some went in before one was refused: say which, and show the page as it now is.
    flash(`Merged ${merged} of ${others.length} into one; then refused: ${error.message}. Each merge can be undone on this page.`);
    window.location.reload();
  }
}

document.getElementById("merge")?.addEventListener("click", () => {
  const [target, ...others] = selected("person");
  if (target === undefined || others.length === 0) {
    showError(new Error("select two or more people; the first keeps its name"));
    return;
  }
  mergePeople(target, others, () => window.location.reload());
});

// A person's page: "is this Alice?" merges this person into Alice, after the same preview.
for (const suggestion of document.querySelectorAll(".suggestion")) {
  const target = Number(suggestion.dataset.target);
  suggestion.querySelector(".same-person").addEventListener("click", () =>
    mergePeople(target, [Number(suggestion.dataset.other)], () =>
      window.location.assign(`/people/${target}`),
    ),
  );
}

for (const record of document.querySelectorAll(".merge-record")) {
  record.querySelector(".undo-merge").addEventListener("click", async (event) => {
    event.target.disabled = true;
    try {
      const undone = await api("POST", `/api/people/merges/${record.dataset.merge}/undo`);
      const moved = undone.faces_elsewhere
        ? ` (${plural(undone.faces_elsewhere, "face")} moved elsewhere since stay there)`
        : "";
      flash(
        `Undone: ${personName(undone.person)} is back with ${plural(undone.faces_restored, "face")}${moved}.`,
        `/people/${undone.person.id}`,
        `Open ${personName(undone.person)}`,
      );
      window.location.reload();
    } catch (error) {
      event.target.disabled = false;
      showError(error);
    }
  });
}

// Person page: split faces off (and say where they went), or say they are nobody.
document.getElementById("split")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const person = Number(event.target.dataset.person);
  const name = event.target.name.value || null;
  const face_ids = selected("face");
  try {
    const made = await api("POST", `/api/people/${person}/split`, { face_ids, name });
    flash(
      `${plural(face_ids.length, "face")} went to a new person, ${personName(made)}.`,
      `/people/${made.id}`,
      `Open ${personName(made)}`,
    );
    window.location.reload();
  } catch (error) {
    showError(error);
  }
});

document.getElementById("not-this-person")?.addEventListener("click", () => {
  const face_ids = selected("face");
  act(async () => {
    await api("POST", "/api/faces/move", { face_ids, person: null });
    const verb = face_ids.length === 1 ? "is" : "are";
    flash(`${plural(face_ids.length, "face")} ${verb} now nobody's.`, "/faces/unassigned", "See unassigned faces");
  });
});

// Unassigned faces: put the selected ones in a person.
document.getElementById("assign")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const face_ids = selected("face");
  if (form.person.value === "new") {
    act(async () => {
      const made = await api("POST", "/api/faces/new-person", { face_ids, name: form.name.value || null });
      flash(`${plural(face_ids.length, "face")} went to a new person.`, `/people/${made.person}`, "Open their page");
    });
    return;
  }
  const who = form.person.selectedOptions[0].textContent;
  act(async () => {
    await api("POST", "/api/faces/move", { face_ids, person: Number(form.person.value) });
    flash(`${plural(face_ids.length, "face")} went to ${who}.`, `/people/${form.person.value}`, `Open ${who}`);
  });
});

// Jobs page: queue an import, follow running jobs live.
document.getElementById("import-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(() => api("POST", "/api/jobs/import", { path: form.path.value, thorough: form.thorough.checked }));
});

for (const button of document.querySelectorAll(".job button.cancel")) {
  const row = button.closest(".job");
  button.addEventListener("click", () => {
    button.disabled = true;
    act(() => api("POST", `/api/jobs/${row.dataset.id}/cancel`));
  });
}

for (const button of document.querySelectorAll(".job button.delete")) {
  const row = button.closest(".job");
  button.addEventListener("click", () => {
    if (!window.confirm("Delete this job and the images it made? This cannot be undone.")) return;
    button.disabled = true;
    act(() => api("DELETE", `/api/jobs/${row.dataset.id}`));
  });
}

for (const row of document.querySelectorAll(".job[data-live='true']")) {
  const events = new EventSource(`/api/jobs/${row.dataset.id}/events`);
  events.addEventListener("job", (message) => {
    const job = JSON.parse(message.data);
    row.querySelector(".state").firstChild.textContent = job.state;
    row.querySelector(".progress").textContent = job.progress ?? "";
    let bar = row.querySelector("progress");
    if (job.state === "running" && job.total) {
      if (!bar) {
        bar = document.createElement("progress");
        bar.setAttribute("aria-label", "progress");
        row.querySelector(".progress").after(bar);
      }
      bar.max = job.total;
      bar.value = job.done;
    }
    if (["done", "failed", "interrupted"].includes(job.state)) {
      events.close();
      window.location.reload();
    }
  });
}

// Consent page: revoke (after saying what it does, and confirming); sign a grant.
for (const row of document.querySelectorAll(".grant")) {
  row.querySelector(".revoke")?.addEventListener("click", () => {
    const who = row.dataset.who;
    const forApp = row.dataset.grantee.startsWith("app:");
    const consequence = forApp
      ? `The app's tokens for ${who} stop working and its jobs resting on this grant are cancelled.`
      : `${who}'s adapters are destroyed (their key is deleted) and running work for them stops.`;
    if (!window.confirm(`Revoke this grant for ${who}? ${consequence} This cannot be undone.`)) return;
    act(() => api("POST", `/api/consent/grants/${row.dataset.id}/revoke`, { reason: "revoked in the web app" }));
  });
}

document.getElementById("grant-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const scopes = [...form.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value);
  const enrolment = form.enrolment.value.trim() || null;
  const days = form.expires_days.value ? Number(form.expires_days.value) : null;
  act(() =>
    api("POST", "/api/consent/grants", {
      person: Number(form.person.value),
      scopes,
      trust: enrolment ? "verified" : "attested",
      enrolment,
      expires_days: days,
    }),
  );
});

// Check page: send an image's bytes, show what its provenance says. Every value from the
// report is set as text: an image's credentials may come from any tool.
const checkForm = document.getElementById("check-form");
if (checkForm) {
  // The name as a header can carry it: cut to what the report shows, percent-encoded (a
  // header is Latin-1), and none at all for a name JavaScript cannot encode.
  const sentName = (name) => {
    try {
      return encodeURIComponent(Array.from(name).slice(0, 120).join(""));
    } catch {
      return "";
    }
  };
  const COPY = (copy) => (copy && copy !== "as it is" ? `; this file is that output ${copy}` : "");
  const SIGNATURE = {
    trusted: "intact, signed under a root this library trusts",
    valid: "intact, signed (not under a root this library trusts)",
    invalid: "broken: the file was changed after it was signed",
    none: "none in the file",
  };
  const facts = (report) => {
    const c = report.credentials;
    const rows = [["Content Credentials", SIGNATURE[c.state] ?? c.state]];
    // Only credentials signed under a root this library trusts say who made the image;
    // anyone can sign a manifest that claims to be likeness's.
    if (c.claim_generator && c.state === "trusted") {
      rows.push(["Made by", c.made_by_likeness ? "likeness, as AI-generated media" : c.claim_generator]);
    } else if (c.claim_generator) {
      rows.push(["Claims to be made by", c.claim_generator]);
    }
    for (const failure of c.failures ?? []) {
      rows.push(["Problem", `${failure.code}: ${failure.explanation ?? ""}`]);
    }
    const w = report.watermark;
    const f = report.fingerprint;
    const k = report.keypoints;
    rows.push(["Watermark", w ? `reads output ${w.id}` : "not read"]);
    rows.push(["Fingerprint", f ? `output ${f.id}, ${f.distance} of 256 bits apart${COPY(f.copy)}` : "no match"]);
    if (!f) {
      rows.push(["Corners", k ? `output ${k.id}: ${k.inliers} corners agree${COPY(k.copy)}` : "no match"]);
    }
    const consent = report.stored_manifest?.assertions?.find((a) => a.label === "org.likeness.consent");
    if (consent) {
      const grants = consent.data.grants ?? [];
      rows.push(["Consent", grants.length ? `made under grant ${grants.map((g) => g.slice(0, 8)).join(", ")}` : "naming no one: no grant was needed"]);
    }
    return rows;
  };
  checkForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = checkForm.file.files[0];
    const button = checkForm.querySelector('button[type="submit"]');
    if (!file || button.disabled) return;
    button.disabled = true;
    document.getElementById("error").hidden = true;
    try {
      const response = await fetch(checkForm.dataset.url, {
        method: "POST",
        headers: {
          "Content-Type": file.type || "application/octet-stream",
          "X-CSRF-Token": csrfToken(),
          "File-Name": sentName(file.name),
        },
        body: file,
      });
      const report = await response.json().catch(() => ({ detail: response.statusText }));
      if (!response.ok) {
        const tooBig = response.status === 413 ? "The image is larger than 40 MB." : null;
        throw new Error(tooBig ?? (typeof report.detail === "string" ? report.detail : "The image could not be checked."));
      }
      const mine = report.watermark || report.fingerprint || report.keypoints;
      const state = report.credentials.state;
      document.getElementById("check-verdict").textContent = mine
        ? `${report.file}: made by this library`
        : state === "none"
          ? `${report.file}: not one of this library's images`
          : state === "invalid"
            ? `${report.file}: not one of this library's images; its file is damaged or was changed`
            : `${report.file}: has Content Credentials from elsewhere, not from this library`;
      const list = document.getElementById("check-facts");
      list.replaceChildren();
      for (const [term, value] of facts(report)) {
        const dt = document.createElement("dt");
        dt.textContent = term;
        const dd = document.createElement("dd");
        dd.textContent = value;
        list.append(dt, dd);
      }
      document.getElementById("check-json").textContent = JSON.stringify(report, null, 2);
      document.getElementById("check-result").hidden = false;
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
}

// Create page: @-mention completion, queue a generation, follow it live (the jobs loop above).
const createForm = document.getElementById("create-form");
if (createForm) {
  const prompt = document.getElementById("prompt");
  const list = document.getElementById("mention-list");
  const mentions = JSON.parse(createForm.dataset.mentions);
  const partial = () => {
    const before = prompt.value.slice(0, prompt.selectionStart);
    const match = before.match(/@([\p{L}\p{N}_.-]*)$/u);
    return match ? match[1] : null;
  };
  prompt.addEventListener("input", () => {
    const typed = partial();
    list.replaceChildren();
    if (typed === null) {
      list.hidden = true;
      return;
    }
    const key = typed.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "_");
    for (const name of mentions.filter((m) => m.startsWith(key)).slice(0, 8)) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "mention";
      button.textContent = `@${name}`;
      button.addEventListener("click", () => {
        const caret = prompt.selectionStart;
        const start = caret - typed.length;
        prompt.value = `${prompt.value.slice(0, start)}${name} ${prompt.value.slice(caret)}`;
        list.hidden = true;
        prompt.focus();
      });
      item.append(button);
      list.append(item);
    }
    list.hidden = list.children.length === 0;
  });
  // The form is kept after a submit (the page reloads to show the new job): its values
  // are saved for this tab and put back.
  const fields = ["prompt", "kind", "style", "model", "count", "seed", "steps", "frames", "fps"];
  const saved = JSON.parse(sessionStorage.getItem("likeness-create") ?? "null");
  if (saved) for (const name of fields) if (name in saved) createForm[name].value = saved[name];
  // A clip has frames and a rate, and at most 4 of them are made at once.
  const showKind = () => {
    const video = createForm.kind.value === "video";
    for (const label of createForm.querySelectorAll(".video-only")) label.hidden = !video;
    createForm.querySelector(".count-label").textContent = video ? "Clips" : "Images";
    createForm.count.max = video ? "4" : "8";
  };
  createForm.kind.addEventListener("change", showKind);
  showKind();
  const create = createForm.querySelector('button[type="submit"]');
  createForm.addEventListener("submit", () => {
    const values = Object.fromEntries(fields.map((name) => [name, createForm[name].value]));
    sessionStorage.setItem("likeness-create", JSON.stringify(values));
  });
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    // One job per click: a second click (or Enter) while the first is being queued does
    // nothing.
    if (create.disabled) return;
    create.disabled = true;
    const body = {
      prompt: prompt.value,
      style: createForm.style.value || null,
      model: createForm.model.value,
      count: Number(createForm.count.value),
      seed: Number(createForm.seed.value),
      steps: Number(createForm.steps.value),
    };
    if (createForm.kind.value === "video") {
      body.frames = Number(createForm.frames.value);
      body.fps = Number(createForm.fps.value);
    }
    await act(() => api("POST", `/api/jobs/${createForm.kind.value}`, body));
    create.disabled = false; // refused: the reason is shown, and the form can be sent again
  });
}

// Live enrolment page: the camera's preview is mirrored (as a mirror is: your own left on
// the screen's left), the frames sent are not. Each frame goes to the server with its time in
// the camera's stream; the server answers with the prompt to show, then the verdict. The
// next frame is sent only once the last is answered, so frames never queue.
const ARROWS = {
  left: "\u2190",
  right: "\u2192",
  up: "\u2191",
  centre: "\u25CF",
  start: "\u25CF",
  closer: "\u2922",
};

// Why the camera cannot be used, in words, and what to do about it (a getUserMedia error's
// name says what happened; the browser's own message, e.g. "Requested device not found",
// says little to a person).
const CAMERA_PROBLEMS = {
  insecure:
    "The browser offers the camera only to pages opened over https:// or on this computer " +
    "itself. Open likeness at its https:// address (likeness serve --tls makes one for your " +
    "network), or on the computer it runs on.",
  NotAllowedError:
    "The camera was not allowed. Allow it for this site (the camera icon in the address bar, " +
    "or the browser's site settings), then press Try again.",
  NotFoundError:
    "No camera was found. Connect one, or open this page on a phone, then press Try again.",
  OverconstrainedError:
    "No camera here can give the picture needed. Connect another, or open this page on a " +
    "phone, then press Try again.",
  NotReadableError:
    "The camera is busy or blocked: close other apps that use it (a video call), then press " +
    "Try again.",
  AbortError: "The camera stopped while it was starting. Press Try again.",
};

function cameraProblem(error) {
  return CAMERA_PROBLEMS[error?.name] ?? `The camera could not start (${error?.name ?? error}). Press Try again.`;
}

async function openCamera() {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new Error(CAMERA_PROBLEMS.insecure);
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false,
    });
  } catch (error) {
    throw new Error(cameraProblem(error));
  }
}

// Said before Start is pressed, where the browser already knows: an insecure page, or a
// camera this site was refused.
async function cameraForewarning() {
  const help = document.getElementById("camera-help");
  if (!help) return;
  let problem = null;
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    problem = CAMERA_PROBLEMS.insecure;
  } else {
    const state = await navigator.permissions
      ?.query({ name: "camera" })
      .then((status) => status.state)
      .catch(() => null);
    if (state === "denied") problem = CAMERA_PROBLEMS.NotAllowedError;
  }
  if (problem) {
    help.textContent = problem;
    help.hidden = false;
  }
}

async function enrolLive(section, retry) {
  const person = Number(section.dataset.person);
  const video = document.getElementById("preview");
  const prompt = document.getElementById("prompt");
  const status = document.getElementById("status");
  const show = (kind, words) => {
    prompt.dataset.kind = kind;
    prompt.querySelector(".arrow").textContent = ARROWS[kind] ?? "";
    prompt.querySelector(".words").textContent = words;
  };
  // A live session drawn for this page, or one drawn beforehand (?session=, from the API).
  const given = new URLSearchParams(window.location.search).get("session");
  // A person enrolling themselves draws their session from their own route (data-start).
  const start = section.dataset.start ?? `/api/people/${person}/enrolment/live`;
  // The camera first: a camera that cannot start spends no session.
  const stream = await openCamera();
  document.getElementById("camera-help").hidden = true;
  let session;
  try {
    session = given || (await api("POST", start)).session;
  } catch (error) {
    stream.getTracks().forEach((track) => track.stop());
    throw error;
  }
  video.srcObject = stream;
  await video.play();
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(
    `${scheme}://${window.location.host}/api/people/${person}/enrolment/live/${session}` +
      `?csrf=${encodeURIComponent(csrfToken())}`,
  );
  socket.binaryType = "arraybuffer";
  let lastTime = -1;
  let frames = 0;
  const started = performance.now();
  const stop = () => stream.getTracks().forEach((track) => track.stop());

  const nextFrame = () =>
    new Promise((resolve) => {
      // A frame the camera has not sent yet (its time moved on).
      const poll = () => (video.currentTime > lastTime ? resolve() : setTimeout(poll, 5));
      poll();
    });
  const sendFrame = async () => {
    await nextFrame();
    lastTime = video.currentTime;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    const body = new Uint8Array(await jpeg.arrayBuffer());
    const message = new Uint8Array(8 + body.length);
    new DataView(message.buffer).setFloat64(0, lastTime, true);
    message.set(body, 8);
    socket.send(message);
    frames += 1;
  };

  socket.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    if (message.error) {
      stop();
      show("idle", "Stopped");
      showError(new Error(message.error));
    } else if (message.ready) {
      await sendFrame();
    } else if (message.prompt) {
      const p = message.prompt;
      show(p.kind, p.face || p.kind === "done" ? p.words : `${p.words} (no face in view)`);
      const seconds = (performance.now() - started) / 1000;
      // How far along: prompts followed so far (their number is not said ahead: each is
      // revealed only when due).
      const step = p.index < 0 ? "getting ready" : p.kind === "done" ? "all prompts followed" : `prompt ${p.index + 1}`;
      status.textContent = `${step} · ${frames} frames checked, ${(frames / seconds).toFixed(1)} a second`;
      if (p.kind !== "done") await sendFrame();
      else stop();
    } else if (message.verdict) {
      stop();
      const v = message.verdict;
      const box = document.getElementById("verdict");
      box.hidden = false;
      box.dataset.passed = String(v.passed);
      box.querySelector(".outcome").textContent = v.passed
        ? `Enrolment ${v.id} passed: ${v.reason}`
        : `Enrolment refused: ${v.reason}`;
      const next = box.querySelector(".next");
      next.innerHTML = "";
      const link = document.createElement("a");
      link.href = v.passed ? `/consent?person=${person}&enrolment=${v.id}` : window.location.pathname;
      link.textContent = v.passed ? "Grant consent with this enrolment" : "Try again";
      // A refusal says how to do better next time, then offers another session.
      if (!v.passed) {
        const tips = document.createElement("p");
        tips.className = "muted";
        tips.textContent =
          "Next time: face the camera in even light, keep your whole face in view, and turn " +
          "your head well to each side when asked (a real turn, not only the eyes).";
        next.append(tips);
      }
      // A person's own pages take the passed enrolment further themselves (me.js).
      if (v.passed && section.dataset.then === "event") {
        section.dispatchEvent(new CustomEvent("enrolled", { detail: v }));
      } else {
        next.append(link);
      }
      show(v.passed ? "passed" : "refused", v.passed ? "Verified" : "Refused");
    }
  };
  let decided = false;
  socket.addEventListener("message", (event) => {
    decided ||= "verdict" in JSON.parse(event.data) || "error" in JSON.parse(event.data);
  });
  socket.onclose = (event) => {
    stop();
    if (!decided) {
      // Closed with no verdict: signed out, another tab used the session, the server stopped.
      show("refused", "Stopped");
      const why = event.reason ? `: ${event.reason}` : "";
      showError(new Error(`the connection closed before a verdict${why}; press Try again`));
      if (!given) retry();
    }
  };
}

const enrolSection = document.getElementById("enrol");
{
  const start = document.getElementById("start");
  // After a camera problem or a dropped connection: Start again, as "Try again".
  const retry = () => {
    // The words change; the camera icon before them stays.
    const words = [...start.childNodes].find((node) => node.nodeType === Node.TEXT_NODE);
    if (words) words.textContent = "Try again";
    else start.append("Try again");
    start.disabled = false;
  };
  start?.addEventListener("click", () => {
    start.disabled = true;
    document.getElementById("error").hidden = true;
    enrolLive(enrolSection, retry).catch((error) => {
      retry();
      showError(error);
    });
  });
  if (start) cameraForewarning();
}

// Consent page: a grant form filled in from a passed enrolment (?person=&enrolment=).
{
  const form = document.getElementById("grant-form");
  const query = new URLSearchParams(window.location.search);
  if (form && query.get("enrolment")) {
    form.person.value = query.get("person");
    form.enrolment.value = query.get("enrolment");
  }
}

// Apps page: register an app, revoke one (its tokens and grants stop at once).
document.getElementById("app-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(() =>
    api("POST", "/api/apps", { name: form.name.value, redirect_uri: form.redirect_uri.value }),
  );
});
for (const row of document.querySelectorAll(".app")) {
  row.querySelector(".revoke-app")?.addEventListener("click", () => {
    const question =
      `Revoke ${row.dataset.name}? Its tokens and grants stop at once and its jobs are ` +
      "cancelled. This cannot be undone (it would have to be registered and allowed again).";
    if (!window.confirm(question)) return;
    act(() => api("POST", `/api/apps/${row.dataset.id}/revoke`));
  });
}

// Person page: queue training of the person's adapter (the gate's refusal is shown).
document.getElementById("train")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    await api("POST", "/api/jobs/train", {
      person: Number(form.dataset.person),
      model: form.model.value,
      steps: form.steps.value ? Number(form.steps.value) : null,
    });
    window.location.assign("/jobs");
  } catch (error) {
    showError(error);
  }
});
for (const button of document.querySelectorAll(".job button.resume")) {
  button.addEventListener("click", () =>
    act(() => api("POST", "/api/jobs/train", { ...JSON.parse(button.dataset.params), resume: true })),
  );
}

// Person page: invite the person to consent for themselves (the link and its QR code are
// shown once); revoke an invitation not yet opened.
document.getElementById("invite-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const person = document.getElementById("invite").dataset.person;
  try {
    const made = await api("POST", `/api/people/${person}/invitations`, {
      hours: Number(event.target.hours.value),
    });
    const box = document.getElementById("invitation");
    box.querySelector(".link").value = made.url;
    box.querySelector(".qr").src = made.qr_svg;
    box.hidden = false;
  } catch (error) {
    showError(error);
  }
});
// A person with an account is asked for a permission; a minor's guardian is named; a person
// without an account is erased at their request (typed).
{
  const person = document.getElementById("invite")?.dataset.person;
  document.getElementById("grant-request-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    act(() =>
      api("POST", `/api/people/${person}/grant-requests`, {
        scopes: [...form.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value),
        days: form.days.value ? Number(form.days.value) : null,
      }),
    );
  });
  document.getElementById("guardian-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = event.target.guardian.value;
    act(() =>
      api("PUT", `/api/people/${person}/guardian`, { guardian: chosen ? Number(chosen) : null }),
    );
  });
  document.getElementById("erase-person-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    act(() =>
      api("POST", `/api/people/${person}/erase`, { confirm: event.target.confirm.value.trim() }),
    );
  });
}
for (const row of document.querySelectorAll(".invitation")) {
  row.querySelector(".revoke-invitation")?.addEventListener("click", () =>
    act(() => api("POST", `/api/invitations/${row.dataset.id}/revoke`)),
  );
}
