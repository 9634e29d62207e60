// The page's filters: a prompt is shown when it has every checked flag and its longest
// answer is at least the given length. Reads only data-* attributes, never model text.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.prompt"));
  var shown = document.getElementById("shown");
  function apply() {
    var wanted = ["pair", "tie", "unparsed", "top"].filter(function (name) {
      return form.elements[name].checked;
    });
    var minChars = parseInt(form.elements.min_chars.value, 10) || 0;
    var count = 0;
    sections.forEach(function (section) {
      var ok = wanted.every(function (name) { return section.dataset[name] === "1"; }) &&
        parseInt(section.dataset.maxChars, 10) >= minChars;
      section.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + sections.length + " prompts on this page shown";
  }
  form.addEventListener("change", apply);
  form.addEventListener("input", apply);
  apply();
})();
