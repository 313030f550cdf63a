/* Canned responses in the reply box: type to filter by title or text, press a result (Enter or
   a click) to put it in the reply, ready to edit and send. The server has already filled in
   the placeholders. Loaded from 'self'; no inline script. Without JavaScript the picker stays
   hidden and the reply box works as before. */
(function () {
  "use strict";

  function setUp(picker) {
    var search = picker.querySelector("[data-canned-search]");
    var items = picker.querySelectorAll("[data-canned-body]");
    var status = picker.querySelector("[data-canned-status]");
    var box = document.getElementById(picker.getAttribute("data-canned"));
    if (!search || !box) { return; }
    picker.hidden = false;

    search.addEventListener("input", function () {
      var words = search.value.toLowerCase().trim();
      var shown = 0;
      items.forEach(function (item) {
        var text = (item.textContent + " " + item.getAttribute("data-canned-body")).toLowerCase();
        var match = words === "" || text.indexOf(words) >= 0;
        item.parentElement.hidden = !match;
        if (match) { shown += 1; }
      });
      status.textContent = shown === 1 ? "1 response" : shown + " responses";
    });

    items.forEach(function (item) {
      item.addEventListener("click", function () {
        box.value = item.getAttribute("data-canned-body");
        box.dispatchEvent(new Event("input", { bubbles: true }));  // the counter updates
        box.focus();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-canned]").forEach(setUp);
  });
}());
