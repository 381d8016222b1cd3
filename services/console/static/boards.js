// The boards' keyboard: in a queue (data-queue), j / k move to the next / previous item, c opens its category
// choice, d its department choice, Enter in a choice sends the item's form, Escape goes back to the item.
(function () {
  "use strict";
  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }
  function rows(queue) { return Array.prototype.slice.call(queue.querySelectorAll("[data-row]")); }
  function current(queue) { return queue.querySelector("[data-row][aria-current='true']"); }
  function select(queue, row) {
    rows(queue).forEach(function (item) { item.removeAttribute("aria-current"); });
    row.setAttribute("aria-current", "true");
    row.focus();
    row.scrollIntoView({block: "nearest"});
  }
  document.addEventListener("DOMContentLoaded", function () {
    var queue = document.querySelector("[data-queue]");
    if (!queue) { return; }
    var failed = queue.querySelector("[data-row].failed");
    var first = failed || rows(queue)[0];
    if (first) {
      first.setAttribute("aria-current", "true");
      if (failed) { var invalid = failed.querySelector("[aria-invalid='true']"); (invalid || failed).focus(); }
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      var row = current(queue);
      var choice = event.target.closest && event.target.closest("[data-choice]");
      if (choice && event.key === "Enter") {
        event.preventDefault();
        choice.form.requestSubmit();
        return;
      }
      if (choice && event.key === "Escape") { event.preventDefault(); select(queue, choice.closest("[data-row]")); return; }
      if (typing(event.target) || !row) { return; }
      var all = rows(queue), at = all.indexOf(row);
      if (event.key === "j" && at < all.length - 1) { event.preventDefault(); select(queue, all[at + 1]); }
      else if (event.key === "k" && at > 0) { event.preventDefault(); select(queue, all[at - 1]); }
      else if (event.key === "c" || event.key === "d") {
        event.preventDefault();
        row.querySelector("[data-choice='" + (event.key === "c" ? "category" : "department") + "']").focus();
      }
    });
  });
})();
