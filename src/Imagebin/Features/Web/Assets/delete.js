// The delete page (Features/Web/DeletePage.cs): the token rides in the fragment, which no request carries; it is taken out
// of the address bar at once (history, bookmarks, a screen share) and sent only in the x-delete-token header.
"use strict";

(() => {
  const button = document.getElementById("delete-button");
  const status = document.getElementById("delete-status");
  const id = button.dataset.itemId;
  const token = new URLSearchParams(location.hash.slice(1)).get("token");

  if (location.hash) {
    history.replaceState(null, "", location.pathname + location.search);
  }

  if (!token) {
    status.textContent = "This link is incomplete: the part after # is missing. Copy the whole delete link you were given.";
    return;
  }

  const problemDetail = async (response) => {
    try {
      return (await response.json()).detail;
    } catch {
      return null;
    }
  };

  button.disabled = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Deleting…";
    let response;
    try {
      response = await fetch(`/api/v1/items/${encodeURIComponent(id)}`, {
        method: "DELETE",
        headers: { "x-delete-token": token },
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      status.textContent = "The site could not be reached. Try again.";
      button.disabled = false;
      return;
    }

    if (response.ok) {
      status.textContent = "Deleted.";
      button.hidden = true;
    } else if (response.status === 404) {
      status.textContent = "Wrong link or already deleted.";
    } else {
      status.textContent = (await problemDetail(response)) || `Deleting failed (HTTP ${response.status}). Try again later.`;
      // A busy or failing server may answer next time; any other refusal will not change.
      button.disabled = !(response.status >= 500 || response.status === 429);
    }
  });
})();
