// Export page: say that the download started, since a download leaves the page as it was.
// Progressive enhancement only: without this file the hint under the button says where
// the archive appears. The form still submits normally; nothing here reads the archive.
(function () {
  "use strict";
  var form = document.querySelector("form.export-download");
  if (!form) {
    return;
  }
  var message = form.getAttribute("data-started");
  var status = form.querySelector(".export-download-status");
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function () {
    if (!message || !status) {
      return; // the password is asked first: the next page says what happens
    }
    status.textContent = message;
    status.classList.add("flash", "flash-success");
    // One archive per press: a second press within a few seconds would only start the
    // same download again (and count against the hourly limit).
    button.disabled = true;
    window.setTimeout(function () {
      button.disabled = false;
    }, 10000);
  });
})();
