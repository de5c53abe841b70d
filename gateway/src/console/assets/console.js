// signgate console: the only script the pages load (the Content-Security-Policy allows no
// other). Pages read fully without it; it only keeps a proposal's page current by reloading
// it when WatchProposal reports a new revision.
"use strict";

(function () {
  const summary = document.querySelector("[data-proposal]");
  if (!summary || typeof EventSource === "undefined") {
    return;
  }
  const id = summary.getAttribute("data-proposal");
  const shown = Number(summary.getAttribute("data-revision"));
  const events = new EventSource("/proposals/" + encodeURIComponent(id) + "/events");
  events.addEventListener("changed", function (e) {
    if (Number(e.data) > shown) {
      events.close();
      window.location.reload();
    }
  });
})();
