// Shared by the pages' scripts (loaded first): calls to this site's /api/v1 on the browser's session cookie, with the
// page's anti-forgery token in x-csrf-token (BrowserSessions), and the problem+json details turned into a sentence.
"use strict";

window.Imagebin = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? null;

  /** Headers for a call to this site: the token when the page has one (signed in). */
  const headers = (extra) => {
    const result = new Headers(extra || {});
    const token = csrf();
    if (token) {
      result.set("x-csrf-token", token);
    }
    return result;
  };

  /** The sentence to show for a failed answer: the problem's detail, else its title, else the status. */
  const problemMessage = async (response) => {
    try {
      const problem = await response.json();
      return problem.detail || problem.title || `The request failed (HTTP ${response.status}).`;
    } catch {
      return `The request failed (HTTP ${response.status}).`;
    }
  };

  /**
   * fetch() against this site: same-origin credentials, the token, JSON in and out. Resolves to
   * { ok, status, data, message, response }; a network failure gives ok=false, status 0 and a message.
   */
  const call = async (method, path, { json, body, headers: extra } = {}) => {
    const h = headers(extra);
    if (json !== undefined) {
      h.set("Content-Type", "application/json");
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(path, { method, headers: h, body, credentials: "same-origin", cache: "no-store" });
    } catch {
      return { ok: false, status: 0, data: null, message: "The site could not be reached. Check your connection and try again.", response: null };
    }
    if (!response.ok) {
      return { ok: false, status: response.status, data: null, message: await problemMessage(response), response };
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : null;
    return { ok: true, status: response.status, data, message: null, response };
  };

  /** Copies text to the clipboard, falling back to selecting it in a given input when the API is refused. */
  const copy = async (text, input) => {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      if (input) {
        input.select();
        return document.execCommand && document.execCommand("copy");
      }
      return false;
    }
  };

  return { csrf, headers, call, problemMessage, copy };
})();
