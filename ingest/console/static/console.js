// The fleet page's live part: fetched again every 10 s and swapped in place, so the page stays where the
// reader left it (scroll, filters, a half-typed search). Without scripts the page still works; it just does
// not refresh itself.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const status = document.getElementById("live-status");
  async function refresh() {
    try {
      const answer = await fetch(window.location.href, {
        headers: { "X-Fragment": "live", "Accept": "text/html" },
        credentials: "same-origin",
        redirect: "manual",
      });
      if (answer.type === "opaqueredirect" || answer.status === 401) {
        window.location.reload(); // the login ended: show the login page
        return;
      }
      if (!answer.ok) throw new Error(String(answer.status));
      live.innerHTML = await answer.text();
      if (status) status.dataset.state = "ok";
    } catch (error) {
      if (status) status.dataset.state = "failed"; // the page says it is not up to date
    }
  }
  window.setInterval(refresh, 10000);
})();
