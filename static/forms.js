/* chatons-panel — brings the person to what went wrong in a form they sent.
   The error summary takes the focus (screen readers read it out), and each of its links
   moves the focus to the field it names, with its label in view. The pages work without
   this file: the summary comes first and the form's address ends in #form-errors. */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) {
      return;
    }
    var field = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!field) {
      return;
    }
    event.preventDefault();
    var group = field.closest("fieldset");
    var label = document.querySelector("label[for='" + field.id + "']") ||
      (group && group.querySelector("legend"));
    (label || field).scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
})();
