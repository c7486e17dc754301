// Transfer code page: "Copy" buttons next to the code and the panel's address.
// Progressive enhancement only: without this file (or without a clipboard) the buttons
// stay hidden and the read-only fields can be selected and copied by hand.
(function () {
  "use strict";
  if (!navigator.clipboard || !navigator.clipboard.writeText) {
    return;
  }
  var buttons = document.querySelectorAll("button.copy-button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector(".copy-status");
    if (!field) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        if (status) {
          status.textContent = button.getAttribute("data-copied");
        }
      }, function () {
        field.select(); // the clipboard was refused: leave it selected for Ctrl+C
      });
    });
  });
})();
