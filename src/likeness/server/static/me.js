// A person's own pages: the passkey made after an invitation's live check, sign-in with it,
// and their permissions (withdraw, and sign new ones after a live check). Uses app.js's api().
"use strict";

// The browser's WebAuthn errors, in words (a DOMException's name says what happened).
function passkeyError(error) {
  const words = {
    NotAllowedError: "The passkey request was cancelled or timed out. Try again.",
    InvalidStateError: "This device already holds a passkey for you here.",
    SecurityError: "Passkeys need a secure connection (https) to this server.",
    NotSupportedError: "This browser or device cannot make passkeys.",
  };
  return new Error(words[error.name] ?? error.message);
}

function webauthnReady() {
  if (!window.PublicKeyCredential?.parseCreationOptionsFromJSON) {
    throw new Error("This browser cannot use passkeys here: update it, or use another one.");
  }
}

async function makePasskey() {
  webauthnReady();
  const options = await api("POST", "/api/me/passkeys/options");
  let credential;
  try {
    credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
    });
  } catch (error) {
    throw passkeyError(error);
  }
  await api("POST", "/api/me/passkeys", credential.toJSON());
  // On to the person's page, where the live check just passed can back a first permission.
  const passed = document.getElementById("enrol")?.dataset.enrolment;
  window.location.assign(passed ? `/me?enrolment=${encodeURIComponent(passed)}` : "/me");
}

async function signInWithPasskey() {
  webauthnReady();
  const options = await api("POST", "/api/me/sign-in/options");
  let credential;
  try {
    credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
    });
  } catch (error) {
    throw passkeyError(error);
  }
  await api("POST", "/api/me/sign-in", credential.toJSON());
  // Where the sign-in was asked from (an app's authorization link): the server rendered it
  // only if it is a path of this site (security.safe_next).
  const next = document.getElementById("passkey-sign-in")?.dataset.next;
  window.location.assign(next || "/me");
}

function onClick(id, action) {
  const button = document.getElementById(id);
  button?.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
}

onClick("make-passkey", makePasskey);
onClick("passkey-sign-in", signInWithPasskey);

// After a passed live check: the passkey step (welcome page) or the permission form (my page).
function offerGrant(enrolment) {
  const form = document.getElementById("my-grant-form");
  if (form) {
    form.enrolment.value = enrolment;
    form.hidden = false;
  }
}

document.getElementById("enrol")?.addEventListener("enrolled", (event) => {
  event.target.dataset.enrolment = event.detail.id;
  const step = document.getElementById("passkey-step");
  if (step) step.hidden = false;
  offerGrant(event.detail.id);
});

// Arriving from the welcome page: the live check passed there backs a first permission.
{
  const passed = new URLSearchParams(window.location.search).get("enrolment");
  if (passed && /^[0-9a-f]{32}$/.test(passed)) offerGrant(passed);
}

document.getElementById("my-grant-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(() =>
    api("POST", "/api/me/grants", {
      scopes: [...form.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value),
      enrolment: form.enrolment.value,
      expires_days: form.expires_days.value ? Number(form.expires_days.value) : null,
    }),
  );
});

for (const row of document.querySelectorAll(".my-grant")) {
  row.querySelector(".withdraw")?.addEventListener("click", () => {
    if (!window.confirm("Withdraw this permission? It stops at once and cannot be undone.")) {
      return;
    }
    act(() => api("POST", `/api/me/grants/${row.dataset.id}/revoke`, {}));
  });
}

for (const row of document.querySelectorAll(".my-adapter")) {
  row.querySelector(".delete-adapter")?.addEventListener("click", () => {
    if (!window.confirm("Delete this adapter? Its files are removed and it cannot be undone.")) {
      return;
    }
    act(() => api("DELETE", `/api/me/adapters/${row.dataset.id}`));
  });
}

for (const row of document.querySelectorAll(".my-passkey")) {
  row.querySelector(".remove-passkey")?.addEventListener("click", () => {
    if (!window.confirm("Remove this passkey? It will no longer sign you in here.")) return;
    act(() => api("DELETE", `/api/me/passkeys/${row.dataset.id}`));
  });
}

// Erasure and its template: the person types "erase" (the server checks the word too).
for (const [id, url] of [
  ["erase-form", "/api/me/erase"],
  ["erase-template-form", "/api/me/erase/template"],
]) {
  document.getElementById(id)?.addEventListener("submit", (event) => {
    event.preventDefault();
    act(() => api("POST", url, { confirm: event.target.confirm.value.trim() }));
  });
}

// A permission asked of them (by the owner, or an app's sent on): approve (verified if a
// live check passed on this page: its enrolment is on the #enrol section) or deny.
for (const row of document.querySelectorAll(".grant-request")) {
  const answer = (approve) => {
    const enrolment = document.getElementById("enrol")?.dataset.enrolment ?? null;
    act(() =>
      api("POST", `/api/me/requests/${row.dataset.id}`, {
        approve,
        enrolment: approve ? enrolment : null,
      }),
    );
  };
  row.querySelector(".approve-request")?.addEventListener("click", () => answer(true));
  row.querySelector(".deny-request")?.addEventListener("click", () => answer(false));
}

// As a minor's guardian: approve or deny a permission they gave.
for (const row of document.querySelectorAll(".guardian-request")) {
  const answer = (approve) =>
    act(() => api("POST", `/api/me/guardian-requests/${row.dataset.id}`, { approve }));
  row.querySelector(".approve-guardian")?.addEventListener("click", () => answer(true));
  row.querySelector(".deny-guardian")?.addEventListener("click", () => answer(false));
}
