// Staff ticket page: insert the chosen saved reply at the cursor in the draft, without
// reloading. Progressive enhancement only: without this file the "Insert" button submits
// the reply form with action=insert and the server sends the page back with the draft
// and the reply after it (nothing is sent). The texts come from the page itself (filled
// and escaped by the server), so nothing here is ever read as HTML.
(function () {
  "use strict";
  var picker = document.querySelector(".saved-reply-picker");
  var select = document.getElementById("saved_reply");
  var draft = document.getElementById("body");
  if (!picker || !select || !draft || typeof draft.setRangeText !== "function") {
    return;
  }
  var button = picker.querySelector("button[value=insert]");
  var status = document.getElementById("saved-reply-status");
  // Choosing in the list moves the focus away from the draft: remember where the cursor was.
  var cursor = null;
  draft.addEventListener("blur", function () {
    cursor = [draft.selectionStart, draft.selectionEnd];
  });
  button.addEventListener("click", function (event) {
    var option = select.options[select.selectedIndex];
    if (!option || !option.value) {
      return; // the server says what is missing
    }
    event.preventDefault();
    var text = option.getAttribute("data-text") || "";
    var start = draft.value.length;
    var end = start;
    if (cursor !== null) {
      start = cursor[0];
      end = cursor[1];
    }
    if (start === draft.value.length && draft.value.trim() !== "") {
      // At the end of the draft: after a blank line, as without JavaScript.
      var blank = /\n[ \t]*\n\s*$/.test(draft.value);
      text = (blank ? "" : /\n\s*$/.test(draft.value) ? "\n" : "\n\n") + text;
    }
    draft.setRangeText(text, start, end, "end");
    draft.focus();
    cursor = [draft.selectionStart, draft.selectionEnd];
    draft.dispatchEvent(new Event("input", { bubbles: true }));
    var message = picker.getAttribute("data-done") || "";
    var unknown = option.getAttribute("data-unknown");
    if (unknown) {
      message += " " + (picker.getAttribute("data-unknown") || "") + " " + unknown;
    }
    if (status) {
      status.textContent = message;
    }
  });
})();
