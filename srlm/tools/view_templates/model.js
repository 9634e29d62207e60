// The model pages' filters: a record is shown when it has every checked flag. Generic over
// the form's checkboxes; reads only data-* attributes, never model text.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var records = Array.prototype.slice.call(document.querySelectorAll("section.record"));
  var shown = document.getElementById("shown");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox]"));
  function apply() {
    var wanted = boxes.filter(function (box) { return box.checked; }).map(function (box) {
      return box.name;
    });
    var count = 0;
    records.forEach(function (record) {
      var ok = wanted.every(function (name) { return record.dataset[name] === "1"; });
      record.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + records.length + " on this page shown";
  }
  form.addEventListener("change", apply);
  apply();
})();
