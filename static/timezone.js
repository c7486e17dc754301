/* chatons-panel — tells the panel the reader's time zone, so times are shown in it.
   When it is not the hoster's zone (this script tag's data-hoster-zone), it goes into the
   `panel_tz` cookie (checked against the server's zone list; an unknown value is ignored):
   readers in the hoster's zone carry no cookie. Without this file, times are in the
   hoster's zone. The account page can pin the hoster's zone: then the cookie says "fixed"
   and stays. */
(function () {
  "use strict";
  var script = document.currentScript;
  var hoster = script ? script.getAttribute("data-hoster-zone") : null;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  // IANA names need no encoding in a cookie (letters, digits, "/", "_", "+", "-").
  if (!zone || zone.length > 64 || !/^[A-Za-z0-9_+\/-]+$/.test(zone)) {
    return;
  }
  var current = document.cookie.match(/(?:^|;\s*)panel_tz=([^;]*)/);
  var value = current ? current[1] : "";
  var secure = window.location.protocol === "https:" ? "; Secure" : "";
  if (value === "fixed" || value === zone) {
    return;
  }
  if (zone === hoster) {
    // The hoster's zone: nothing to remember, so no cookie (and none left from a trip).
    if (current) {
      document.cookie = "panel_tz=; path=/; max-age=0; SameSite=Lax" + secure;
    }
    return;
  }
  document.cookie = "panel_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" + secure;
})();
