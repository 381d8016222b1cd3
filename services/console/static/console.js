// Keyboard and small conveniences of the console; every screen works without them.
(function () {
  "use strict";
  // Ctrl+Enter (or Cmd+Enter) sends the form the focus is in.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = event.target.closest && event.target.closest("form");
      if (form && form.method.toLowerCase() === "post") { event.preventDefault(); form.requestSubmit(); }
    }
  });
  // A registering form is sent once: its button is disabled while the request is on its way.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "call") {
      var button = form.querySelector("button[type=submit]");
      if (button) { setTimeout(function () { button.disabled = true; }, 0); }
    }
  });
  // A street picked from the suggestions fills in its district.
  document.addEventListener("input", function (event) {
    if (event.target.id !== "address") { return; }
    var options = document.querySelectorAll("#street-list option");
    for (var i = 0; i < options.length; i++) {
      if (options[i].value === event.target.value && options[i].dataset.district) {
        var district = document.getElementById("district");
        if (district) { district.value = options[i].dataset.district; district.dispatchEvent(new Event("change", {bubbles: true})); }
      }
    }
  });
})();
