// The home page (Features/Web/HomePage.cs): files dropped on the zone, chosen with the picker or pasted anywhere on the page
// are each posted to POST /api/v1/items as multipart (file + the form's fields) by XMLHttpRequest, whose upload progress
// drives a <progress> per file; fetch() reports none. A visitor without an account solves the upload challenge first
// (pow.js). The answer's links are shown with copy buttons; an anonymous upload's delete link only this once.
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (!form) {
    return;
  }

  const input = document.getElementById("upload-files");
  const zone = document.getElementById("drop-zone");
  const list = document.getElementById("upload-list");
  const maxBytes = Number(form.dataset.maxBytes);
  const anonymous = form.dataset.anonymous === "true";
  // Cloudflare Turnstile instead of the proof of work, when the site is configured so: its widget holds one token at a
  // time, and a token is good for one upload, so uploads take turns for it.
  const turnstile = form.dataset.turnstile === "true";
  let turnstileTurn = Promise.resolve();
  let rows = 0;
  form.hidden = false;
  form.addEventListener("submit", (event) => event.preventDefault());

  const element = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.append(...children);
    return node;
  };

  const sizeText = (bytes) => bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;

  /** The form's fields, read when a file is added, as multipart parts (empty ones left out). */
  const fields = () => {
    const parts = [];
    for (const name of ["title", "description", "tags", "category"]) {
      const value = form.elements[name].value.trim();
      if (value) {
        parts.push([name, value]);
      }
    }
    parts.push(["private", form.elements.private.checked ? "true" : "false"]);
    if (form.elements.ai_optout) {
      parts.push(["ai_optout", form.elements.ai_optout.checked ? "true" : "false"]);
    }
    return parts;
  };

  /** A read-only field with its label and a copy button, for one way of sharing the image. */
  const shareField = (row, key, label, value) => {
    const id = `upload-${row}-${key}`;
    const field = element("input", { type: "text", id, readOnly: true, value });
    field.className = `share-${key}`;
    const button = element("button", { type: "button", className: "copy-button", textContent: "Copy" });
    button.setAttribute("aria-label", `Copy the ${label}`);
    button.addEventListener("click", async () => {
      const copied = await window.Imagebin.copy(value, field);
      button.textContent = copied ? "Copied" : "Select and copy";
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
    return element("div", { className: "share-field" }, element("label", { htmlFor: id, textContent: label }), element("div", { className: "share-row" }, field, button));
  };

  const showResult = (row, view, item) => {
    const alt = item.title || `Image ${item.id}`;
    const markdownAlt = alt.replace(/[[\]\\]/g, "\\$&");
    const htmlAlt = alt.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    const share = element("div", { className: "share" },
      shareField(row, "link", "Link", item.url),
      shareField(row, "direct", "Direct link", item.direct_url),
      shareField(row, "markdown", "Markdown", `![${markdownAlt}](${item.direct_url})`),
      shareField(row, "html", "HTML", `<img src="${item.direct_url}" alt="${htmlAlt}">`),
      shareField(row, "bbcode", "BBCode", `[img]${item.direct_url}[/img]`));
    view.result.append(element("p", {}, element("a", { href: item.view_url, className: "view-link", textContent: "Open the image's page" })), share);
    if (item.delete_url) {
      view.result.append(
        element("p", { className: "warning", textContent: "Keep this delete link somewhere safe: it is shown only this once, and it is the only way to delete this image." }),
        shareField(row, "delete", "Delete link", item.delete_url));
    }
  };

  const fail = (view, message) => {
    view.row.classList.add("failed");
    view.status.textContent = `Not uploaded: ${message}`;
    view.status.classList.add("error");
    view.progress.hidden = true;
  };

  /** The sentence for a refused upload, from the problem's detail when the answer has one. */
  const problemMessage = (xhr) => {
    try {
      const problem = JSON.parse(xhr.responseText);
      if (problem.detail || problem.title) {
        return problem.detail || problem.title;
      }
    } catch {
      // Not problem+json (a proxy's page): the status says enough.
    }
    if (xhr.status === 413) {
      return `the file is larger than this site accepts (${form.dataset.maxSize}).`;
    }
    return `the upload failed (HTTP ${xhr.status}). Try again later.`;
  };

  const send = (file, view, challenge) => new Promise((resolve) => {
    const body = new FormData();
    for (const [name, value] of fields()) {
      body.append(name, value);
    }
    body.append("file", file, file.name || "pasted-image");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/items");
    window.Imagebin.headers().forEach((value, name) => xhr.setRequestHeader(name, value));
    if (challenge && challenge.turnstile) {
      xhr.setRequestHeader("cf-turnstile-response", challenge.turnstile);
    } else if (challenge) {
      xhr.setRequestHeader("x-challenge-id", challenge.id);
      xhr.setRequestHeader("x-challenge-nonce", challenge.nonce);
    }
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) {
        view.progress.max = event.total;
        view.progress.value = event.loaded;
      }
    };
    xhr.onload = () => {
      if (xhr.status === 201) {
        view.progress.value = view.progress.max;
        view.status.textContent = "Uploaded.";
        showResult(view.index, view, JSON.parse(xhr.responseText));
      } else {
        fail(view, problemMessage(xhr));
      }
      resolve();
    };
    xhr.onerror = () => {
      fail(view, "the site could not be reached. Check your connection and try again.");
      resolve();
    };
    view.status.textContent = "Uploading…";
    xhr.send(body);
  });

  /** The widget's next token (waiting up to two minutes for the visitor to pass it), then a fresh widget for the next. */
  const turnstileToken = () => {
    const mine = turnstileTurn.then(async () => {
      for (const deadline = Date.now() + 120000; Date.now() < deadline;) {
        const token = window.turnstile && window.turnstile.getResponse();
        if (token) {
          window.turnstile.reset();
          return token;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      return null;
    });
    turnstileTurn = mine.catch(() => null);
    return mine;
  };

  const upload = async (file) => {
    const index = ++rows;
    const name = file.name || "Pasted image";
    const progress = element("progress", { max: 1, value: 0 });
    progress.setAttribute("aria-label", `Upload of ${name}`);
    const status = element("p", { className: "upload-status" });
    status.setAttribute("role", "status");
    const result = element("div", { className: "upload-result" });
    const row = element("li", { className: "upload-row" },
      element("p", { className: "upload-name" }, element("strong", { textContent: name }), ` (${sizeText(file.size)})`), progress, status, result);
    list.prepend(row);
    const view = { index, row, progress, status, result };

    if (file.size > maxBytes) {
      fail(view, `${name} is ${sizeText(file.size)}; the limit is ${form.dataset.maxSize} per image.${anonymous ? " Sign in to upload larger images." : ""}`);
      return;
    }

    let challenge = null;
    if (anonymous && turnstile) {
      status.textContent = "Waiting for the browser check…";
      const token = await turnstileToken();
      if (!token) {
        fail(view, "the browser check did not complete. Reload the page and try again.");
        return;
      }
      challenge = { turnstile: token };
    } else if (anonymous) {
      status.textContent = "Preparing upload…";
      const answer = await window.Imagebin.call("GET", "/api/v1/uploads/challenge");
      if (!answer.ok) {
        fail(view, answer.message);
        return;
      }
      challenge = { id: answer.data.challenge_id, nonce: await window.Imagebin.solvePow(answer.data) };
    }
    await send(file, view, challenge);
  };

  const uploadAll = (files) => {
    for (const file of files) {
      upload(file);
    }
  };

  input.addEventListener("change", () => {
    uploadAll([...input.files]);
    input.value = "";
  });

  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    uploadAll([...(event.dataTransfer ? event.dataTransfer.files : [])]);
  });

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])].filter((file) => file.type.startsWith("image/"));
    if (files.length > 0) {
      event.preventDefault();
      uploadAll(files);
    }
  });
})();
