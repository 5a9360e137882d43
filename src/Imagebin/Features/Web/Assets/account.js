// The account page (Features/Web/AccountPage.cs): creates API keys (POST /api/v1/account/keys; the token is shown once,
// in a read-only field with a copy button), revokes them after a confirmation in a <dialog> (DELETE), and saves the AI
// caption default (PATCH /api/v1/account), all through window.Imagebin.call on the session.
"use strict";

(() => {
  const { call, copy } = window.Imagebin;
  const keysBody = document.getElementById("keys-body");
  const keysStatus = document.getElementById("keys-status");
  const createForm = document.getElementById("create-key");
  const createStatus = document.getElementById("create-status");
  const newKey = document.getElementById("new-key");
  const newKeyValue = document.getElementById("new-key-value");
  const copyStatus = document.getElementById("copy-status");
  const settings = document.getElementById("settings");
  const settingsStatus = document.getElementById("settings-status");
  const dialog = document.getElementById("confirm-dialog");
  const dialogText = document.getElementById("confirm-text");
  const prefix = "pbca_live_";

  const enable = (form) => form.querySelectorAll("fieldset").forEach((fieldset) => { fieldset.disabled = false; });

  const day = (milliseconds) => {
    const time = document.createElement("time");
    const at = new Date(milliseconds);
    time.dateTime = at.toISOString();
    time.textContent = at.toISOString().slice(0, 10);
    return time;
  };

  const cell = (row, content) => {
    const td = row.insertCell();
    if (typeof content === "string") {
      td.textContent = content;
    } else {
      td.append(content);
    }
    return td;
  };

  /** Asks once in the modal dialog; resolves true when the owner chose Revoke. */
  const confirmRevoke = (text) => new Promise((resolve) => {
    dialogText.textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "revoke"), { once: true });
    dialog.showModal();
  });

  const wireRevoke = (button) => {
    button.disabled = false;
    button.addEventListener("click", async () => {
      const id = button.dataset.keyId;
      if (!(await confirmRevoke(`Revoke ${prefix}${id}_…? Programs using it stop working at once. This cannot be undone.`))) {
        button.focus();
        return;
      }
      keysStatus.classList.remove("error");
      keysStatus.textContent = "Revoking…";
      const result = await call("DELETE", `/api/v1/account/keys/${encodeURIComponent(id)}`);
      if (result.ok) {
        const state = button.closest("td");
        state.textContent = "revoked";
        keysStatus.textContent = `Key ${prefix}${id}_… revoked.`;
      } else {
        keysStatus.classList.add("error");
        keysStatus.textContent = result.message;
      }
    });
  };

  /** A row for a key just made, like the server's rows. */
  const addKeyRow = (key) => {
    const row = keysBody.insertRow(0);
    row.dataset.keyId = key.id;
    const code = document.createElement("code");
    code.textContent = `${prefix}${key.id}_…`;
    cell(row, code);
    cell(row, key.scopes.join(" "));
    cell(row, key.audience);
    cell(row, day(key.created_at));
    cell(row, key.expires_at == null ? "never" : day(key.expires_at));
    cell(row, key.last_used_at == null ? "never" : day(key.last_used_at));
    const state = cell(row, "");
    state.className = "key-state";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "revoke-key danger";
    button.dataset.keyId = key.id;
    button.append("Revoke ");
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = `${prefix}${key.id}`;
    button.append(hidden);
    state.append(button);
    wireRevoke(button);
  };

  document.querySelectorAll(".revoke-key").forEach(wireRevoke);

  enable(createForm);
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = [...createForm.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value);
    const expires = createForm.elements.expires_in.value;
    const body = { scopes, audience: createForm.querySelector('input[name="audience"]:checked').value };
    if (expires !== "") {
      body.expires_in = Number(expires);
    }
    createStatus.classList.remove("error");
    createStatus.textContent = "Creating…";
    const result = await call("POST", "/api/v1/account/keys", { json: body });
    if (!result.ok) {
      createStatus.classList.add("error");
      createStatus.textContent = result.message;
      return;
    }
    addKeyRow(result.data.key);
    createStatus.textContent = "Key created. Copy it now: it is not shown again.";
    newKeyValue.value = result.data.api_key;
    copyStatus.textContent = "";
    newKey.hidden = false;
    newKeyValue.focus();
    newKeyValue.select();
  });

  document.getElementById("copy-key").addEventListener("click", async () => {
    copyStatus.textContent = (await copy(newKeyValue.value, newKeyValue)) ? "Copied." : "Copying was refused: select the key and copy it yourself.";
  });

  enable(settings);
  settings.addEventListener("submit", async (event) => {
    event.preventDefault();
    settingsStatus.classList.remove("error");
    settingsStatus.textContent = "Saving…";
    const result = await call("PATCH", "/api/v1/account", { json: { ai_optout: settings.elements.ai_optout.checked } });
    if (result.ok) {
      settings.elements.ai_optout.checked = result.data.ai_optout;
      settingsStatus.textContent = "Saved.";
    } else {
      settingsStatus.classList.add("error");
      settingsStatus.textContent = result.message;
    }
  });
})();
