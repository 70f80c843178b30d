// The dashboard refreshes its panel in place, keeping the scroll position.
(function () {
  const panel = document.getElementById("panel"), stamp = document.getElementById("updated");
  async function refresh() {
    try {
      const response = await fetch("/dashboard/panel", {credentials: "same-origin", cache: "no-store"});
      if (response.redirected || response.status === 401) { location.href = "/login?next=/dashboard"; return; }
      if (response.ok) {
        panel.innerHTML = await response.text();
        stamp.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
        panel.dataset.refreshes = String(Number(panel.dataset.refreshes || 0) + 1);
      }
    } catch (error) { stamp.textContent = "could not refresh: " + error; }
  }
  setInterval(refresh, Number(panel.dataset.refresh) * 1000);
})();
