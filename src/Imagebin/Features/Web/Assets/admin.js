// The admin pages (Features/Web/AdminPages.cs): review decisions, hash-list import and delete, bans. Every change goes
// through /api/v1/admin with the session and the page's anti-forgery token (Imagebin.call); answers are shown in place.
"use strict";

(() => {
  const { call } = window.Imagebin;

  // The review queue and one item's review: approve or remove, then the card shrinks to what was decided.
  for (const form of document.querySelectorAll("form.review-form")) {
    const status = form.querySelector(".review-status");
    const buttons = form.querySelectorAll("button");
    // Enter in the reason field must not pick a decision: only the buttons decide.
    form.addEventListener("submit", (event) => event.preventDefault());
    const decide = async (decision) => {
      const reason = form.elements.reason.value.trim();
      if (decision === "remove" && !reason) {
        status.textContent = "Give a reason to remove this image.";
        form.elements.reason.focus();
        return;
      }
      const json = { decision, reason: reason || "Approved by a moderator." };
      if (decision === "remove" && form.elements.category.value) {
        json.category = form.elements.category.value;
      }
      buttons.forEach((b) => { b.disabled = true; });
      status.textContent = decision === "approve" ? "Approving…" : "Removing…";
      const result = await call("POST", `/api/v1/admin/reviews/${encodeURIComponent(form.dataset.itemId)}`, { json });
      if (!result.ok) {
        status.textContent = result.message;
        buttons.forEach((b) => { b.disabled = false; });
        return;
      }
      const state = result.data.item.scan_state;
      const article = form.closest("article");
      status.textContent = decision === "approve"
        ? `Approved: the image is ${state} and public unless its owner made it private. It has left the queue.`
        : "Removed: its links answer 410 and its hashes are listed. It has left the queue.";
      for (const part of article.querySelectorAll(".admin-item-body, table, ul, h3, fieldset > :not(.review-status)")) {
        part.hidden = true;
      }
      article.classList.add("admin-decided");
      status.focus();
    };
    buttons.forEach((button) => button.addEventListener("click", () => decide(button.dataset.decision)));
  }

  // The hash lists: import a CSV (typed or a file), delete an entry.
  const importForm = document.getElementById("hash-import");
  const hashStatus = document.getElementById("hash-status");
  if (importForm) {
    importForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = importForm.elements.file.files[0];
      const body = file ? await file.text() : importForm.elements.csv.value;
      if (!body.trim()) {
        hashStatus.textContent = "Paste CSV text or choose a file first.";
        return;
      }
      hashStatus.textContent = "Importing…";
      const result = await call("POST", "/api/v1/admin/hashes", { body, headers: { "Content-Type": "text/csv" } });
      if (!result.ok) {
        hashStatus.textContent = `Not imported: ${result.message}`;
        return;
      }
      location.assign(`${location.pathname}?imported=${encodeURIComponent(result.data.imported)}`);
    });
  }

  for (const button of document.querySelectorAll("button.hash-delete")) {
    button.addEventListener("click", async () => {
      const { kind, hash } = button.dataset;
      button.disabled = true;
      const result = await call("DELETE", `/api/v1/admin/hashes/${encodeURIComponent(kind)}/${encodeURIComponent(hash)}`);
      if (!result.ok) {
        hashStatus.textContent = `Not deleted: ${result.message}`;
        button.disabled = false;
        return;
      }
      hashStatus.textContent = `Deleted the ${kind} entry ${hash}.`;
      const row = button.closest("tr");
      row.remove();
      hashStatus.focus();
    });
  }

  // Accounts: ban or unban with a reason; the row shows the new standing.
  for (const form of document.querySelectorAll("form.ban-form")) {
    const status = form.querySelector(".ban-status");
    const button = form.querySelector("button");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const banned = form.dataset.banned === "true";
      const reason = form.elements.reason.value.trim();
      if (!reason) {
        status.textContent = "Give a reason.";
        return;
      }
      button.disabled = true;
      const action = banned ? "unban" : "ban";
      const result = await call("POST", `/api/v1/admin/accounts/${encodeURIComponent(form.dataset.accountId)}/${action}`, { json: { reason } });
      button.disabled = false;
      if (!result.ok) {
        status.textContent = result.message;
        return;
      }
      const now = result.data.banned;
      form.dataset.banned = String(now);
      form.closest("tr").querySelector(".account-banned").textContent = now ? "yes" : "no";
      button.textContent = now ? "Unban" : "Ban";
      button.classList.toggle("danger", !now);
      form.elements.reason.value = "";
      status.textContent = now ? "Banned: its keys are refused and its sessions ended." : "Unbanned: its keys work again.";
    });
  }
})();
