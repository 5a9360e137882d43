// The report form (Features/Web/ReportPage.cs). For a visitor who is not signed in the form carries a proof-of-work
// challenge (PowChallenges): find a nonce such that sha256(prefix + nonce) has the challenge's leading zero bits, put it
// in the hidden field, and only then let the form go.
"use strict";

(() => {
  const form = document.getElementById("report-form");
  const challenge = form && form.elements.namedItem("challenge_id");
  if (!challenge) {
    return;
  }

  const nonceField = form.elements.namedItem("challenge_nonce");
  const status = document.getElementById("report-check");
  const prefix = challenge.dataset.prefix;
  const bits = Number(challenge.dataset.bits);

  // The work starts on arrival, in pow.js's worker (the same solver as the upload page's), so that it is usually done
  // before the visitor has finished typing.
  let solved = false;
  let sendWhenSolved = false;
  window.Imagebin.solvePow({ prefix, difficulty_bits: bits }).then((nonce) => {
    nonceField.value = nonce;
    solved = true;
    if (sendWhenSolved) {
      form.submit();
    }
  });

  form.addEventListener("submit", (event) => {
    if (!solved) {
      event.preventDefault();
      sendWhenSolved = true;
      status.textContent = "Finishing the check that keeps robots out; the report is sent as soon as it is done.";
    }
  });
})();
