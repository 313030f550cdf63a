/* The reply box: a live count of characters and SMS segments, a warning for long replies, and
   Ctrl+Enter (Cmd+Enter on a Mac) to send. Loaded from 'self'; no inline script.

   SMS carries 160 characters of the GSM 03.38 alphabet in one segment, 153 per segment once a
   text is split; one character outside that alphabet (an emoji, a curly quote) makes the
   whole text UCS-2: 70 characters in one segment, 67 per segment after that. */
(function () {
  "use strict";

  var GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXTENDED = "^{}\\[~]|€\f";  // each takes two of the 160
  var LONG_REPLY = 320;

  function measure(text) {
    var septets = 0;
    for (var i = 0; i < text.length; i += 1) {
      var ch = text.charAt(i);
      if (GSM_BASIC.indexOf(ch) >= 0) {
        septets += 1;
      } else if (GSM_EXTENDED.indexOf(ch) >= 0) {
        septets += 2;
      } else {
        // UCS-2: what counts is UTF-16 code units (an emoji is two).
        var units = text.length;
        return { unicode: true, segments: units === 0 ? 0 : units <= 70 ? 1 : Math.ceil(units / 67) };
      }
    }
    return { unicode: false, segments: septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }

  function characters(text) {
    return Array.from(text).length;  // what a person counts: an emoji is one
  }

  function describe(box) {
    var text = box.value;
    var count = characters(text);
    var parts = [count + (count === 1 ? " character" : " characters")];
    if (box.getAttribute("data-channel") === "sms") {
      var sms = measure(text);
      parts.push(sms.segments + (sms.segments === 1 ? " SMS segment" : " SMS segments"));
      if (sms.unicode) parts.push("special characters: 70 per segment, not 160");
    }
    return { text: parts.join(" · "), long: count > LONG_REPLY };
  }

  function update(box, counter, warning) {
    var found = describe(box);
    counter.textContent = found.text;
    warning.hidden = !found.long;
  }

  function attach(box) {
    var counter = document.getElementById(box.getAttribute("data-counter"));
    var warning = document.getElementById(box.getAttribute("data-long-warning"));
    if (!counter || !warning) return;
    box.addEventListener("input", function () { update(box, counter, warning); });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && box.form) {
        event.preventDefault();
        box.form.requestSubmit();
      }
    });
    update(box, counter, warning);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-counter]").forEach(attach);
  });
})();
