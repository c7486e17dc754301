// Import page: update the progress while the import runs, without reloading the page.
// Progressive enhancement only: without this file the "Refresh" link does the same.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress]");
  var checking = !box && document.querySelector(".moving-refresh");
  if (!box && !checking) {
    return;
  }
  function reload() {
    window.location.reload();
  }
  if (checking) {
    window.setTimeout(reload, 4000);
    return;
  }
  var url = box.getAttribute("data-progress");
  var total = box.querySelector(".moving-total");
  var bar = box.querySelector("progress");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        if (data.state !== "running" && data.state !== "queued") {
          reload();
          return;
        }
        if (bar && data.bytes_total) {
          bar.max = data.bytes_total;
          bar.value = data.bytes_done;
        }
        if (total) {
          total.textContent = data.summary;
        }
        Object.keys(data.services || {}).forEach(function (slug) {
          var line = document.querySelector('.moving-service[data-service="' + slug + '"]');
          if (line) {
            line.textContent = data.services[slug];
          }
        });
        window.setTimeout(poll, 3000);
      })
      .catch(function () {
        window.setTimeout(poll, 10000);
      });
  }
  window.setTimeout(poll, 3000);
})();
