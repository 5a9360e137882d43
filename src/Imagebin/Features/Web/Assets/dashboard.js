// The owner's dashboard (Features/Web/DashboardPage.cs): the list is the server's; this script turns on the edit forms
// (PATCH /api/v1/items/{id}) and deleting (DELETE, one image or the selected ones, after one confirmation in a <dialog>),
// through window.Imagebin.call on the session with the page's anti-forgery token.
"use strict";

(() => {
  const { call } = window.Imagebin;
  const pageStatus = document.getElementById("dash-status");
  const dialog = document.getElementById("confirm-dialog");
  const dialogText = document.getElementById("confirm-text");
  const bulkButton = document.getElementById("delete-selected");
  const itemPath = (id) => `/api/v1/items/${encodeURIComponent(id)}`;
  const rowOf = (id) => document.getElementById(`item-${id}`);
  const nameOf = (id) => rowOf(id)?.querySelector('[data-field-text="name"]')?.textContent || id;

  const say = (text) => {
    if (pageStatus) {
      pageStatus.textContent = text;
    }
  };

  /** Asks once, in the modal dialog; resolves true when the owner chose Delete (Escape or Cancel is no). */
  const confirmDelete = (text) => new Promise((resolve) => {
    dialogText.textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "delete"), { once: true });
    dialog.showModal();
  });

  /** A variant's URL: the direct URL (with its share secret, if any) and the width. */
  const variantOf = (directUrl, width) => {
    const url = new URL(directUrl);
    url.searchParams.set("w", width);
    return url.href;
  };

  /** The row's title, links, picture and state after an edit, from the API's answer. */
  const showItem = (item) => {
    const row = rowOf(item.id);
    if (!row) {
      return;
    }
    const name = item.title || item.id;
    row.querySelectorAll('[data-field-text="name"]').forEach((element) => { element.textContent = name; });
    row.querySelectorAll('[data-field="view"]').forEach((link) => { link.href = item.view_url; });
    const image = row.querySelector('[data-field="image"]');
    if (image) {
      // The same variants as the page rendered, of the direct URL as it is now (a new share secret after going private).
      const widthOf = (url) => new URL(url, document.baseURI).searchParams.get("w");
      if (image.srcset) {
        image.srcset = image.srcset.split(", ").map((candidate) => {
          const [url, descriptor] = candidate.split(" ");
          return `${variantOf(item.direct_url, widthOf(url))} ${descriptor}`;
        }).join(", ");
      }
      image.src = variantOf(item.direct_url, widthOf(image.src));
      image.alt = item.ai_caption || item.title || `Image ${item.id}`;
    }
    row.querySelector('[data-field="private"]').hidden = !item.private;
    row.querySelector('[data-field-text="downloads"]').textContent =
      item.dl_limit == null ? String(item.downloads) : `${item.downloads} / ${item.dl_limit}`;
    row.querySelector('[data-field-text="caption"]').textContent = `Caption: ${item.ai_caption_state}`;
  };

  const tagList = (text) => text.split(",").map((tag) => tag.trim()).filter((tag) => tag.length > 0);

  /**
   * The PATCH body: only the fields changed since the page (or the last save) showed them. Sending "private" unchanged
   * would still mint a new share secret and break the links already given out. Empty text clears a field; a number is
   * sent as one, anything else as typed, for the API to judge.
   */
  const patchOf = (form) => {
    const patch = {};
    const text = (name) => form.elements[name];
    const changed = (name) => text(name).value.trim() !== text(name).defaultValue.trim();
    for (const name of ["title", "description"]) {
      if (changed(name)) {
        patch[name] = text(name).value.trim() || null;
      }
    }
    if (tagList(text("tags").value).join(",") !== tagList(text("tags").defaultValue).join(",")) {
      patch.tags = tagList(text("tags").value);
    }
    if (changed("dl_limit")) {
      const limit = text("dl_limit").value.trim();
      patch.dl_limit = limit === "" ? null : /^-?\d+$/.test(limit) ? Number(limit) : limit;
    }
    for (const name of ["private", "ai_optout"]) {
      if (form.elements[name].checked !== form.elements[name].defaultChecked) {
        patch[name] = form.elements[name].checked;
      }
    }
    return patch;
  };

  /** The form as the API now has the item: what later edits are compared with. */
  const resetForm = (form, item) => {
    const set = (name, value) => {
      form.elements[name].value = value;
      form.elements[name].defaultValue = value;
    };
    set("title", item.title || "");
    set("description", item.description || "");
    set("tags", item.tags.join(", "));
    set("dl_limit", item.dl_limit == null ? "" : String(item.dl_limit));
    for (const [name, value] of [["private", item.private], ["ai_optout", item.ai_optout]]) {
      form.elements[name].checked = value;
      form.elements[name].defaultChecked = value;
    }
  };

  document.querySelectorAll(".edit-form").forEach((form) => {
    const status = form.querySelector(".edit-status");
    const fields = form.querySelector("fieldset");
    fields.disabled = false;
    // Busy is a flag, not disabled fields: disabling the focused control would drop a keyboard user's place.
    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) {
        return;
      }
      const id = form.dataset.itemId;
      const patch = patchOf(form);
      if (Object.keys(patch).length === 0) {
        status.classList.remove("error");
        status.textContent = "Nothing changed.";
        return;
      }
      busy = true;
      form.setAttribute("aria-busy", "true");
      status.classList.remove("error");
      status.textContent = "Saving…";
      const result = await call("PATCH", itemPath(id), { json: patch });
      busy = false;
      form.removeAttribute("aria-busy");
      if (result.ok) {
        showItem(result.data);
        resetForm(form, result.data);
        status.textContent = "Saved.";
      } else {
        status.classList.add("error");
        status.textContent = result.message;
      }
    });
  });

  /** Deletes the given images one by one; removes the rows that went and says which did not and why. */
  const deleteAll = async (ids) => {
    say(ids.length === 1 ? "Deleting…" : `Deleting ${ids.length} images…`);
    const failures = [];
    for (const id of ids) {
      const result = await call("DELETE", itemPath(id));
      if (result.ok || result.status === 404) {
        rowOf(id)?.remove();
      } else {
        failures.push(`${nameOf(id)}: ${result.message}`);
      }
    }
    const deleted = ids.length - failures.length;
    say(failures.length === 0
      ? (deleted === 1 ? "Deleted 1 image." : `Deleted ${deleted} images.`)
      : `Deleted ${deleted} of ${ids.length}. Not deleted: ${failures.join("; ")}`);
    updateBulk();
    // The focused delete button may have gone with its row: keep the keyboard user's place near the list.
    if (!document.activeElement || document.activeElement === document.body) {
      document.getElementById("items-heading")?.focus();
    }
  };

  const selected = () => [...document.querySelectorAll(".select-item:checked")].map((box) => box.value);

  const updateBulk = () => {
    if (bulkButton) {
      const count = selected().length;
      bulkButton.disabled = count === 0;
      bulkButton.textContent = count === 0 ? "Delete selected" : `Delete selected (${count})`;
    }
  };

  document.querySelectorAll(".select-item").forEach((box) => {
    box.disabled = false;
    box.addEventListener("change", updateBulk);
  });

  document.querySelectorAll(".delete-item").forEach((button) => {
    button.disabled = false;
    button.addEventListener("click", async () => {
      const id = button.dataset.itemId;
      if (await confirmDelete(`Delete “${nameOf(id)}”? Its links stop working. This cannot be undone.`)) {
        await deleteAll([id]);
      } else {
        button.focus();
      }
    });
  });

  bulkButton?.addEventListener("click", async () => {
    const ids = selected();
    if (ids.length === 0) {
      return;
    }
    if (await confirmDelete(`Delete ${ids.length === 1 ? "1 selected image" : `${ids.length} selected images`}? Their links stop working. This cannot be undone.`)) {
      await deleteAll(ids);
    } else {
      bulkButton.focus();
    }
  });

  updateBulk();
})();
